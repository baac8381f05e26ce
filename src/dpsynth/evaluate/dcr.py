"""Distance to closest record (DCR): are synthetic rows closer to the training rows than to unseen ones?

A heuristic, not a privacy guarantee: a share near 0.5 does not prove the release private
(only the DP accounting does), and a share above 0.5 flags memorisation worth a look.

Evaluation reads raw rows on purpose: it measures a release, it is not part of one.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.neighbors import NearestNeighbors

from dpsynth.evaluate._base import Metric, Result, check_int_param, rng_of
from dpsynth.evaluate._prepare import Prepared
from dpsynth.privacy.random import RandomState

HEURISTIC_NOTE = (
    "Distance to closest record is a heuristic, not a privacy guarantee: a share near 0.5 "
    "does not show the release is private (only the DP accounting does); a share above 0.5 "
    "suggests synthetic rows copy or hug training rows."
)


def wilson_interval(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, centre - half), min(1.0, centre + half))


def _nearest(reference: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Distance from each query to its nearest reference row.

    The search uses scikit-learn's brute force (fast, via ‖a‖² − 2a·b + ‖b‖², which leaves
    rounding noise of ~1e-8); the distance to the neighbour found is then recomputed from the
    difference, so an exact copy is at distance exactly 0 and ties are real ties.
    """
    nn = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(reference)
    idx = nn.kneighbors(queries, return_distance=False)[:, 0]
    return np.sqrt(((queries - reference[idx]) ** 2).sum(axis=1))


class DCRShare(Metric):
    """Share of synthetic rows closer to the training table than to an equally large hold-out.

    ``real`` must be the rows the generator was fitted on and ``holdout`` rows it never saw,
    drawn from the same population. If the generator does not hug its training rows, a
    synthetic row's nearest real row is as likely to be in either table: the share is 0.5,
    the ideal. A synthetic copy of the training table gives 1. Ties (equal distances, common
    with categorical data) count one half. The larger of the two real tables is subsampled
    (seeded) to the size of the smaller, as the comparison needs equal sizes, and at most
    ``max_rows`` synthetic rows are queried.

    Distances are Euclidean on a standardised encoding taken from the domain: numeric
    columns scaled to [0, 1] by their declared range (with a missing flag), categorical
    columns one-hot (missing is a category). ``details`` holds the synthetic→train and
    synthetic→hold-out distance quantiles, and the hold-out→train distances as the baseline
    an unseen real row achieves.

    This is a heuristic, not a privacy guarantee.

    Args:
        max_rows: Most synthetic (and hold-out baseline) rows queried.
        n_threads: BLAS threads for the distance computations (None: the library default).
        random_state: Seed or Generator for the subsamples.
    """

    name = "dcr_share"
    goal = "minimize"
    min_value = 0.0
    max_value = 1.0
    ideal_value = 0.5
    needs_holdout = True

    def __init__(self, *, max_rows: int | None = 10_000, n_threads: int | None = 1,
                 random_state: RandomState = 0) -> None:
        self.max_rows = max_rows
        self.n_threads = n_threads
        self.random_state = random_state

    def _validate_params(self) -> None:
        check_int_param(self.max_rows, "max_rows", type(self).__name__, allow_none=True)

    def _compute(self, prep: Prepared) -> Result:
        assert prep.holdout is not None
        rng = rng_of(self.random_state)
        names = list(prep.names)

        def sample(n_have: int, n_want: int) -> np.ndarray:
            return np.sort(rng.choice(n_have, n_want, replace=False)) if n_have > n_want else np.arange(n_have)

        n_ref = min(prep.real.n, prep.holdout.n)
        cap = self.max_rows if self.max_rows is not None else prep.synthetic.n
        train = prep.onehot_features("real", names)[sample(prep.real.n, n_ref)]
        hold_all = prep.onehot_features("holdout", names)
        hold = hold_all[sample(prep.holdout.n, n_ref)]
        syn = prep.onehot_features("synthetic", names)[sample(prep.synthetic.n, min(cap, prep.synthetic.n))]

        d_train = _nearest(train, syn)
        d_hold = _nearest(hold, syn)
        tie = np.isclose(d_train, d_hold, rtol=0.0, atol=1e-9)
        closer = (d_train < d_hold) & ~tie
        wins = float(closer.sum() + 0.5 * tie.sum())
        share = wins / len(syn)

        # Baseline: how close unseen real rows come to the training table.
        hq = hold_all[sample(prep.holdout.n, min(cap, prep.holdout.n))]
        d_base = _nearest(train, hq)
        qs = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9)
        details = {
            "share_closer_to_train": share,
            "share_ties": float(tie.mean()),
            "n_reference": n_ref,
            "n_synthetic_queried": len(syn),
            "exact_copies_of_train": float(np.mean(d_train <= 1e-9)),
            "holdout_exact_matches_in_train": float(np.mean(d_base <= 1e-9)),
            "quantiles": [str(q) for q in qs],
            "dcr_synthetic_to_train": np.quantile(d_train, qs),
            "dcr_synthetic_to_holdout": np.quantile(d_hold, qs),
            "dcr_holdout_to_train": np.quantile(d_base, qs),
            "heuristic": True,
        }
        note = HEURISTIC_NOTE
        if prep.real.n != prep.holdout.n:
            note += f" Train and hold-out subsampled to {n_ref} rows each."
        return self._result(prep, share, ci=wilson_interval(wins, len(syn)), details=details,
                            real_split="train+holdout", note=note)
