"""DP inference of what metadata leaves unknown: charged, noisy, and safe by construction."""

import numpy as np
import pandas as pd
import pytest

from dpsynth.data.domain import Domain
from dpsynth.data.infer import (
    NO_METADATA_SHARE,
    OTHER,
    TYPED_SHARE,
    PendingDomain,
    default_inference_share,
    inference_todo,
    public_grid,
    schema_domain,
)
from dpsynth.data.io import Table
from dpsynth.data.private import PrivateData
from dpsynth.errors import InvalidParameterError
from dpsynth.privacy import PrivacyBudget
from dpsynth.synth import create


def frame(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    city = rng.choice(["paris", "lyon", "nice"], size=n, p=[0.6, 0.3, 0.1]).astype(object)
    city[0] = "hapax"  # a value held by one row must not be released
    income = np.where(rng.random(n) < 0.7, 0.0, rng.lognormal(10, 1, n)).round()
    return pd.DataFrame({"city": city, "income": income, "age": rng.integers(18, 90, n)})


META = {
    "columns": [
        {"name": "city", "type": "categorical"},
        {"name": "income", "type": "numeric", "integer": True},
        {"name": "age", "type": "numeric", "integer": True, "lower": 18, "upper": 90},
    ]
}


def test_inference_is_charged_and_reported():
    # Categories and bounds only (numeric detail has its own tests in test_numeric.py).
    data = PrivateData(frame(), Domain.from_json(META), numeric_detail=())
    model = create("independent", random_state=0).fit(data, PrivacyBudget(2.0, 1e-6))
    report = model.privacy_report
    infer = [e for e in report.ledger if e.step == "independent.infer_domain"]
    assert len(infer) == 3  # city categories, income bounds+edges, age edges
    # Two of the three columns leave bounds or categories to infer: 5% + 20%·2/3 of ρ.
    assert data.inference_share == pytest.approx(0.05 + 0.2 * 2 / 3)
    assert sum(e.rho for e in infer) == pytest.approx(data.inference_share * PrivacyBudget(2.0, 1e-6).rho, rel=1e-6)
    # The thresholded histogram is approximate zCDP: its δ₀ is charged too.
    assert [e.delta > 0 for e in infer] == [True, False, False]
    assert report.within_budget
    assert any("categories of 'city'" in n for n in report.notes)
    dom = model.domain_
    assert set(dom["city"].categories) == {"paris", "lyon", "nice", OTHER}
    assert dom["income"].lower <= 0 and dom["income"].upper >= 50_000
    assert dom["income"].edges[0] == 0 and dom["income"].edges[1] == 1  # the atom at 0 kept
    out = model.sample(2000, random_state=0)
    assert out["income"].between(dom["income"].lower, dom["income"].upper).all()
    assert (out["income"] == 0).mean() == pytest.approx(0.7, abs=0.05)


def test_the_default_inference_share_grows_with_what_the_metadata_leaves_out():
    def domain(bounded: int, unbounded: int) -> Domain:
        cols = [{"name": f"b{i}", "type": "numeric", "lower": 0, "upper": 9} for i in range(bounded)]
        cols += [{"name": f"u{i}", "type": "numeric", "lower": 0} for i in range(unbounded)]
        return Domain.from_json({"columns": cols})

    assert default_inference_share(domain(4, 0)) == pytest.approx(TYPED_SHARE)  # bin edges only
    assert default_inference_share(domain(2, 2)) == pytest.approx((TYPED_SHARE + NO_METADATA_SHARE) / 2)
    assert default_inference_share(domain(0, 4)) == pytest.approx(NO_METADATA_SHARE)
    assert default_inference_share(schema_domain(Table.from_frame(frame()))) == NO_METADATA_SHARE  # types unknown
    shares = [default_inference_share(domain(10 - k, k)) for k in range(11)]
    assert shares == sorted(shares)
    # From the public domain only: a neighbouring table gets the same share; an explicit one is kept.
    f = frame()
    assert PrivateData(f, Domain.from_json(META)).inference_share == \
        PrivateData(f.iloc[1:], Domain.from_json(META)).inference_share
    assert PrivateData(f, Domain.from_json(META), inference_share=0.1).inference_share == 0.1
    with pytest.raises(InvalidParameterError, match="inference_share"):
        PrivateData(f, Domain.from_json(META), inference_share=1.5)


def test_rare_values_are_folded_into_other():
    data = PrivateData(frame(), Domain.from_json(META))
    model = create("independent", random_state=1).fit(data, PrivacyBudget(1.0, 1e-6))
    assert "hapax" not in model.domain_["city"].categories
    assert set(model.sample(500, random_state=0)["city"]) <= set(model.domain_["city"].categories)


def test_inferred_categories_vary_with_noise_not_with_a_hapax():
    # Fits on neighbours (with and without the hapax row) give the same category list.
    f = frame()
    a = create("independent", random_state=5).fit(PrivateData(f, Domain.from_json(META)), 1.0)
    b = create("independent", random_state=5).fit(PrivateData(f.iloc[1:], Domain.from_json(META)), 1.0)
    assert a.domain_["city"].categories == b.domain_["city"].categories


def test_nothing_to_infer_costs_nothing():
    meta = {"columns": [{"name": "age", "type": "numeric", "lower": 18, "upper": 90, "edges": [18, 30, 50, 90]}]}
    domain = Domain.from_json(meta)
    assert inference_todo(domain) == []
    # (Atoms, step and within-bin shape are measured unless declared or switched off.)
    model = create("independent", random_state=0).fit(PrivateData(frame()[["age"]], domain, numeric_detail=()), 1.0)
    assert all(e.step != "independent.infer_domain" for e in model.privacy_report.ledger)


def test_public_grid_is_fixed_and_symmetric():
    g = public_grid()
    np.testing.assert_array_equal(g, public_grid())
    np.testing.assert_allclose(g, -g[::-1])
    assert 0.0 in g and np.all(np.diff(g) > 0)


def test_schema_domain_reads_the_header_only():
    dom = schema_domain(Table.from_frame(frame().assign(ID=range(4000))))
    assert isinstance(dom, PendingDomain) and dom.untyped == {"city", "income", "age"}
    assert all(c.kind == "categorical" and c.categories is None and c.nullable for c in dom)
    assert dom.ignore == ("ID",) and "ID" not in dom


def test_without_metadata_types_are_inferred_with_dp_and_the_report_says_so(tmp_path):
    from dpsynth import api

    path = tmp_path / "d.csv"
    frame().to_csv(path, index=False)
    model = create("independent", random_state=0).fit(api.load_private(path), 1.0)
    notes = model.privacy_report.notes
    assert any("types of 3 column(s)" in n and "inferred with DP" in n for n in notes)
    assert any(n.startswith("inferred with DP: type of 'income': integer") for n in notes)
    assert model.domain_["income"].is_numeric and not model.domain_["city"].is_numeric


class _FixedNoise:
    """Adds the same integer z to every count (to find the threshold the inference uses)."""

    def __init__(self, z):
        self.z = z

    def discrete_gaussian(self, sigma, size):
        return np.full(size, self.z, dtype=np.int64)


@pytest.mark.parametrize("sigma", [0.47, 9.117])
def test_a_hapax_is_released_with_probability_at_most_delta0_under_discrete_noise(sigma):
    """The category threshold comes from the exact discrete-Gaussian tail, not the continuous one.

    At these σ the continuous-tail threshold lets a one-row value through with probability
    ≈ 11.8·δ₀ (σ = 0.47) and ≈ 1.39·δ₀ (σ ≈ 9.1).
    """
    from dpsynth.data.infer import DELTA_SHARE, infer_domain
    from dpsynth.privacy import Accountant
    from dpsynth.privacy.mechanisms import discrete_gaussian_tail

    table = Table.from_frame(pd.DataFrame({"city": ["hapax"] + ["paris"] * 50}))
    domain = Domain.from_json({"columns": [{"name": "city", "type": "categorical"}]})
    budget = PrivacyBudget(60.0, 1e-9)
    delta0 = DELTA_SHARE * budget.delta  # one categorical column to infer

    def released(z):
        acc = Accountant(budget)
        new, _ = infer_domain(table, domain, rho=1.0 / (2.0 * sigma**2), accountant=acc,
                              noise=_FixedNoise(z), step="infer")
        assert acc.ledger[0].noise_scale == pytest.approx(sigma)
        return "hapax" in new["city"].categories

    lo, hi = 0, 400  # released(lo) is False, released(hi) is True
    assert not released(lo) and released(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if released(mid) else (mid, hi)
    # The hapax (true count 1) is released iff its noise is at least hi: P(Z ≥ hi) ≤ δ₀, tight.
    assert discrete_gaussian_tail(sigma, hi) <= delta0 < discrete_gaussian_tail(sigma, hi - 1)
