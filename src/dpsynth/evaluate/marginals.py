"""k-way marginal distances between two tables on a common discretisation.

Evaluation reads raw rows on purpose: it measures a release, it is not part of one.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

from dpsynth.data.domain import Domain
from dpsynth.evaluate._base import Metric, Result, check_int_param, rng_of
from dpsynth.evaluate._prepare import Prepared
from dpsynth.privacy.random import RandomState


def marginal_tvd(
    real: np.ndarray,
    synth: np.ndarray,
    sizes: Sequence[int],
    cliques: Sequence[Sequence[int]],
) -> np.ndarray:
    """Total variation distance of each marginal between two integer-coded tables.

    One ``bincount`` over the raveled codes of each column set (never a loop over cells).
    When a marginal has far more cells than there are rows, only the occupied cells are
    counted (``np.unique``), so memory stays proportional to the rows.

    Args:
        real: (n, d) integer codes.
        synth: (m, d) integer codes on the same discretisation.
        sizes: Number of codes per column.
        cliques: Column-index tuples.

    Returns:
        One TVD in [0, 1] per clique: ½ Σ |p_real − p_synth|.
    """
    real = np.asarray(real)
    synth = np.asarray(synth)
    n, m = len(real), len(synth)
    out = np.empty(len(cliques))
    for i, cl in enumerate(cliques):
        cl = list(cl)
        shape = tuple(int(sizes[c]) for c in cl)
        size = math.prod(shape)
        if size >= 2**62:  # raveled keys would overflow: number the distinct rows instead
            rows = np.vstack([real[:, cl], synth[:, cl]])
            keys = np.unique(rows, axis=0, return_inverse=True)[1].ravel()
        else:
            keys = np.concatenate([
                np.ravel_multi_index(real[:, cl].T, shape),
                np.ravel_multi_index(synth[:, cl].T, shape),
            ])
            if size > 4 * (n + m):  # sparse marginal: count occupied cells only
                keys = np.unique(keys, return_inverse=True)[1].ravel()
        cells = int(keys.max()) + 1 if len(keys) else 1
        a = np.bincount(keys[:n], minlength=cells) / n
        b = np.bincount(keys[n:], minlength=cells) / m
        out[i] = 0.5 * np.abs(a - b).sum()
    return out


def all_cliques(d: int, k: int) -> list[tuple[int, ...]]:
    """Every k-subset of d columns, as index tuples."""
    return list(itertools.combinations(range(d), k))


class MarginalTVD(Metric):
    """Mean total variation distance of the k-way marginals on the domain's discretisation.

    Every k-subset of columns is compared when there are at most ``max_marginals`` of them;
    otherwise a seeded uniform sample of ``max_marginals`` subsets is, and the result
    carries a 95% confidence interval for the mean over all subsets (normal approximation
    with the finite-population correction). Categorical missing values are a category of
    their own; numeric missing values a bin of their own.

    Args:
        k: Marginal order (1, 2, 3, …).
        max_marginals: Most marginals to compare; None compares all.
        random_state: Seed or Generator for the sample of marginals.

    ``details`` holds ``marginals`` (column-name tuples), ``tvd`` (one per marginal, the
    distribution a report plots), the worst ten, and the discretisation used.
    """

    goal = "minimize"
    min_value = 0.0
    max_value = 1.0

    def __init__(self, k: int = 2, *, max_marginals: int | None = None, random_state: RandomState = 0) -> None:
        self.k = k
        self.max_marginals = max_marginals
        self.random_state = random_state
        self.name = f"marginal_tvd_{k}way"

    def _validate_params(self) -> None:
        check_int_param(self.k, "k", type(self).__name__)
        check_int_param(self.max_marginals, "max_marginals", type(self).__name__, allow_none=True)

    def applies(self, domain: Domain) -> bool:
        """Needs at least k columns."""
        return len(domain) >= self.k

    def _compute(self, prep: Prepared) -> Result:
        disc = prep.discretised()
        names = prep.names
        d = len(names)
        if self.k > d:
            return self._result(prep, math.nan, note=f"the domain has fewer than {self.k} columns")
        total = math.comb(d, self.k)
        sampled = self.max_marginals is not None and total > self.max_marginals
        if sampled:
            assert self.max_marginals is not None
            rng = rng_of(self.random_state)
            pick = set(rng.choice(total, size=self.max_marginals, replace=False).tolist())
            cliques = [c for i, c in enumerate(itertools.combinations(range(d), self.k)) if i in pick]
        else:
            cliques = all_cliques(d, self.k)
        tvd = marginal_tvd(disc.codes["real"], disc.codes["synthetic"], disc.sizes, cliques)
        mean = float(tvd.mean())
        ci = None
        if sampled and len(tvd) > 1:
            m = len(tvd)
            fpc = math.sqrt((total - m) / (total - 1))
            se = float(tvd.std(ddof=1)) / math.sqrt(m) * fpc
            ci = (max(0.0, mean - 1.96 * se), min(1.0, mean + 1.96 * se))
        labels = [[names[c] for c in cl] for cl in cliques]
        order = np.argsort(-tvd)[:10]
        details = {
            "k": self.k,
            "marginals": labels,
            "tvd": tvd,
            "n_marginals": len(cliques),
            "n_marginals_total": total,
            "sampled": sampled,
            "max": float(tvd.max()),
            "quantiles": {str(q): float(np.quantile(tvd, q)) for q in (0.1, 0.25, 0.5, 0.75, 0.9)},
            "worst": [{"marginal": labels[i], "tvd": float(tvd[i])} for i in order],
            "discretisation": disc.method,
            "sizes": dict(zip(names, disc.sizes, strict=True)),
        }
        note = f"a seeded sample of {len(cliques)} of {total} {self.k}-way marginals" if sampled else ""
        return self._result(prep, mean, ci=ci, details=details, note=note)
