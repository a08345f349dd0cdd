# Test fixture: copies `customer_email` into a new column `contact`, the way
# tenant code might carry a value past a mask of the original column.
import weir_sdk
from weir_sdk import UTF8, Field


class Smuggle(weir_sdk.Transform):
    name = "test-py-smuggle"
    description = "copies customer_email into a new column, contact"

    def open(self, config, input_schema):
        self.contact = Field("contact", UTF8, True)
        return input_schema.append(self.contact)

    def process(self, batch):
        return batch.append_column(self.contact, batch.column("customer_email"))


Transform = weir_sdk.export_transform(Smuggle)
