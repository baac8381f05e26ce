"""Rounding shares: amounts as round as the real ones (whole hundreds, thousands…)."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dpsynth.data import numeric
from dpsynth.data.discretize import Discretizer
from dpsynth.data.domain import Column, Domain
from dpsynth.data.private import PrivateData
from dpsynth.errors import MetadataError
from dpsynth.privacy import Accountant, NoiseSource, PrivacyBudget

CHAIN = (1.0, 5.0, 10.0, 50.0, 100.0, 500.0, 1000.0)


def _coarsest(values: np.ndarray, grids: tuple[float, ...]) -> np.ndarray:
    """Share of the non-zero values whose coarsest grid among ``grids`` is each grid."""
    v = values[values != 0]
    lev = np.zeros(v.size, dtype=int)
    for i, g in enumerate(grids):
        lev[np.abs(v / g - np.round(v / g)) < 1e-9] = i
    return np.bincount(lev, minlength=len(grids)) / max(1, v.size)


def _amounts(n: int, seed: int) -> np.ndarray:
    """Payments: 20% zeros, else 45% any whole amount, 30% whole hundreds, 25% whole thousands."""
    rng = np.random.default_rng(seed)
    x = np.exp(rng.uniform(np.log(50), np.log(60_000), n))
    kind = rng.random(n)
    x = np.where(kind < 0.45, np.round(x), np.where(kind < 0.75, np.round(x, -2), np.round(x, -3)))
    x[x == 0] = 1000.0
    x[rng.random(n) < 0.2] = 0.0
    return x


# -- metadata ---------------------------------------------------------------------------------
def test_rounding_key_round_trips_and_is_validated():
    col = Column("pay", kind="numeric", integer=True, lower=0, upper=1e6,
                 rounding={"grids": [1, 100, 1000], "shares": [2, 1, 1]})
    assert col.rounding == ((1.0, 100.0, 1000.0), (0.5, 0.25, 0.25))
    assert Column.from_dict(col.to_dict()) == col
    bad = [
        ({"grids": [1, 100, 150], "shares": [1, 1, 1]}, "whole multiple"),
        ({"grids": [1, 100], "shares": [1]}, "as many shares"),
        ({"grids": [1, 100], "shares": [-1, 2]}, ">= 0"),
        ({"grids": [10, 100], "shares": [1, 1]}, "start at the column's step 1"),
        ("round", "must be"),
    ]
    for value, match in bad:
        with pytest.raises(MetadataError, match=match):
            Column("pay", kind="numeric", integer=True, lower=0, upper=1e6, rounding=value)
    with pytest.raises(MetadataError, match="needs a 'step'"):
        Column("x", kind="numeric", lower=0, upper=1, rounding={"grids": [0.1, 1], "shares": [1, 1]})
    with pytest.raises(MetadataError, match="applies to numeric"):
        Column("c", categories=("a",), rounding={"grids": [1, 10], "shares": [1, 1]})


# -- reading the shares off the step histogram --------------------------------------------------
def test_rounding_shares_are_read_from_the_step_histogram():
    # off-grid, then the coarsest grid of each value: 1, 5, 10, 50, 100, 500, 1000
    cells = np.array([0.0, 4000, 500, 500, 100, 3000, 0, 2000])
    got = numeric.select_rounding(CHAIN, cells, base=1.0, sigma=10.0)
    assert got is not None
    grids, shares = got
    assert grids == (1.0, 5.0, 10.0, 50.0, 100.0, 1000.0)  # 500 is empty: left out
    assert shares == pytest.approx(tuple(np.array([4000, 500, 500, 100, 3000, 2000]) / 10_100))
    # A cell under ROUNDING_Z sds is left out and its count dropped, not merged into a finer grid.
    grids, shares = numeric.select_rounding(CHAIN, cells, base=1.0, sigma=40.0)
    assert 50.0 not in grids and sum(shares) == pytest.approx(1.0)
    # Grids with no non-zero multiple inside the public bounds are never kept.
    grids, _ = numeric.select_rounding(CHAIN, cells, base=1.0, sigma=10.0, bounds=(0.0, 700.0))
    assert max(grids) == 100.0
    # Nothing coarser than the step, or a total lost in the noise: no rounding.
    assert numeric.select_rounding(CHAIN, np.array([0.0, 9000, 0, 0, 0, 0, 0, 0]), base=1.0, sigma=10.0) is None
    assert numeric.select_rounding(CHAIN, cells / 1000, base=1.0, sigma=10.0) is None
    # A step of 10: finer grids and off-grid values count for the step.
    grids, shares = numeric.select_rounding(CHAIN, cells, base=10.0, sigma=10.0)
    assert grids[0] == 10.0 and shares[0] == pytest.approx(5000 / 10_100)


# -- decoding -----------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 400))
def test_rounding_moves_values_within_their_range_and_keeps_zeros(seed, m):
    rng = np.random.default_rng(seed)
    ratios = np.array([1, 5, 10, 100, 1000])
    shares = rng.dirichlet(np.ones(ratios.size))
    lo = rng.integers(-3000, 3000, m)
    hi = lo + rng.integers(0, 4000, m)
    k = rng.integers(lo, hi + 1)
    k[rng.random(m) < 0.1] = 0
    k = np.clip(k, lo, hi)
    out = numeric.round_on_grids(k, lo, hi, ratios, shares, np.random.default_rng(seed))
    assert np.all((out >= lo) & (out <= hi))
    assert np.array_equal(out == 0, k == 0)  # zeros stay zeros, nothing else becomes zero


def test_rounding_reaches_the_shares_where_ranges_allow():
    rng = np.random.default_rng(0)
    m = 50_000
    lo = rng.integers(1, 20, m) * 1000
    hi = lo + 999 * 4
    k = rng.integers(lo, hi + 1)
    ratios = np.array([1, 100, 1000])
    shares = np.array([0.5, 0.3, 0.2])
    fixed = np.full(2000, 5000.0)  # atoms decoded exactly: whole thousands that count towards 20%
    out = numeric.round_on_grids(k, lo, hi, ratios, shares, rng, fixed=fixed)
    both = np.concatenate([out, fixed.astype(np.int64)])
    got = _coarsest(both.astype(float), (1.0, 100.0, 1000.0))
    assert got == pytest.approx(shares, abs=0.01)
    # Without rounding a uniform draw on the step puts about 1% on hundreds.
    assert _coarsest(k.astype(float), (1.0, 100.0, 1000.0))[1] < 0.02


def test_decoded_amounts_keep_their_bins_and_become_round():
    col = Column("pay", kind="numeric", integer=True, lower=0, upper=60_000, bins=12,
                 rounding={"grids": [1, 100, 1000], "shares": [0.45, 0.3, 0.25]})
    disc = Discretizer(Domain([col]))
    codes = disc.encode_frame(pd.DataFrame({"pay": _amounts(20_000, 1)}))
    out = disc.decode(codes, np.random.default_rng(0))
    assert np.array_equal(disc.encode_frame(out)[:, 0], codes[:, 0])  # same bins as sampled
    got = _coarsest(out["pay"].to_numpy(dtype=float), (1.0, 100.0, 1000.0))
    assert got == pytest.approx([0.45, 0.3, 0.25], abs=0.03)
    plain = Discretizer(Domain([col.replace(rounding=None)])).decode(codes, np.random.default_rng(0))
    assert _coarsest(plain["pay"].to_numpy(dtype=float), (1.0, 100.0, 1000.0))[1] < 0.03


# -- with DP, end to end ------------------------------------------------------------------------
def test_rounding_is_inferred_without_extra_budget_and_decoded():
    frame = pd.DataFrame({"pay": _amounts(30_000, 0)})
    domain = Domain([Column("pay", kind="numeric", integer=True, lower=0, upper=60_000)])
    spent = {}
    for parts in (("step",), ("atoms", "step", "shape")):
        acc = Accountant(PrivacyBudget(1.0, 1e-5), seeded=True)
        data = PrivateData(frame, domain, numeric_detail=parts).bind(acc, NoiseSource(4))
        data.complete_domain(step="test.infer")
        spent[parts] = [e.description for e in acc.report().ledger
                        if e.step == "test.infer" and "(bin edges)" not in e.description]
        col = data.domain["pay"]
        assert col.rounding is not None, acc.notes
        grids, _ = col.rounding
        assert {1.0, 100.0, 1000.0} <= set(grids)
        assert any("rounding of 'pay'" in n for n in acc.notes)
    # The shares come from the step histogram: no release of their own.
    assert len(spent[("step",)]) == 1 and "precision" in spent[("step",)][0]
    disc = Discretizer(data.domain)
    out = disc.decode(disc.encode_frame(frame.iloc[:10_000]), np.random.default_rng(0))["pay"].to_numpy(dtype=float)
    real = _coarsest(frame["pay"].to_numpy(dtype=float), (1.0, 100.0, 1000.0))
    got = _coarsest(out, (1.0, 100.0, 1000.0))
    assert got == pytest.approx(real, abs=0.05)


def test_declared_step_gets_no_rounding_and_costs_nothing_for_it():
    frame = pd.DataFrame({"pay": _amounts(5000, 2)})
    domain = Domain([Column("pay", kind="numeric", integer=True, lower=0, upper=60_000, step=1)])
    acc = Accountant(PrivacyBudget(1.0, 1e-5), seeded=True)
    data = PrivateData(frame, domain, numeric_detail=("step",)).bind(acc, NoiseSource(0))
    data.complete_domain(step="test.infer")
    assert data.domain["pay"].rounding is None
    assert not [e for e in acc.report().ledger if "precision" in e.description]


def test_round_frame_rounds_direct_outputs_within_their_bins_and_keeps_types():
    # What GSD and the neural generators output: numbers on the step, not yet round.
    pay = Column("pay", kind="numeric", integer=True, lower=0, upper=60_000, bins=12,
                 rounding={"grids": [1, 100, 1000], "shares": [0.45, 0.3, 0.25]})
    when = Column("when", kind="datetime", lower="2020-01-01", upper="2020-12-31", integer=True, bins=12,
                  nullable=True, rounding={"grids": [1, 3600, 86400], "shares": [0.2, 0.3, 0.5]})
    name = Column("name", categories=("a", "b"))
    domain = Domain([pay, when, name])
    rng = np.random.default_rng(0)
    n = 20_000
    secs = rng.integers(1577836800, 1609372800, n).astype("datetime64[s]").astype("datetime64[us]")
    frame = pd.DataFrame({
        "pay": pd.array(rng.integers(1, 60_000, n), dtype="Int64"),
        "when": pd.Series(secs).where(rng.random(n) > 0.1),
        "name": rng.choice(["a", "b"], n),
    })
    disc = Discretizer(domain)
    out = numeric.round_frame(frame, domain, np.random.default_rng(1))
    assert isinstance(out["pay"].dtype, pd.Int64Dtype) and out["when"].dtype == frame["when"].dtype
    assert out["name"].equals(frame["name"]) and frame["pay"].equals(frame["pay"])  # input untouched
    assert np.array_equal(disc.encode_frame(out), disc.encode_frame(frame))  # every value keeps its bin
    assert out["when"].isna().equals(frame["when"].isna())
    got = _coarsest(out["pay"].to_numpy(dtype=float), (1.0, 100.0, 1000.0))
    assert got == pytest.approx([0.45, 0.3, 0.25], abs=0.03)
    secs_out = out["when"].dropna().astype("int64").to_numpy() / 1e6
    assert np.mean(secs_out % 86400 == 0) == pytest.approx(0.5, abs=0.03)
    # A domain without rounding returns the frame as it is.
    plain = Domain([pay.replace(rounding=None), when.replace(rounding=None), name])
    assert numeric.round_frame(frame, plain, np.random.default_rng(1)) is frame
