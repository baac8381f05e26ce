"""Calibrating a neural generator's sample to DP one-way marginals (post-processing).

A DP-SGD-trained generator learns the joint structure of a table slowly: after the few
thousand noisy steps a private budget affords, GANs and diffusion models still misplace
mass on single columns (a GAN that makes 95% of its rows "Male", a decoder that puts every
``hours-per-week`` at 40). The one-way marginals, on the other hand, are cheap to measure
with DP and accurate. This module combines the two, in the spirit of raking survey
weights to known totals (Deming & Stephan 1940, iterative proportional fitting):

1. draw a *pool* of ``pool_factor · n`` rows from the generator;
2. give each pooled row a weight, found by IPF so that the weighted pool's one-way
   marginals (over the discretizer's codes: categories, and DP-quantile bins for numbers)
   match the noisy one-way marginals; the ratio of any weight to the mean is capped at
   ``max_ratio`` so that a handful of rare rows cannot take over the sample;
3. keep ``n`` rows by systematic resampling (each row appears ⌊n·wᵢ⌋ or ⌈n·wᵢ⌉ times).

Privacy: the inputs are the DP-trained generator and DP marginals already charged to the
fit's accountant, so the calibration is post-processing and costs nothing. Rows keep their
joint structure from the generator; only how often each kind of row appears changes.
Columns whose noisy marginal has no positive mass, and categories the pool never produced,
cannot be matched: IPF matches what it can and leaves the rest to the generator.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from dpsynth.data.discretize import Discretizer
from dpsynth.data.private import PrivateData, gaussian_sigma_for
from dpsynth.errors import InvalidParameterError


def measure_one_way(data: PrivateData, share: float, step: str) -> tuple[list[np.ndarray], float]:
    """Noisy one-way marginals of every column and the DP row count they imply.

    ``share`` of the zCDP budget left is split evenly over the columns (discrete Gaussian, one
    release charged as ``step``). The row count is the inverse-variance weighted mean of the
    marginals' totals (a total over k cells has variance k·σ²), at least 1: post-processing.

    Privacy:
        Add/remove one row changes one cell of each column's marginal by 1. The d releases
        cost ρ = d/(2σ²) in zCDP; where the fit also has subsampled DP-SGD steps (TLDM,
        CTAB-GAN+) they enter its privacy-loss-distribution accounting with the discrete
        Gaussian's exact PLD (d-fold, shift 1), not the continuous Gaussian's, so the
        noise calibrated for the steps afterwards leaves room for what they really cost.

    Returns:
        (per column in domain order, its noisy counts over the discretizer's codes; n̂).
    """
    names = list(data.domain.names)
    sigma = gaussian_sigma_for(share * data.rho_left(step), len(names))
    log = data.measure_marginals([(n,) for n in names], sigma=sigma, step=step)
    counts = [np.asarray(m.values, dtype=np.float64) for m in log]
    sizes = np.array([c.size for c in counts], dtype=np.float64)
    totals = np.array([c.sum() for c in counts])
    return counts, float(max(1.0, np.sum(totals / sizes) / np.sum(1.0 / sizes)))


def targets_from_counts(counts: Sequence[np.ndarray]) -> list[np.ndarray | None]:
    """Noisy counts → target frequencies (negative counts set to 0; None if no mass)."""
    out: list[np.ndarray | None] = []
    for c in counts:
        c = np.clip(np.asarray(c, dtype=np.float64), 0.0, None)
        total = c.sum()
        out.append(c / total if total > 0 else None)
    return out


def rake(
    codes: np.ndarray,
    targets: Sequence[np.ndarray | None],
    *,
    iterations: int = 50,
    tol: float = 1e-4,
    max_ratio: float = 20.0,
) -> np.ndarray:
    """IPF weights of pooled rows so that their one-way marginals match ``targets``.

    Args:
        codes: (N, d) integer codes of the pooled rows; a negative code matches nothing.
        targets: Per column, the target frequencies (length ≥ the column's largest code + 1)
            or None to leave the column free.
        iterations: Most IPF sweeps over the columns.
        tol: Stop when no column's weighted marginal is further than this (in TVD) from
            the target it can reach.
        max_ratio: Cap on any weight over the mean weight (after each sweep).

    Returns:
        Non-negative weights summing to 1.
    """
    n, d = codes.shape
    if n == 0:
        raise InvalidParameterError("Cannot calibrate an empty pool of rows.")
    if len(targets) != d:
        raise InvalidParameterError(f"rake() got {len(targets)} targets for {d} columns.")
    if not max_ratio > 1.0:
        raise InvalidParameterError(f"max_ratio must be > 1. Got {max_ratio!r}.")
    w = np.full(n, 1.0 / n)
    cap = max_ratio / n
    for _ in range(iterations):
        worst = 0.0
        for j, t in enumerate(targets):
            if t is None:
                continue
            c = codes[:, j]
            ok = (c >= 0) & (c < t.size)
            have = np.bincount(c[ok], weights=w[ok], minlength=t.size)
            reach = have > 0
            if not reach.any():
                continue
            goal = t * reach
            mass = goal.sum()
            if mass <= 0:
                continue
            goal = goal / mass * have.sum()  # match shares among the categories the pool has
            worst = max(worst, 0.5 * float(np.abs(goal - have).sum() / max(have.sum(), 1e-300)))
            ratio = np.ones(t.size)
            ratio[reach] = goal[reach] / have[reach]
            w[ok] *= ratio[c[ok]]
        w = _cap(w / w.sum(), cap)
        if worst < tol:
            break
    return w


def _cap(w: np.ndarray, cap: float) -> np.ndarray:
    """Weights summing to 1 with none above ``cap``, the excess spread over the others."""
    capped = np.zeros(w.size, dtype=bool)
    for _ in range(w.size):
        over = (w > cap) & ~capped
        if not over.any():
            break
        capped |= over
        free = ~capped
        w[capped] = cap
        rest = w[free].sum()
        if rest <= 0:  # every row capped: cap·N ≥ 1 makes this uniform
            return np.full(w.size, 1.0 / w.size)
        w[free] *= (1.0 - cap * capped.sum()) / rest
    return w


def systematic_resample(weights: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``n`` draws by systematic resampling (low variance), in random order."""
    cum = np.cumsum(weights)
    cum[-1] = 1.0
    points = (rng.random() + np.arange(n)) / n
    idx = np.searchsorted(cum, points, side="right")
    return rng.permutation(np.minimum(idx, weights.size - 1))


def calibrated_sample(
    draw: Callable[[int], pd.DataFrame],
    n: int,
    discretizer: Discretizer,
    counts: Sequence[np.ndarray],
    rng: np.random.Generator,
    *,
    pool_factor: float = 4.0,
    max_ratio: float = 20.0,
) -> pd.DataFrame:
    """``n`` rows of ``draw``'s law, reweighted towards the DP one-way marginals ``counts``.

    Args:
        draw: Draws m rows from the generator (a DataFrame in the domain's columns).
        n: Rows wanted.
        discretizer: Codes rows the way ``counts`` were measured.
        counts: Per domain column (discretizer order), its noisy one-way counts.
        rng: Randomness of the resampling (public).
        pool_factor: Pool size over ``n`` (≥ 1); larger pools match better and cost more.
        max_ratio: Cap on a row's weight over the mean (see :func:`rake`).

    Returns:
        ``n`` rows.
    """
    if not pool_factor >= 1.0:
        raise InvalidParameterError(f"pool_factor must be >= 1. Got {pool_factor!r}.")
    pool = draw(max(n, int(np.ceil(pool_factor * n))))
    codes = discretizer.encode_frame(pool, on_invalid="mark")
    weights = rake(codes, targets_from_counts(counts), max_ratio=max_ratio)
    idx = systematic_resample(weights, n, rng)
    return pool.iloc[idx].reset_index(drop=True)
