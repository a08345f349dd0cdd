"""Parquet files as pyarrow, pandas and DuckDB write them, for the tests
(installed by scripts/python-readers.sh): timestamps in named zones,
decimals, dates, lists and structs.

    parquet_fixtures.py write DIR     # DIR/pyarrow.parquet, DIR/pandas.parquet, DIR/duckdb.parquet
    parquet_fixtures.py same A B      # exit 0 if the Parquet files (or folders) A and B hold the same rows
X
"""

import datetime as dt
import decimal
import json
import sys

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

ROWS = 3


def write(folder: str) -> None:
    berlin = [dt.datetime(2027, 1, 15, 9, 0), dt.datetime(2027, 7, 16, 1, 30), dt.datetime(2027, 3, 28, 3, 15)]
    table = pa.table({
        "id": pa.array([1, 2, 3], pa.int64()),
        "at_utc": pa.array([dt.datetime(2027, 1, 15, 8, 0, tzinfo=dt.timezone.utc)] * ROWS, pa.timestamp("ms", tz="UTC")),
        "at_berlin": pa.array(berlin, pa.timestamp("us", tz="Europe/Berlin")),
        "at_new_york": pa.array([0, 1_800_000_000_000_000_000, None], pa.timestamp("ns", tz="America/New_York")),
        "amount": pa.array([decimal.Decimal("12.50"), decimal.Decimal("-0.01"), None], pa.decimal128(12, 2)),
        "day": pa.array([dt.date(2027, 1, 15), dt.date(1970, 1, 1), None], pa.date32()),
        "tags": pa.array([["a", "b"], [], None], pa.list_(pa.string())),
        "point": pa.array([{"x": 1.0, "y": 2.0}, {"x": -1.5, "y": None}, None],
                          pa.struct([("x", pa.float64()), ("y", pa.float64())])),
    })
    pq.write_table(table, f"{folder}/pyarrow.parquet")
    frame = pd.DataFrame({
        "id": [1, 2, 3],
        "at_utc": pd.to_datetime(["2027-01-15T08:00:00Z"] * ROWS, utc=True),
        "at_berlin": pd.to_datetime(berlin).tz_localize("Europe/Berlin"),
        "amount": [decimal.Decimal("12.50"), decimal.Decimal("-0.01"), None],
        "day": [dt.date(2027, 1, 15), dt.date(1970, 1, 1), None],
        "tags": [["a", "b"], [], None],
    })
    frame.to_parquet(f"{folder}/pandas.parquet", index=False)
    duckdb.sql("""
        COPY (SELECT * FROM (VALUES
            (1, TIMESTAMPTZ '2027-01-15 08:00:00+00', 12.50::DECIMAL(12,2), DATE '2027-01-15', ['a', 'b'], {'x': 1.0, 'y': 2.0}),
            (2, TIMESTAMPTZ '2027-07-15 23:30:00+00', -0.01::DECIMAL(12,2), DATE '1970-01-01', [], {'x': -1.5, 'y': NULL}),
            (3, NULL, NULL, NULL, NULL, NULL)
        ) AS t(id, at_utc, amount, day, tags, point)) TO '""" + folder + """/duckdb.parquet' (FORMAT parquet)
    """)


def same(a: str, b: str) -> None:
    left = ds.dataset(a, format="parquet").to_table()
    right = ds.dataset(b, format="parquet").to_table()
    keys = ["id"] if "id" in left.column_names else left.column_names
    left = left.sort_by([(key, "ascending") for key in keys])
    right = right.sort_by([(key, "ascending") for key in keys])
    right = right.select(left.column_names)
    if not left.equals(right):
        sys.exit(f"{a} and {b} differ:\n{left.to_pylist()}\n{right.to_pylist()}")


def describe(path: str) -> None:
    meta = pq.ParquetFile(path).metadata
    groups = [meta.row_group(i) for i in range(meta.num_row_groups)]
    columns = {}
    for i in range(meta.num_columns):
        chunks = [group.column(i) for group in groups]
        columns[chunks[0].path_in_schema] = {
            "compression": sorted({chunk.compression for chunk in chunks}),
            "dictionary": sorted({chunk.has_dictionary_page for chunk in chunks}),
            "delta": sorted({"DELTA_BINARY_PACKED" in chunk.encodings for chunk in chunks}),
        }
    print(json.dumps({
        "rows": meta.num_rows,
        "row_groups": [group.num_rows for group in groups],
        "columns": columns,
    }))


if __name__ == "__main__":
    {"write": write, "same": same, "describe": describe}[sys.argv[1]](*sys.argv[2:])
