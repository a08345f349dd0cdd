"""``{{name}}``: {{description}}

Produces ``rows`` rows (``id``: int64, ``name``: utf8 ``row-ID``), then ends.
Configuration: ``{"rows": 10}`` (the default).
"""

import weir_sdk
from weir_sdk import INT64, UTF8, Batch, Field, Schema


class Plugin(weir_sdk.Source):
    name = "{{name}}"
    description = "{{description}}"

    def open(self, config):
        self.rows = int(config.get("rows", 10))
        if self.rows < 0:
            raise weir_sdk.InvalidConfig("rows: must not be negative")
        self.next_id = 0
        self.schema = Schema([Field("id", INT64, False), Field("name", UTF8, False)])
        return self.schema

    def next(self, max_rows):
        end = min(self.rows, self.next_id + max_rows)
        if self.next_id >= end:
            return None
        ids = list(range(self.next_id, end))
        self.next_id = end
        return Batch(self.schema, [ids, [f"row-{i}" for i in ids]])

    def snapshot(self):
        return self.next_id.to_bytes(8, "little")

    def restore(self, state):
        self.next_id = int.from_bytes(state, "little")


Source = weir_sdk.export_source(Plugin)
