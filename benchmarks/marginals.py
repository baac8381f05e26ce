"""Benchmark for the marginal-based generators on adult_pgm (issue: foundations).

For each generator × ε × seed: fit on ``train.csv`` (δ = 1e-5 by default), sample as many
rows as the model's DP estimate of the row count, and record
- mean total variation distance over all 3-way marginals (364 for adult_pgm) against the
  training split, and against the test split;
- train-synthetic-test-real ROC AUC for ``income>50K`` (HistGradientBoosting);
- wall time of the fit and the peak resident memory of the process that ran it.

Each fit runs in a fresh process so that peak memory is its own.

Usage:
    .venv/bin/python benchmarks/marginals.py --generators mst aim --epsilons 0.3 1 3 10 --seeds 0
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets" / "adult_pgm"
META = ROOT / "metadata" / "adult_pgm.json"
TARGET = "income>50K"


def _run_one(args: dict, queue: mp.Queue) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from threadpoolctl import threadpool_limits

    from dpsynth import api
    from dpsynth.data.discretize import Discretizer
    from dpsynth.evaluate.marginals import all_cliques, marginal_tvd

    t0 = time.perf_counter()
    params = json.loads(args["params"]) if args["params"] else {}
    model = api.fit(DATA / "train.csv", generator=args["generator"], epsilon=args["epsilon"],
                    delta=args["delta"], metadata=META, random_state=args["seed"], **params)
    fit_s = time.perf_counter() - t0
    synth = model.sample(model.estimated_rows * args["rows_multiplier"], random_state=args["seed"])
    sample_s = time.perf_counter() - t0 - fit_s
    disc = Discretizer(model.domain_)
    train = pd.read_csv(DATA / "train.csv", dtype=str)
    test = pd.read_csv(DATA / "test.csv", dtype=str)
    s_codes, tr_codes, te_codes = (disc.encode_frame(df) for df in (synth, train, test))
    sizes = [disc.sizes[n] for n in model.domain_.names]
    cl3 = all_cliques(len(sizes), 3)
    tvd_train = float(marginal_tvd(tr_codes, s_codes, sizes, cl3).mean())
    tvd_test = float(marginal_tvd(te_codes, s_codes, sizes, cl3).mean())
    tvd2 = float(marginal_tvd(tr_codes, s_codes, sizes, all_cliques(len(sizes), 2)).mean())
    y_idx = list(model.domain_.names).index(TARGET)
    x_idx = [i for i in range(len(sizes)) if i != y_idx]
    auc = float("nan")
    if len(np.unique(s_codes[:, y_idx])) == 2:
        # One OpenMP thread: oversubscribed OpenMP spin-waits can stall for minutes.
        with threadpool_limits(1):
            clf = HistGradientBoostingClassifier(random_state=0).fit(s_codes[:, x_idx], s_codes[:, y_idx])
            auc = float(roc_auc_score(te_codes[:, y_idx], clf.predict_proba(te_codes[:, x_idx])[:, 1]))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put({
        **{k: args[k] for k in ("generator", "epsilon", "delta", "seed", "params", "rows_multiplier")},
        "tvd3_train": tvd_train, "tvd3_test": tvd_test, "tvd2_train": tvd2, "tstr_auc": auc,
        "fit_s": fit_s, "sample_s": sample_s, "peak_mb": peak_mb,
        "epsilon_spent": model.privacy_report.epsilon, "rows": len(synth),
    })


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generators", nargs="+", default=["independent", "mst", "aim"])
    ap.add_argument("--epsilons", nargs="+", type=float, default=[0.3, 1.0, 3.0, 10.0])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--delta", type=float, default=1e-5)
    ap.add_argument("--params", default="", help="JSON hyper-parameters passed to every generator")
    ap.add_argument("--rows-multiplier", type=int, default=1,
                    help="sample this many times the DP row estimate (1 = as many rows as the data)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "marginals.csv")
    args = ap.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    ctx = mp.get_context("spawn")
    rows = []
    for gen in args.generators:
        for eps in args.epsilons:
            for seed in args.seeds:
                q: mp.Queue = ctx.Queue()
                job = {"generator": gen, "epsilon": eps, "delta": args.delta, "seed": seed, "params": args.params,
                       "rows_multiplier": args.rows_multiplier}
                p = ctx.Process(target=_run_one, args=(job, q))
                p.start()
                p.join()
                if p.exitcode != 0:
                    print(f"FAILED {job} (exit {p.exitcode})", file=sys.stderr)
                    continue
                row = q.get()
                rows.append(row)
                print(json.dumps(row), flush=True)
    write_header = not args.out.exists()
    with args.out.open("a", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        if write_header:
            w.writeheader()
        w.writerows(rows)


if __name__ == "__main__":
    main()
