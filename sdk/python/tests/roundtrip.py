"""Round trip of the SDK's IPC codec, driven by runtime/tests/languages.rs.

    python roundtrip.py DIR

DIR holds ``schema.ipc`` and ``batch-N.ipc`` written by arrow-rs. Each is
decoded with ``weir_sdk.ipc`` and encoded again into ``out-schema.ipc`` and
``out-batch-N.ipc``, which the Rust test decodes and compares with what it
wrote; ``values.json`` holds the decoded values for it to check too. The
batches are encoded as decoded (fixed-width columns without nulls as views
of the input), and ``Batch.values`` must agree with ``Batch.column`` and be
a view exactly where the column is fixed-width without nulls.
"""

import base64
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from weir_sdk import ipc  # noqa: E402


def plain(value):
    return base64.b64encode(value).decode() if isinstance(value, bytes) else value


def main(folder: Path) -> None:
    schema = ipc.read_schema(folder.joinpath("schema.ipc").read_bytes())
    folder.joinpath("out-schema.ipc").write_bytes(ipc.write_schema(schema))
    values = []
    for path in sorted(folder.glob("batch-*.ipc")):
        batch = ipc.read_batch(schema, path.read_bytes())
        folder.joinpath("out-" + path.name).write_bytes(ipc.write_batch(batch))
        for f in schema.fields:
            view = batch.values(f.name)
            fixed = ipc._value_format(f.type) is not None
            if isinstance(view, memoryview) != (fixed and None not in view):
                sys.exit(f"{path.name}: Batch.values({f.name!r}) is a {type(view).__name__}")
        viewed = [list(batch.values(f.name)) for f in schema.fields]
        if viewed != batch.columns:
            sys.exit(f"{path.name}: Batch.values and Batch.column disagree")
        values.append({f.name: [plain(v) for v in column]
                       for f, column in zip(schema.fields, batch.columns)})
    folder.joinpath("values.json").write_text(json.dumps(values))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
