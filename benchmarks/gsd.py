"""Private-GSD beside AIM and MST: numeric range/prefix-query error and marginal TVD (issue 6).

For each dataset and ε, fits ``gsd``, ``aim`` and ``mst`` (dpsynth's) on the training split
and scores the synthetic table (as many rows as the training split) against it:

* ``range_err``: mean |fraction of real rows − fraction of synthetic rows| over a held-out
  workload of 2,000 queries on the numeric columns: 1-way and 2-way ranges ``a <= x <= b``
  and 1-way and 2-way prefix queries ``x <= b``, half each. Their ends are values of random
  rows of the *hold-out* split (so they are spread like the data and are not the bin
  edges GSD measured). A missing value satisfies no query. Evaluation reads raw rows; it is
  not part of any release.
* ``tvd2`` / ``tvd3``: mean 2-/3-way marginal TVD on the evaluation domain
  (``dpsynth.evaluate.MarginalTVD``; 3-way on a seeded sample of 300 marginals).
* ``fit_s`` / ``fit_cpu_s``: wall-clock and CPU seconds of the fit (2 cores shared with
  other jobs: wall-clock time depends on the load; CPU time much less so).

Splits as ``benchmarks/run.py``: adult uses adult_train.csv / adult_test.csv;
acs_national2019 has no published split, so a seeded 80/20 split is written once.

Usage:
    .venv/bin/python benchmarks/gsd.py --datasets adult --epsilons 1 --generators gsd aim mst
    .venv/bin/python benchmarks/gsd.py --datasets adult acs_national2019 --epsilons 0.3 1 3
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import run as harness  # noqa: E402  (benchmarks/run.py: splits and the evaluation domain)

from dpsynth import api  # noqa: E402
from dpsynth.data.domain import Domain  # noqa: E402
from dpsynth.evaluate import MarginalTVD, evaluate_all  # noqa: E402
from dpsynth.privacy import PrivacyBudget  # noqa: E402
from dpsynth.synth import create  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "gsd.csv"
FIELDS = ["dataset", "generator", "epsilon", "delta", "seed", "range_err", "range_err_1way",
          "range_err_2way", "prefix_err", "tvd2", "tvd3", "fit_s", "fit_cpu_s", "epsilon_spent", "params", "timestamp"]


def numeric_values(frame: pd.DataFrame, domain: Domain) -> dict[str, np.ndarray]:
    """Each numeric column of a frame as floats, NaN where missing."""
    from dpsynth.data.io import Table

    typed = Table.from_frame(frame).to_frame(domain) if frame[domain.names[0]].dtype == object else frame
    out = {}
    for c in domain:
        if c.is_numeric:
            out[c.name] = pd.to_numeric(typed[c.name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return out


def heldout_workload(hold: dict[str, np.ndarray], n: int, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Random range and prefix queries on numeric columns, ends drawn from hold-out values."""
    names = list(hold)
    queries = []
    for i in range(n):
        kind = "range" if i % 2 == 0 else "prefix"
        k = 1 if (i // 2) % 2 == 0 or len(names) < 2 else 2
        cols = list(rng.choice(len(names), size=k, replace=False))
        conds = []
        for j in cols:
            v = hold[names[j]]
            v = v[~np.isnan(v)]
            a, b = np.sort(rng.choice(v, size=2))
            conds.append((names[j], -np.inf if kind == "prefix" else float(a), float(b)))
        queries.append({"kind": kind, "way": k, "conds": conds})
    return queries


def answer(values: dict[str, np.ndarray], queries: list[dict[str, Any]]) -> np.ndarray:
    """Fraction of rows satisfying each query."""
    n = len(next(iter(values.values())))
    out = np.empty(len(queries))
    for i, qd in enumerate(queries):
        mask = np.ones(n, dtype=bool)
        for name, a, b in qd["conds"]:
            v = values[name]
            with np.errstate(invalid="ignore"):
                mask &= (v >= a) & (v <= b)
        out[i] = mask.mean()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=["adult"])
    ap.add_argument("--epsilons", nargs="+", type=float, default=[1.0])
    ap.add_argument("--generators", nargs="+", default=["gsd", "aim", "mst"])
    ap.add_argument("--delta", type=float, default=1e-5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--gsd-params", default="{}", help="JSON hyper-parameters for gsd")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    gsd_params = json.loads(args.gsd_params)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    new_file = not args.out.exists()
    with args.out.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        if new_file:
            writer.writeheader()
        for ds_name in args.datasets:
            ds = harness.DATASETS[ds_name]
            train_p, hold_p, _ = harness.split_paths(ds, 0)
            meta = json.loads((harness.METADATA_DIR / f"{ds_name}.json").read_text())
            train, hold = harness._read(train_p), harness._read(hold_p)
            eval_domain = Domain.from_json(harness.evaluation_metadata(meta, [train, hold]))
            rng = np.random.default_rng(args.seed)
            queries = heldout_workload(numeric_values(hold, eval_domain), args.queries, rng)
            real_ans = answer(numeric_values(train, eval_domain), queries)
            kinds = np.array([qd["kind"] for qd in queries])
            ways = np.array([qd["way"] for qd in queries])
            for eps in args.epsilons:
                for gen in args.generators:
                    data = api.load_private(train_p, harness.METADATA_DIR / f"{ds_name}.json")
                    params = gsd_params if gen == "gsd" else {}
                    model = create(gen, random_state=args.seed, **params)
                    t0, c0 = time.perf_counter(), time.process_time()
                    model.fit(data, PrivacyBudget(eps, args.delta))
                    fit_s, fit_cpu = time.perf_counter() - t0, time.process_time() - c0
                    synth = model.sample(len(train), random_state=args.seed)
                    err = np.abs(answer(numeric_values(synth, eval_domain), queries) - real_ans)
                    res = evaluate_all(train, synth, eval_domain, random_state=args.seed, metrics=[
                        MarginalTVD(2), MarginalTVD(3, max_marginals=300, random_state=args.seed)])
                    row = {
                        "dataset": ds_name, "generator": gen, "epsilon": eps, "delta": args.delta,
                        "seed": args.seed,
                        "range_err": float(err[kinds == "range"].mean()),
                        "range_err_1way": float(err[(kinds == "range") & (ways == 1)].mean()),
                        "range_err_2way": float(err[(kinds == "range") & (ways == 2)].mean()),
                        "prefix_err": float(err[kinds == "prefix"].mean()),
                        "tvd2": res["marginal_tvd_2way"].value, "tvd3": res["marginal_tvd_3way"].value,
                        "fit_s": round(fit_s, 1), "fit_cpu_s": round(fit_cpu, 1), "epsilon_spent": model.privacy_report.epsilon,
                        "params": json.dumps(params), "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S"),
                    }
                    writer.writerow(row)
                    fh.flush()
                    print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                   for k, v in row.items() if k not in ("params", "timestamp")), flush=True)


if __name__ == "__main__":
    main()
