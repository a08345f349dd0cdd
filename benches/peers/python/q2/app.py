"""Nexmark q2 in Python for the peers benchmark (benches/peers):
``SELECT auction, price FROM bids WHERE auction IN (1007, 1020, 2001, 2019, 2087)``.

Derived mode: the plugin reads only the auction and answers which rows to
keep; the host passes the kept rows' columns on. Its bounds let the host
leave unread the row groups whose statistics hold none of the auctions."""

import weir_sdk

AUCTIONS = {1007, 1020, 2001, 2019, 2087}


class Q2(weir_sdk.Transform):
    name = "nexmark-q2-python"
    description = "The bids on a few auctions."

    def open(self, config, input_schema):
        self.reads = ["auction"]
        self.bounds = {"auction": weir_sdk.one_of(AUCTIONS)}
        return weir_sdk.Layout(input_schema).keep("auction", "price")

    def process(self, batch):
        return weir_sdk.Derived(keep=[a in AUCTIONS for a in batch.values("auction")])


Transform = weir_sdk.export_transform(Q2)
