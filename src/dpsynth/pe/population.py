"""The Population role: which candidates survive a round, and how the next round is made.

Two selection modes, as in the PE family:

* ``"sample"`` (Lin et al., ICLR 2024, Alg. 1 lines 7–8): draw the next parents with
  probability proportional to the DP histogram, then vary every parent;
* ``"rank"`` (Aug-PE, Xie et al., ICML 2024, Sec. 3.2, "keep selected"): keep the
  best-voted fraction of candidates unchanged and fill the rest with variations of them.

A composite schedule runs sample mode first (broad exploration while the population is far
from the data) and rank mode after. The variation degree decays geometrically from
``degree_start`` to ``degree_end`` over the rounds. Everything here is post-processing of
DP histograms and never sees private data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dpsynth.errors import InvalidParameterError
from dpsynth.pe.api import API, check_degree


@dataclass(frozen=True)
class Population:
    """Selection and variation schedule.

    Args:
        sample_rounds: Rounds (from the first) that select in sample mode; rank mode after.
        degree_start: Variation degree after the first round's votes.
        degree_end: Variation degree at the last round (geometric decay in between).
        keep_fraction: In rank mode, the share of each group kept unchanged (the rest are
            variations of the kept ones).
    """

    sample_rounds: int = 1
    degree_start: float = 0.5
    degree_end: float = 0.05
    keep_fraction: float = 0.5

    def __post_init__(self) -> None:
        check_degree(self.degree_start)
        check_degree(self.degree_end)
        if isinstance(self.sample_rounds, bool) or not isinstance(self.sample_rounds, int) or self.sample_rounds < 0:
            raise InvalidParameterError(f"sample_rounds must be an integer >= 0. Got {self.sample_rounds!r}.")
        if not (isinstance(self.keep_fraction, int | float) and 0.0 < self.keep_fraction < 1.0):
            raise InvalidParameterError(f"keep_fraction must be in (0, 1). Got {self.keep_fraction!r}.")

    def mode(self, t: int) -> str:
        """The selection mode after round ``t``'s votes (0-based)."""
        return "sample" if t < self.sample_rounds else "rank"

    def degree(self, t: int, rounds: int) -> float:
        """The variation degree used after round ``t`` of ``rounds``."""
        if rounds <= 2:
            return self.degree_start
        frac = t / (rounds - 2)
        return float(self.degree_start * (self.degree_end / self.degree_start) ** min(frac, 1.0))

    def next_generation(
        self,
        api: API,
        samples: np.ndarray,
        weights: np.ndarray,
        t: int,
        rounds: int,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """The population of round ``t + 1``: same size and same class mix as ``samples``.

        Args:
            api: Makes the variations.
            samples: This round's candidates.
            weights: Their DP selection weights (non-negative).
            t: This round (0-based).
            rounds: Total rounds.
            rng: Post-processing randomness.
        """
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != (len(samples),) or np.any(weights < 0) or not np.all(np.isfinite(weights)):
            raise InvalidParameterError("Selection weights must be finite, >= 0 and one per candidate.")
        labels = api.labels(samples)
        groups = [np.arange(len(samples))] if labels is None else [
            np.flatnonzero(labels == g) for g in np.unique(labels)
        ]
        keep: list[np.ndarray] = []
        parents: list[np.ndarray] = []
        for idx in groups:
            w = weights[idx]
            if self.mode(t) == "sample":
                p = w / w.sum() if w.sum() > 0 else None
                parents.append(rng.choice(idx, size=idx.size, p=p))
            else:
                k = max(1, min(idx.size - 1, round(self.keep_fraction * idx.size))) if idx.size > 1 else 1
                # Ties (e.g. many zero votes) are broken at random, not by position.
                order = np.lexsort((rng.random(idx.size), -w))
                top = idx[order[:k]]
                keep.append(top)
                # Children drawn from the kept ones in proportion to their votes.
                wt = weights[top]
                p = wt / wt.sum() if wt.sum() > 0 else None
                parents.append(rng.choice(top, size=idx.size - top.size, p=p))
        varied = np.concatenate(parents) if parents else np.zeros(0, dtype=np.int64)
        children = api.variation_api(samples[varied], self.degree(t, rounds), rng) if varied.size else samples[:0]
        kept = samples[np.concatenate(keep)] if keep else samples[:0]
        return np.concatenate([kept, children], axis=0)


def draw_by_class(
    labels: np.ndarray,
    weights: np.ndarray,
    classes: list[str],
    class_counts: np.ndarray,
    n: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Indices of ``n`` final samples: class sizes from the DP class counts, then by weight.

    Args:
        labels: Each sample's class label (as text).
        weights: Each sample's final DP histogram weight.
        classes: The class labels, in the order of ``class_counts``.
        class_counts: Non-negative noisy class counts (uniform classes if they sum to 0).
        n: Samples wanted.
        rng: Public randomness.

    Returns:
        Indices into the samples (a class without samples contributes none).
    """
    k = len(classes)
    total = class_counts.sum()
    per_class = rng.multinomial(n, class_counts / total if total > 0 else np.full(k, 1.0 / k))
    picks = []
    for c, m in zip(classes, per_class, strict=True):
        idx = np.flatnonzero(labels == c)
        if m == 0 or idx.size == 0:
            continue
        w = weights[idx]
        picks.append(rng.choice(idx, size=m, p=w / w.sum() if w.sum() > 0 else None))
    return np.concatenate(picks)
