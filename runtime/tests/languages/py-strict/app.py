# Test fixture: reads only the first input column and answers it, but
# refuses at open an input of fewer than three columns (as a plugin may
# check columns it does not read).
import weir_sdk


class Strict(weir_sdk.Transform):
    name = "test-py-strict"
    description = "reads one column, insists on three"

    def open(self, config, input_schema):
        if len(input_schema.fields) < 3:
            raise weir_sdk.InvalidInput(f"wants at least three columns, got {input_schema.names}")
        first = input_schema.fields[0]
        self.reads = [first.name]
        self.output = weir_sdk.Schema([first])
        return self.output

    def process(self, batch):
        return batch


Transform = weir_sdk.export_transform(Strict)
