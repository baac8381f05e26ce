"""Long tables: 100k / 1M / 10M rows × 24 columns through DuckDB (out of core) and Spark local[2].

The tables are built by resampling ``acs_national2019`` (27k × 24) with a fixed seed into
Parquet files under ``benchmarks/results/tmp/`` (git-ignored; rebuilt when absent, never
committed). For each size and engine, three steps run as separate processes, each watched
for wall time and peak resident memory of its whole process tree (Python, DuckDB threads,
and for Spark the JVM), sampled with psutil every 0.2 s, and its CPU time (user + system,
summed over the tree: on a shared machine the fairer measure of work than wall time):

* ``count``: every 1- and 2-way marginal (24 + 276) through ``marginal_counts_many``: the
  private counting step, timed alone (validation and encoding included);
* ``fit``: ``dpsynth fit`` MST (``--generator aim``: AIM, recorded as ``fit_aim``) at ε = 1
  (δ = 1e-9) from the Parquet file, with any ``--param KEY=VALUE`` passed on (``-p time_limit=600``);
* ``sample``: ``dpsynth sample -n ROWS`` of that model to Parquet, in chunks (DuckDB runs
  only: sampling happens on the driver whatever the engine).

Spark runs ``local[2]`` with a 1 GiB driver heap, configured the way a cluster would be:
through ``PYSPARK_SUBMIT_ARGS`` (the CLI's ``--engine spark`` takes its session from the
environment).

Usage:
    .venv/bin/python benchmarks/long.py --rows 100000 1000000 --engines duckdb spark
    .venv/bin/python benchmarks/long.py --rows 10000000 --engines duckdb spark   # long: run in the background
    .venv/bin/python benchmarks/long.py --rows 10000000 --engines duckdb --steps fit --generator aim -p time_limit=600
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
_CANDIDATES = [ROOT.parent / "shared" / "datasets", ROOT.parent.parent / "shared" / "datasets"]
DATASETS = next((p for p in _CANDIDATES if p.exists()), _CANDIDATES[0])
SOURCE = DATASETS / "acs_national2019" / "national2019.csv"
META = ROOT / "metadata" / "acs_national2019.json"
TMP = ROOT / "benchmarks" / "results" / "tmp"
OUT = ROOT / "benchmarks" / "results" / "long.csv"
SEED = 2019
CHUNK = 1_000_000
SPARK_ARGS = ("--master local[2] --driver-memory 1g --conf spark.ui.enabled=false "
              "--conf spark.ui.showConsoleProgress=false --conf spark.sql.shuffle.partitions=4 pyspark-shell")


def build(rows: int) -> Path:
    """The resampled table (rows drawn with replacement, fixed seed), written chunk by chunk."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = TMP / f"acs_{rows}.parquet"
    if path.exists():
        return path
    TMP.mkdir(parents=True, exist_ok=True)
    src = pd.read_csv(SOURCE, dtype=str, keep_default_na=False)
    table = pa.Table.from_pandas(src, preserve_index=False)
    rng = np.random.default_rng(SEED)
    tmp = path.with_suffix(".tmp")
    with pq.ParquetWriter(tmp, table.schema) as writer:
        left = rows
        while left > 0:
            k = min(left, CHUNK)
            writer.write_table(table.take(rng.integers(0, table.num_rows, k)))
            left -= k
    tmp.replace(path)
    return path


COUNT_SCRIPT = """
import itertools, sys, time
from dpsynth.data.discretize import Discretizer
from dpsynth.data.domain import Domain
from dpsynth.data.io import marginal_counts_many, open_table
t0 = time.perf_counter()
domain = Domain.from_json(sys.argv[2])
table = open_table(sys.argv[1], engine=sys.argv[3])
names = domain.names
cliques = [(a,) for a in names] + list(itertools.combinations(names, 2))
out = marginal_counts_many(table, Discretizer(domain), cliques)
print("cells", sum(v.size for v in out.values()), "seconds", time.perf_counter() - t0)
"""


def watch(cmd: list[str], env: dict[str, str]) -> tuple[float, float, float, int, str]:
    """Run ``cmd``; return (seconds, CPU seconds, peak RSS of the process tree in MiB, exit code, output tail)."""
    import psutil

    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = 0
    cpu: dict[int, float] = {}  # last CPU time seen per process of the tree
    done = threading.Event()

    def poll() -> None:
        nonlocal peak
        root = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
                rss = 0
                for p in procs:
                    with p.oneshot():
                        rss += p.memory_info().rss
                        t = p.cpu_times()
                        cpu[p.pid] = max(cpu.get(p.pid, 0.0), t.user + t.system)
                peak = max(peak, rss)
            except psutil.Error:
                pass
            time.sleep(0.2)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    output, _ = proc.communicate()
    done.set()
    thread.join()
    return time.perf_counter() - t0, sum(cpu.values()), peak / 2**20, proc.returncode, output[-2000:]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--engines", nargs="+", default=["duckdb", "spark"])
    ap.add_argument("--steps", nargs="+", default=["count", "fit", "sample"])
    ap.add_argument("--epsilon", type=float, default=1.0)
    ap.add_argument("--generator", choices=["mst", "aim"], default="mst",
                    help="Generator of the fit step (recorded as step 'fit' for MST, 'fit_aim' for AIM)")
    ap.add_argument("--param", "-p", action="append", default=[],
                    help="Generator hyper-parameter KEY=VALUE for the fit step (as `dpsynth fit -p`), repeatable")
    ap.add_argument("--sample-model", type=Path, default=None,
                    help="Model to sample from (default: the one fitted in this run; the model's size does "
                         "not depend on the rows it was fitted on)")
    args = ap.parse_args()

    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PYSPARK_SUBMIT_ARGS": SPARK_ARGS}
    py = sys.executable
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    new = not OUT.exists()
    with OUT.open("a", newline="") as fh:
        w = csv.writer(fh)
        if new:
            w.writerow(["date", "commit", "rows", "engine", "step", "seconds", "peak_rss_mib", "rc", "cpu_seconds"])
        for rows in args.rows:
            t0 = time.perf_counter()
            data = build(rows)
            print(f"table {rows}: {data} ({time.perf_counter() - t0:.0f} s to build)", flush=True)
            for engine in args.engines:
                model = TMP / f"{args.generator}_{rows}_{engine}.dps"
                for step in args.steps:
                    if step == "count":
                        cmd = [py, "-c", COUNT_SCRIPT, str(data), str(META), engine]
                    elif step == "fit":
                        cmd = [py, "-m", "dpsynth.cli", "fit", str(data), "-o", str(model), "-g", args.generator,
                               "-e", str(args.epsilon), "-d", "1e-9", "-m", str(META), "--engine", engine,
                               "--random-state", "0", *(x for kv in args.param for x in ("-p", kv))]
                    else:
                        if engine != "duckdb":
                            continue  # sampling is on the driver, the same for both engines
                        cmd = [py, "-m", "dpsynth.cli", "sample", str(args.sample_model or model), "-n", str(rows), "-o",
                               str(TMP / f"synthetic_{rows}.parquet"), "--random-state", "0"]
                    secs, cpu, peak, rc, tail = watch(cmd, env)
                    stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
                    label = "fit_aim" if step == "fit" and args.generator == "aim" else step
                    w.writerow([stamp, commit, rows, engine, label, f"{secs:.1f}", f"{peak:.0f}", rc, f"{cpu:.1f}"])
                    fh.flush()
                    print(f"{rows:>9} {engine:6} {step:6} {secs:8.1f} s  cpu {cpu:8.1f} s  peak {peak:7.0f} MiB  rc {rc}",
                          flush=True)
                    if rc != 0:
                        print(tail, flush=True)


if __name__ == "__main__":
    main()
