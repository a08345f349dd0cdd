# Test fixture: appends `seq` (int64: how many rows this node saw before the
# row). `seq` is the state: snapshot/restore carry it across a hot reload,
# so a test sees whether any row was counted twice or skipped.
import weir_sdk
from weir_sdk import INT64, Field


class Counter(weir_sdk.Transform):
    name = "test-py-counter"
    description = "numbers the rows it sees; the count survives a hot reload"

    def open(self, config, input_schema):
        self.seen = 0
        self.seq = Field("seq", INT64, False)
        return input_schema.append(self.seq)

    def process(self, batch):
        seq = list(range(self.seen, self.seen + batch.num_rows))
        self.seen += batch.num_rows
        return batch.append_column(self.seq, seq)

    def snapshot(self):
        return self.seen.to_bytes(8, "little")

    def restore(self, state):
        if len(state) != 8:
            raise weir_sdk.InvalidState(f"expected 8 bytes, got {len(state)}")
        self.seen = int.from_bytes(state, "little")


Transform = weir_sdk.export_transform(Counter)
