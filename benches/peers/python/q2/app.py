"""Nexmark q2 in Python for the peers benchmark (benches/peers):
``SELECT auction, price FROM bids WHERE auction IN (1007, 1020, 2001, 2019, 2087)``."""

import weir_sdk

AUCTIONS = {1007, 1020, 2001, 2019, 2087}


class Q2(weir_sdk.Transform):
    name = "nexmark-q2-python"
    description = "The bids on a few auctions."

    def open(self, config, input_schema):
        self.reads = ["auction", "price"]
        return weir_sdk.Schema([input_schema.field(name) for name in self.reads])

    def process(self, batch):
        return batch.filter([a in AUCTIONS for a in batch.column("auction")])


Transform = weir_sdk.export_transform(Q2)
