"""Each generator's measurements carry noise at the scale its budget split claims."""

import math

import numpy as np
import pytest
from scipy import stats

from dpsynth.data.numeric import NUMERIC_SHARE
from dpsynth.data.private import PrivateData
from dpsynth.privacy import GaussianMechanism, PrivacyBudget, zcdp
from dpsynth.synth import create
from tests.synth.conftest import FAST_PARAMS


@pytest.fixture()
def releases(monkeypatch):
    """Record (true values, noisy output, sigma) of every Gaussian release."""
    log = []
    original = GaussianMechanism.release

    def spy(self, values, noise):
        out = original(self, values, noise)
        log.append((np.asarray(values, dtype=float).copy(), out, self.sigma))
        return out

    monkeypatch.setattr(GaussianMechanism, "release", spy)
    return log


def _standardised(log):
    return np.concatenate([(out - val) / sigma for val, out, sigma in log])


@pytest.mark.parametrize("name", ["independent", "mst", "aim"])
def test_measurement_noise_is_at_the_claimed_scale(name, releases, small_frame, small_domain):
    for seed in range(60 if name == "independent" else 6):
        data = PrivateData(small_frame, small_domain)
        create(name, random_state=seed, **FAST_PARAMS.get(name, {})).fit(data, PrivacyBudget(1.0, 1e-6))
    z = _standardised(releases)
    n = z.size
    assert n > 300
    # Σ z² ~ χ²_n when the noise has the claimed σ (discrete Gaussian variance = σ² to
    # within 1e-30 for σ ≥ 2, which every measurement here has).
    ss = float(np.sum(z**2))
    p = 2 * min(stats.chi2.cdf(ss, n), stats.chi2.sf(ss, n))
    assert p > 1e-3, f"noise variance off: mean z² = {ss / n:.3f} over {n} cells"
    # The same test rejects noise 25% smaller than claimed: it has the power to fail.
    ss_wrong = float(np.sum((z * 1.25) ** 2))
    assert stats.chi2.sf(ss_wrong, n) < 1e-6


def test_independent_sigma_matches_its_budget(releases, small_frame, small_domain):
    budget = PrivacyBudget(1.0, 1e-6)
    data = PrivateData(small_frame, small_domain)
    model = create("independent", random_state=0).fit(data, budget)
    d = len(small_domain)
    (entry,) = [e for e in model.privacy_report.ledger if e.step == "independent.measure"]
    # What domain inference (its share for bounds and edges, NUMERIC_SHARE for atoms, steps and
    # within-bin shape) leaves is spent on d one-way marginals at one σ.
    ledger = model.privacy_report.ledger
    # The δ₀ of thresholded histograms (atoms) comes off the δ of the zCDP conversion.
    rho = zcdp.rho_for(1.0, 1e-6 - sum(e.delta for e in ledger))
    inferred = sum(e.rho or 0.0 for e in ledger if e.step == "independent.infer_domain")
    share = data.inference_share
    assert share * rho < inferred <= (share + NUMERIC_SHARE) * rho * (1 + 1e-9)
    expected = math.sqrt(d / (2 * (rho - inferred)))
    assert entry.noise_scale == pytest.approx(expected)
    assert {s for _, _, s in releases if s == pytest.approx(expected)}


def test_mst_splits_its_budget_in_thirds(small_frame, small_domain):
    budget = PrivacyBudget(1.0, 1e-6)
    # The generator's own split, with domain inference for bounds only (numeric detail's δ₀
    # would shrink the zCDP budget; its accounting is tested in tests/data/test_numeric.py).
    data = PrivateData(small_frame, small_domain, numeric_detail=())
    model = create("mst", random_state=0, **FAST_PARAMS["mst"]).fit(data, budget)
    by_step = {}
    for e in model.privacy_report.ledger:
        by_step[e.step] = by_step.get(e.step, 0.0) + e.rho
    rho = budget.rho - by_step["mst.infer_domain"]  # what domain inference left
    assert by_step["mst.infer_domain"] == pytest.approx(data.inference_share * budget.rho)
    assert by_step["mst.measure_1way"] == pytest.approx(rho / 3)
    assert by_step["mst.select"] == pytest.approx(rho / 3)
    assert by_step["mst.measure_2way"] == pytest.approx(rho / 3)


def test_aim_spends_about_ninety_percent_on_measurement(small_frame, small_domain):
    budget = PrivacyBudget(1.0, 1e-6)
    data = PrivateData(small_frame, small_domain, numeric_detail=())  # the generator's own split
    model = create("aim", random_state=0, **FAST_PARAMS["aim"]).fit(data, budget)
    ledger = model.privacy_report.ledger
    measure = sum(e.rho for e in ledger if e.step in ("aim.init", "aim.measure"))
    select = sum(e.rho for e in ledger if e.step == "aim.select")
    infer = sum(e.rho for e in ledger if e.step == "aim.infer_domain")
    assert measure + select + infer == pytest.approx(budget.rho)
    # Initialisation spends at the measurement share only, so the split leans above 90%.
    assert 0.9 <= measure / (measure + select) <= 0.97
