"""Fidelity: per-column distances, association matrices and range queries.

Evaluation reads raw rows on purpose: it measures a release, it is not part of one.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from dpsynth.data.domain import Domain
from dpsynth.evaluate._base import Metric, Result, check_int_param, rng_of
from dpsynth.evaluate._prepare import Prepared, is_categorical
from dpsynth.privacy.random import RandomState


def _numeric_names(domain: Domain) -> list[str]:
    return [c.name for c in domain if c.is_numeric]


class _PerColumn(Metric):
    """A distance between the real and synthetic distributions of each numeric column.

    Missing values are excluded from the distance; the difference of the missing rates is
    reported beside it, per column, in ``details``.
    """

    goal = "minimize"
    min_value = 0.0
    max_value = 1.0

    def applies(self, domain: Domain) -> bool:
        """Needs a numeric or datetime column."""
        return bool(_numeric_names(domain))

    def _distance(self, prep: Prepared, name: str, a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
        raise NotImplementedError

    def _compute(self, prep: Prepared) -> Result:
        names = _numeric_names(prep.domain)
        if not names:
            return self._result(prep, math.nan, note="the domain has no numeric column")
        per_col: dict[str, dict[str, Any]] = {}
        for name in names:
            a = prep.real.values(name)
            b = prep.synthetic.values(name)
            a, b = a[~np.isnan(a)], b[~np.isnan(b)]
            if len(a) == 0 and len(b) == 0:
                entry: dict[str, Any] = {"value": 0.0}
            elif len(a) == 0 or len(b) == 0:
                entry = {"value": 1.0}  # one side is entirely missing
            else:
                entry = self._distance(prep, name, a, b)
            mr, ms = prep.real.missing_rate(name), prep.synthetic.missing_rate(name)
            entry.update(
                missing_real=mr,
                missing_synthetic=ms,
                missing_rate_diff=abs(mr - ms),
                n_real=len(a),
                n_synthetic=len(b),
            )
            per_col[name] = entry
        values = np.array([e["value"] for e in per_col.values()])
        details = {
            "columns": names,
            "values": values,
            "per_column": per_col,
            "mean_missing_rate_diff": float(np.mean([e["missing_rate_diff"] for e in per_col.values()])),
        }
        return self._result(prep, float(values.mean()), details=details,
                            note="missing values excluded; their rate difference is in details")


class KSStatistic(_PerColumn):
    """Mean two-sample Kolmogorov–Smirnov statistic over numeric (and datetime) columns.

    The KS statistic is the largest gap between the two empirical CDFs: 0 when the
    distributions coincide, 1 when their ranges do not overlap. ``details["per_column"]``
    has each column's statistic and p-value and the missing-rate difference.
    """

    name = "ks_statistic"

    def _distance(self, prep: Prepared, name: str, a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
        res = stats.ks_2samp(a, b, method="asymp")
        return {"value": float(res.statistic), "pvalue": float(res.pvalue)}


class WassersteinDistance(_PerColumn):
    """Mean Wasserstein-1 distance over numeric columns, as a share of each column's range.

    Values are clipped to the column's declared bounds and the distance divided by
    ``upper − lower``, so it lies in [0, 1]: 1 when all real mass sits at one bound and all
    synthetic mass at the other. Columns without declared bounds use the observed range
    (``details["per_column"][name]["range_source"]`` says which).
    """

    name = "wasserstein"

    def _distance(self, prep: Prepared, name: str, a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
        lo, hi, source = prep.bounds(name)
        w = stats.wasserstein_distance(np.clip(a, lo, hi), np.clip(b, lo, hi)) / (hi - lo)
        return {"value": float(min(1.0, w)), "lower": lo, "upper": hi, "range_source": source}


# -- association ----------------------------------------------------------------------------

def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    ok = ~(np.isnan(x) | np.isnan(y))
    x, y = x[ok], y[ok]
    if len(x) < 2:
        return 0.0
    xc, yc = x - x.mean(), y - y.mean()
    den = math.sqrt(float(xc @ xc) * float(yc @ yc))
    return float(np.clip((xc @ yc) / den, -1.0, 1.0)) if den > 0 else 0.0


def _cramers_v(a: np.ndarray, b: np.ndarray, ka: int, kb: int) -> float:
    """Cramér's V of two code vectors (levels never observed are dropped)."""
    table = np.bincount(a * kb + b, minlength=ka * kb).reshape(ka, kb).astype(np.float64)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    r, c = table.shape
    if min(r, c) < 2:
        return 0.0
    n = table.sum()
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
    phi2 = float(((table - expected) ** 2 / expected).sum()) / n
    return float(min(1.0, math.sqrt(phi2 / (min(r, c) - 1))))


def _correlation_ratio(codes: np.ndarray, y: np.ndarray, k: int) -> float:
    """Correlation ratio η of a numeric ``y`` on categorical ``codes`` (rows with y missing dropped)."""
    ok = ~np.isnan(y)
    codes, y = codes[ok], y[ok]
    if len(y) < 2:
        return 0.0
    total = float(((y - y.mean()) ** 2).sum())
    if total <= 0:
        return 0.0
    cnt = np.bincount(codes, minlength=k)
    sums = np.bincount(codes, weights=y, minlength=k)
    nz = cnt > 0
    between = float((sums[nz] ** 2 / cnt[nz]).sum() - y.sum() ** 2 / len(y))
    return float(math.sqrt(min(1.0, max(0.0, between / total))))


def association_matrix(prep: Prepared, role: str) -> tuple[np.ndarray, np.ndarray]:
    """Association of every pair of columns of one table.

    Pearson correlation for two numeric columns (in [-1, 1], pairwise-complete rows),
    Cramér's V for two categorical ones, and the correlation ratio η for a categorical and
    a numeric one (both in [0, 1]; missing categorical values are a category, rows with a
    missing numeric value are dropped from that pair).

    Returns:
        The (d, d) matrix (ones on the diagonal) and a matching matrix of the measure names.
    """
    t = prep.tables[role]
    cols = list(prep.domain)
    d = len(cols)
    mat = np.eye(d)
    kind = np.full((d, d), "", dtype=object)
    for i in range(d):
        for j in range(i + 1, d):
            ci, cj = cols[i], cols[j]
            if is_categorical(ci) and is_categorical(cj):
                ki, kj = len(ci.categories or ()) + 2, len(cj.categories or ()) + 2
                v, what = _cramers_v(t.codes(ci.name), t.codes(cj.name), ki, kj), "cramers_v"
            elif not is_categorical(ci) and not is_categorical(cj):
                v, what = _pearson(t.values(ci.name), t.values(cj.name)), "pearson"
            else:
                cat, num = (ci, cj) if is_categorical(ci) else (cj, ci)
                k = len(cat.categories or ()) + 2
                v, what = _correlation_ratio(t.codes(cat.name), t.values(num.name), k), "correlation_ratio"
            mat[i, j] = mat[j, i] = v
            kind[i, j] = kind[j, i] = what
    return mat, kind


class AssociationDifference(Metric):
    """Mean absolute difference between the real and synthetic association matrices.

    Each matrix holds Pearson correlation for numeric pairs, Cramér's V for categorical
    pairs and the correlation ratio η for mixed pairs (see :func:`association_matrix`). The
    value averages ``|A_real − A_synth|`` over the pairs above the diagonal: 0 when every
    association is kept; at most 1 for V and η and 2 for Pearson pairs (a correlation of +1
    turned into −1), hence ``max_value = 2``. Both matrices are in ``details`` for heat maps.
    """

    name = "association_difference"
    goal = "minimize"
    min_value = 0.0
    max_value = 2.0

    def applies(self, domain: Domain) -> bool:
        """Needs two columns."""
        return len(domain) >= 2

    def _compute(self, prep: Prepared) -> Result:
        names = list(prep.names)
        if len(names) < 2:
            return self._result(prep, math.nan, note="the domain has fewer than 2 columns")
        real, kind = association_matrix(prep, "real")
        synth, _ = association_matrix(prep, "synthetic")
        diff = np.abs(real - synth)
        iu = np.triu_indices(len(names), 1)
        by_measure = {
            m: float(diff[iu][kind[iu] == m].mean()) for m in ("pearson", "cramers_v", "correlation_ratio")
            if (kind[iu] == m).any()
        }
        order = np.argsort(-diff[iu])[:10]
        details = {
            "columns": names,
            "real": real,
            "synthetic": synth,
            "abs_difference": diff,
            "measure": kind.tolist(),
            "mean_by_measure": by_measure,
            "worst_pairs": [
                {"pair": [names[iu[0][p]], names[iu[1][p]]], "real": float(real[iu][p]),
                 "synthetic": float(synth[iu][p]), "measure": kind[iu][p]}
                for p in order
            ],
        }
        return self._result(prep, float(diff[iu].mean()), details=details)


# -- range queries ------------------------------------------------------------------------------

class RangeQueryError(Metric):
    """Mean absolute error of random counting queries, as fractions of each table's rows.

    A seeded workload of ``n_queries`` conjunctions over 1 to ``max_way`` distinct columns
    is drawn from the *domain* (never from the data): a numeric column gets a range
    ``[a, b]`` with both ends uniform between its bounds; a categorical column gets an
    ``IN`` set, each declared category (and "missing", for a nullable column) included with
    probability ½, never empty. A row with a missing numeric value fails a range condition.
    The value is the mean over queries of ``|fraction of real rows − fraction of synthetic
    rows|``; the confidence interval is for the mean over the random workload.

    Args:
        n_queries: Number of queries.
        max_way: Most columns per query (1 to ``max_way``, uniformly).
        random_state: Seed or Generator for the workload.
    """

    name = "range_query_error"
    goal = "minimize"
    min_value = 0.0
    max_value = 1.0

    def __init__(self, *, n_queries: int = 1000, max_way: int = 3, random_state: RandomState = 0) -> None:
        self.n_queries = n_queries
        self.max_way = max_way
        self.random_state = random_state

    def _validate_params(self) -> None:
        check_int_param(self.n_queries, "n_queries", type(self).__name__)
        check_int_param(self.max_way, "max_way", type(self).__name__)

    def workload(self, prep: Prepared) -> list[list[dict[str, Any]]]:
        """The queries: each a list of conditions ``{"column", "range": [a, b]}`` or ``{"column", "in": [...]}``."""
        rng = rng_of(self.random_state)
        cols = list(prep.domain)
        queries = []
        for _ in range(self.n_queries):
            k = int(rng.integers(1, min(self.max_way, len(cols)) + 1))
            conds: list[dict[str, Any]] = []
            for j in sorted(rng.choice(len(cols), size=k, replace=False).tolist()):
                col = cols[j]
                if is_categorical(col):
                    cats = list(col.categories or ())
                    n_opts = len(cats) + (1 if col.nullable else 0)
                    keep = rng.random(n_opts) < 0.5
                    if not keep.any():
                        keep[int(rng.integers(n_opts))] = True
                    idx = np.flatnonzero(keep).tolist()
                    conds.append({"column": col.name, "in": [cats[i] if i < len(cats) else None for i in idx],
                                  "_codes": idx})
                else:
                    lo, hi, _ = prep.bounds(col.name)
                    a, b = np.sort(rng.uniform(lo, hi, size=2))
                    if col.integer:
                        a, b = math.floor(a), math.ceil(b)
                    conds.append({"column": col.name, "range": [float(a), float(b)]})
            queries.append(conds)
        return queries

    def _answer(self, prep: Prepared, role: str, queries: list[list[dict[str, Any]]]) -> np.ndarray:
        t = prep.tables[role]
        out = np.empty(len(queries))
        for q, conds in enumerate(queries):
            mask = np.ones(t.n, dtype=bool)
            for c in conds:
                col = prep.domain[c["column"]]
                if "in" in c:
                    allowed = np.zeros(len(col.categories or ()) + 2, dtype=bool)
                    codes = list(c["_codes"])
                    # "missing" is offered as option K; the code for missing is K as well.
                    allowed[codes] = True
                    mask &= allowed[t.codes(col.name)]
                else:
                    v = t.values(col.name)
                    a, b = c["range"]
                    with np.errstate(invalid="ignore"):
                        mask &= (v >= a) & (v <= b)
            out[q] = mask.mean()
        return out

    def _compute(self, prep: Prepared) -> Result:
        queries = self.workload(prep)
        a = self._answer(prep, "real", queries)
        b = self._answer(prep, "synthetic", queries)
        err = np.abs(a - b)
        mean = float(err.mean())
        ci = None
        if len(err) > 1:
            se = float(err.std(ddof=1)) / math.sqrt(len(err))
            ci = (max(0.0, mean - 1.96 * se), min(1.0, mean + 1.96 * se))
        public = [[{k: v for k, v in c.items() if not k.startswith("_")} for c in q] for q in queries]
        ways = np.array([len(q) for q in queries])
        details = {
            "queries": public,
            "real": a,
            "synthetic": b,
            "abs_error": err,
            "mean_by_way": {str(k): float(err[ways == k].mean()) for k in np.unique(ways)},
        }
        return self._result(prep, mean, ci=ci, details=details)
