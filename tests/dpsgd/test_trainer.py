"""The private trainer: Opacus against the torch.func oracle, noise scale, accounting, refusals."""

import math
import warnings

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from dpsynth.dpsgd import (
    DPSGDConfig,
    EncodedRows,
    PrivateTrainer,
    Stage,
    TrainingRun,
    calibrate,
    mechanism,
    per_sample_gradients,
    torch_generator,
    train,
)
from dpsynth.errors import BudgetExceededError, InvalidDataError, InvalidParameterError
from dpsynth.privacy import Accountant, NoiseSource, PrivacyBudget, fdp
from dpsynth.privacy.accounting import rdp_epsilon


def _rows(n=64, d=5, seed=0, budget=None):
    budget = budget or PrivacyBudget(1.0, 1e-5)
    x = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return EncodedRows(x, Accountant(budget, seeded=True), NoiseSource(seed))


def _mlp(d=5, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d - 1, 16), nn.LayerNorm(16), nn.SiLU(), nn.Linear(16, 1))


def _loss(model, batch):
    # Regress the last column on the others; one loss per row.
    return (model(batch[:, :-1]).squeeze(-1) - batch[:, -1]) ** 2


def _run(rows, cfg, model, q=1.0, std=None):
    trainer = PrivateTrainer(rows, cfg, noise_multiplier=1.0, sample_rate=q, step="test")
    run = TrainingRun(trainer, model, _loss, None)  # uncharged: tests of the mechanics only
    if std is not None:
        run._std = std
    return run


@pytest.mark.parametrize("mode", ["ghost", "hooks", "functorch"])
def test_opacus_clipped_sums_equal_the_torch_func_oracle(mode):
    rows = _rows()
    batch = torch.from_numpy(rows._values)
    model = _mlp()
    oracle = per_sample_gradients(model, _loss, batch)
    # The oracle itself agrees with one autograd call per row.
    for i in (0, 7):
        model.zero_grad()
        _loss(model, batch[i : i + 1]).sum().backward()
        for g, p in zip(oracle, model.parameters(), strict=True):
            torch.testing.assert_close(g[i], p.grad, atol=1e-6, rtol=1e-5)
    norms = torch.sqrt(sum(g.reshape(len(batch), -1).pow(2).sum(1) for g in oracle))
    c = float(norms.median())  # half the rows are clipped
    want = [torch.einsum("i,i...->...", (c / (norms + 1e-6)).clamp(max=1.0), g) for g in oracle]
    run = _run(rows, DPSGDConfig(max_grad_norm=c, grad_sample_mode=mode), model)
    got, _ = run._clipped_sum(batch)
    run.finish()
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def _linear_mlp(d=5, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d - 1, 16), nn.SiLU(), nn.Linear(16, 16, bias=False), nn.Tanh(), nn.Linear(16, 1))


def _oracle_clipped(model, loss, batch, quantile=0.5):
    oracle = per_sample_gradients(model, loss, batch)
    norms = torch.sqrt(sum(g.reshape(len(batch), -1).pow(2).sum(1) for g in oracle))
    c = float(torch.quantile(norms, quantile))
    factor = (c / (norms + 1e-6)).clamp(max=1.0)
    return c, [torch.einsum("i,i...->...", factor, g) for g in oracle], [g.sum(0) for g in oracle]


def test_one_pass_ghost_clipping_of_linear_models_equals_the_oracle():
    rows = _rows()
    batch = torch.from_numpy(rows._values)
    model = _linear_mlp()
    c, want, want_raw = _oracle_clipped(model, _loss, batch)
    run = _run(rows, DPSGDConfig(max_grad_norm=c, clipping="per_sample"), model)
    assert run._bk is not None and run._gsm is None  # linear layers only: no Opacus wrapper
    for _ in range(2):  # the first call also checks against autograd; the second does not
        got, _ = run._clipped_sum(batch)
        for a, b in zip(got, want, strict=True):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    raw = run._bk.clipped_sum(lambda: _loss(model, batch), c, True)[1]
    for a, b in zip(raw, want_raw, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    run.finish()
    assert run._bk is None and not model[0]._forward_hooks


def test_one_pass_ghost_clipping_hands_over_to_opacus_when_a_loss_reads_a_weight(monkeypatch):
    from dpsynth.dpsgd import trainer as trainer_module

    rows = _rows()
    batch = torch.from_numpy(rows._values)

    def loss(m, b):  # a per-row penalty on a weight: not a once-per-row linear layer
        return _loss(m, b) + 0.1 * (m[0].weight ** 2).sum() * b[:, 0] ** 2

    def clipped(model):
        trainer = PrivateTrainer(rows, DPSGDConfig(max_grad_norm=0.5), noise_multiplier=1.0, sample_rate=1.0, step="t")
        run = TrainingRun(trainer, model, loss, None)
        got, _ = run._clipped_sum(batch)
        used_bk, used_opacus = run._bk is not None, run._gsm is not None
        run.finish()
        return got, used_bk, used_opacus

    got, used_bk, used_opacus = clipped(_linear_mlp())
    assert not used_bk and used_opacus  # the first step's check failed: Opacus took over
    monkeypatch.setattr(trainer_module._BookKeeping, "for_model", classmethod(lambda cls, m, p: None))
    want, used_bk, _ = clipped(_linear_mlp())
    assert not used_bk
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b)


def test_opacus_hooks_per_sample_gradients_equal_the_oracle():
    from opacus.grad_sample import GradSampleModule

    rows = _rows()
    batch = torch.from_numpy(rows._values)
    model = _mlp()
    oracle = per_sample_gradients(model, _loss, batch)
    gsm = GradSampleModule(model, loss_reduction="sum")
    _loss(model, batch).sum().backward()
    for p, g in zip(model.parameters(), oracle, strict=True):
        torch.testing.assert_close(p.grad_sample, g, atol=1e-6, rtol=1e-5)
    gsm.to_standard_module()


@pytest.mark.parametrize(
    ("mode", "clipping"),
    [("ghost", "per_sample"), ("hooks", "per_sample"), ("functorch", "per_sample"), ("ghost", "batch")],
)
def test_without_noise_and_with_large_c_the_trainer_is_plain_sgd(mode, clipping):
    rows = _rows(n=32)
    x = torch.from_numpy(rows._values)
    cfg = DPSGDConfig(steps=5, batch_size=32, max_grad_norm=1e6, optimizer="sgd", lr=0.05,
                      grad_sample_mode=mode, clipping=clipping)
    private, plain = _mlp(seed=1), _mlp(seed=1)
    run = _run(rows, cfg, private, q=1.0, std=0.0)  # q = 1: every row in every batch
    for _ in range(cfg.steps):
        run.step()
    run.finish()
    opt = torch.optim.SGD(plain.parameters(), lr=0.05)
    for _ in range(cfg.steps):
        opt.zero_grad()
        _loss(plain, x).mean().backward()
        opt.step()
    for a, b in zip(private.parameters(), plain.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def _zero_loss(model, batch):
    return 0.0 * model(batch[:, :-1]).squeeze(-1)


@pytest.mark.parametrize(
    ("clipping", "secure"), [("per_sample", False), ("per_sample", True), ("batch", False)]
)
def test_noise_per_step_has_the_claimed_standard_deviation(clipping, secure):
    # Opacus's test: with zero gradients, SGD at lr=1 moves each parameter by the noise only;
    # after k steps each coordinate is N(0, k·s²) with s = σ·sensitivity (/B when summed).
    sigma, c, b, k = 1.3, 0.7, 8, 6
    rows = _rows(n=40)
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(4, 300), nn.SiLU(), nn.Linear(300, 1))  # 1801 coordinates
    before = [p.detach().clone() for p in model.parameters()]
    cfg = DPSGDConfig(steps=k, batch_size=b, max_grad_norm=c, optimizer="sgd", lr=1.0,
                      clipping=clipping, secure_noise=secure)
    trainer = PrivateTrainer(rows, cfg, noise_multiplier=sigma, sample_rate=0.2, step="t")
    run = TrainingRun(trainer, model, _zero_loss, None)
    for _ in range(k):
        run.step()
    run.finish()
    moved = torch.cat([(p.detach() - q).ravel() for p, q in zip(model.parameters(), before, strict=True)])
    s = sigma * c / b if clipping == "per_sample" else sigma * 2 * c
    z = moved.double().numpy() / (s * math.sqrt(k))
    n = z.size
    ss = float(np.sum(z**2))
    assert n > 1000
    assert 2 * min(stats.chi2.cdf(ss, n), stats.chi2.sf(ss, n)) > 1e-3, ss / n
    # The same test rejects noise 25% off: it can fail.
    assert stats.chi2.sf(ss * 1.25**2, n) < 1e-6 and stats.chi2.cdf(ss / 1.25**2, n) < 1e-6
    assert abs(float(np.mean(z))) < 4.0 / math.sqrt(n)


def test_noise_is_added_on_an_empty_batch():
    rows = _rows(n=10)
    model = _mlp(seed=3)
    before = [p.detach().clone() for p in model.parameters()]
    cfg = DPSGDConfig(steps=3, batch_size=1, optimizer="sgd", lr=1.0)
    trainer = PrivateTrainer(rows, cfg, noise_multiplier=1.0, sample_rate=1e-9, step="t")
    run = TrainingRun(trainer, model, _loss, None)
    for _ in range(3):
        run.step()  # every batch is empty (q ≈ 0)
    assert all(not torch.equal(p, q) for p, q in zip(model.parameters(), before, strict=True))


def test_poisson_batches_have_binomial_sizes(monkeypatch):
    rows = _rows(n=500)
    sizes = []
    cfg = DPSGDConfig(steps=200, batch_size=50)
    trainer = PrivateTrainer(rows, cfg, noise_multiplier=1.0, sample_rate=0.1, step="t")
    run = TrainingRun(trainer, _mlp(), _loss, None)
    orig = run._clipped_sum

    def spy(batch):
        sizes.append(batch.shape[0])
        return orig(batch[:0])  # sizes are what is tested: skip the gradients

    monkeypatch.setattr(run, "_clipped_sum", spy)
    for _ in range(cfg.steps):
        run.step()
    sizes = np.array(sizes)
    # Mean of 200 Binomial(500, 0.1) sizes: 50 ± 4 standard errors; variance 45 not 0 (Poisson, not fixed).
    assert abs(sizes.mean() - 50) < 4 * math.sqrt(45 / 200)
    assert 30 < sizes.var() < 65


def test_pinned_dp_accounting_values_through_the_accountant():
    cfg = DPSGDConfig(steps=10_000, batch_size=100)
    mech = mechanism(cfg, 1.0, 0.01)
    assert rdp_epsilon([mech.event], 1e-5) == pytest.approx(6.71, abs=0.01)
    acc = Accountant(PrivacyBudget(7.0, 1e-5))
    acc.charge(mech, step="dpsgd")
    report = acc.report()
    assert report.epsilon == pytest.approx(6.19, abs=0.01)
    # The numerical f-DP curve: a valid trade-off curve whose κ is its largest gap from 1 − α.
    curve = np.array(report.tradeoff)
    assert np.all(curve[:, 1] <= 1 - curve[:, 0] + 1e-12) and np.all(np.diff(curve[:, 1]) <= 1e-12)
    assert report.kappa == pytest.approx(np.max(1 - curve[:, 0] - curve[:, 1]) / math.sqrt(2))
    # (ε, δ) read back from the curve: β ≥ 1 − δ − e^ε α at ε = 6.19 on the grid.
    assert np.all(curve[:, 1] >= 1 - 1e-5 - math.exp(report.epsilon) * curve[:, 0] - 1e-4)


def test_numerical_tradeoff_matches_the_exact_gdp_curve_for_full_batches():
    # q = 1: T Gaussian steps compose to exactly μ = √T/σ-GDP (Dong et al. Cor. 3.3): the
    # PLD-derived curve must match the closed form (a second method), and μ is reported.
    cfg = DPSGDConfig(steps=16, batch_size=10)
    acc = Accountant(PrivacyBudget(10.0, 1e-5))
    acc.charge(mechanism(cfg, 8.0, 1.0), step="dpsgd")
    report = acc.report()
    assert report.mu == pytest.approx(math.sqrt(16) / 8.0, rel=1e-3)
    curve = np.array(report.tradeoff)
    exact = fdp.tradeoff(curve[:, 0], 0.5)
    assert np.max(np.abs(curve[:, 1] - exact)) < 2e-3
    assert np.all(curve[:, 1] <= exact + 1e-9)  # never more optimistic than the truth
    assert report.kappa == pytest.approx(fdp.separation(0.5), abs=2e-3)


def test_calibration_spends_the_budget_and_shares_it_between_stages():
    acc = Accountant(PrivacyBudget(2.0, 1e-5))
    a = Stage("s.ae", DPSGDConfig(steps=50, batch_size=32), sample_rate=0.05, share=0.25)
    b = Stage("s.diff", DPSGDConfig(steps=200, batch_size=32), sample_rate=0.02, share=0.75)
    sa, sb = calibrate(acc, [a, b])
    # σᵢ = λ qᵢ √(Tᵢ/wᵢ): the declared shares of μ².
    assert sa / sb == pytest.approx((0.05 * math.sqrt(50 / 0.25)) / (0.02 * math.sqrt(200 / 0.75)))
    eps = acc.epsilon_with([mechanism(a.config, sa, 0.05), mechanism(b.config, sb, 0.02)])
    assert eps <= 2.0 and eps == pytest.approx(2.0, rel=1e-3)


def test_calibration_and_charging_at_a_very_large_epsilon_stay_small_and_within_budget():
    # A 1e-4 PLD grid at eps = 1,000 needed several GiB (the fit was killed); the grid step
    # now grows with epsilon above 10, pessimistically, so the charge still fits the budget.
    acc = Accountant(PrivacyBudget(1000.0, 1e-5))
    cfg = DPSGDConfig(steps=300, batch_size=500)
    (sigma,) = calibrate(acc, [Stage("big", cfg, 500 / 29000)])
    assert 0.0 < sigma < 0.5
    acc.charge(mechanism(cfg, sigma, 500 / 29000), step="big")
    assert acc.epsilon() <= 1000.0 * (1 + 1e-6)
    assert acc.epsilon() > 900.0  # spent, not wasted


def test_calibration_refuses_a_meaningless_epsilon_with_a_clear_error():
    acc = Accountant(PrivacyBudget(1e5, 1e-5))
    with pytest.raises(InvalidParameterError, match="up to 1000"):
        calibrate(acc, [Stage("big", DPSGDConfig(steps=10, batch_size=16), 0.1)])


def test_adam_uses_the_configured_betas():
    rows = _rows(budget=PrivacyBudget(1.0, 1e-5))
    run = _run(rows, DPSGDConfig(steps=2, batch_size=16, betas=(0.5, 0.9)), _mlp(), q=1.0)
    assert run.optimizer.param_groups[0]["betas"] == (0.5, 0.9)


def test_a_fit_refuses_more_steps_than_the_budget_allows_at_the_given_sigma():
    rows = _rows(budget=PrivacyBudget(1.0, 1e-5))
    cfg = DPSGDConfig(steps=300, batch_size=16, noise_multiplier=2.0)
    with pytest.raises(BudgetExceededError, match="Nothing was released"):
        calibrate(rows.accountant, [Stage("t", cfg, 0.25)])
    model = _mlp()
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(BudgetExceededError):
        PrivateTrainer(rows, cfg, noise_multiplier=2.0, sample_rate=0.25, step="t").train(model, _loss)
    assert rows.accountant.ledger == []
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), before, strict=True))
    # Calibrated: σ would have to exceed max_noise_multiplier.
    cfg2 = DPSGDConfig(steps=5000, batch_size=16, max_noise_multiplier=5.0)
    with pytest.raises(BudgetExceededError, match="max_noise_multiplier"):
        train(model, _loss, rows, cfg2, sample_rate=1.0, step="t")


def test_a_run_takes_no_more_steps_than_it_was_charged_for():
    rows = _rows(budget=PrivacyBudget(1.0, 1e-5))
    cfg = DPSGDConfig(steps=2, batch_size=16)
    log = train(_mlp(), _loss, rows, cfg, sample_rate=0.25, step="t")
    assert log.steps == 2 and rows.accountant.report().epsilon == pytest.approx(1.0, rel=1e-3)
    (entry,) = rows.accountant.ledger
    assert entry.step == "t" and entry.rho is None
    trainer = PrivateTrainer(rows, cfg, noise_multiplier=100.0, sample_rate=0.25, step="t2")
    with pytest.raises(BudgetExceededError):
        trainer.start(_mlp(), _loss)  # the budget is spent


def test_error_feedback_and_batch_clipping_warn():
    for clip in ("batch", "error_feedback"):
        rows = _rows(budget=PrivacyBudget(5.0, 1e-5))
        with pytest.warns(UserWarning, match="Batch clipping|experimental"):
            train(_mlp(), _loss, rows, DPSGDConfig(steps=2, batch_size=8, clipping=clip, noise_multiplier=8.0),
                  sample_rate=0.2, step="t")


def test_error_feedback_accumulates_what_clipping_removed():
    rows = _rows(n=16)
    cfg = DPSGDConfig(steps=1, batch_size=16, clipping="error_feedback", max_grad_norm=1e-3,
                      error_max_norm=1e-3, grad_sample_mode="hooks")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = _run(rows, cfg, _mlp(), q=1.0, std=0.0)
    x = torch.from_numpy(rows._values)
    clipped, raw = run._clipped_sum(x)
    v = run._error_feedback(clipped, raw)
    # e₁ = (Σg − v)/B with e₀ = 0, so v + B·e₁ = Σg.
    for vv, e, r in zip(v, run._error, raw, strict=True):
        torch.testing.assert_close(vv + 16 * e, r, atol=1e-5, rtol=1e-5)


def test_torch_generators_come_from_the_noise_source():
    a = torch_generator(NoiseSource(5)).initial_seed()
    assert a == torch_generator(NoiseSource(5)).initial_seed()
    assert torch_generator(NoiseSource(None)).initial_seed() != torch_generator(NoiseSource(None)).initial_seed()


def test_bad_inputs_get_dpsynth_errors():
    acc = Accountant(PrivacyBudget(1.0, 1e-5))
    with pytest.raises(InvalidDataError, match="NaN"):
        EncodedRows(np.array([[1.0, np.nan]]), acc, NoiseSource(0))
    with pytest.raises(InvalidDataError):
        EncodedRows(np.zeros(3), acc, NoiseSource(0))
    for bad in [{"steps": 0}, {"batch_size": 2.5}, {"max_grad_norm": -1.0}, {"clipping": "nope"},
                {"noise_multiplier": float("nan")}, {"grad_sample_mode": "x"}, {"lr": 0},
                {"betas": (0.5,)}, {"betas": (1.0, 0.9)}, {"betas": "0.5,0.9"}]:
        with pytest.raises(InvalidParameterError):
            DPSGDConfig(**bad).validate()
    rows = _rows()
    with pytest.raises(InvalidParameterError, match="EncodedRows"):
        PrivateTrainer(np.zeros((3, 3)), DPSGDConfig(), noise_multiplier=1.0, sample_rate=0.1, step="t")
    run = _run(rows, DPSGDConfig(grad_sample_mode="hooks"), _mlp(), q=1.0)
    with pytest.raises(InvalidParameterError, match="one loss per row"):
        run.loss_fn = lambda m, b: _loss(m, b).sum()
        run.step()
    assert "64" not in repr(rows)


# -- the secure (production) noise path ------------------------------------------------------
def test_production_noise_is_secure_by_default_and_the_fast_switch_is_flagged():
    assert DPSGDConfig().secure_noise is True
    for secure in (True, False):
        rows = EncodedRows(np.zeros((20, 5), np.float32), Accountant(PrivacyBudget(1.0, 1e-5)), NoiseSource(None))
        cfg = DPSGDConfig(steps=2, batch_size=8, secure_noise=secure)
        run = PrivateTrainer(rows, cfg, noise_multiplier=5.0, sample_rate=0.4, step="t").start(_mlp(), _loss)
        run.step()
        run.finish()
        report = rows.accountant.report()
        assert report.seeded is (not secure)
        assert ("NOT FOR RELEASE" in report.summary()) is (not secure)
        assert any("Mersenne" in n and "NOT FOR RELEASE" in n for n in report.notes) is (not secure)


def test_secure_noise_from_os_urandom_has_the_claimed_scale_and_lies_on_the_lattice():
    from dpsynth.dpsgd.trainer import _SecureNoise

    std, d = 0.37, 20_000
    secure = _SecureNoise(NoiseSource(None), std, sensitivity=1.0, size=d, steps=3)
    assert secure.source.secure  # os.urandom bits, not a seeded generator
    zeros = [torch.zeros(d // 2, dtype=torch.float32), torch.zeros(2, d // 4, dtype=torch.float32)]
    noisy = torch.cat([g.reshape(-1) for g in secure.add(zeros)]).numpy()
    units = noisy / secure.gamma
    np.testing.assert_array_equal(units, np.round(units))  # exact lattice points
    # Chi-square test of the variance: Σz² ~ χ²(d) for z = noise / std. The noise is fresh
    # (unseeded) on every run, so the level is 1e-5 (≈ 4.4 sd of Σz²/d, sd √(2/d) = 1%): at 1e-3
    # one run in a thousand failed by chance, and a variance 5% off still fails every time.
    ss = float(np.sum((noisy / std) ** 2))
    assert 2 * min(stats.chi2.cdf(ss, d), stats.chi2.sf(ss, d)) > 1e-5, ss / d
    # Mean zero within 4 standard errors; and a second draw is fresh.
    assert abs(noisy.mean()) < 4 * std / math.sqrt(d)
    again = torch.cat([g.reshape(-1) for g in secure.add(zeros)]).numpy()
    assert not np.array_equal(noisy, again)
    secure.close()


def test_secure_noise_snapping_keeps_the_charged_sensitivity():
    # Neighbouring aggregates Δ apart, placed where rounding to the lattice hurts most: the
    # noise-free snapped values must stay within Δ (the sensitivity the accountant charged).
    from dpsynth.dpsgd.trainer import _SecureNoise

    d, delta = 4096, 1.0
    secure = _SecureNoise(NoiseSource(0), 1e-3, sensitivity=delta, size=d, steps=1)
    g = secure.gamma
    base = torch.full((d,), 0.49 * g, dtype=torch.float64) / secure.shrink
    step = torch.full((d,), delta / math.sqrt(d), dtype=torch.float64)
    snapped = [torch.round(x * (secure.shrink / g)) * g for x in (base, base + step)]
    assert float(torch.linalg.vector_norm(snapped[1] - snapped[0])) <= delta
    secure.close()


def test_seeded_secure_runs_are_reproducible():
    def once():
        rows = _rows(n=40)
        cfg = DPSGDConfig(steps=3, batch_size=8, optimizer="sgd", lr=1.0)
        model = _mlp(seed=4)
        run = PrivateTrainer(rows, cfg, noise_multiplier=20.0, sample_rate=0.2, step="t").start(model, _loss)
        for _ in range(cfg.steps):
            run.step()
        run.finish()
        return torch.cat([p.detach().ravel() for p in model.parameters()])

    torch.testing.assert_close(once(), once(), rtol=0, atol=0)
