"""Where train-on-synthetic-test-on-real (TSTR) utility is lost by a marginal generator.

Research only: it reads the real training rows outside any budget to build ceilings, and the
fits are seeded. For one dataset, generator and seed it reports the TSTR R² / AUC of

- ``real``: the real training split itself (TRTR);
- ``binned``: the real training rows encoded with the fitted model's discretisation and
  decoded back (the ceiling of binning and decoding);
- ``exact-structure``: the fitted model's own cliques re-estimated from the exact marginals
  (no noise), sampled and decoded (the ceiling of the structure the model selected);
- ``synthetic``: the model's sample (the noisy fit);

and the cliques of the fitted model that contain the target, with the target's bins. With
``--detection`` each table also gets the harness's detection AUC against the training rows
(what the binning and decoding alone give away, against what the selected structure does).

Usage:
    PYTHONPATH=src .venv/bin/python benchmarks/tstr_diagnose.py --dataset beijing --generator mst --seed 0
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as harness

if not harness.DATASETS_DIR.exists():  # a git worktree beside the main checkout
    harness.DATASETS_DIR = Path("/work/shared/datasets")


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def load_split(name: str) -> tuple[Any, Path, dict, Any, Any, Any, str]:
    """The harness's split 0 of a dataset: (dataset, train path, metadata, train, hold-out,
    evaluation domain, target)."""
    from dpsynth.data.domain import Domain

    ds = harness.DATASETS[name]
    train_p, hold_p, _ = harness.split_paths(ds, 0)
    meta = json.loads((harness.METADATA_DIR / f"{name}.json").read_text())
    train, hold = harness._read(train_p), harness._read(hold_p)
    eval_domain = Domain.from_json(harness.evaluation_metadata(meta, [train, hold]))
    return ds, train_p, meta, train, hold, eval_domain, ds.target or eval_domain.target


def fit_capturing(model: Any, data: Any, budget: Any) -> Any:
    """Fit ``model`` and return the bound data view its ``_fit`` received (research only:
    the view answers exact marginals outside any budget)."""
    captured = {}
    inner = type(model)._fit

    def _fit(self: Any, bound: Any) -> Any:
        captured["data"] = bound
        return inner(self, bound)

    type(model)._fit = _fit  # type: ignore[method-assign]
    try:
        model.fit(data, budget)
    finally:
        type(model)._fit = inner  # type: ignore[method-assign]
    return captured["data"]


def main() -> None:
    from dpsynth.data import PrivateData
    from dpsynth.data.discretize import Discretizer
    from dpsynth.data.domain import Domain
    from dpsynth.evaluate import evaluate_all
    from dpsynth.evaluate.detection import DetectionAUC
    from dpsynth.evaluate.utility import utility_metric
    from dpsynth.pgm import Measurement, estimate
    from dpsynth.privacy import PrivacyBudget
    from dpsynth.synth.registry import create

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="beijing")
    ap.add_argument("--generator", default="mst")
    ap.add_argument("--epsilon", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--params", default="{}")
    ap.add_argument("--detection", action="store_true",
                    help="also score each frame's detection AUC against the training rows")
    ap.add_argument("--target-in-domain", action="store_true",
                    help="declare the harness's target in the domain the generator sees")
    args = ap.parse_args()

    _, train_p, meta, train, hold, eval_domain, target = load_split(args.dataset)
    if args.target_in_domain:
        meta = {**meta, "target": target}
    data = PrivateData(str(train_p), Domain.from_json(meta))
    model = create(args.generator, random_state=args.seed, **json.loads(args.params))
    c0 = _cpu()
    bound = fit_capturing(model, data, PrivacyBudget(args.epsilon, 1e-5))
    fit_cpu = _cpu() - c0
    n = int(model.estimated_rows)

    def tstr(frame) -> dict:
        m = utility_metric(eval_domain, target, random_state=args.seed)
        res = evaluate_all(train, frame[list(eval_domain.names)], eval_domain, target=target, holdout=hold,
                           random_state=args.seed, metrics=[m])
        r = res[m.name]
        per = {k: round(v["tstr"][m.headline], 3) for k, v in r.details["models"].items()}
        ref = {k: round(v["trtr"][m.headline], 3) for k, v in r.details["models"].items()}
        scores = {"value": round(r.value, 3), "per_model": per, "trtr": round(r.reference, 3), "trtr_per_model": ref}
        if args.detection:
            det = evaluate_all(train, frame[list(eval_domain.names)], eval_domain, random_state=args.seed,
                               metrics=[DetectionAUC(random_state=args.seed)])
            scores["detection_auc"] = round(det["detection_auc"].value, 4)
        return scores

    rng = np.random.default_rng(args.seed)
    disc = Discretizer(model.domain_)
    codes = disc.encode_frame(train)
    out: dict = {"dataset": args.dataset, "generator": args.generator, "seed": args.seed,
                 "fit_cpu_s": round(fit_cpu, 1)}
    synthetic = model.sample(n, random_state=args.seed)
    out["synthetic"] = tstr(synthetic)
    out["binned"] = tstr(disc.decode(codes, rng))
    # Exact marginals on the model's own cliques (and every 1-way), on the compressed domain.
    gm = model.model_
    coarsen = model.coarsen_
    cliques = sorted({*gm.cliques, *[(a,) for a in gm.domain.attrs]}, key=len)
    true = bound._true_marginals(cliques, coarsen)
    exact = estimate(gm.domain, [Measurement(c, t.ravel(), 1.0) for c, t in zip(cliques, true, strict=True)],
                     iters=1000)
    sample = exact.sample(n, rng)
    if coarsen is not None:
        from dpsynth.synth.marginal import expand_codes

        for j, a in enumerate(gm.domain.attrs):
            sample[:, j] = expand_codes(sample[:, j], coarsen[a], rng)
    out["exact_structure"] = tstr(disc.decode(sample, rng))
    out["target_cliques"] = [list(c) for c in gm.cliques if target in c]
    out["n_cliques"] = len(gm.cliques)
    col = model.domain_[target]
    out["target_edges"] = None if col.edges is None else [round(float(e), 2) for e in col.edges]
    out["target_codes"] = disc.sizes[target]
    y = pd.to_numeric(synthetic[target], errors="coerce")

    real_y = pd.to_numeric(train[target], errors="coerce")
    out["target_real_quantiles"] = np.nanquantile(real_y, [0.5, 0.9, 0.99, 1.0]).round(1).tolist()
    out["target_synth_quantiles"] = np.nanquantile(y.astype(float), [0.5, 0.9, 0.99, 1.0]).round(1).tolist()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
