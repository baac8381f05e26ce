"""Timing of the estimation engine on the Adult domain (a developer tool, not a test).

Usage::

    python -m dpsynth.pgm._bench [DATASET_DIR] [--iters N] [--seed S] [--aim-mb MB]

``DATASET_DIR`` holds ``adult-domain.json`` and ``adult.csv`` (integer codes); default
``../shared/datasets/adult_pgm``. Measures (1) an MST-like fit (every one-way marginal
plus the 13 pairs of a maximum-mutual-information spanning tree), (2) an AIM-like fit
(about 40 one- to three-way cliques, junction tree under ``--aim-mb``), cold and warm
started after one more clique, and (3) sampling 40,000 rows. Noise: σ = 10 everywhere.
Writes one line per measurement to stdout.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from dpsynth.pgm import Domain, Measurement, estimate, model_size_mb


def _load(folder: Path) -> tuple[Domain, np.ndarray]:
    sizes = json.loads((folder / "adult-domain.json").read_text())
    dom = Domain.fromdict(sizes)
    header = (folder / "adult.csv").read_text().splitlines()[0].split(",")
    data = np.loadtxt(folder / "adult.csv", delimiter=",", skiprows=1, dtype=np.int64)
    data = data[:, [header.index(a) for a in dom.attrs]]
    return dom, data


def _measure(
    dom: Domain, data: np.ndarray, clique: tuple[str, ...], sigma: float, rng: np.random.Generator
) -> Measurement:
    idx = [dom.index(a) for a in clique]
    shape = tuple(dom[a] for a in clique)
    flat = np.ravel_multi_index(tuple(data[:, i] for i in idx), shape)
    counts = np.bincount(flat, minlength=int(np.prod(shape))).astype(float)
    return Measurement(clique, counts + rng.normal(0, sigma, counts.size), sigma)


def _mi_tree(dom: Domain, data: np.ndarray) -> list[tuple[str, str]]:
    """Maximum spanning tree on empirical mutual information (no privacy: a benchmark)."""
    scores = []
    n = len(data)
    for a, b in itertools.combinations(dom.attrs, 2):
        i, j = dom.index(a), dom.index(b)
        joint = np.zeros((dom[a], dom[b]))
        np.add.at(joint, (data[:, i], data[:, j]), 1.0)
        joint /= n
        pa, pb = joint.sum(1, keepdims=True), joint.sum(0, keepdims=True)
        nz = joint > 0
        scores.append((float((joint[nz] * np.log(joint[nz] / (pa @ pb)[nz])).sum()), a, b))
    scores.sort(reverse=True)
    comp = {a: a for a in dom.attrs}
    tree = []
    for _, a, b in scores:
        if comp[a] != comp[b]:
            old = comp[b]
            for k, v in comp.items():
                if v == old:
                    comp[k] = comp[a]
            tree.append((a, b))
    return tree


class _Clock:
    """Wall and CPU seconds of a block (CPU counts every thread of the process)."""

    def __enter__(self) -> _Clock:
        self.w, self.c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.w, time.process_time() - self.c

    def __str__(self) -> str:
        return f"{self.wall:.2f}s wall ({self.cpu:.2f}s cpu)"


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark (see the module docstring)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", nargs="?", default="../shared/datasets/adult_pgm")
    ap.add_argument("--iters", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--aim-mb", type=float, default=80.0)
    ap.add_argument("--aim-cliques", type=int, default=40)
    ap.add_argument("--skip-mst", action="store_true")
    ap.add_argument("--skip-aim", action="store_true")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    dom, data = _load(Path(args.folder))
    out = sys.stdout
    out.write(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores\n")

    oneway = [(a,) for a in dom.attrs]
    if not args.skip_mst:
        tree = _mi_tree(dom, data)
        ms = [_measure(dom, data, c, 10.0, rng) for c in [*oneway, *tree]]
        with _Clock() as t:
            model = estimate(dom, ms, iters=args.iters, tol=None)
        out.write(
            f"mst: {len(ms)} measurements, {args.iters} iterations: {t}, loss {model.loss_:.1f}\n"
        )
        with _Clock() as t:
            rows = model.sample(40_000, rng)
        out.write(f"mst: sample {len(rows)} rows: {t}\n")

    if args.skip_aim:
        return
    # AIM-like: random 2- and 3-way cliques kept while the model stays under the limit.
    cands = [c for k in (2, 3) for c in itertools.combinations(dom.attrs, k)]
    order = rng.permutation(len(cands))
    chosen: list[tuple[str, ...]] = []
    for i in order:
        c = cands[i]
        if len(oneway) + len(chosen) + 1 >= args.aim_cliques:
            break
        if model_size_mb(dom, [*chosen, c]) <= args.aim_mb:
            chosen.append(c)
    last = next(
        (
            cands[i]
            for i in order
            if cands[i] not in chosen and model_size_mb(dom, [*chosen, cands[i]]) <= args.aim_mb
        ),
        None,
    )
    ms = [_measure(dom, data, c, 10.0, rng) for c in [*oneway, *chosen]]
    size = model_size_mb(dom, chosen)
    with _Clock() as t:
        model = estimate(dom, ms, iters=args.iters, tol=None)
    out.write(
        f"aim: {len(ms)} measurements, junction tree {size:.1f} MB, {args.iters} iterations: {t}, "
        f"loss {model.loss_:.1f}\n"
    )
    if last is not None:
        ms2 = [*ms, _measure(dom, data, last, 10.0, rng)]
        losses: list[float] = []
        with _Clock() as t:
            warm = estimate(
                dom,
                ms2,
                iters=100,
                tol=None,
                warm_start=model,
                callback=lambda i, v: losses.append(v),
            )
        out.write(
            f"aim: add {last}, warm start: 100 iterations {t}; loss after 10/30/100 iterations "
            f"{losses[9]:.0f}/{losses[29]:.0f}/{warm.loss_:.0f}\n"
        )
        with _Clock() as t:
            tuned = estimate(dom, ms2, iters=100, tol=1e-4, warm_start=model)
        out.write(
            f"aim: same warm start with tol=1e-4: stopped after {tuned.iterations_} iterations, {t}\n"
        )
        target = losses[29]

        class _Reached(Exception):
            pass

        def stop(i: int, v: float) -> None:
            if v <= target:
                raise _Reached(i)

        with _Clock() as t:
            try:
                estimate(dom, ms2, iters=args.iters, tol=None, callback=stop)
                reached = f"not within {args.iters}"
            except _Reached as exc:
                reached = str(exc.args[0])
        out.write(
            f"aim: cold start needs {reached} iterations ({t}) to match the warm start's 30\n"
        )
    with _Clock() as t:
        rows = model.sample(40_000, rng)
    out.write(f"aim: sample {len(rows)} rows: {t}\n")
    measured = [m.clique for m in ms]
    every = [c for k in (1, 2, 3) for c in itertools.combinations(dom.attrs, k)]
    with _Clock() as t:
        small = [c for c in every if model_size_mb(dom, [*measured, c]) <= args.aim_mb]
    out.write(f"aim: model_size_mb of {len(every)} candidates: {t}\n")
    with _Clock() as t:
        for c in small:
            model.project(c)
    out.write(f"aim: project the {len(small)} candidates that fit: {t}\n")


if __name__ == "__main__":
    main()
