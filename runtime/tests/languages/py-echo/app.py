# Test fixture: decodes every batch with the Python SDK and encodes it
# again, so a pipeline checks the Python codec round trip.
import weir_sdk


class Echo(weir_sdk.Transform):
    name = "test-py-echo"
    description = "decodes every batch with the SDK and encodes it again"

    def process(self, batch):
        return batch


Transform = weir_sdk.export_transform(Echo)
