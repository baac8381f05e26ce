"""Equal-mass bin edges from one fine DP histogram (numeric detail ``"bins"``)."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from dpsynth.data import numeric
from dpsynth.data.discretize import Discretizer
from dpsynth.data.domain import Column, Domain
from dpsynth.data.private import PrivateData
from dpsynth.errors import InvalidParameterError
from dpsynth.privacy import Accountant, GaussianMechanism, NoiseSource, PrivacyBudget


def _frame(n: int = 6000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        # Skewed amounts on a grid of 10 (pollution, payments): most rows in the first few % of the range.
        "amount": (np.minimum(np.round(rng.lognormal(4.0, 1.0, n) / 10.0), 10_000) * 10).astype(np.int64),
        "price": np.round(rng.gamma(1.5, 3.0, n), 1),
    })


DOMAIN = Domain([
    Column("amount", kind="numeric", integer=True, lower=0, upper=100_000),
    Column("price", kind="numeric", lower=0.0, upper=500.0),
])


def _complete(frame: pd.DataFrame, domain: Domain, *, seed: int, eps: float = 1.0,
              parts=numeric.PARTS) -> tuple[Domain, Accountant]:
    acc = Accountant(PrivacyBudget(eps, 1e-5), seeded=True)
    data = PrivateData(frame, domain, numeric_detail=parts).bind(acc, NoiseSource(seed))
    data.complete_domain(step="test.bins")
    return data.domain, acc


def _spy(monkeypatch) -> list:
    log = []
    original = GaussianMechanism.release

    def spy(self, values, noise):
        out = original(self, values, noise)
        log.append((np.asarray(values, dtype=float).copy(), np.asarray(out, dtype=float).copy(), self))
        return out

    monkeypatch.setattr(GaussianMechanism, "release", spy)
    return log


def test_edges_are_equal_mass_on_skewed_columns_and_cost_no_extra_budget():
    frame = _frame()
    dom, acc = _complete(frame, DOMAIN, seed=0)
    _, acc_off = _complete(frame, DOMAIN, seed=0, parts=("atoms", "step", "shape"))
    # One measurement per column replaces the shape measurement: no more ρ than without it
    # (and nothing on DP quantiles in inference, the bounds being public).
    assert acc.rho_spent <= acc_off.rho_spent * (1 + 1e-9)
    fine = [e for e in acc.report().ledger if "fine public cells" in e.description]
    assert len(fine) == 2 and not any("shape)" in e.description and "sub-cells" in e.description
                                      for e in acc.report().ledger)
    disc = Discretizer(dom)
    codes = disc.encode_frame(frame)
    for j, name in enumerate(dom.names):
        col = dom[name]
        assert col.edges is not None and col.density is not None
        share = np.bincount(codes[:, j], minlength=disc.sizes[name]) / len(frame)
        atom_codes = set(Discretizer(Domain([col]))._coders[name].atom_codes)
        rest = np.array([s for c, s in enumerate(share) if c not in atom_codes])
        # Uniform bins over [0, 1e5] would put nearly every row into the first bin.
        assert rest.max() < 3.0 / len(rest), (name, rest.round(3))
        assert (rest > 0).mean() > 0.9


def test_noise_is_at_the_claimed_scale_and_edges_are_post_processing(monkeypatch):
    log = _spy(monkeypatch)
    frame = _frame(3000)
    budget = Accountant(PrivacyBudget(1.0, 1e-5)).rho_budget
    unit, _ = numeric.plan_rho(DOMAIN, numeric.NUMERIC_SHARE * budget, numeric.PARTS)
    z = []
    for seed in range(6):
        log.clear()
        dom, acc = _complete(frame, DOMAIN, seed=seed)
        # The shape's share of the numeric detail, plus the inference share each column would
        # have spent on DP quantiles (5 % of what the atoms and steps left, over 2 columns).
        pre = sum(e.rho for e in acc.report().ledger if "fine public cells" not in e.description)
        # (The ρ left counts the δ the atom histograms spent: acc.rho_budget.)
        claimed = math.sqrt(1.0 / (2.0 * (unit * numeric._WEIGHTS["shape"] + 0.05 * (acc.rho_budget - pre) / 2)))
        pre_sigmas = [math.sqrt(1.0 / (2.0 * unit * numeric._WEIGHTS[p])) for p in ("atoms", "step")]
        fine = [(v, o, m) for v, o, m in log if not any(m.sigma == pytest.approx(p) for p in pre_sigmas)]
        assert len(fine) == 2 and all(m.sigma == pytest.approx(claimed, rel=1e-9) for _, _, m in fine)
        for name, (values, out, mech) in zip(("amount", "price"), fine, strict=True):
            assert mech.sensitivity == 1.0
            z.append((out - values) / claimed)
            # The edges are a function of the released counts only (and public facts).
            col = dom[name]
            cuts, _ = numeric.fine_cells(col.replace(edges=None, density=None))
            edges, _, _ = numeric.equal_mass_edges(cuts, out, sigma=claimed, bins=col.bins or numeric.DEFAULT_BINS,
                                                lower=col.lower, upper=col.upper, integer=col.integer)
            assert edges == col.edges
    zz = np.concatenate(z)
    n = zz.size
    ss = float(np.sum(zz**2))
    assert n > 1000
    assert 2 * min(stats.chi2.cdf(ss, n), stats.chi2.sf(ss, n)) > 1e-3, f"mean z² {ss / n:.3f}"
    assert stats.chi2.sf(float(np.sum((zz * 1.25) ** 2)), n) < 1e-6  # a 25 % larger σ would be seen


def test_one_extreme_row_moves_the_edges_no_more_than_the_noise_allows():
    # Neighbouring histograms: D, and D plus one row at the top of the range. Any event on
    # the edges has probabilities under D and D' within TV(N(0, σ), N(1, σ)) of each other
    # (post-processing of one Gaussian count differing by one).
    sigma, trials, bins = 2.0, 600, 8
    cuts = np.arange(0.0, 65.0)
    counts = np.round(400.0 * np.exp(-np.arange(64) / 6.0))
    plus = counts.copy()
    plus[-1] += 1.0
    mech = GaussianMechanism(sigma=sigma)
    noisy = mech.release(np.tile(counts, (trials, 1)), NoiseSource(5))
    noisy_p = mech.release(np.tile(plus, (trials, 1)), NoiseSource(6))

    def edges(rows):
        return np.array([numeric.equal_mass_edges(cuts, r, sigma=sigma, bins=bins, lower=0.0, upper=64.0,
                                                  integer=False)[0][1:-1] for r in rows])

    e, e_p = edges(noisy), edges(noisy_p)
    assert e.shape == e_p.shape == (trials, bins - 1)
    tv = 2 * stats.norm.cdf(1 / (2 * sigma)) - 1
    slack = 4 * math.sqrt(0.5 / trials)

    def gap(a, b):
        return max(abs(np.mean(a[:, i] >= t) - np.mean(b[:, i] >= t))
                   for i in range(bins - 1) for t in np.unique(np.concatenate([a[:, i], b[:, i]])))

    assert gap(e, e_p) <= tv + slack
    # Positive control: 300 rows at the top (not a neighbour) move the edges detectably.
    many = counts.copy()
    many[-1] += 300.0
    assert gap(e, edges(mech.release(np.tile(many, (trials, 1)), NoiseSource(7)))) > tv + slack
    # The top edge stays where the bulk is, not near the extreme row.
    assert e_p[:, -1].max() < 32.0


def test_edges_on_a_grid_never_split_a_recorded_value():
    rng = np.random.default_rng(3)
    n = 5000
    frame = pd.DataFrame({
        "tens": (np.round(rng.lognormal(5, 1, n) / 10) * 10).clip(0, 20_000).astype(np.int64),
        "halves": np.round(rng.gamma(2.0, 4.0, n) * 2) / 2,
    })
    dom0 = Domain([Column("tens", kind="numeric", integer=True, lower=0, upper=20_000, step=10.0),
                   Column("halves", kind="numeric", lower=0.0, upper=200.0, step=0.5)])
    dom, _ = _complete(frame, dom0, seed=1, parts=("shape", "bins"))
    tens, halves = dom["tens"].edges, dom["halves"].edges
    assert tens is not None and halves is not None
    assert all(float(e).is_integer() for e in tens)
    # Interior edges of the 0.5-grid lie half-way between grid values.
    assert np.allclose((np.asarray(halves[1:-1]) / 0.5) % 1.0, 0.5)
    disc = Discretizer(dom)
    for name, s in (("tens", 10.0), ("halves", 0.5)):
        grid = np.arange(0.0, (200.0 if name == "halves" else 20_000.0) + s / 2, s)
        codes = disc.encode_frame(pd.DataFrame({"tens": 0, "halves": 0.0, name: grid}))[:, dom.names.index(name)]
        # Each grid value has one code, codes are monotone, and every code holds a grid value.
        assert np.all(np.diff(codes) >= 0)
        assert set(codes.tolist()) == set(range(disc.sizes[name]))
        # Values decoded from a code lie on the grid and code back to it.
        k = np.repeat(np.arange(disc.sizes[name]), 50)
        cols = np.zeros((k.size, 2), dtype=np.int64)
        cols[:, dom.names.index(name)] = k
        out = disc.decode(cols, np.random.default_rng(0))[name].to_numpy(dtype=float)
        assert np.allclose(out / s, np.round(out / s))
        assert np.array_equal(disc.encode_frame(disc.decode(cols, np.random.default_rng(1)))[:, dom.names.index(name)],
                              k)


def test_public_edges_and_bins_are_honoured_and_the_part_switches_off():
    frame = _frame(3000)
    public = (0.0, 10.0, 100.0, 1000.0, 100_000.0)
    dom0 = Domain([DOMAIN["amount"].replace(edges=public), DOMAIN["price"].replace(bins=5)])
    dom, acc = _complete(frame, dom0, seed=2)
    assert dom["amount"].edges == public
    assert dom["price"].edges is not None and len(dom["price"].edges) - 1 <= 5
    assert sum("fine public cells" in e.description for e in acc.report().ledger) == 1
    # Off: no fine histogram; the bins come from domain inference's DP quantiles instead.
    _, acc_off = _complete(frame, DOMAIN, seed=2, parts=("atoms", "step", "shape"))
    assert not any("fine public cells" in e.description for e in acc_off.report().ledger)
    assert any("on a public grid" in e.description for e in acc_off.report().ledger)
    # A small range of whole numbers keeps one code per number.
    small = Domain([Column("month", kind="numeric", integer=True, lower=1, upper=12)])
    got, _ = _complete(pd.DataFrame({"month": np.arange(600) % 12 + 1}), small, seed=0)
    assert got["month"].edges is None and Discretizer(got).sizes["month"] == 12


def test_bad_input_gives_a_one_line_error():
    cuts = np.arange(5.0)
    for kwargs in ({"bins": 0}, {"bins": 2.5}, {"sigma": 0.0}, {"lower": 3.0, "upper": 1.0}):
        args = {"sigma": 1.0, "bins": 3, "lower": 0.0, "upper": 4.0, "integer": False} | kwargs
        with pytest.raises(InvalidParameterError) as err:
            numeric.equal_mass_edges(cuts, np.ones(4), **args)
        assert "\n" not in str(err.value)
    with pytest.raises(InvalidParameterError) as err:
        numeric.equal_mass_edges(cuts[::-1], np.ones(4), sigma=1.0, bins=3, lower=0.0, upper=4.0, integer=False)
    assert "\n" not in str(err.value)
    with pytest.raises(InvalidParameterError) as err:
        numeric.equal_mass_edges(cuts, np.ones(3), sigma=1.0, bins=3, lower=0.0, upper=4.0, integer=False)
    assert "\n" not in str(err.value)
    with pytest.raises(InvalidParameterError) as err:
        numeric.fine_cells(Column("x", kind="numeric"))
    assert "\n" not in str(err.value)
    with pytest.raises(InvalidParameterError) as err:
        PrivateData(_frame(10), DOMAIN, numeric_detail=("bins", "quantiles"))
    assert "\n" not in str(err.value) and "quantiles" in str(err.value)


@pytest.mark.parametrize("name", ["independent", "mst", "aim", "gsd"])
def test_generators_fit_and_sample_with_equal_mass_bins(name):
    from dpsynth.synth.registry import create

    rng = np.random.default_rng(4)
    n = 1500
    frame = _frame(n, seed=4)
    frame["group"] = np.where(frame["amount"] > 60, "high", rng.choice(["a", "b"], n))
    dom = Domain([*DOMAIN, Column("group", categories=("a", "b", "high"))])
    small = {"synthetic_rows": 200, "generations": 200, "patience": 50} if name == "gsd" else {}
    model = create(name, random_state=0, **small)
    model.fit(PrivateData(frame, dom, numeric_detail=numeric.PARTS), PrivacyBudget(1.0, 1e-5))
    report = model.privacy_report
    assert report.epsilon <= report.budget_epsilon * (1 + 1e-9)
    assert any("fine public cells" in e.description for e in report.ledger)
    fitted = model.domain_
    assert fitted["amount"].edges is not None and fitted["price"].edges is not None
    out = model.sample(300, random_state=1)
    assert len(out) == 300
    amount = out["amount"].to_numpy(dtype=float)
    assert np.all((amount >= 0) & (amount <= 100_000)) and np.allclose(amount, np.round(amount))
    # Codes of the sample are valid for the fitted bins (every value falls in one).
    assert (Discretizer(fitted).encode_frame(out[list(fitted.names)], on_invalid="mark") >= 0).all()
