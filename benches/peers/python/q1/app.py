"""Nexmark q1 in Python for the peers benchmark (benches/peers):
``SELECT auction, bidder, 0.908 * price AS price, date_time FROM bids``."""

import weir_sdk
from weir_sdk import FLOAT64, Field, Schema


class Q1(weir_sdk.Transform):
    name = "nexmark-q1-python"
    description = "Bid prices from dollars to euros."

    def open(self, config, input_schema):
        self.reads = ["auction", "bidder", "price", "date_time"]
        fields = [input_schema.field(name) for name in self.reads]
        fields[2] = Field("price", FLOAT64)
        self.schema = Schema(fields)
        return self.schema

    def process(self, batch):
        price = [None if p is None else 0.908 * p for p in batch.column("price")]
        return weir_sdk.Batch.from_columns(
            self.schema,
            {
                "auction": batch.column("auction"),
                "bidder": batch.column("bidder"),
                "price": price,
                "date_time": batch.column("date_time"),
            },
        )


Transform = weir_sdk.export_transform(Q1)
