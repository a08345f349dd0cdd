"""Nexmark q1 in Python for the peers benchmark (benches/peers):
``SELECT auction, bidder, 0.908 * price AS price, date_time FROM bids``.

Derived mode: the host passes auction, bidder and date_time on by itself;
the plugin reads only the price and answers the new price column.
``batch.values`` reads the prices where they lie, without a list of them."""

import weir_sdk
from weir_sdk import FLOAT64, Field


class Q1(weir_sdk.Transform):
    name = "nexmark-q1-python"
    description = "Bid prices from dollars to euros."

    def open(self, config, input_schema):
        self.reads = ["price"]
        layout = weir_sdk.Layout(input_schema).keep("auction", "bidder")
        return layout.append(Field("price", FLOAT64)).keep("date_time")

    def process(self, batch):
        price = [None if p is None else 0.908 * p for p in batch.values("price")]
        return weir_sdk.Derived(columns=[price])


Transform = weir_sdk.export_transform(Q1)
