"""AIM and MST on wide tables: time, peak memory and 3-way TVD, two code versions interleaved.

Datasets: ``credit`` (30k × 24), ``acs`` (acs_national2019, 27k × 24) and ``wide``, a
103-column table built from the bundled data by :func:`build_wide` (never committed; it
is written under ``--work``):

    blocks, side by side, columns renamed ``<block>.<column>``, each block's rows a
    fixed-seed (numpy default_rng(0)) permutation of its table cut to 20,000 rows:
    acs_national2019 (24), credit (24; ID dropped), adult train (15), adult_pgm train (14),
    beijing (12; No dropped), adult_pgm train again with another permutation (14).
    Its metadata is the blocks' public metadata files, columns renamed (a block's
    top-level missing-value tokens become the column's own).

Blocks are independent of each other, so the table's cross-block marginals are products;
this tests scaling in width, not modelling.

Each fit runs in a fresh process (``PYTHONPATH`` = the ``src`` folder of each version
given with ``--src``), runs of the versions interleaved for the same dataset/ε/seed so
both see the same machine load; a fit still running after ``--timeout`` seconds is killed
and recorded as a timeout. Reported: fit wall time and CPU time (all threads; the better
figure on a shared, loaded machine), AIM rounds, a hash of the privacy ledger (equal hashes:
the same marginals were selected and measured with the same noise scales), peak RSS of the process, mean TVD
over the 3-way marginals of the training table (all of them up to 2,024; on ``wide`` a
fixed sample of 2,000) of as many synthetic rows as the model's row estimate, and (``selection``,
AIM's ``selection_stats_`` where the version has it) how many of the candidates scored over all
rounds were out of every clique of the model and how many of those were computed by elimination.

Usage (baseline = a ``git archive`` of the reference commit's ``src``):
    mkdir -p /tmp/aim-base && git archive <commit> src | tar -x -C /tmp/aim-base
    nice -n 10 .venv/bin/python benchmarks/wide.py --datasets credit acs --epsilons 1 3 10 \\
        --src new=src base=/tmp/aim-base/src --out benchmarks/results/wide.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
# The shared datasets folder next to the checkout (or next to its parent, for a git worktree).
DATA = next((p for p in (ROOT.parent / "shared" / "datasets", ROOT.parents[1] / "shared" / "datasets") if p.exists()),
            ROOT.parent / "shared" / "datasets")
META = ROOT / "metadata"
WIDE_ROWS = 20_000
# (block name, csv, metadata file, permutation seed)
WIDE_BLOCKS = [
    ("acs", DATA / "acs_national2019" / "national2019.csv", "acs_national2019.json", 0),
    ("credit", DATA / "credit" / "credit.csv", "credit.json", 0),
    ("adult", DATA / "adult" / "adult_train.csv", "adult.json", 0),
    ("apgm", DATA / "adult_pgm" / "train.csv", "adult_pgm.json", 0),
    ("beijing", DATA / "beijing" / "beijing.csv", "beijing.json", 0),
    ("apgm2", DATA / "adult_pgm" / "train.csv", "adult_pgm.json", 1),
]
DATASETS = {
    "credit": (DATA / "credit" / "credit.csv", META / "credit.json"),
    "acs": (DATA / "acs_national2019" / "national2019.csv", META / "acs_national2019.json"),
}


def build_wide(work: Path) -> tuple[Path, Path]:
    """Write the wide table and its metadata under ``work``; returns (csv, json)."""
    work.mkdir(parents=True, exist_ok=True)
    out_csv, out_meta = work / "wide.csv", work / "wide.json"
    if out_csv.exists() and out_meta.exists():
        return out_csv, out_meta
    frames, columns = [], []
    for block, path, meta_name, seed in WIDE_BLOCKS:
        meta = json.loads((META / meta_name).read_text())
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        ignore = set(meta.get("ignore", []))
        names = [c["name"] for c in meta["columns"] if c["name"] not in ignore]
        perm = np.random.default_rng(seed).permutation(len(df))[:WIDE_ROWS]
        part = df.iloc[perm][names].reset_index(drop=True)
        part.columns = [f"{block}.{n}" for n in names]
        frames.append(part)
        for col in meta["columns"]:
            if col["name"] in ignore:
                continue
            col = {**col, "name": f"{block}.{col['name']}"}
            if "missing_values" not in col and meta.get("missing_values"):
                col["missing_values"] = list(meta["missing_values"])
            columns.append(col)
    pd.concat(frames, axis=1).to_csv(out_csv, index=False)
    out_meta.write_text(json.dumps({
        "version": 1, "name": "wide",
        "description": "Blocks of bundled tables side by side (benchmarks/wide.py); benchmark only.",
        "columns": columns,
    }, indent=1))
    return out_csv, out_meta


_CHILD = r"""
import hashlib, json, resource, sys, time
import numpy as np, pandas as pd
from dpsynth import api
from dpsynth.data.discretize import Discretizer
from dpsynth.evaluate.marginals import all_cliques, marginal_tvd
a = json.loads(sys.argv[1])
t0, c0 = time.perf_counter(), time.process_time()
model = api.fit(a["data"], generator=a["generator"], epsilon=a["epsilon"], delta=a["delta"],
                metadata=a["meta"], random_state=a["seed"], **a["params"])
fit_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
peak_fit = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
synth = model.sample(model.estimated_rows, random_state=a["seed"])
disc = Discretizer(model.domain_)
real = pd.read_csv(a["data"], dtype=str, keep_default_na=False)
r, s = disc.encode_frame(real), disc.encode_frame(synth)
sizes = [disc.sizes[n] for n in model.domain_.names]
cl = all_cliques(len(sizes), 3)
if len(cl) > 2024:
    cl = [cl[i] for i in sorted(np.random.default_rng(0).choice(len(cl), 2000, replace=False))]
tvd = float(marginal_tvd(r, s, sizes, cl).mean())
notes = [n for n in model.privacy_report.notes if "AIM" in n]
ledger = model.privacy_report.ledger
trace = hashlib.sha1("|".join(e.description for e in ledger).encode()).hexdigest()[:12]
rounds = sum(e.step.endswith(".measure") for e in ledger)
print("RESULT " + json.dumps({"fit_s": fit_s, "cpu_s": cpu_s, "peak_mb": peak_fit, "tvd3": tvd,
      "rounds": rounds, "ledger_sha1": trace,
      "epsilon_spent": model.privacy_report.epsilon, "notes": notes,
      "selection": getattr(model, "selection_stats_", None)}))
"""


def run_one(src: str, job: dict, timeout: float) -> dict:
    env = {**os.environ, "PYTHONPATH": str(Path(src).resolve())}
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(job)], env=env, capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "wall_s": time.perf_counter() - t0}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return {"status": "ok", **json.loads(line[7:])}
    return {"status": f"failed: {proc.stderr.strip().splitlines()[-1:] or proc.returncode}"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=["credit", "acs"], choices=["credit", "acs", "wide"])
    ap.add_argument("--generator", default="aim")
    ap.add_argument("--epsilons", nargs="+", type=float, default=[1.0, 3.0, 10.0])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--delta", type=float, default=1e-5)
    ap.add_argument("--src", nargs="+", default=["new=src"], help="label=path of a src folder, one per version")
    ap.add_argument("--params", default="{}", help="JSON hyper-parameters for the generator")
    ap.add_argument("--timeout", type=float, default=900.0)
    ap.add_argument("--parallel", action="store_true",
                    help="run the versions of one dataset/ε/seed at the same time (same load for both)")
    ap.add_argument("--data", type=Path, default=None,
                    help="table to use instead of the dataset's (with --metadata: the table clipped to it)")
    ap.add_argument("--metadata", type=Path, default=None,
                    help="metadata to use instead of the dataset's (e.g. a domain completed once, so that the "
                    "timing is the generator's own; one dataset only)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/dpsynth-wide"))
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "wide.csv")
    args = ap.parse_args()
    versions = [s.split("=", 1) for s in args.src]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for ds in args.datasets:
        data, meta = build_wide(args.work) if ds == "wide" else DATASETS[ds]
        data, meta = args.data or data, args.metadata or meta
        for eps in args.epsilons:
            for seed in args.seeds:
                # Alternate which version goes first so neither always meets the same load.
                order = versions if (int(eps * 10) + seed) % 2 == 0 else versions[::-1]
                job = {"data": str(data), "meta": str(meta), "generator": args.generator, "epsilon": eps,
                       "delta": args.delta, "seed": seed, "params": json.loads(args.params)}
                if args.parallel:
                    with ThreadPoolExecutor(len(order)) as pool:
                        results = list(pool.map(run_one, [s for _, s in order], [job] * len(order), [args.timeout] * len(order)))
                else:
                    results = [run_one(src, job, args.timeout) for _, src in order]
                for (label, _), res in zip(order, results, strict=True):
                    row = {"dataset": ds, "version": label, "generator": args.generator, "epsilon": eps,
                           "seed": seed, "params": args.params, "date": time.strftime("%Y-%m-%d %H:%M"), **res}
                    print(json.dumps(row), flush=True)
                    new = not args.out.exists()
                    with args.out.open("a", newline="") as fh:
                        w = csv.DictWriter(fh, fieldnames=["dataset", "version", "generator", "epsilon", "seed",
                                                           "params", "date", "status", "fit_s", "cpu_s", "peak_mb",
                                                           "tvd3", "rounds", "ledger_sha1", "epsilon_spent",
                                                           "notes", "wall_s", "selection"])
                        if new:
                            w.writeheader()
                        w.writerow(row)


if __name__ == "__main__":
    main()
