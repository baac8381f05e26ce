"""Structure ceilings of TSTR: models fitted to exact marginals (research only).

Fits MST once (seed 0, ε = 1) for its discretisation and compressed domain, then fits the
graphical model to the EXACT marginals (no noise; it reads the real rows outside any budget)
of several structures and scores TSTR: MST's own tree, the maximum-mutual-information tree
with the target's pairs weighted 1, 2, 4 and ∞ (a star around the target), a tree-augmented
naive Bayes (the target in every clique), and the maximum-MI tree plus every target pair.

Usage:
    PYTHONPATH=src .venv/bin/python benchmarks/tstr_structures.py beijing
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as harness
from tstr_diagnose import fit_capturing, load_split

if not harness.DATASETS_DIR.exists():  # a git worktree beside the main checkout
    harness.DATASETS_DIR = Path("/work/shared/datasets")


def _mi(t: np.ndarray) -> float:
    p = t / t.sum()
    indep = p.sum(1, keepdims=True) @ p.sum(0, keepdims=True)
    nz = p > 0
    return float((p[nz] * np.log(p[nz] / indep[nz])).sum())


def _cmi(t: np.ndarray) -> float:
    """I(X; Y | Z) of a (Z, X, Y) table."""
    p = t / t.sum()
    pz, pxz, pyz = p.sum((1, 2), keepdims=True), p.sum(2, keepdims=True), p.sum(1, keepdims=True)
    nz = p > 0
    return float((p[nz] * np.log((p * pz)[nz] / (pxz * pyz)[nz])).sum())


def main() -> None:
    from dpsynth.data import PrivateData
    from dpsynth.data.discretize import Discretizer
    from dpsynth.data.domain import Domain
    from dpsynth.evaluate import evaluate_all
    from dpsynth.evaluate.utility import utility_metric
    from dpsynth.pgm import Measurement, estimate
    from dpsynth.privacy import PrivacyBudget
    from dpsynth.synth.marginal import expand_codes
    from dpsynth.synth.mst import kruskal
    from dpsynth.synth.registry import create

    name = sys.argv[1] if len(sys.argv) > 1 else "beijing"
    _, train_p, meta, train, hold, ev, target = load_split(name)
    model = create("mst", random_state=0, target_weight=1.0)
    bound = fit_capturing(model, PrivateData(str(train_p), Domain.from_json(meta)), PrivacyBudget(1.0, 1e-5))
    gm, co = model.model_, model.coarsen_
    disc = Discretizer(model.domain_)
    n = int(model.estimated_rows)
    names = list(gm.domain.attrs)
    size = {a: int(co[a].max()) + 1 for a in names}

    def tstr(frame) -> tuple[float, dict]:
        m = utility_metric(ev, target, random_state=0)
        r = evaluate_all(train, frame[list(ev.names)], ev, target=target, holdout=hold, random_state=0,
                         metrics=[m])[m.name]
        return round(r.value, 3), {k: round(v["tstr"][m.headline], 3) for k, v in r.details["models"].items()}

    def ceiling(cliques) -> tuple[float, dict]:
        cl = sorted({*cliques, *[(a,) for a in names]}, key=len)
        true = bound._true_marginals(cl, co)
        exact = estimate(gm.domain, [Measurement(c, t.ravel(), 1.0) for c, t in zip(cl, true, strict=True)],
                         iters=1000)
        rng = np.random.default_rng(0)
        s = exact.sample(n, rng)
        for j, a in enumerate(names):
            s[:, j] = expand_codes(s[:, j], co[a], rng)
        return tstr(disc.decode(s, rng))

    print("MST's tree", gm.cliques, ceiling(gm.cliques), flush=True)
    pairs = list(itertools.combinations(names, 2))
    w = {p: _mi(t.reshape(size[p[0]], size[p[1]])) for p, t in zip(pairs, bound._true_marginals(pairs, co),
                                                                   strict=True)}
    print("MI with the target", sorted(((round(v, 3), p) for p, v in w.items() if target in p), reverse=True))
    for mult in (1.0, 2.0, 4.0, 1e6):
        ww = {p: v * (mult if target in p else 1.0) for p, v in w.items()}
        tree = kruskal(names, sorted(pairs, key=lambda p: -ww[p]), lambda c: 0)
        print(f"max-MI tree, target pairs x{mult:g}: target degree {sum(target in p for p in tree)}",
              ceiling(tree), flush=True)
    feats = [a for a in names if a != target]
    fp = list(itertools.combinations(feats, 2))
    t3 = bound._true_marginals([(target, *p) for p in fp], co)
    cw = {p: _cmi(t.reshape(size[target], size[p[0]], size[p[1]])) for p, t in zip(fp, t3, strict=True)}
    tan = kruskal(feats, sorted(fp, key=lambda p: -cw[p]), lambda c: 0)
    print("tree-augmented naive Bayes", ceiling([(target, *p) for p in tan]), flush=True)
    tree = kruskal(names, sorted(pairs, key=lambda p: -w[p]), lambda c: 0)
    print("max-MI tree + every target pair", ceiling([*tree, *[(target, a) for a in feats]]), flush=True)


if __name__ == "__main__":
    main()
