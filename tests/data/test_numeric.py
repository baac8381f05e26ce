"""Atoms, precision and within-bin shape: decoding, DP inference, formatting."""

import io
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from dpsynth.data import numeric
from dpsynth.data.discretize import Discretizer
from dpsynth.data.domain import Column, Domain
from dpsynth.data.io import Table
from dpsynth.data.private import PrivateData
from dpsynth.errors import InvalidParameterError, MetadataError
from dpsynth.privacy import Accountant, GaussianMechanism, NoiseSource, PrivacyBudget


def _decode(col: Column, codes: np.ndarray, seed: int = 0) -> pd.Series:
    return Discretizer(Domain([col])).decode(codes.reshape(-1, 1), np.random.default_rng(seed))[col.name]


def _roundtrip_codes(col: Column, n: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    disc = Discretizer(Domain([col]))
    k = disc.sizes[col.name]
    codes = np.random.default_rng(1).integers(0, k, n)
    frame = disc.decode(codes.reshape(-1, 1), np.random.default_rng(2))
    return codes, disc.encode_frame(frame)[:, 0]


# -- metadata keys ----------------------------------------------------------------------------
def test_keys_round_trip_through_json_and_are_validated():
    col = Column("x", kind="numeric", lower=0, upper=10, step=0.5, atoms=[0, 10, 0],
                 density={"edges": [0, 5, 10], "weights": [3, 1]})
    assert col.atoms == (0.0, 10.0) and col.step == 0.5
    assert col.density == ((0.0, 5.0, 10.0), (3.0, 1.0))
    assert Column.from_dict(col.to_dict()) == col
    with pytest.raises(MetadataError) as err:
        Column("y", kind="numeric", integer=True, step=0.5, atoms=["a"],
               density={"edges": [1, 0], "weights": [1]})
    text = str(err.value)
    assert "whole number" in text and "'atoms' must be finite numbers" in text and "strictly increasing" in text
    with pytest.raises(MetadataError, match="applies to numeric"):
        Column("c", categories=("a",), step=1)
    with pytest.raises(InvalidParameterError, match="Unknown numeric detail"):
        PrivateData(pd.DataFrame({"x": [1.0]}), Domain([Column("x", kind="numeric", lower=0, upper=1)]),
                    numeric_detail=("atoms", "sparkle"))


# -- decoding ---------------------------------------------------------------------------------
@pytest.mark.parametrize("col", [
    Column("c", kind="numeric", lower=-3.0, upper=7.0, bins=5, atoms=(0, 7, 2.5)),
    Column("i", kind="numeric", lower=0, upper=1000, integer=True, bins=7, atoms=(0, 120, 1000)),
    Column("e", kind="numeric", edges=(0, 1, 10, 100), lower=0, upper=100, atoms=(0, 40)),
    Column("s", kind="numeric", lower=0, upper=1000, integer=True, bins=9, step=50),
    Column("d", kind="numeric", lower=-1, upper=1, bins=6, step=0.01, atoms=(0,)),
    Column("t", kind="datetime", lower="2020-01-01", upper="2020-12-31", bins=10, step=86400),
])
def test_decoded_values_code_back_to_their_bin(col):
    codes, back = _roundtrip_codes(col)
    assert np.array_equal(codes, back)


def test_atoms_are_decoded_exactly_and_have_codes_of_their_own():
    col = Column("x", kind="numeric", lower=0.0, upper=100.0, bins=4, atoms=(0, 40, 100))
    disc = Discretizer(Domain([col]))
    assert disc.sizes["x"] == 4 + 4  # 0 and 100 split an outer bin in two, 40 an inner one in three
    codes = disc.encode_frame(pd.DataFrame({"x": [0.0, 40.0, 100.0, 1e-9, 40.5]}))[:, 0]
    assert len(set(codes[:3].tolist())) == 3 and codes[3] != codes[0] and codes[4] != codes[1]
    vals = _decode(col, np.repeat(codes[:3], 200)).to_numpy()
    assert set(vals[:200]) == {0.0} and set(vals[200:400]) == {40.0} and set(vals[400:]) == {100.0}


def test_integers_are_never_split_across_neighbours():
    # A bin of whole numbers whose density puts its mass on 120: decoding returns 120
    # (not half 119, half 120), and every value is whole.
    dens = ((-0.5, 119.5, 120.5, 1000.5), (0.0, 1.0, 0.0))
    col = Column("bp", kind="numeric", lower=0, upper=1000, integer=True, bins=5, density=dens)
    disc = Discretizer(Domain([col]))
    code = disc.encode_frame(pd.DataFrame({"bp": [120]}))[0, 0]
    vals = _decode(col, np.full(500, code))
    assert vals.dtype == "Int64" and set(vals.tolist()) == {120}


def test_step_puts_values_on_the_grid_and_keeps_the_form():
    col = Column("limit", kind="numeric", lower=0, upper=1_000_000, integer=True, bins=8, step=10_000)
    vals = _decode(col, np.arange(8).repeat(50)).to_numpy(dtype=np.int64)
    assert np.all(vals % 10_000 == 0)
    money = Column("amount", kind="numeric", lower=0, upper=50, bins=5, step=0.01)
    v = _decode(money, np.arange(5).repeat(100)).to_numpy()
    assert np.allclose(v * 100, np.round(v * 100), atol=1e-9)
    # Written as the real column is: two decimals at most, never 0.30000000000000004.
    assert all(len(t.split(".")[-1]) <= 2 for t in pd.Series(v).astype(str) if "." in t)
    whole = Column("temp", kind="numeric", lower=-40, upper=45, bins=6, step=1)
    out = _decode(whole, np.arange(6).repeat(30))
    assert out.dtype == "Int64"
    assert "." not in pd.DataFrame({"temp": out}).to_csv(index=False)


def test_dates_are_written_as_dates_and_codes_keep_leading_zeros():
    dates = Column("day", kind="datetime", lower="2020-01-01", upper="2020-12-31", bins=12, step=86400)
    codes = Column("code", categories=("007", "010", "100"))
    disc = Discretizer(Domain([dates, codes]))
    frame = disc.decode(np.column_stack([np.arange(12).repeat(10), np.arange(120) % 3]), np.random.default_rng(0))
    text = frame.to_csv(index=False)
    back = pd.read_csv(io.StringIO(text), dtype=str)
    assert back["day"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert set(back["code"]) == {"007", "010", "100"}
    assert np.array_equal(disc.encode_frame(back), disc.encode_frame(frame))


def test_density_shapes_values_within_a_bin():
    # One bin [0, 100); the density puts 90 % of it in [0, 10).
    dens = ((0.0, 10.0, 100.0), (0.9, 0.1))
    col = Column("x", kind="numeric", lower=0.0, upper=100.0, bins=1, density=dens)
    vals = _decode(col, np.zeros(4000, dtype=np.int64)).to_numpy()
    share = float(np.mean(vals < 10.0))
    se = math.sqrt(0.9 * 0.1 / vals.size)
    assert abs(share - 0.9) < 4 * se
    # Without a density: uniform (10 %).
    flat = _decode(col.replace(density=None), np.zeros(4000, dtype=np.int64)).to_numpy()
    assert abs(float(np.mean(flat < 10.0)) - 0.1) < 4 * se


# -- DP inference -----------------------------------------------------------------------------
def _fit_detail(frame: pd.DataFrame, domain: Domain, *, seed: int, delta: float = 1e-5,
                parts=numeric.PARTS, eps: float = 1.0) -> tuple[Domain, Accountant]:
    acc = Accountant(PrivacyBudget(eps, delta), seeded=True)
    data = PrivateData(frame, domain, numeric_detail=parts).bind(acc, NoiseSource(seed))
    data.complete_domain(step="test.infer")
    return data.domain, acc


def _frame(n: int = 20_000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    gain = np.where(rng.random(n) < 0.8, 0, np.minimum(np.round(rng.lognormal(8, 1, n), -2), 90_000))
    gain[rng.random(n) < 0.02] = 99_999
    price = np.round(rng.gamma(2.0, 20.0, n), 2)
    return pd.DataFrame({"gain": gain.astype(np.int64), "price": price})


DETAIL_DOMAIN = Domain([
    Column("gain", kind="numeric", integer=True, lower=0, upper=99_999),
    Column("price", kind="numeric", lower=0, upper=1000),
])


def test_inference_finds_atoms_and_steps_and_is_charged():
    dom, acc = _fit_detail(_frame(), DETAIL_DOMAIN, seed=3)
    assert dom["gain"].atoms is not None and {0.0, 99_999.0} <= set(dom["gain"].atoms)
    assert dom["price"].step == pytest.approx(0.01)
    assert dom["gain"].density is not None and dom["price"].density is not None
    entries = [e for e in acc.report().ledger if e.step == "test.infer"]
    text = " ".join(e.description for e in entries)
    assert "atoms" in text and "precision" in text and "shape" in text
    assert any(e.delta > 0 for e in entries)
    assert acc.rho_spent <= acc.rho_budget * (numeric.NUMERIC_SHARE + 0.05) + 1e-12
    # Decoded values: every gain is 0, 99999 or a multiple of 100 only where the step says so.
    disc = Discretizer(dom)
    codes = disc.encode_frame(_frame(2000, seed=1))
    out = disc.decode(codes, np.random.default_rng(0))
    assert (out["gain"] == 0).mean() == pytest.approx(0.8, abs=0.05)
    assert (out["gain"] == 99_999).mean() == pytest.approx(0.02, abs=0.01)
    p = out["price"].to_numpy()
    assert np.allclose(p * 100, np.round(p * 100), atol=1e-6)


def test_switching_parts_off_spends_nothing_on_them():
    dom, acc = _fit_detail(_frame(3000), DETAIL_DOMAIN, seed=0, parts=())
    assert dom["gain"].atoms is None and dom["price"].step is None and dom["price"].density is None
    assert not any("atoms" in e.description or "shape" in e.description for e in acc.report().ledger)
    dom, _ = _fit_detail(_frame(3000), DETAIL_DOMAIN, seed=0, parts=("step",))
    assert dom["gain"].atoms is None and dom["price"].density is None and dom["price"].step is not None


def test_public_keys_are_not_measured():
    dom0 = DETAIL_DOMAIN.with_columns([DETAIL_DOMAIN["gain"].replace(atoms=(), step=100.0)])
    dom, acc = _fit_detail(_frame(3000), dom0, seed=0)
    assert dom["gain"].atoms == () and dom["gain"].step == 100.0
    assert not any("'gain' exact values" in e.description or "'gain' over candidate" in e.description
                   for e in acc.report().ledger)


def test_neighbouring_row_with_a_unique_value_is_an_atom_at_most_at_rate_delta0():
    # The release rule on the noisy histogram of D' = D + one row holding 7.25 (count 1).
    # δ₀ = 0.05 here so that the rate is measurable; the rule's guarantee is P ≤ δ₀.
    sigma, delta0, trials = 3.0, 0.05, 20_000
    values = np.array([1.0, 2.0, 7.25])
    counts = np.array([500.0, 300.0, 1.0])
    noisy = GaussianMechanism(sigma=sigma).release(np.tile(counts, (trials, 1)), NoiseSource(11))
    kept = [numeric.select_atoms(values, row, sigma=sigma, delta0=delta0, total=0.0) for row in noisy]
    rate = np.mean([7.25 in k for k in kept])
    bound = delta0 + 4 * math.sqrt(delta0 * (1 - delta0) / trials)
    assert rate <= bound
    # Positive controls: frequent values are released; and the continuous-quantile
    # threshold 1 + σ·Φ⁻¹(1 − δ₀) leaks the unique value above δ₀ under integer noise.
    assert all(1.0 in k and 2.0 in k for k in kept)
    naive = np.mean(noisy[:, 2] > 1 + sigma * stats.norm.isf(delta0))
    assert naive > bound


def test_added_unique_row_does_not_become_an_atom_end_to_end():
    rng = np.random.default_rng(0)
    base = pd.DataFrame({"x": np.round(rng.uniform(0, 100, 3000), 1)})
    base.loc[:599, "x"] = 0.0
    plus = pd.concat([base, pd.DataFrame({"x": [12.345]})], ignore_index=True)
    dom = Domain([Column("x", kind="numeric", lower=0, upper=100)])
    for seed in range(10):
        got, _ = _fit_detail(plus, dom, seed=seed, parts=("atoms",))
        assert got["x"].atoms is not None and 0.0 in got["x"].atoms and 12.345 not in got["x"].atoms


def test_step_selection_on_noisy_grid_counts():
    chain = (0.01, 0.1, 1.0, 10.0)
    # 1000 rows on no grid, 0 on 0.01 only … : the 98 % rule picks the coarsest grid that
    # holds nearly everything, and nothing when the noise swamps the total.
    assert numeric.select_step(chain, np.array([0, 5, 10, 900, 85.0]), sigma=1.0) == 1.0
    assert numeric.select_step(chain, np.array([500, 500, 0, 0, 0.0]), sigma=1.0) is None
    assert numeric.select_step(chain, np.array([3, -2, 4, 1, 0.0]), sigma=5.0) is None


def test_step_selection_is_not_sunk_by_the_noise_of_empty_cells():
    # 2,000 dates (all on the day grid), σ = 60 per cell: the empty cells' noise must not
    # count as off-grid rows. Unbiased sums with two sds of allowance pick the day in ≈ 99%
    # of draws (one sd: ≈ 63%; clipping each cell at zero: ≈ 25%); times spread over
    # seconds never get a grid.
    chain = numeric.step_candidates(Column("t", kind="datetime", lower="2020-01-01", upper="2021-01-01"))
    rng = np.random.default_rng(0)
    sigma, trials = 60.0, 400
    on_day = np.array([0, 0, 0, 0, 2000.0])
    seconds = np.array([0, 2000.0, 0, 0, 0])
    picked = sum(numeric.select_step(chain, on_day + rng.normal(0, sigma, 5), sigma=sigma) == 86400.0
                 for _ in range(trials))
    assert picked / trials > 0.95
    # A survey's completion dates at σ = 107: noise of +204 rows off every grid and +98 on
    # whole hours had made the step an hour (11% of the synthetic dates got hours).
    assert numeric.select_step(chain, np.array([204, 66, -55, 98, 2927.0]), sigma=107.0) == 86400.0
    assert all(numeric.select_step(chain, seconds + rng.normal(0, sigma, 5), sigma=sigma) in (None, 1.0)
               for _ in range(trials))


def test_datetimes_without_a_grid_are_written_to_a_unit_finer_than_their_bin():
    col = Column("t", kind="datetime", lower="2020-01-01", upper="2023-01-01", bins=32)
    vals = _decode(col, np.arange(32).repeat(50))
    secs = vals.astype("int64") // 10**9
    assert (vals.dt.second == 0).all() and (vals.dt.microsecond == 0).all()  # bins of ≈ 34 days: minutes
    assert secs.nunique() > 1000


def test_noise_of_the_new_measurements_is_at_the_claimed_scale(monkeypatch):
    log = []
    original = GaussianMechanism.release

    def spy(self, values, noise):
        out = original(self, values, noise)
        log.append((np.asarray(values, dtype=float).copy(), out, self.sigma))
        return out

    monkeypatch.setattr(GaussianMechanism, "release", spy)
    frame = _frame(3000)
    dom = DETAIL_DOMAIN.with_columns([c.replace(edges=tuple(np.linspace(c.lower, c.upper, 9))) for c in DETAIL_DOMAIN])
    rho_total = numeric.NUMERIC_SHARE * Accountant(PrivacyBudget(1.0, 1e-5)).rho_budget
    unit, _ = numeric.plan_rho(dom, rho_total, numeric.PARTS)
    claimed = {p: math.sqrt(1 / (2 * unit * w)) for p, w in numeric._WEIGHTS.items()}
    for seed in range(8):
        _fit_detail(frame, dom, seed=seed)
    assert {round(s, 9) for _, _, s in log} == {round(v, 9) for v in claimed.values()}
    z = np.concatenate([(out - val) / s for val, out, s in log])
    n = z.size
    assert n > 300
    ss = float(np.sum(z**2))
    p = 2 * min(stats.chi2.cdf(ss, n), stats.chi2.sf(ss, n))
    assert p > 1e-3, f"noise variance off: mean z² = {ss / n:.3f} over {n} cells"
    assert stats.chi2.sf(float(np.sum((z * 1.25) ** 2)), n) < 1e-6


def test_inferred_categories_keep_leading_zeros(tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text("code\n" + "\n".join(["007"] * 400 + ["010"] * 300) + "\n")
    acc = Accountant(PrivacyBudget(1.0, 1e-5), seeded=True)
    data = PrivateData(Table.from_path(path), Domain([Column("code")])).bind(acc, NoiseSource(0))
    data.complete_domain()
    cats = set(data.domain["code"].categories or ())
    assert {"007", "010"} <= cats


def test_snap_puts_direct_outputs_in_the_column_form():
    col = Column("x", kind="numeric", lower=0, upper=1000, step=50.0, atoms=(0.0,))
    out = numeric.snap(col, np.array([12.0, 26.0, 999.0, np.nan, 1e-9, 1100.0]))
    assert np.array_equal(out[~np.isnan(out)], [0.0, 50.0, 1000.0, 0.0, 1000.0]) and np.isnan(out[3])
    cents = Column("p", kind="numeric", lower=0, upper=10, step=0.01)
    assert numeric.snap(cents, np.array([0.30499999, 0.1 + 0.2])).tolist() == [0.3, 0.3]
    free = Column("f", kind="numeric", lower=0, upper=1, atoms=(0.5,))
    v = np.array([0.25, np.nextafter(0.5, 1.0), 0.5000001])
    assert numeric.snap(free, v).tolist() == [0.25, 0.5, 0.5000001]
    # GSD's and the neural generators' outputs go through it.
    from dpsynth.synth.gsd import decode_rows

    frame = decode_rows(np.array([[12.0], [26.0]]), Domain([col]))
    assert frame["x"].tolist() == [0, 50] and frame["x"].dtype == "Int64"


def test_strongly_dependent_columns_are_placed_alike_within_their_bins():
    a = Column("bill1", kind="numeric", lower=0.0, upper=100.0, bins=10)
    b = Column("bill2", kind="numeric", lower=0.0, upper=100.0, bins=10)
    c = Column("other", kind="numeric", lower=0.0, upper=100.0, bins=10)
    disc = Discretizer(Domain([a, b, c]))
    rng = np.random.default_rng(0)
    same = rng.integers(0, 10, 3000)
    codes = np.column_stack([same, same, rng.integers(0, 10, 3000)])
    out = disc.decode(codes, np.random.default_rng(1))
    # Codes equal → comonotone within-bin draws → equal values; the independent column is not.
    assert np.allclose(out["bill1"], out["bill2"])
    assert not np.allclose(out["bill1"], out["other"])
    pos = lambda s: (s.to_numpy() % 10.0) / 10.0  # noqa: E731 - within-bin position
    r = stats.spearmanr(pos(out["bill1"]), pos(out["other"]))[0]
    assert abs(r) < 4 / math.sqrt(3000)
    # Off: independent draws, and every value still codes back to its bin.
    off = disc.decode(codes, np.random.default_rng(1), couple=None)
    assert not np.allclose(off["bill1"], off["bill2"])
    assert np.array_equal(disc.encode_frame(out), codes) and np.array_equal(disc.encode_frame(off), codes)
    # Within-bin marginals stay uniform when coupled (KS against U(0, 1)).
    assert stats.kstest(pos(out["bill2"]), "uniform").pvalue > 1e-3


def test_fully_declared_numeric_column_costs_nothing():
    col = Column("x", kind="numeric", lower=0, upper=100, edges=(0, 10, 50, 100), step=1.0, atoms=(),
                 density={"edges": [0, 50, 100], "weights": [1, 1]})
    frame = pd.DataFrame({"x": np.arange(100) % 100})
    acc = Accountant(PrivacyBudget(1.0, 1e-6), seeded=True)
    data = PrivateData(frame, Domain([col])).bind(acc, NoiseSource(0))
    data.complete_domain(step="test.infer")
    assert acc.report().ledger == [] or all(e.step != "test.infer" for e in acc.report().ledger)
    assert data.domain["x"] == col


# -- budget-aware detail ----------------------------------------------------------------------
def test_bins_follow_the_budget_and_the_row_count():
    sigma = numeric.fit_noise_sd(0.01, 20)
    assert sigma == pytest.approx(math.sqrt(20 / 0.01))
    for n in (500, 5_000, 20_000, 200_000):
        b = numeric.resolvable_bins(n, sigma)
        assert numeric.MIN_BINS <= b <= numeric.DEFAULT_BINS
        # An average bin holds BIN_SNR noise sds, unless the floor or the cap binds.
        assert b in (numeric.MIN_BINS, numeric.DEFAULT_BINS) or n / b >= numeric.BIN_SNR * sigma
    assert numeric.resolvable_bins(5_000, sigma) < numeric.resolvable_bins(20_000, sigma)
    assert numeric.resolvable_bins(20_000, numeric.fit_noise_sd(0.001, 20)) < numeric.resolvable_bins(20_000, sigma)
    assert numeric.resolvable_bins(10**9, sigma) == numeric.DEFAULT_BINS


def test_small_budgets_get_fewer_bins_large_ones_the_default():
    frame = _frame(3000)
    small, acc = _fit_detail(frame, DETAIL_DOMAIN, seed=0, eps=0.1)
    assert small["price"].bins is not None and small["price"].bins < numeric.DEFAULT_BINS
    assert any("bins of 'price' chosen" in n for n in acc.notes)
    large, _ = _fit_detail(_frame(20_000), DETAIL_DOMAIN, seed=0, eps=10.0)
    assert large["price"].bins is None  # the default, 32
    # Public bins are kept.
    public = DETAIL_DOMAIN.with_columns([DETAIL_DOMAIN["price"].replace(bins=7)])
    assert _fit_detail(frame, public, seed=0, eps=0.1)[0]["price"].bins == 7


def test_atoms_must_stand_out_from_their_neighbours_and_the_noise():
    # Whole numbers 20..60 held by about 300 rows each, 40 held by 3000, 0 by 900.
    values = np.array([0.0, *range(20, 61)])
    counts = np.array([900.0] + [300.0] * 41)
    counts[values == 40] = 3000.0
    got = numeric.select_atoms(values, counts, sigma=1.0, delta0=1e-6, total=counts.sum(), grid=1.0,
                               bounds=(0.0, 100.0))
    assert got == (0.0, 40.0)
    # Without the grid every value holding 1 % of the rows would be one.
    assert len(numeric.select_atoms(values, counts, sigma=1.0, delta0=1e-6, total=counts.sum())) == 16
    # A noisy fit (generator noise sd 400) cannot afford a code for the 900-row atom.
    assert numeric.select_atoms(values, counts, sigma=1.0, delta0=1e-6, total=counts.sum(), grid=1.0,
                                min_count=numeric.ATOM_SNR * 400.0) == (40.0,)
    assert numeric.select_atoms(values, counts, sigma=1.0, delta0=1e-6, total=counts.sum(), grid=1.0,
                                max_atoms=1) == (40.0,)


def test_shape_falls_back_to_uniform_where_the_noise_dominates():
    rng = np.random.default_rng(0)
    widths = np.array([1.0, 1.0, 2.0, 4.0, 1.0, 1.0, 3.0, 3.0])
    flat = widths / widths.sum()
    sigma, trials = 20.0, 400
    moved = 0
    for _ in range(trials):
        noisy = 400.0 * flat + rng.normal(0, sigma, widths.size)  # truly uniform, SNR ≈ 1 per cell
        w = numeric.refine_shape(noisy, widths, sigma)
        assert w.sum() == pytest.approx(1.0) and np.all(w >= 0)
        moved += int(not np.allclose(w, flat))
    # Seven splits tested at z = 2.5 (two-sided 1.2 % each): at most ≈ 8 % of bins move.
    p_any = 1 - (1 - 2 * stats.norm.sf(numeric.SHAPE_Z)) ** 7
    assert moved / trials <= p_any + 4 * math.sqrt(p_any * (1 - p_any) / trials)
    # A strong shape is kept: 90 % of the mass in the first cell.
    strong = np.array([3600.0, 50, 50, 50, 50, 50, 50, 100]) + rng.normal(0, sigma, 8)
    w = numeric.refine_shape(strong, widths, sigma)
    assert w[0] == pytest.approx(3600 / 4000, abs=0.03)


def test_small_budget_shape_is_mostly_uniform_and_decodes_like_it():
    frame = pd.DataFrame({"x": np.random.default_rng(0).uniform(0, 100, 2000)})
    dom = Domain([Column("x", kind="numeric", lower=0, upper=100, edges=tuple(np.linspace(0, 100, 9)))])
    got, _ = _fit_detail(frame, dom, seed=1, eps=0.05, parts=("shape",))
    edges, weights = map(np.asarray, got["x"].density)
    # Uniform data, tiny budget: within (nearly) every bin the density is flat, so the
    # within-bin draw is the uniform one.
    height = weights / np.diff(edges)
    bin_of = np.floor(edges[:-1] / 12.5 + 1e-9).astype(int)
    flat = [np.allclose(height[bin_of == k], height[bin_of == k][0], rtol=1e-3) for k in range(8)]
    assert sum(flat) >= 6


def test_atom_rows_stay_out_of_the_next_bins_shape():
    # 60 % zeros (an atom with a code of its own); the rest spread over [1, 1000) with no
    # row at 1. The zeros must not be counted in the first sub-cell of the bin [1, 1000),
    # which would put most of that bin's synthetic values at exactly 1.
    rng = np.random.default_rng(0)
    n = 20_000
    x = np.where(rng.random(n) < 0.6, 0, rng.integers(100, 1000, n))
    frame = pd.DataFrame({"x": x})
    dom = Domain([Column("x", kind="numeric", integer=True, lower=0, upper=1000, atoms=(0,),
                         edges=(0, 1, 1000))])
    got, _ = _fit_detail(frame, dom, seed=0, parts=("shape",))
    disc = Discretizer(Domain([got["x"]]))
    codes = disc.encode_frame(frame)[:, 0]
    vals = disc.decode(codes.reshape(-1, 1), np.random.default_rng(1))["x"].to_numpy()
    assert np.mean(vals == 0) == pytest.approx(0.6, abs=0.02)
    # Real: none below 100; the noise of the geometric sub-cells under 100 may hold a little.
    assert np.mean(vals == 1) < 0.002 and np.mean((vals > 0) & (vals < 100)) < 0.03


def test_values_without_a_grid_are_written_to_a_thousandth_of_their_bin():
    # A continuous column with no step: decoded values carry the digits a thousandth of the
    # bin's width needs (bins 12.5 wide → 2 decimals), not float64's 17, and stay in their bin.
    col = Column("x", kind="numeric", lower=0.0, upper=100.0, bins=8)
    codes = np.arange(8).repeat(500)
    vals = _decode(col, codes).to_numpy()
    assert np.allclose(vals, np.round(vals, 2), rtol=0, atol=1e-9)
    assert len(np.unique(vals)) > 2000
    disc = Discretizer(Domain([col]))
    assert np.array_equal(disc.encode_frame(pd.DataFrame({"x": vals}))[:, 0], codes)
    text = pd.DataFrame({"x": vals}).to_csv(index=False)
    assert max(len(t) for t in text.splitlines()[1:]) <= 6  # "99.99" at most


def test_a_zero_heavy_column_gets_no_step_coarser_than_its_values():
    # 99% zeros, the rest whole numbers 1..27 (hours of snow): zero lies on every grid and
    # must not make the coarsest candidate (5,000,000) the column's step.
    rng = np.random.default_rng(0)
    n = 40_000
    x = np.where(rng.random(n) < 0.99, 0.0, rng.integers(1, 28, n).astype(float))
    dom = Domain([Column("snow", kind="numeric", lower=0.0, upper=30.0)])
    for seed in range(3):
        got, _ = _fit_detail(pd.DataFrame({"snow": x}), dom, seed=seed, parts=("step",))
        assert got["snow"].step in (None, 1.0)
    # The same column with more rows off zero still finds its step of 1.
    y = np.where(rng.random(n) < 0.5, 0.0, rng.integers(1, 28, n).astype(float))
    got, _ = _fit_detail(pd.DataFrame({"snow": y}), dom, seed=0, parts=("step",))
    assert got["snow"].step == 1.0


def test_small_values_lie_on_no_coarse_grid():
    # 0.013 / 5,000,000 rounds to 0 within any tolerance, but it is no multiple of it: a
    # rate column had been read as recorded in steps of 5,000,000 and decoded as all zeros.
    chain = (0.001, 0.005, 0.01, 1.0, 5_000_000.0)
    cells = numeric.grid_cells(chain, np.array([0.013, 0.01, 0.005, 2.0, 1e7, 0.00012345]))
    assert cells.tolist() == [1, 3, 2, 4, 5, 0]


def test_step_chain_leaves_out_grids_with_no_multiple_in_the_bounds():
    rate = Column("r", kind="numeric", lower=0.0, upper=1.0)
    assert numeric.step_chain(rate)[-1] == 1.0 and len(numeric.step_chain(rate)) == 9
    wide = Column("w", kind="numeric", lower=-2_000.0, upper=50.0)
    assert numeric.step_chain(wide)[-1] == 1_000.0
    assert numeric.step_chain(Column("u", kind="numeric")) == numeric.step_candidates(Column("u", kind="numeric"))


def test_a_clean_grid_held_by_few_rows_is_found_and_continuous_values_never_get_one():
    # A rate on {0.2, 0.4, …, 1} (1,000 non-zero rows) and the same rows off every grid,
    # under the noise (σ = 144 per cell) a 13-column table without metadata gives the step
    # histogram at ε = 1. The coverage of the noisy total alone never found the grid.
    rate = Column("r", kind="numeric", lower=0.0, upper=1.0)
    chain = numeric.step_chain(rate)
    on = np.bincount(numeric.grid_cells(chain, np.array([0.2, 0.4, 0.6, 0.8, 1.0])),
                     weights=np.full(5, 200.0), minlength=len(chain) + 1)
    off = np.bincount(numeric.grid_cells(chain, np.array([0.1234567])), weights=[1_000.0], minlength=len(chain) + 1)
    rng = np.random.default_rng(0)
    sigma, trials = 144.0, 400
    found = [numeric.select_step(chain, on + rng.normal(0, sigma, on.size), sigma=sigma) for _ in range(trials)]
    assert np.mean([f == 0.1 for f in found]) > 0.35
    assert all(f is None or f <= 0.1 for f in found)  # never coarser than the grid
    assert all(numeric.select_step(chain, off + rng.normal(0, sigma, off.size), sigma=sigma) is None
               for _ in range(trials))
    # With 3,000 such rows the grid is found in most fits.
    found = [numeric.select_step(chain, 3 * on + rng.normal(0, sigma, on.size), sigma=sigma) for _ in range(trials)]
    assert np.mean([f == 0.1 for f in found]) > 0.8


def test_small_rates_without_a_grid_decode_to_spread_values():
    # Exit rates in (0, 0.2] written with 8 decimals: no step, so decoded values spread
    # over the bins instead of collapsing onto one grid point.
    rng = np.random.default_rng(0)
    x = np.round(np.clip(rng.beta(1.5, 30, 8_000) + 0.001, 0, 0.2), 8)
    dom = Domain([Column("exit", kind="numeric", lower=0.0, upper=0.25)])
    for seed in range(3):
        got, _ = _fit_detail(pd.DataFrame({"exit": x}), dom, seed=seed)
        assert got["exit"].step is None
        codes = Discretizer(got).encode_frame(pd.DataFrame({"exit": x}))
        synth = Discretizer(got).decode(codes, np.random.default_rng(seed))["exit"].astype(float)
        assert synth.nunique() > 1_000 and abs(synth.median() - np.median(x)) < 0.01


def test_an_unresolved_outer_tail_bin_thins_out_towards_its_bound():
    # The top bin runs from a tail's last rows (15–27) to a round bound (100): its noisy
    # sub-cell counts resolve no split, but the fit that falls outwards keeps the mass near
    # the rows instead of spreading it uniformly up to 100.
    cuts = np.geomspace(15, 100, numeric.SHAPE_CELLS + 1)
    widths = np.diff(cuts)
    true = np.array([80.0, 30, 10, 0, 0, 0, 0, 0])
    rng = np.random.default_rng(0)
    above_27 = []
    for _ in range(200):
        w = numeric.tail_shape(true + rng.normal(0, 40, true.size), widths, outward_up=True)
        assert w is not None and np.all(w >= 0) and abs(w.sum() - 1) < 1e-9
        assert np.all(np.diff(w / widths) <= 1e-12)  # density never rises outwards
        above_27.append(w[cuts[1:] > 30].sum())
    uniform = widths[cuts[1:] > 30].sum() / widths.sum()
    assert np.mean(above_27) < 0.5 * uniform
    # A lower tail below zero falls towards its lower bound; nothing left: no shape.
    w = numeric.tail_shape(true[::-1].copy(), widths[::-1].copy(), outward_up=False)
    assert w is not None and w[-1] > w[0]
    assert numeric.tail_shape(np.full(8, -5.0), widths, outward_up=True) is None


def test_a_column_of_few_exact_values_is_decoded_on_them_alone():
    # A per-area figure: 20 densities (one decimal), one per area, each held by 2-9% of the
    # rows, declared numeric with public bounds. Quantile bins between them held only noise,
    # and a cap of 16 atoms decoded the other four values uniformly across their bins.
    rng = np.random.default_rng(4)
    levels = np.round(np.sort(rng.uniform(16.3, 52_000.0, 20)), 1)
    share = rng.dirichlet(np.full(20, 8.0)) * 0.6 + 0.02
    n = 20_000
    frame = pd.DataFrame({"density": rng.choice(levels, n, p=share / share.sum()),
                          "price": np.round(rng.gamma(2.0, 20.0, n), 2)})
    domain = Domain([Column("density", kind="numeric", lower=16.3, upper=52_000.0),
                     Column("price", kind="numeric", lower=0, upper=1000)])
    dom, acc = _fit_detail(frame, domain, seed=1)
    assert set(dom["density"].atoms) == set(levels) and dom["density"].bins == 1
    assert any("'density' is discrete: 20 exact values" in n for n in acc.notes)
    disc = Discretizer(dom)
    assert disc.sizes["density"] <= 2 * 20 + 1  # the values and the gaps between them
    out = disc.decode(disc.encode_frame(frame.iloc[:4000]), np.random.default_rng(0))
    assert out["density"].isin(levels).all()
    # A continuous column beside it keeps its bins and few atoms; public bins are kept.
    assert dom["price"].bins != 1 and len(dom["price"].atoms or ()) <= numeric.MAX_ATOMS
    public = domain.with_columns([domain["density"].replace(bins=8)])
    kept, _ = _fit_detail(frame, public, seed=1)
    assert kept["density"].bins == 8 and len(kept["density"].atoms) <= 4
    # A neighbour with one more row on a value of its own: that value is never an atom (each
    # atom clears the thresholded release), and the column is discrete on the same values.
    neighbour = pd.concat([frame, pd.DataFrame({"density": [12_345.6], "price": [10.0]})], ignore_index=True)
    for seed in range(4):
        dom_n, _ = _fit_detail(neighbour, domain, seed=seed)
        assert 12_345.6 not in dom_n["density"].atoms and dom_n["density"].bins == 1
    # Half the rows spread continuously: not discrete, at most half as many atoms as bins.
    mixed = frame.assign(density=np.where(rng.random(n) < 0.5, frame["density"],
                                          np.round(rng.uniform(16.3, 52_000.0, n), 1)))
    dom2, acc2 = _fit_detail(mixed, domain, seed=1)
    assert dom2["density"].bins != 1 and not any("is discrete" in n for n in acc2.notes)


def test_the_last_bin_runs_to_an_upper_bound_beyond_the_mass():
    # Mass up to 200,000 under an upper bound located at 1,000,000: the stretch beyond the
    # mass is no bin of its own (its measured count would be noise, decoded across it).
    from dpsynth.data.infer import _quantile_edges, public_grid

    grid = public_grid()
    hist = np.zeros(len(grid) + 1)
    cells = np.flatnonzero((grid >= 10_000) & (grid < 200_000)) + 1
    hist[cells] = 100.0
    edges = _quantile_edges(grid, hist, 10_000.0, 1_000_000.0, 16, False, atom_min=1e6)
    assert edges[0] == 10_000 and edges[-1] == 1_000_000
    assert edges[-2] < 200_000
