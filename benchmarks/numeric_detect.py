"""What gives synthetic rows away: the detection classifier's evidence, column by column.

Fits one generator as ``benchmarks/numeric.py`` does, samples, and scores the real-vs-
synthetic classifier of :mod:`dpsynth.evaluate.detection` (HistGradientBoosting on the same
tree features, out-of-fold AUC) three ways:

- ``all``: every column (the detection AUC);
- ``only <col>``: that column alone (how far its 1-way distribution gives the rows away);
- ``without <col>``: every column but that one (how much the rest still gives away).

A column whose ``only`` AUC is near 0.5 but whose ``without`` AUC drops is detected through
its dependence on other columns, which decoding cannot fix and the model must.

Usage:
    PYTHONPATH=src .venv/bin/python benchmarks/numeric_detect.py --dataset credit --generator mst
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numeric as bench
import run as harness


def oof_auc(x: np.ndarray, y: np.ndarray, mask: np.ndarray, seed: int, folds: int = 3) -> float:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    fold = rng.integers(0, folds, y.size)
    oof = np.empty(y.size)
    for k in range(folds):
        te = fold == k
        clf = HistGradientBoostingClassifier(categorical_features=mask if mask.any() else None, random_state=seed,
                                             max_iter=100)
        clf.fit(x[~te], y[~te])
        oof[te] = clf.predict_proba(x[te])[:, 1]
    return float(roc_auc_score(y, oof))


def main() -> None:
    from dpsynth.data import PrivateData
    from dpsynth.data.domain import Domain
    from dpsynth.evaluate._prepare import prepare
    from dpsynth.privacy import PrivacyBudget
    from dpsynth.synth.registry import create

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="credit")
    ap.add_argument("--generator", default="mst")
    ap.add_argument("--epsilon", type=float, default=1.0)
    ap.add_argument("--variant", default="full", choices=list(bench.VARIANTS))
    ap.add_argument("--params", default="{}")
    ap.add_argument("--max-rows", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    ds = harness.DATASETS[args.dataset]
    train_p, hold_p, _ = harness.split_paths(ds, 0)
    meta = json.loads((harness.METADATA_DIR / f"{args.dataset}.json").read_text())
    train, hold = harness._read(train_p), harness._read(hold_p)
    eval_domain = Domain.from_json(harness.evaluation_metadata(meta, [train, hold]))
    data = PrivateData(str(train_p), Domain.from_json(meta), numeric_detail=bench.VARIANTS[args.variant])
    model = create(args.generator, random_state=args.seed, **json.loads(args.params))
    t0 = time.process_time()
    model.fit(data, PrivacyBudget(args.epsilon, 1e-5))
    fit_cpu = time.process_time() - t0
    synth = model.sample(len(train), random_state=args.seed)[list(eval_domain.names)]
    prep = prepare(train, synth, eval_domain)
    names = list(prep.names)
    xr, mask = prep.tree_features("real", names)
    xs, _ = prep.tree_features("synthetic", names)
    rng = np.random.default_rng(args.seed)
    n = min(len(xr), len(xs), args.max_rows)
    x = np.vstack([xr[rng.choice(len(xr), n, replace=False)], xs[rng.choice(len(xs), n, replace=False)]])
    y = np.concatenate([np.ones(n), np.zeros(n)])
    mask = np.asarray(mask, dtype=bool)
    print(f"{args.dataset} {args.generator} eps={args.epsilon} {args.variant}: fit CPU {fit_cpu:.0f} s", flush=True)
    print(f"all: {oof_auc(x, y, mask, args.seed):.3f}", flush=True)
    rows = []
    for j, name in enumerate(names):
        only = oof_auc(x[:, [j]], y, mask[[j]], args.seed)
        keep = [i for i in range(len(names)) if i != j]
        without = oof_auc(x[:, keep], y, mask[keep], args.seed)
        rows.append((name, only, without))
        print(f"{name}: only {only:.3f}, without {without:.3f}", flush=True)


if __name__ == "__main__":
    main()
