"""Shared helpers for the graphical-model tests: brute-force joints on tiny domains."""

from __future__ import annotations

import numpy as np

from dpsynth.pgm import Domain, Measurement


def joint_from_potentials(
    dom: Domain, potentials: dict[tuple[str, ...], np.ndarray], total: float
) -> np.ndarray:
    """The full joint table (counts summing to ``total``) of a log-linear model."""
    logp = np.zeros(dom.shape)
    for clique, table in potentials.items():
        canon = dom.canonical(clique)
        t = np.asarray(table, dtype=float).reshape([dom[a] for a in clique])
        t = t.transpose([clique.index(a) for a in canon])
        logp = logp + t.reshape([dom[a] if a in canon else 1 for a in dom.attrs])
    p = np.exp(logp - logp.max())
    return p / p.sum() * total


def marginal(dom: Domain, joint: np.ndarray, attrs: tuple[str, ...]) -> np.ndarray:
    """Marginal of a full joint table, axes in the order of ``attrs``."""
    m = joint.sum(axis=tuple(i for i, a in enumerate(dom.attrs) if a not in attrs))
    canon = [a for a in dom.attrs if a in attrs]
    return m.transpose([canon.index(a) for a in attrs])


def exact_measurements(
    dom: Domain, joint: np.ndarray, cliques: list[tuple[str, ...]], sigma: float = 1.0
) -> list[Measurement]:
    return [Measurement(c, marginal(dom, joint, c).ravel(), sigma) for c in cliques]


def noisy_measurements(
    dom: Domain,
    joint: np.ndarray,
    cliques: list[tuple[str, ...]],
    sigma: float,
    rng: np.random.Generator,
) -> list[Measurement]:
    out = []
    for c in cliques:
        m = marginal(dom, joint, c).ravel()
        out.append(Measurement(c, m + rng.normal(0.0, sigma, m.size), sigma))
    return out
