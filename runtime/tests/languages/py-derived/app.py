# Test fixture, derived mode: reads only `id`, passes `name` on as `label`
# and `id` as it is, appends `double` (2 * id) between them, keeps the even
# ids and rejects those ending in 3. With config {"fail": "lengths"} it
# answers one value too many for `double`. With {"from": N} it keeps only
# ids from N on and states so (`bounds` on `bounds_column`, default `id`).
import weir_sdk
from weir_sdk import INT64, Field


class Derive(weir_sdk.Transform):
    name = "test-py-derived"
    description = "keeps even ids, appends their double"

    def open(self, config, input_schema):
        self.fail = config.get("fail")
        self.reads = ["id"]
        self.start = config.get("from", 0)
        if "from" in config:
            self.bounds = {config.get("bounds_column", "id"): weir_sdk.between(min=self.start)}
        layout = weir_sdk.Layout(input_schema).rename("name", "label")
        return layout.append(Field("double", INT64)).keep("id")

    def process(self, batch):
        keep, double = [], []
        for row, id in enumerate(batch.column("id")):
            if id % 10 == 3:
                self.reject(row, f"id {id} ends in 3")
            kept = id % 2 == 0 and id >= self.start
            keep.append(kept)
            if kept:
                double.append(2 * id)
        if self.fail == "lengths":
            double.append(0)
        return weir_sdk.Derived(keep=keep, columns={"double": double})


Transform = weir_sdk.export_transform(Derive)
