"""DP-TLDM: its budget split, its noise, its codec, its output and its refusals."""

import math

import numpy as np
import pandas as pd
import pytest

from dpsynth.data.domain import Domain
from dpsynth.data.private import PrivateData
from dpsynth.errors import BudgetExceededError, InvalidDataError, InvalidParameterError
from dpsynth.privacy import PrivacyBudget
from dpsynth.synth import Synthesizer
from dpsynth.synth.tldm import TLDM
from tests.synth.conftest import SMALL_META, make_small_frame

# q = 1 (batch ≥ rows): fast accounting; tiny networks and few steps.
FAST = {"ae_steps": 15, "diffusion_steps": 15, "batch_size": 4096, "hidden": 32, "sample_steps": 8,
        "num_threads": 1}


@pytest.fixture(scope="module")
def domain():
    return Domain.from_json(SMALL_META)


@pytest.fixture(scope="module")
def frame():
    return make_small_frame(1000)


@pytest.fixture(scope="module")
def fitted(frame, domain):
    # Poisson-subsampled (q < 1): the PLD path of the accountant.
    params = {**FAST, "batch_size": 250}
    return TLDM(random_state=0, **params).fit(PrivateData(frame, domain), PrivacyBudget(2.0, 1e-6))


def test_fit_spends_exactly_the_budget_in_declared_stages(fitted):
    report = fitted.privacy_report
    steps = [e.step for e in report.ledger]
    assert steps[-3:] == ["tldm.marginals", "tldm.autoencoder", "tldm.diffusion"]
    assert report.epsilon <= 2.0 and report.epsilon == pytest.approx(2.0, rel=1e-3)
    assert report.rho is None and report.tradeoff is not None and report.kappa is not None
    # The stages' σ follow the declared μ² share: σ ∝ q √(T / share), equal here.
    s_ae, s_diff = fitted.noise_multipliers_
    assert s_ae == pytest.approx(s_diff * math.sqrt((15 / 0.5) / (15 / 0.5)))
    ae = next(e for e in report.ledger if e.step == "tldm.autoencoder")
    assert "sample_rate" in ae.mechanism and f"{s_ae:.4g}" in ae.mechanism
    assert 0 < fitted.sample_rate_ < 1


def test_budget_share_moves_noise_between_stages(frame, domain):
    a = TLDM(random_state=0, ae_share=0.2, **FAST).fit(PrivateData(frame, domain), PrivacyBudget(2.0, 1e-6))
    s_ae, s_diff = a.noise_multipliers_
    # q = 1 here, T equal: σ_ae/σ_diff = √(w_diff / w_ae) = 2.
    assert s_ae / s_diff == pytest.approx(2.0, rel=1e-6)
    assert a.privacy_report.epsilon == pytest.approx(2.0, rel=1e-3)


def test_sampled_rows_are_inside_the_domain(fitted, domain):
    out = fitted.sample(400, random_state=1)
    assert list(out.columns) == list(domain.names) and len(out) == 400
    for col in domain:
        values = out[col.name].dropna()
        if col.is_numeric:
            assert values.between(col.lower, col.upper).all()
        else:
            assert set(values) <= set(col.categories)
    assert str(out["age"].dtype) == "Int64" and out["score"].dtype == np.float64


def test_save_load_round_trip(fitted, tmp_path):
    again = Synthesizer.load(fitted.save(tmp_path / "tldm.dps"))
    assert isinstance(again, TLDM) and again.privacy_report == fitted.privacy_report
    pd.testing.assert_frame_equal(fitted.sample(100, random_state=3), again.sample(100, random_state=3))


def test_codec_round_trips_every_value_type(domain, frame):
    from dpsynth.synth._neural import TableCodec

    dom = domain.with_columns([c if c.name != "age" else c.replace(edges=(18, 30, 45, 60, 80)) for c in domain])
    codec = TableCodec(dom)
    typed = PrivateData(frame, dom)._table.to_frame(dom)
    x = codec.encode(typed)
    assert x.shape == (len(frame), codec.width) and np.all(np.abs(x) <= 1.0)
    for start, width in codec.cat_slices:  # one-hot blocks: exactly one 1 (missing: none for values)
        assert set(np.unique(x[:, start : start + width].sum(1))) <= {0.0, 1.0}
    # One-hot blocks as logits decode back exactly; numbers to within float32 precision.
    is_num = np.isin(np.arange(codec.width), codec.num_positions)
    back = codec.decode(np.where(is_num, x, np.where(x > 0.5, 5.0, -5.0)))
    for col in ("color", "size", "y"):
        assert (back[col] == typed[col]).all()
    assert (back["age"].astype("Int64") == typed["age"]).all()
    present = typed["score"].notna()
    assert (back["score"].isna() == ~present).all()
    np.testing.assert_allclose(back["score"][present], typed["score"][present], atol=1e-5)


def test_a_trained_model_learns_the_marginals(frame, domain):
    # Large ε and more steps: the categorical one-way marginals come out close to the data's.
    small = frame.iloc[:1000]
    params = {**FAST, "ae_steps": 120, "diffusion_steps": 200, "hidden": 64, "lr": 5e-3, "sample_steps": 16}
    model = TLDM(random_state=1, **params).fit(PrivateData(small, domain), PrivacyBudget(50.0, 1e-6))
    out = model.sample(1000, random_state=2)
    tvd = np.mean([0.5 * np.abs(small[c].value_counts(normalize=True)
                                .sub(out[c].value_counts(normalize=True), fill_value=0)).sum()
                   for c in ("color", "size", "y")])
    # Putting every row in the most common category scores about 0.45: the bar is far below.
    assert tvd < 0.15, tvd


def test_gradient_noise_is_at_the_calibrated_scale(frame, domain, monkeypatch):
    # Spy on the noise each DP-SGD step adds: its std must be σ·C (per-sample clipping).
    from dpsynth.dpsgd import trainer as tr

    seen = []
    orig = tr.TrainingRun._gaussian

    def spy(self, like):
        out = orig(self, like)
        seen.append((out.detach().numpy().ravel().copy(), self._std))
        return out

    monkeypatch.setattr(tr.TrainingRun, "_gaussian", spy)
    model = TLDM(random_state=0, **{**FAST, "ae_steps": 3, "diffusion_steps": 3}).fit(
        PrivateData(frame, domain), PrivacyBudget(1.0, 1e-6))
    s_ae, s_diff = model.noise_multipliers_
    stds = sorted({s for _, s in seen})
    assert stds == pytest.approx(sorted({s_ae * 1.0, s_diff * 1.0}))
    from scipy import stats

    z = np.concatenate([v / s for v, s in seen])
    ss = float(np.sum(z**2))
    assert 2 * min(stats.chi2.cdf(ss, z.size), stats.chi2.sf(ss, z.size)) > 1e-3
    assert stats.chi2.sf(ss * 1.25**2, z.size) < 1e-6


def test_refuses_bad_parameters_and_impossible_budgets(frame, domain):
    data = PrivateData(frame, domain)
    for bad in [{"ae_share": 1.0}, {"ae_steps": 0}, {"lr": -1}, {"clipping": "error_feedback"},
                {"grad_sample_mode": "x"}, {"marginal_share": 0}, {"calibrate": 1}, {"pool_factor": 0.5}, {"num_threads": 0}]:
        with pytest.raises(InvalidParameterError):
            TLDM(**{**FAST, **bad}).fit(data, 1.0)
    with pytest.raises(InvalidParameterError, match="epsilon"):
        TLDM(**FAST).fit(data, 0.0)
    # Far more steps than ε = 0.05 allows below max_noise_multiplier (100): refused, nothing trained.
    with pytest.raises(BudgetExceededError, match="max_noise_multiplier"):
        TLDM(**{**FAST, "ae_steps": 5000, "diffusion_steps": 5000}).fit(data, PrivacyBudget(0.01, 1e-6))


def test_bad_data_gets_a_dpsynth_error(domain):
    empty = make_small_frame(10).iloc[:0]
    with pytest.raises(InvalidDataError):
        TLDM(**FAST).fit(PrivateData(empty, domain), 1.0)
    nan = make_small_frame(50)
    nan.loc[3, "age"] = np.nan  # age is not nullable
    with pytest.raises(InvalidDataError):
        TLDM(**FAST).fit(PrivateData(nan, domain), 1.0)
    with pytest.raises(InvalidDataError):
        TLDM(**FAST).fit(PrivateData(make_small_frame(50).drop(columns="y"), domain), 1.0)
    wrong = make_small_frame(50)
    wrong["color"] = 3.5
    with pytest.raises(InvalidDataError):
        TLDM(**FAST).fit(PrivateData(wrong, domain), 1.0)


def test_import_is_lazy():
    import subprocess
    import sys

    code = "import dpsynth.synth.tldm, dpsynth.synth, sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
