"""``{{name}}``: {{description}}

Appends ``name_upper``: the ``name`` column in upper case.
Configuration: ``{"column": "name"}`` (the default).
"""

import weir_sdk
from weir_sdk import UTF8, Field


class Plugin(weir_sdk.Transform):
    name = "{{name}}"
    description = "{{description}}"

    def open(self, config, input_schema):
        self.column = config.get("column", "name")
        if self.column not in input_schema.names:
            raise weir_sdk.InvalidConfig(f"column: the input has no column {self.column!r}")
        if input_schema.field(self.column).type != UTF8:
            raise weir_sdk.InvalidConfig(f"column: {self.column!r} is not utf8")
        self.upper = Field(f"{self.column}_upper", UTF8)
        return input_schema.append(self.upper)

    def process(self, batch):
        upper = [None if n is None else n.upper() for n in batch.column(self.column)]
        return batch.append_column(self.upper, upper)


Transform = weir_sdk.export_transform(Plugin)
