"""Weir against the engines a user would pick instead, on the same Parquet
file of Nexmark bids: q1 (a map) and q2 (a filter), Parquet in, Parquet out.

- Weir (Rust plugins, `q1.yaml`, `q2.yaml`) against Polars (lazy scan and
  sink) and DuckDB (`COPY (SELECT ...) TO`), each on 2 threads;
- Weir's Python plugins (`python/q1`, `python/q2`) against Bytewax (its
  Python operators, on one worker, its default, and on two).

Every run is a process of its own (peak memory is its maximum resident set,
CPU its user + system time); the variants of a query alternate, their
order rotating each round, and each ratio is the median of the per-round
ratios. Every variant's output rows are counted and must agree.

    run.py --weir BIN --input FILE [--rounds N] [--write BENCHMARKS.md]
    run.py child ENGINE QUERY INPUT OUTPUT     # one run (internal)

`scripts/bench-peers.sh` sets it all up and runs it.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
AUCTIONS = [1007, 1020, 2001, 2019, 2087]
THREADS = "2"
BEGIN, END = "<!-- peers: written by scripts/bench-peers.sh -->", "<!-- /peers -->"


# --- The peers, each run in a child process -------------------------------


def polars(query, source, out):
    import polars as pl

    frame = pl.scan_parquet(source)
    if query == "q1":
        frame = frame.select("auction", "bidder", (pl.col("price") * 0.908).alias("price"), "date_time")
    else:
        frame = frame.filter(pl.col("auction").is_in(AUCTIONS)).select("auction", "price")
    frame.sink_parquet(out)


def duckdb(query, source, out):
    import duckdb

    db = duckdb.connect()
    db.execute(f"SET threads = {THREADS}")
    select = {
        "q1": "SELECT auction, bidder, 0.908 * price AS price, date_time FROM read_parquet($source)",
        "q2": "SELECT auction, price FROM read_parquet($source) WHERE auction IN "
        + str(tuple(AUCTIONS)),
    }[query]
    db.execute(f"COPY ({select}) TO '{out}' (FORMAT parquet)", {"source": source})


def bytewax(query, source, out, batches=False, workers=1):
    """Bytewax. Rows: each bid a dict, as Bytewax's docs write a flow.
    Batches: each item an Arrow batch of 8,192 bids whose columns the step
    reads as Python lists, the same Python work as Weir's Python plugins do.
    With two workers (threads of one process), the batches are spread over
    both before the step and each writes its own file."""
    import bytewax.operators as op
    import pyarrow as pa
    import pyarrow.parquet as pq
    from bytewax.dataflow import Dataflow
    from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
    from bytewax.outputs import DynamicSink, StatelessSinkPartition
    from bytewax.run import cli_main

    class Batches(StatefulSourcePartition):
        def __init__(self):
            self.batches = pq.ParquetFile(source).iter_batches(batch_size=8192)

        def next_batch(self):
            batch = next(self.batches, None)
            if batch is None:
                raise StopIteration
            return [batch] if batches else batch.to_pylist()

        def snapshot(self):
            return None

    class ParquetSource(FixedPartitionedSource):
        def list_parts(self):
            return ["bids"]

        def build_part(self, step_id, for_part, resume_state):
            return Batches()

    class Writer(StatelessSinkPartition):
        def __init__(self, path):
            self.path = path
            self.writer = None

        def write_batch(self, items):
            table = pa.Table.from_batches(items) if batches else pa.Table.from_pylist(items)
            if self.writer is None:
                self.writer = pq.ParquetWriter(self.path, table.schema)
            self.writer.write_table(table)

        def close(self):
            if self.writer is not None:
                self.writer.close()

    class ParquetSink(DynamicSink):
        def build(self, step_id, worker_index, worker_count):
            return Writer(Path(out) / f"part-{worker_index}.parquet")

    wanted = set(AUCTIONS)

    def q1_rows(b):
        return {"auction": b["auction"], "bidder": b["bidder"], "price": 0.908 * b["price"], "date_time": b["date_time"]}

    def q1_batch(b):
        price = [None if p is None else 0.908 * p for p in b.column("price").to_pylist()]
        columns = [b.column("auction"), b.column("bidder"), pa.array(price, pa.float64()), b.column("date_time")]
        return pa.RecordBatch.from_arrays(columns, names=["auction", "bidder", "price", "date_time"])

    def q2_batch(b):
        keep = [a in wanted for a in b.column("auction").to_pylist()]
        return b.select(["auction", "price"]).filter(pa.array(keep, pa.bool_()))

    flow = Dataflow(f"nexmark_{query}")
    bids = op.input("bids", flow, ParquetSource())
    if workers > 1:
        bids = op.redistribute("spread", bids)
    if query == "q1":
        result = op.map("q1", bids, q1_batch if batches else q1_rows)
    elif batches:
        result = op.map("q2", bids, q2_batch)
    else:
        kept = op.filter("q2", bids, lambda b: b["auction"] in wanted)
        result = op.map("project", kept, lambda b: {"auction": b["auction"], "price": b["price"]})
    op.output("out", result, ParquetSink())
    Path(out).mkdir()
    cli_main(flow, workers_per_process=workers)


# --- The driver ------------------------------------------------------------


def output_rows(path):
    import pyarrow.dataset as ds

    return ds.dataset(path, format="parquet").count_rows()


def run(args, variant, query):
    """Runs one variant; answers its wall time, CPU time, peak memory and output rows."""
    out = Path(tempfile.mkdtemp(prefix=f"peers-{variant}-{query}-"))
    target = out / "out"
    env = dict(os.environ, POLARS_MAX_THREADS=THREADS, RAYON_NUM_THREADS=THREADS)
    if variant.startswith("weir"):
        pipeline = HERE / (f"{query}-python.yaml" if variant == "weir-python" else f"{query}.yaml")
        env.update(INPUT=str(args.input), OUT=str(target))
        command = [str(args.weir), "run", "--quiet", str(pipeline)]
    else:
        target = out / ("out" if variant.startswith("bytewax") else "out.parquet")
        command = [sys.executable, __file__, "child", variant, query, str(args.input), str(target)]
    measured = out / "measured.json"
    launched = subprocess.run([sys.executable, "-I", "-S", "-c", LAUNCHER, str(measured), *command], env=env, cwd=out)
    if launched.returncode != 0:
        sys.exit(f"{variant} {query} failed: {' '.join(command)}")
    result = json.loads(measured.read_text())
    result["rows"] = output_rows(target)
    shutil.rmtree(out)
    return result


# Starts one run and writes its wall time, CPU time and peak memory as JSON
# to argv[1]. Linux counts the resident set a process had before its exec in
# its peak (ru_maxrss), so a run forked from the driver, which has pyarrow
# loaded, would never report less than the driver's ~73 MiB; forked from
# this bare interpreter it reports its own.
LAUNCHER = """
import json, os, sys, time
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - started
with open(sys.argv[1], "w") as f:
    json.dump({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "memory": usage.ru_maxrss * 1024}, f)
sys.exit(os.waitstatus_to_exitcode(status))
"""


COMPARISONS = [
    ("q1", "currency conversion (map)", "weir", ["polars", "duckdb"]),
    ("q2", "selection by auction id (filter)", "weir", ["polars", "duckdb"]),
    ("q1", "currency conversion (map), in Python", "weir-python",
     ["bytewax-batches", "bytewax-batches-2", "bytewax-rows"]),
    ("q2", "selection by auction id (filter), in Python", "weir-python",
     ["bytewax-batches", "bytewax-batches-2", "bytewax-rows"]),
]


def measure(args):
    # Weir compiles each plugin into its on-disk cache on its first run.
    for query, _, weir, _ in COMPARISONS:
        run(args, weir, query)
    results = {}  # (query, variant) -> [run, ...] in round order
    for round in range(args.rounds):
        for query, _, weir, peers in COMPARISONS:
            variants = [weir] + peers
            shift = round % len(variants)
            for variant in variants[shift:] + variants[:shift]:
                result = run(args, variant, query)
                results.setdefault((query, variant), []).append(result)
                print(
                    f"round {round + 1} {query} {variant:12} {result['wall']:6.2f} s "
                    f"{result['memory'] / 2**20:6.0f} MiB {result['rows']} rows",
                    file=sys.stderr,
                )
    return results


def table(results, bids):
    rate = lambda runs: bids / statistics.median(r["wall"] for r in runs)
    memory = lambda runs: max(r["memory"] for r in runs) / 2**20
    lines = []
    for query, what, weir, peers in COMPARISONS:
        counts = {run["rows"] for v in [weir] + peers for run in results[(query, v)]}
        if len(counts) != 1:
            sys.exit(f"{query}: the variants disagree on the output rows: {sorted(counts)}")
        (rows,) = counts
        mine = results[(query, weir)]
        for peer in peers:
            theirs = results[(query, peer)]
            ratios = [t["wall"] / m["wall"] for m, t in zip(mine, theirs)]
            cpu = statistics.median(m["cpu"] / t["cpu"] for m, t in zip(mine, theirs))
            lines.append(
                f"| {query} | {what} | {weir} | {peer} | {rate(mine) / 1e6:.2f} M | {rate(theirs) / 1e6:.2f} M "
                f"| **{statistics.median(ratios):.2f}** ({min(ratios):.2f}-{max(ratios):.2f}) | {cpu:.2f} "
                f"| {memory(mine):.0f} MiB / {memory(theirs):.0f} MiB | {rows:,} |"
            )
    return lines


def versions():
    import importlib.metadata as meta

    return ", ".join(f"{p} {meta.version(p)}" for p in ["polars", "duckdb", "bytewax", "pyarrow"])


def report(args, results):
    import pyarrow.parquet as pq

    metadata = pq.ParquetFile(args.input).metadata
    bids = metadata.num_rows
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            BEGIN,
            "## Against other engines",
            "",
            f"Generated by `scripts/bench-peers.sh` ({now}); {args.rounds} rounds. The same Parquet file of "
            f"{bids:,} Nexmark bids ({metadata.num_row_groups} row groups, written by Weir's `file` sink) is read by every "
            "engine and the result written as Parquet; each run is a process of its own, the variants alternate "
            "(their order rotates each round). Events/s: input rows over the median wall time, process start "
            "to exit. **Weir / peer**: the median over rounds of the peer's wall time over Weir's (above 1: Weir is "
            "faster), then the lowest and highest round's: on a shared machine a round's speed drifts by a quarter "
            "either way. CPU: Weir's user + system time over the peer's. Peak memory: the largest resident set of any run.",
            "",
            f"Polars and DuckDB run on {THREADS} threads (`POLARS_MAX_THREADS`, `SET threads`), Bytewax on one worker "
            f"(its default), in two styles: `rows`, each bid a Python dict, as its documentation writes a flow, and "
            f"`batches`, each item an Arrow batch of 8,192 bids whose columns the step reads as Python lists (the "
            f"same Python work as Weir's Python plugins); `batches-2` is `batches` on two workers (threads of one "
            f"process; the batches spread over both, each writing its own file). Weir runs its release binary "
            f"(compiled plugins in its cache, as after a first run), one thread per node plus the Parquet sink's "
            f"encoders; its Python q1 runs two instances of the plugin (`parallelism: 2`), its Python q2 states "
            f"its bounds (`self.bounds`), so the source reads only the row groups and pages that may hold them. "
            f"{versions()}; Python {platform.python_version()}.",
            "",
            "| query | what | Weir | peer | Weir events/s | peer events/s | Weir / peer | CPU Weir / peer | peak memory Weir / peer | output rows |",
            "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
            *table(results, bids),
            "",
            "Reproduce: `scripts/bench-peers.sh` (`PEERS_ROUNDS`, `PEERS_EVENTS` change the size).",
            END,
        ]
    )


def write(path, section):
    text = path.read_text() if path.exists() else ""
    if BEGIN in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        engine, query, source, out = sys.argv[2:6]
        engines = {
            "polars": polars,
            "duckdb": duckdb,
            "bytewax-rows": bytewax,
            "bytewax-batches": lambda *args: bytewax(*args, batches=True),
            "bytewax-batches-2": lambda *args: bytewax(*args, batches=True, workers=2),
        }
        engines[engine](query, source, out)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weir", type=Path, required=True)
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    args.weir, args.input = args.weir.resolve(), args.input.resolve()
    section = report(args, measure(args))
    print(section)
    if args.write:
        write(args.write, section)
        print(f"wrote {args.write}", file=sys.stderr)


if __name__ == "__main__":
    main()
