"""``{{name}}``: {{description}}

Counts the rows it is given and logs the total at each flush (see the run's
log). Configuration: none (``{}``).
"""

import weir_sdk


class Plugin(weir_sdk.Sink):
    name = "{{name}}"
    description = "{{description}}"

    def open(self, config, input_schema):
        self.rows = 0

    def write(self, batch):
        self.rows += batch.num_rows

    def flush(self):
        weir_sdk.log("info", "rows written", rows=self.rows)


Sink = weir_sdk.export_sink(Plugin)
