"""What a DP-SGD run releases, and how much noise each stage of a fit gets.

One DP-SGD run of T steps at sample rate q and noise multiplier σ is charged to the fit's
:class:`~dpsynth.privacy.Accountant` as one
:class:`~dpsynth.privacy.SubsampledGaussianMechanism` (T self-compositions of a
Poisson-subsampled Gaussian), *before* its first step. What "sensitivity" means depends
on the clipping mode; the noise added to the step's aggregate always has standard
deviation σ × sensitivity:

* ``per_sample`` (Abadi et al. 2016): the aggregate is the sum of per-row gradients each
  clipped to C. Add/remove one row moves it by at most C.
* ``batch`` (DP-TLDM's batch clipping): the aggregate is the batch-mean gradient clipped
  to C. Both neighbours' aggregates lie in the ball of radius C, so one row can move it
  by 2C (not C/B): the same σ means noise 2B times larger relative to the signal than
  per-sample clipping with batch B.
* ``error_feedback`` (DiceSGD, Zhang, Bu, Wu, Hong 2024, Alg. 1): the aggregate is
  Σ clip(gᵢ, C₁) + B·clip(e_t, C₂), where the error e_t accumulates *unclipped* gradients
  of earlier batches. Under add/remove, e_t may differ between neighbours whether or not
  the row is in the current batch, so no amplification by subsampling applies to that
  term: we charge every step as a full (q = 1) Gaussian with sensitivity C₁ + 2·B·C₂.
  This bound is sound but loose; the paper's tighter Rényi-DP analysis (its Thm. on the
  privatised public state) is not implemented until it is verified, so this mode is
  experimental and warns.

Stages (e.g. TLDM's autoencoder then its diffusion model) get a declared *share* of the
budget. Subsampled-Gaussian compositions are close to Gaussian-DP, where
μ² ≈ Σ q²Tᵢ/σᵢ² adds up, so a share wᵢ means stage i's μᵢ² is wᵢ of the total:
σᵢ = λ·qᵢ·√(Tᵢ/wᵢ), with the one scale λ found by bisection so that the privacy-loss
distribution of everything already charged plus all stages meets ε at δ exactly. What was
charged before (e.g. the one-way marginals TLDM and CTAB-GAN+ measure first, discrete
Gaussian counts) enters with its exact privacy-loss distribution, not the continuous
Gaussian's (see :class:`~dpsynth.privacy.mechanisms.DiscreteGaussianDpEvent`); the
Gaussian-DP μ above only seeds the search.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from dpsynth.dpsgd.config import DPSGDConfig
from dpsynth.errors import BudgetExceededError, InvalidParameterError
from dpsynth.privacy import Accountant, SubsampledGaussianMechanism, fdp

#: PLD discretisation used while searching for σ at ε ≤ 10, proportionally coarser above (pessimistic;
#: the final charge uses the accountant's finer grid, :func:`dpsynth.privacy.accounting.pld_interval`).
_SEARCH_INTERVAL = 1e-3
#: Largest budget ε that calibrate() searches a σ for (ε = 10⁵ needed > 5 GiB of PLD grid).
_MAX_CALIBRATED_EPSILON = 1000.0


@dataclass(frozen=True)
class Stage:
    """One training stage of a fit.

    Args:
        name: The ledger step name (e.g. ``"tldm.autoencoder"``).
        config: Its DP-SGD hyper-parameters.
        sample_rate: Poisson sampling probability q (batch size over the DP row count).
        share: Its share of the budget among the stages whose σ is calibrated (> 0).
    """

    name: str
    config: DPSGDConfig
    sample_rate: float
    share: float = 1.0


def sample_rate_for(batch_size: int, rows: float) -> float:
    """The sample rate q = expected batch size / row count, capped at 1 (``rows`` must be DP or public)."""
    return float(min(1.0, batch_size / max(float(rows), 1.0)))


def sensitivity(config: DPSGDConfig) -> float:
    """The L2 sensitivity of one step's aggregate (see the module docstring)."""
    c = float(config.max_grad_norm)
    if config.clipping == "per_sample":
        return c
    if config.clipping == "batch":
        return 2.0 * c
    c2 = c if config.error_max_norm is None else float(config.error_max_norm)
    return c + 2.0 * config.batch_size * c2


def mechanism(config: DPSGDConfig, noise_multiplier: float, sample_rate: float) -> SubsampledGaussianMechanism:
    """The release of one whole run, for the accountant."""
    q = 1.0 if config.clipping == "error_feedback" else sample_rate
    return SubsampledGaussianMechanism(
        noise_multiplier=float(noise_multiplier), sample_rate=float(q), steps=int(config.steps),
        sensitivity=sensitivity(config),
    )


def warn_about(config: DPSGDConfig) -> None:
    """Warn about clipping modes whose cost or analysis the user should know of."""
    if config.clipping == "batch":
        warnings.warn(
            "Batch clipping (as in DP-TLDM) has sensitivity 2C per step instead of C for a sum of "
            f"per-sample clipped gradients: at equal epsilon its noise is about {2 * config.batch_size}× "
            "larger relative to the gradient. Prefer clipping='per_sample'.",
            UserWarning,
            stacklevel=3,
        )
    elif config.clipping == "error_feedback":
        warnings.warn(
            "clipping='error_feedback' (DiceSGD) is experimental: its privacy is accounted with a sound but "
            "loose bound (every step a full Gaussian of sensitivity C1 + 2·B·C2), not the paper's theorem, "
            "which is not yet verified here.",
            UserWarning,
            stacklevel=3,
        )


def calibrate(accountant: Accountant, stages: Sequence[Stage]) -> list[float]:
    """Noise multipliers for ``stages`` that spend what is left of the budget (and no more).

    Stages whose config fixes ``noise_multiplier`` keep it; the others share the rest.
    Nothing is charged: each stage is charged when it starts training.

    Raises:
        BudgetExceededError: If the fixed stages alone exceed the budget, if nothing is left,
            or if a calibrated σ exceeds its ``max_noise_multiplier`` (the budget cannot
            pay for that many steps at a useful noise level).
    """
    from dpsynth.progress import track

    # A search over PLD compositions: seconds to minutes, shown as a task of unknown length.
    with track("calibrating DP-SGD noise (PLD accounting)", None):
        return _calibrate(accountant, stages)


def _calibrate(accountant: Accountant, stages: Sequence[Stage]) -> list[float]:
    if not stages:
        return []
    for s in stages:
        s.config.validate()
        if not (isinstance(s.share, int | float) and math.isfinite(s.share) and s.share > 0):
            raise InvalidParameterError(f"The share of stage {s.name!r} must be > 0. Got {s.share!r}.")
        if not 0.0 < s.sample_rate <= 1.0:
            raise InvalidParameterError(f"The sample rate of stage {s.name!r} must be in (0, 1]. Got {s.sample_rate!r}.")
    target = accountant.budget.epsilon
    if target > _MAX_CALIBRATED_EPSILON:
        raise InvalidParameterError(
            f"DP-SGD noise is calibrated for epsilon up to {_MAX_CALIBRATED_EPSILON:g}; got {target:g}, which "
            "protects nothing (and the privacy-loss distribution of the tiny noise it needs would not fit in "
            "memory). Lower epsilon, or fix noise_multiplier in the config."
        )
    fixed = {i: float(s.config.noise_multiplier) for i, s in enumerate(stages) if s.config.noise_multiplier is not None}
    free = [i for i in range(len(stages)) if i not in fixed]
    total_share = sum(stages[i].share for i in free)

    def sigmas(lam: float) -> list[float]:
        out = []
        for i, s in enumerate(stages):
            if i in fixed:
                out.append(fixed[i])
            else:
                q = 1.0 if s.config.clipping == "error_feedback" else s.sample_rate
                out.append(lam * q * math.sqrt(s.config.steps / (s.share / total_share)))
        return out

    cache: dict[tuple[float, float], float] = {}

    search_interval = min(_SEARCH_INTERVAL * max(1.0, target / 10.0), 1e-1)

    def eps(lam: float, interval: float = search_interval) -> float:
        if (lam, interval) not in cache:
            mechs = [mechanism(s.config, sig, s.sample_rate) for s, sig in zip(stages, sigmas(lam), strict=True)]
            cache[lam, interval] = accountant.epsilon_with(mechs, value_discretization_interval=interval)
        return cache[lam, interval]

    what = ", ".join(f"{s.name} ({s.config.steps} steps)" for s in stages)
    if not free:
        if eps(1.0, 1e-4) > target * (1 + 1e-9):
            raise BudgetExceededError(
                f"Training {what} at the given noise multipliers does not fit in the budget "
                f"(ε = {target:g}, δ = {accountant.budget.delta:g}). Nothing was released; raise epsilon, "
                "lower the number of steps or the batch size, or raise noise_multiplier."
            )
        return sigmas(1.0)
    huge = 1e6
    if accountant.epsilon_with([]) >= target or eps(huge) > target:
        raise BudgetExceededError(
            f"The budget is exhausted before training {what}: what earlier steps spent leaves nothing "
            "for DP-SGD. Nothing was released; raise epsilon."
        )
    # Gaussian-DP guess μ_total = 1/λ (see the module docstring), a bracket, then the Illinois
    # variant of regula falsi on log ε against log λ (a few PLD evaluations instead of ~15).
    mu = fdp.mu_for_epsilon(target, accountant.budget.delta)
    hi = 1.0 / mu
    f_hi = eps(hi)
    while f_hi > target:
        hi, f_hi = hi * 2.0, eps(hi * 2.0)
    lo, f_lo = hi / 2.0, eps(hi / 2.0)
    while f_lo <= target:
        hi, f_hi = lo, f_lo
        lo, f_lo = lo / 2.0, eps(lo / 2.0)
    # Invariant: eps(lo) > target >= eps(hi); answer in [lo, hi].
    g_lo, g_hi = math.log(f_lo / target), math.log(max(f_hi, 1e-300) / target)
    side = 0
    for _ in range(60):
        if hi / lo <= 1.0 + 2e-4 or (g_hi > -5e-4):
            break
        x_lo, x_hi = math.log(lo), math.log(hi)
        x = x_hi - g_hi * (x_hi - x_lo) / (g_hi - g_lo) if g_hi != g_lo else 0.5 * (x_lo + x_hi)
        x = min(max(x, x_lo + 1e-3 * (x_hi - x_lo)), x_hi - 1e-3 * (x_hi - x_lo))
        mid = math.exp(x)
        g = math.log(max(eps(mid), 1e-300) / target)
        if g <= 0:
            hi, g_hi = mid, g
            if side == 1:
                g_lo /= 2.0
            side = 1
        else:
            lo, g_lo = mid, g
            if side == -1:
                g_hi /= 2.0
            side = -1
    out = sigmas(hi)
    for s, sig in zip(stages, out, strict=True):
        if sig > s.config.max_noise_multiplier:
            raise BudgetExceededError(
                f"Stage {s.name!r} would need noise_multiplier {sig:.4g} (above max_noise_multiplier = "
                f"{s.config.max_noise_multiplier:g}) to fit {s.config.steps} steps in the budget; the model "
                "would learn nothing. Nothing was released; raise epsilon, or lower steps or the batch size."
            )
    return out
