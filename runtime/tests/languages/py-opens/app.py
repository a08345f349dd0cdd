# Test fixture: prints when it is opened (stdout) and for every batch
# (stderr), and passes batches on unchanged, so a test can see what a
# Python plugin prints and count how often a pipeline opens it.
import sys

import weir_sdk


class Opens(weir_sdk.Transform):
    name = "test-py-opens"
    description = "prints 'opened' in open and a line per batch"

    def open(self, config, input_schema):
        print("opened")
        return input_schema

    def process(self, batch):
        print(f"batch of {batch.num_rows} rows", file=sys.stderr)
        return batch


Transform = weir_sdk.export_transform(Opens)
