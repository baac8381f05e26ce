"""DP-CTAB-GAN+ (dpsynth.synth.ctabgan): stages charged, noise at scale, no private touch by G."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from dpsynth.data.domain import Domain
from dpsynth.data.private import PrivateData
from dpsynth.errors import DpsynthError, InvalidDataError, InvalidParameterError
from dpsynth.privacy import PrivacyBudget
from dpsynth.synth import Synthesizer, create
from tests.synth.conftest import FAST_PARAMS, SMALL_META, make_small_frame

FAST = FAST_PARAMS["ctabgan"]
BUDGET = PrivacyBudget(2.0, 1e-6)


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch):
    monkeypatch.setenv("DPSYNTH_TORCH_THREADS", "1")


@pytest.fixture(scope="module")
def fitted():
    """One seeded fit shared by the read-only tests (fits dominate the run time)."""
    data = PrivateData(make_small_frame(), Domain.from_json(SMALL_META))
    return create("ctabgan", random_state=0, **FAST).fit(data, BUDGET)


class _Tripwire:
    """Stands in for a private tensor; any use raises."""

    def _boom(self, *args, **kwargs):
        raise AssertionError("a private tensor was read outside a discriminator DP-SGD step")

    __getattr__ = __getitem__ = __array__ = __len__ = __iter__ = _boom

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        raise AssertionError("a private tensor was read outside a discriminator DP-SGD step")


def test_ledger_lists_every_stage_and_the_total_is_within_budget(fitted):
    report = fitted.privacy_report
    steps = list(dict.fromkeys(e.step for e in report.ledger))
    # Domain inference (DP-quantile bins), frequencies/modes, auxiliary model, critic.
    assert steps == ["ctabgan.infer_domain", "ctabgan.marginals", "ctabgan.auxiliary", "ctabgan.discriminator"]
    assert report.within_budget
    assert report.epsilon <= BUDGET.epsilon * (1 + 1e-6)
    assert report.epsilon == pytest.approx(BUDGET.epsilon, rel=1e-2)  # nothing is wasted
    by_step = {e.step: e for e in report.ledger}
    assert "y" in by_step["ctabgan.auxiliary"].description
    assert "spectrally normalised" in by_step["ctabgan.discriminator"].description


def test_gradient_penalty_critic_is_charged_and_described():
    data = PrivateData(make_small_frame(400), Domain.from_json(SMALL_META))
    model = create("ctabgan", random_state=0, **{**FAST, "steps": 8, "lipschitz": "gradient_penalty",
                                                  "auxiliary": False}).fit(data, BUDGET)
    entry = next(e for e in model.privacy_report.ledger if e.step == "ctabgan.discriminator")
    assert "gradient penalty" in entry.description
    assert model.privacy_report.epsilon <= BUDGET.epsilon * (1 + 1e-6)
    assert len(model.sample(50, random_state=0)) == 50


def test_paired_critic_rows_are_clipped_as_one_sample_by_ghost_clipping():
    """Ghost clipping of the (n, 2, d) fake/real pair equals the per-row oracle's clipped sum."""
    import torch

    from dpsynth.dpsgd import DPSGDConfig
    from dpsynth.dpsgd.oracle import per_sample_gradients
    from dpsynth.dpsgd.trainer import _clip_and_sum, _wrap
    from dpsynth.synth import _ctabgan_train as tr

    class _Enc:
        width, cond_width = 6, 3

    torch.manual_seed(0)
    loss = tr.CriticLoss(_Enc(), 0.0, 1)  # type: ignore[arg-type]
    n = 40
    batch = torch.cat([torch.rand(n, 6), torch.eye(3)[torch.randint(0, 3, (n,))], torch.rand(n, 6), torch.rand(n, 1)], 1)
    a, b = tr.mlp(9, (16, 16), 1), tr.mlp(9, (16, 16), 1)
    b.load_state_dict(a.state_dict())
    ref = _clip_and_sum(per_sample_gradients(a, loss, batch, list(a.parameters())), 0.3)
    gsm = _wrap(b, DPSGDConfig(max_grad_norm=0.3, grad_sample_mode="ghost"))
    losses = loss(b, batch)
    losses.sum().backward(retain_graph=True)
    coef = gsm.get_clipping_coef().detach()
    for p in b.parameters():
        p.grad = None
    gsm.disable_hooks()
    (coef * losses).sum().backward()
    for r, p in zip(ref, b.parameters(), strict=True):
        assert torch.allclose(r, p.grad, atol=1e-5)


def test_spectral_projection_bounds_every_layer():
    import torch

    from dpsynth.synth import _ctabgan_train as tr

    net = tr.mlp(10, (20, 20), 1)
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(50.0)
    small = tr.mlp(10, (20,), 1)
    with torch.no_grad():
        for p in small.parameters():
            p.mul_(1e-3)
    before = [p.clone() for p in small.parameters()]
    tr.project_spectral_(net)
    tr.project_spectral_(small)
    for m in net.modules():
        if isinstance(m, torch.nn.Linear):
            assert float(torch.linalg.matrix_norm(m.weight.detach(), ord=2)) <= 1.0 + 1e-5
    assert all(torch.equal(p, q) for p, q in zip(small.parameters(), before, strict=True))  # inside: untouched


def test_marginal_noise_is_its_declared_share_of_the_budget(fitted):
    from dpsynth.privacy import Accountant

    ledger = {e.step: e for e in fitted.privacy_report.ledger}
    m = ledger["ctabgan.marginals"]
    assert m.count == len(SMALL_META["columns"])
    # σ² = d / (2ρ) with ρ = marginal_share (10%) of what domain inference left; the ρ
    # budget is what (ε, δ) converts to after the δ₀ that inference spent.
    rho_infer = sum(e.rho for e in fitted.privacy_report.ledger if e.step == "ctabgan.infer_domain")
    delta0 = sum(e.delta for e in fitted.privacy_report.ledger)
    rho_left = Accountant(BUDGET)._rho_budget_for(delta0) - rho_infer
    assert m.noise_scale == pytest.approx(math.sqrt(m.count / (2 * 0.1 * rho_left)), rel=1e-6)


def test_outputs_are_inside_the_domain(fitted):
    out = fitted.sample(2000, random_state=1)
    dom = fitted.domain_
    assert list(out.columns) == list(dom.names)
    assert out["age"].between(18, 80).all() and (out["age"] == out["age"].round()).all()
    score = out["score"].dropna()
    assert score.between(0.0, 1.0).all()
    assert out["score"].isna().any()  # the nullable column's missing mode is generated
    for name in ("color", "size", "y"):
        assert set(out[name]) <= set(dom[name].categories)


def test_sampling_respects_conditions_exactly(fitted):
    one = fitted.sample(300, conditions={"color": "blue"}, random_state=2)
    assert len(one) == 300 and (one["color"] == "blue").all()
    two = fitted.sample(200, conditions={"size": "XL", "y": "yes"}, random_state=3)
    assert len(two) == 200 and (two["size"] == "XL").all() and (two["y"] == "yes").all()
    a = fitted.sample(50, conditions={"color": "red"}, random_state=4)
    b = fitted.sample(50, conditions={"color": "red"}, random_state=4)
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize(
    ("conditions", "match"),
    [
        ({"nope": "x"}, "not a column"),
        ({"age": 30}, "numeric"),
        ({"color": "purple"}, "not a category"),
        ({"color": None}, "not a category"),
        (["color"], "dict"),
    ],
)
def test_bad_conditions_are_refused(fitted, conditions, match):
    with pytest.raises(InvalidParameterError, match=match):
        fitted.sample(10, conditions=conditions)


def test_conditions_survive_save_and_load(fitted, tmp_path):
    again = Synthesizer.load(fitted.save(tmp_path / "m.dps"))
    a = fitted.sample(100, conditions={"y": "no"}, random_state=7)
    b = again.sample(100, conditions={"y": "no"}, random_state=7)
    pd.testing.assert_frame_equal(a, b)


def test_generator_steps_touch_no_private_tensor_and_noise_is_at_the_claimed_scale(monkeypatch):
    """Private rows are sealed except inside DP-SGD steps; the critic's noise is σ·C.

    Every DP-SGD run's copy of the private rows (and the EncodedRows object) is replaced by
    a tripwire as soon as the run is built, and restored only for the duration of each
    DP-SGD step: the generator steps, sampling of conditions and everything else in the fit
    run with the private tensor sealed, so any read of it fails the test.
    """
    from dpsynth.dpsgd import trainer as tmod

    real_init, real_step, real_gaussian = tmod.TrainingRun.__init__, tmod.TrainingRun.step, tmod.TrainingRun._gaussian
    stash: dict[int, object] = {}
    draws: dict[str, list[np.ndarray]] = {}
    generator_steps_seen = []

    def init(self, trainer, *args, **kwargs):
        real_init(self, trainer, *args, **kwargs)
        stash[id(self)] = (self._x, trainer.rows._values)
        self._x = _Tripwire()
        trainer.rows._values = _Tripwire()

    def step(self, *args, **kwargs):
        x, values = stash[id(self)]
        self._x, self.trainer.rows._values = x, values
        try:
            return real_step(self, *args, **kwargs)
        finally:
            self._x, self.trainer.rows._values = _Tripwire(), _Tripwire()

    def gaussian(self, like):
        noise = real_gaussian(self, like)
        draws.setdefault(self.trainer.step_name, []).append(noise.detach().numpy().ravel().copy())
        return noise

    from dpsynth.synth import _ctabgan_train

    real_gstep = _ctabgan_train.GanLoop.generator_step

    def gstep(self):
        generator_steps_seen.append(1)
        return real_gstep(self)

    monkeypatch.setattr(tmod.TrainingRun, "__init__", init)
    monkeypatch.setattr(tmod.TrainingRun, "step", step)
    monkeypatch.setattr(tmod.TrainingRun, "_gaussian", gaussian)
    monkeypatch.setattr(_ctabgan_train.GanLoop, "generator_step", gstep)
    data = PrivateData(make_small_frame(), Domain.from_json(SMALL_META))
    params = {**FAST, "steps": 10, "max_grad_norm": 0.5, "auxiliary": False}
    model = create("ctabgan", random_state=5, **params).fit(data, PrivacyBudget(1.0, 1e-6))
    assert len(generator_steps_seen) == 10
    entry = next(e for e in model.privacy_report.ledger if e.step == "ctabgan.discriminator")
    assert entry.noise_scale == pytest.approx(model.noise_multipliers_[0] * 0.5)
    noise = np.concatenate(draws["ctabgan.discriminator"])
    # The sample variance of k N(0, s²) draws: (k−1)·S²/s² ~ χ²(k−1); accept inside [0.1%, 99.9%].
    k, s = noise.size, entry.noise_scale
    chi = (k - 1) * noise.var(ddof=1) / s**2
    assert stats.chi2.ppf(1e-3, k - 1) < chi < stats.chi2.ppf(1 - 1e-3, k - 1)
    assert abs(noise.mean()) < 4 * s / math.sqrt(k)


def test_the_tripwire_catches_a_leaky_generator_step(monkeypatch):
    """The sealing above is not vacuous: a generator step that reads the rows fails."""
    from dpsynth.dpsgd import trainer as tmod
    from dpsynth.synth import _ctabgan_train

    runs = []
    real_init = tmod.TrainingRun.__init__

    def init(self, trainer, *args, **kwargs):
        real_init(self, trainer, *args, **kwargs)
        runs.append(self)
        self._x = _Tripwire()

    def leaky(self):
        return runs[-1]._x.sum()

    monkeypatch.setattr(tmod.TrainingRun, "__init__", init)
    monkeypatch.setattr(tmod.TrainingRun, "step", lambda self, **kw: None)
    monkeypatch.setattr(_ctabgan_train.GanLoop, "generator_step", leaky)
    data = PrivateData(make_small_frame(500), Domain.from_json(SMALL_META))
    with pytest.raises(AssertionError, match="private tensor"):
        create("ctabgan", random_state=0, **{**FAST, "auxiliary": False}).fit(data, 1.0)


def test_encoder_keeps_special_values_and_round_trips():
    from dpsynth.data.discretize import Discretizer
    from dpsynth.synth._ctabgan_encode import RowEncoder, column_code

    meta = {
        "columns": [
            {"name": "gain", "type": "numeric", "integer": True, "lower": 0, "upper": 1000,
             "edges": [0, 1, 100, 400, 1000], "nullable": True},
            {"name": "x", "type": "numeric", "lower": -1.0, "upper": 1.0, "edges": [-1, -0.5, 0, 0.5, 1]},
            {"name": "c", "type": "categorical", "categories": ["a", "b"]},
        ]
    }
    dom = Domain.from_json(meta)
    disc = Discretizer(dom)
    counts = {"gain": np.array([50.0, 10, 10, 10, 5]), "x": np.array([10.0, 10, 10, 10]), "c": np.array([5.0, 5])}
    codes = [column_code(dom, disc, n, counts[n], max_modes=2, general=False) for n in ("gain", "x", "c")]
    gain = codes[0]
    assert gain.special[0] and gain.lows[0] == 0.0  # the atom at 0 is a special value (mixed column)
    assert gain.missing == gain.size - 1
    assert codes[1].size == 2  # four bins merged into two modes of equal noisy mass
    general = column_code(dom, disc, "x", counts["x"], max_modes=2, general=True)
    assert general.size == 1 and (general.lows, general.highs) == ((-1.0,), (1.0,))
    enc = RowEncoder(dom, codes)
    frame = pd.DataFrame({
        "gain": pd.array([0, 5, 399, None, 1000], dtype="Int64"),
        "x": [-1.0, -0.2, 0.3, 0.99, 1.0],
        "c": ["a", "b", "a", "b", "a"],
    })
    encoded = enc.encode(frame)
    assert encoded.shape == (5, enc.width) and np.isfinite(encoded).all()
    back = enc.decode(encoded.astype(np.float64), np.random.default_rng(0))
    assert back["c"].tolist() == frame["c"].tolist()
    assert back["gain"].isna().tolist() == frame["gain"].isna().tolist()
    assert back["gain"].dropna().tolist() == [0, 5, 399, 1000]
    np.testing.assert_allclose(back["x"], frame["x"], atol=1e-6)


def test_numeric_target_trains_no_auxiliary_model_and_says_so():
    meta = {**SMALL_META, "target": "age"}
    data = PrivateData(make_small_frame(600), Domain.from_json(meta))
    params = {**FAST, "steps": 5}
    model = create("ctabgan", random_state=0, **params).fit(data, 1.0)
    steps = {e.step for e in model.privacy_report.ledger}
    assert "ctabgan.auxiliary" not in steps and "ctabgan.discriminator" in steps
    assert any("auxiliary" in note for note in model.privacy_report.notes)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"steps": 0}, "steps"),
        ({"lr": -1.0}, "lr"),
        ({"batch_size": 2.5}, "batch_size"),
        ({"generator_dims": []}, "generator_dims"),
        ({"marginal_share": 1.0}, "marginal_share"),
        ({"general_columns": "age"}, "general_columns"),
        ({"general_columns": ["color"]}, "not numeric"),
        ({"general_columns": ["nope"]}, "not a column"),
        ({"target": "nope"}, "not a column"),
        ({"auxiliary": "yes"}, "auxiliary"),
        ({"lipschitz": "clip"}, "lipschitz"),
    ],
)
def test_bad_parameters_get_a_clear_error(params, match):
    data = PrivateData(make_small_frame(200), Domain.from_json(SMALL_META))
    with pytest.raises(InvalidParameterError, match=match):
        create("ctabgan", **{**FAST, **params}).fit(data, 1.0)


@pytest.mark.parametrize("epsilon", [0.0, -2.0])
def test_non_positive_epsilon_is_refused(epsilon):
    data = PrivateData(make_small_frame(200), Domain.from_json(SMALL_META))
    with pytest.raises(InvalidParameterError, match="epsilon"):
        create("ctabgan", **FAST).fit(data, epsilon)


def _bad_frames():
    good = make_small_frame(100)
    empty = good.iloc[:0]
    nan = good.copy()
    nan.loc[3, "age"] = np.nan  # not nullable
    typ = good.astype({"age": object})
    typ.loc[5, "age"] = "old"
    unknown = good.drop(columns=["size"])
    return [("empty", empty), ("nan", nan), ("type", typ), ("unknown column", unknown)]


@pytest.mark.parametrize(("what", "frame"), _bad_frames(), ids=[w for w, _ in _bad_frames()])
def test_bad_data_gets_a_dpsynth_error(what, frame):
    dom = Domain.from_json(SMALL_META)
    with pytest.raises(DpsynthError) as info:
        create("ctabgan", **FAST).fit(PrivateData(frame, dom), 1.0)
    assert isinstance(info.value, InvalidDataError | InvalidParameterError)


def test_paired_fakes_depend_on_their_own_row_only_and_leave_the_generator_statistics_alone():
    """Row i's fake partner must not read other rows (e.g. through batch-norm statistics)."""
    import torch

    from dpsynth.data.discretize import Discretizer
    from dpsynth.synth import _ctabgan_train as tr
    from dpsynth.synth._ctabgan_encode import RowEncoder, column_code

    domain = Domain.from_json(SMALL_META)
    disc = Discretizer(domain)
    codes = [column_code(domain, disc, n, np.ones(disc.sizes[n]), max_modes=3, general=False) for n in domain.names]
    enc = RowEncoder(domain, codes)
    sampler = tr.CondSampler.from_counts(enc, [np.ones(codes[j].size) for j in enc.cond_columns])
    g = torch.Generator().manual_seed(0)
    gen = tr.Generator(16 + enc.cond_width, (32,), enc.width)
    tr.init_(gen, g)
    loop = tr.GanLoop(enc, sampler, gen, tr.mlp(enc.width + enc.cond_width, (16,), 1), None, batch_size=32,
                      embedding_dim=16, lr=1e-3, auxiliary_weight=0.0, gen=g)
    for _ in range(3):
        loop.generator_step()  # running statistics from public conditions only
    frame = make_small_frame(200, seed=3)
    a_rows = torch.from_numpy(enc.encode(frame.iloc[:50].reset_index(drop=True)))
    b_rows = a_rows.clone()
    b_rows[1:] = torch.from_numpy(enc.encode(frame.iloc[100:149].reset_index(drop=True)))  # other rows differ
    stats = [b.clone() for b in gen.buffers()]
    a = loop.augment(a_rows, torch.Generator().manual_seed(1))
    b = loop.augment(b_rows, torch.Generator().manual_seed(1))
    assert all(torch.equal(x, y) for x, y in zip(stats, gen.buffers(), strict=True))
    assert torch.equal(a[0], b[0])  # same row, same per-row randomness: same condition and fake
    assert not torch.equal(a[1], b[1])
