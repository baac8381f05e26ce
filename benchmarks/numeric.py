"""Numbers that look real: uniform-in-bin decoding against atoms + precision + within-bin shape.

For each dataset and variant, fits one generator on the harness's training split
(``benchmarks/run.py`` splits), samples as many rows as the model estimates, and scores the
sample against the training split with dpsynth's metrics: detection AUC, KS and
Wasserstein-1 on raw values per numeric column, 1-/2-way marginal TVD on the harness's
evaluation domain, TSTR against the hold-out, and fit time. Variants:

- ``uniform``: no numeric detail (values uniform within their bin: the old decoding);
- ``full``: atoms, step and shape, on the bins domain inference places (DP quantiles of a
  coarse public grid);
- ``equal-mass``: ``full`` plus equal-mass bin edges from the fine histogram the shape is read
  from (numeric detail ``"bins"``, the default);
- ``no-atoms``, ``no-step``, ``no-shape``: each part switched off once;
- with ``--shape-ablation``, each fit that measured a within-bin shape is also scored
  decoded uniformly within its bins (``<variant>-shape-decoded-uniform``; the same fit);
- with ``--couple-ablation``, each fit is also scored decoded with independent within-bin
  draws (``<variant>-independent``; decoding is post-processing, so it is the same fit).

Usage:
    PYTHONPATH=src .venv/bin/python benchmarks/numeric.py --datasets credit beijing \\
        --generator mst --epsilon 1 --variants uniform full --out benchmarks/results/numeric.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as harness

if not harness.DATASETS_DIR.exists():  # a git worktree beside the main checkout
    harness.DATASETS_DIR = Path("/work/shared/datasets")

VARIANTS = {
    "uniform": (),
    "full": ("atoms", "step", "shape"),
    "equal-mass": ("atoms", "step", "shape", "bins"),
    "no-atoms": ("step", "shape"),
    "no-step": ("atoms", "shape"),
    "no-shape": ("atoms", "step"),
}


def one(dataset: str, generator: str, epsilon: float, delta: float, variant: str, seed: int,
        params: dict, couple_ablation: bool = False, thresholds: tuple[float, ...] = (),
        shape_ablation: bool = False, declare_target: bool = False, rounding_ablation: bool = False,
        inference_share: float | None = None) -> list[dict]:
    from dpsynth.data import PrivateData
    from dpsynth.data.discretize import COUPLE, Discretizer
    from dpsynth.data.domain import Domain
    from dpsynth.privacy import PrivacyBudget
    from dpsynth.synth.registry import create

    ds = harness.DATASETS[dataset]
    train_p, hold_p, _ = harness.split_paths(ds, 0)
    meta = json.loads((harness.METADATA_DIR / f"{dataset}.json").read_text())
    train, hold = harness._read(train_p), harness._read(hold_p)
    eval_domain = Domain.from_json(harness.evaluation_metadata(meta, [train, hold]))
    if declare_target and ds.target is not None and not meta.get("target"):
        meta = {**meta, "target": ds.target}  # the harness's target, declared as a user would
    data = PrivateData(str(train_p), Domain.from_json(meta), numeric_detail=VARIANTS[variant],
                       inference_share=inference_share)
    model = create(generator, random_state=seed, **params)
    t0, c0 = time.perf_counter(), time.process_time()
    model.fit(data, PrivacyBudget(epsilon, delta))
    fit_s, fit_cpu = time.perf_counter() - t0, time.process_time() - c0
    n = int(getattr(model, "estimated_rows", 0) or len(train))
    rows = []
    # "uniform" is the old decoding: no numeric detail and independent within-bin draws.
    couples: tuple[float | None, ...] = (COUPLE,)
    if variant == "uniform":
        couples = (None,)
    elif couple_ablation:
        couples = (*(thresholds or (COUPLE,)), None)
    for couple in couples:
        Discretizer.decode.__kwdefaults__["couple"] = couple  # decoding is post-processing: same fit
        synth = model.sample(n, random_state=seed)[list(eval_domain.names)]
        Discretizer.decode.__kwdefaults__["couple"] = COUPLE
        name = variant if couple is not None or variant == "uniform" else f"{variant}-independent"
        if couple is not None and couple != COUPLE:
            name = f"{variant}-couple{couple:g}"
        rows.append(_score(train, hold, synth, eval_domain, ds, dataset, generator, epsilon, name, seed, fit_s, fit_cpu))
    # The same fit sampled with one decoding part removed (decoding is post-processing): what
    # the within-bin shape, or the rounding shares, buy.
    ablations = [("density", f"{variant}-shape-decoded-uniform", shape_ablation and "shape" in VARIANTS[variant]),
                 ("rounding", f"{variant}-no-rounding", rounding_ablation and "step" in VARIANTS[variant])]
    for attr, name, wanted in ablations:
        if not wanted:
            continue
        fitted = model.domain_
        model.domain_ = fitted.with_columns([c.replace(**{attr: None}) for c in fitted if getattr(c, attr) is not None])
        synth = model.sample(n, random_state=seed)[list(eval_domain.names)]
        model.domain_ = fitted
        rows.append(_score(train, hold, synth, eval_domain, ds, dataset, generator, epsilon, name, seed, fit_s, fit_cpu))
    return rows


def _score(train, hold, synth, eval_domain, ds, dataset, generator, epsilon, variant, seed, fit_s,
           fit_cpu=float("nan")) -> dict:
    from dpsynth.evaluate import evaluate_all
    from dpsynth.evaluate.suite import default_metrics

    target = ds.target or eval_domain.target
    metrics = [m for m in default_metrics(eval_domain, target=target, max_marginals=300, random_state=seed)
               if m.name not in ("marginal_tvd_3way", "association_difference", "range_query_error")]
    res = evaluate_all(train, synth, eval_domain, target=target, holdout=hold, random_state=seed,
                       metrics=metrics)
    util = res.get("tstr_classification") or res.get("tstr_regression")
    rounds = {c.name: _round_tvd(train[c.name], synth[c.name]) for c in eval_domain
              if c.kind == "numeric" and c.name in synth.columns}
    row = {
        "dataset": dataset, "generator": generator, "epsilon": epsilon, "variant": variant, "seed": seed,
        "fit_s": round(fit_s, 2), "fit_cpu_s": round(fit_cpu, 2),
        "detection_auc": res["detection_auc"].value,
        "ks": res["ks_statistic"].value, "w1": res["wasserstein"].value,
        "tvd1": res["marginal_tvd_1way"].value, "tvd2": res["marginal_tvd_2way"].value,
        "round_tvd": float(np.mean(list(rounds.values()))) if rounds else None,
        "tstr": None if util is None else util.value, "trtr": None if util is None else util.reference,
        "ks_cols": json.dumps({k: round(v["value"], 4) for k, v in res["ks_statistic"].details["per_column"].items()}),
        "round_cols": json.dumps({k: round(v, 4) for k, v in rounds.items()}),
        "w1_cols": json.dumps({k: round(v["value"], 5) for k, v in res["wasserstein"].details["per_column"].items()}),
    }
    return row


#: The public chain of grids a value's roundness is read on (as the step histogram's).
ROUND_CHAIN = tuple(m * 10.0**e for e in range(-2, 7) for m in (1.0, 5.0))


def _round_tvd(real, synth) -> float:
    """TVD between the real and synthetic shares of non-zero values by coarsest grid of ROUND_CHAIN.

    What a steward sees in the CSV: how many amounts are whole hundreds, thousands, tens….
    """
    from dpsynth.data.numeric import grid_cells

    def shares(s) -> np.ndarray:
        v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        v = v[np.isfinite(v) & (v != 0)]
        cell = grid_cells(ROUND_CHAIN, v)  # the step histogram's own cells
        return np.bincount(cell, minlength=len(ROUND_CHAIN) + 1) / max(1, v.size)

    return float(0.5 * np.abs(shares(real) - shares(synth)).sum())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=["credit", "beijing", "acs_national2019", "adult"])
    ap.add_argument("--generator", default="mst")
    ap.add_argument("--epsilon", type=float, nargs="+", default=[1.0])
    ap.add_argument("--delta", type=float, default=1e-5)
    ap.add_argument("--variants", nargs="+", default=["uniform", "full"], choices=list(VARIANTS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--params", default="{}")
    ap.add_argument("--out", type=Path, default=harness.RESULTS / "numeric.csv")
    ap.add_argument("--couple-ablation", action="store_true",
                    help="also score each fit decoded without comonotone within-bin draws")
    ap.add_argument("--couple-thresholds", type=float, nargs="*", default=[],
                    help="with --couple-ablation: the rank-correlation thresholds to score")
    ap.add_argument("--shape-ablation", action="store_true",
                    help="also score each fit with a within-bin shape decoded uniformly within its bins")
    ap.add_argument("--rounding-ablation", action="store_true",
                    help="also score each fit decoded with values on their step only (no rounding shares)")
    ap.add_argument("--declare-target", action="store_true",
                    help="declare the harness's target in the generator's metadata where the metadata has none")
    ap.add_argument("--inference-share", type=float, default=None,
                    help="budget share of domain inference (default: the library's, from the metadata)")
    args = ap.parse_args()
    params = json.loads(args.params)
    for ds in args.datasets:
        for eps in args.epsilon:
            for seed in args.seeds:
                for v in args.variants:
                    for row in one(ds, args.generator, eps, args.delta, v, seed, params, args.couple_ablation,
                                   tuple(args.couple_thresholds), args.shape_ablation, args.declare_target,
                                   args.rounding_ablation, args.inference_share):
                        new = not args.out.exists()
                        args.out.parent.mkdir(parents=True, exist_ok=True)
                        with args.out.open("a", newline="") as fh:
                            w = csv.DictWriter(fh, fieldnames=list(row))
                            if new:
                                w.writeheader()
                            w.writerow(row)
                        print({k: (round(x, 4) if isinstance(x, float) else x) for k, x in row.items()
                               if k not in ("ks_cols", "w1_cols", "round_cols")}, flush=True)


if __name__ == "__main__":
    main()
