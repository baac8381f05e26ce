from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dpsynth.data.domain import Column, Domain
from dpsynth.evaluate import (
    AssociationDifference,
    KSStatistic,
    RangeQueryError,
    WassersteinDistance,
    association_matrix,
)
from dpsynth.evaluate._prepare import prepare


@pytest.mark.parametrize("metric", [KSStatistic, WassersteinDistance])
def test_per_column_distances_bracket(metric, domain, real, fresh, disjoint_pair):
    assert metric().compute(real, real, domain).value == 0.0
    r, s = disjoint_pair
    worst = metric().compute(r, s, domain)
    assert worst.value == pytest.approx(1.0)
    assert set(worst.details["per_column"]) == {"x", "y", "n"}
    # Two samples of one distribution: small but not zero.
    assert 0.0 < metric().compute(real, fresh, domain).value < 0.1


def test_ks_matches_scipy_and_excludes_missing(domain, real, fresh):
    from scipy import stats

    other = fresh.copy()
    other.loc[other.index[:400], "y"] = np.nan  # 20% missing
    res = KSStatistic().compute(real, other, domain)
    entry = res.details["per_column"]["y"]
    want = stats.ks_2samp(real["y"], other["y"].dropna()).statistic
    assert entry["value"] == pytest.approx(want)
    assert entry["missing_rate_diff"] == pytest.approx(0.2)
    assert entry["n_synthetic"] == 1600


def test_wasserstein_is_a_share_of_the_declared_range(domain, real):
    shifted = real.copy()
    shifted["x"] = np.clip(real["x"] + 1.0, 0, 10)  # moved by 1 on a range of 10
    res = WassersteinDistance().compute(real, shifted, domain)
    assert res.details["per_column"]["x"]["value"] == pytest.approx(0.1, abs=0.01)
    assert res.details["per_column"]["x"]["range_source"] == "declared"


def test_association_bracket(domain, real, fresh, shuffled):
    assert AssociationDifference().compute(real, real, domain).value == 0.0
    base = AssociationDifference().compute(real, fresh, domain).value
    bad = AssociationDifference().compute(real, shuffled, domain)
    assert bad.value > 10 * base
    d = len(domain)
    assert np.asarray(bad.details["real"]).shape == (d, d)
    assert np.asarray(bad.details["synthetic"]).shape == (d, d)


def test_association_measures(domain, real):
    prep = prepare(real, real, domain)
    mat, kind = association_matrix(prep, "real")
    names = list(domain.names)
    i = {n: names.index(n) for n in names}
    assert kind[i["x"], i["y"]] == "pearson"
    assert mat[i["x"], i["y"]] == pytest.approx(np.corrcoef(real["x"], real["y"])[0, 1])
    assert kind[i["a"], i["b"]] == "cramers_v"
    ct = pd.crosstab(real["a"], real["b"]).to_numpy().astype(float)
    e = np.outer(ct.sum(1), ct.sum(0)) / ct.sum()
    v = np.sqrt(((ct - e) ** 2 / e).sum() / ct.sum() / (min(ct.shape) - 1))
    assert mat[i["a"], i["b"]] == pytest.approx(v)
    assert kind[i["a"], i["x"]] == "correlation_ratio"
    g = real.groupby("a")["x"]
    eta2 = (g.count() * (g.mean() - real["x"].mean()) ** 2).sum() / ((real["x"] - real["x"].mean()) ** 2).sum()
    assert mat[i["a"], i["x"]] == pytest.approx(np.sqrt(eta2))


def test_association_worst_values():
    rng = np.random.default_rng(0)
    num = Domain([Column("u", "numeric", lower=-1.0, upper=1.0), Column("v", "numeric", lower=-1.0, upper=1.0)])
    u = rng.uniform(-1, 1, 500)
    res = AssociationDifference().compute(pd.DataFrame({"u": u, "v": u}), pd.DataFrame({"u": u, "v": -u}), num)
    assert res.value == pytest.approx(AssociationDifference.max_value)  # Pearson +1 against −1
    cat = Domain([Column("p", categories=("0", "1", "2")), Column("q", categories=("0", "1", "2"))])
    codes = rng.integers(0, 3, 500).astype(str)
    res = AssociationDifference().compute(
        pd.DataFrame({"p": codes, "q": codes}), pd.DataFrame({"p": codes, "q": np.full(500, "1")}), cat
    )
    assert res.value == pytest.approx(1.0)  # Cramér's V 1 against 0


def test_range_queries_match_pandas(domain, real, fresh):
    m = RangeQueryError(n_queries=40, random_state=3)
    res = m.compute(real, fresh, domain)
    for q, conds in enumerate(res.details["queries"][:40]):
        for df, key in ((real, "real"), (fresh, "synthetic")):
            mask = pd.Series(True, index=df.index)
            for c in conds:
                if "range" in c:
                    lo, hi = c["range"]
                    mask &= df[c["column"]].between(lo, hi)
                else:
                    allowed = set(c["in"])
                    col = df[c["column"]]
                    mask &= col.isin([v for v in allowed if v is not None]) | (col.isna() & (None in allowed))
            assert res.details[key][q] == pytest.approx(mask.mean())
    assert 1 <= min(len(q) for q in res.details["queries"]) <= max(len(q) for q in res.details["queries"]) <= 3


def test_range_query_bracket(domain, real, fresh, shuffled, disjoint_pair):
    m = RangeQueryError(random_state=0)
    assert m.compute(real, real, domain).value == 0.0
    base = m.compute(real, fresh, domain).value
    bad = m.compute(real, shuffled, domain)
    assert bad.value > 2 * base and bad.ci is not None and bad.ci[0] > base
    r, s = disjoint_pair
    worst = m.compute(r, s, domain).value
    assert worst > 3 * bad.value
