# Test fixture: reads its columns in another order than the input's,
# rejects the rows whose id ends in 3 (the others go on), and with config
# {"fail": "process"} raises a ValueError in process, {"fail": "open"} a
# KeyError in open.
import weir_sdk


class Picky(weir_sdk.Transform):
    name = "test-py-picky"
    description = "rejects single rows; raises when asked"

    def open(self, config, input_schema):
        self.fail = config.get("fail")
        if self.fail == "open":
            config["no such key"]
        self.reads = ["name", "id"]
        self.output = weir_sdk.Schema([input_schema.field("id"), input_schema.field("name")])
        return self.output

    def process(self, batch):
        if self.fail == "process":
            raise ValueError("seven is bad luck")
        keep = []
        for row, id in enumerate(batch.column("id")):
            bad = id is not None and id % 10 == 3
            if bad:
                self.reject(row, f"id {id} ends in 3")
            keep.append(not bad)
        kept = batch.filter(keep)
        return weir_sdk.Batch.from_columns(
            self.output, {"id": kept.column("id"), "name": kept.column("name")})


Transform = weir_sdk.export_transform(Picky)
