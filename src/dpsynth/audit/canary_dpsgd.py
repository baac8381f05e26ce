"""One-run canary audit of dpsynth's DP-SGD trainer with Dirac gradient canaries.

Steinke, Nasr and Jagielski (NeurIPS 2023, "Privacy Auditing with One (1) Training Run")
audit a training run by inserting m canaries, each independently with probability ½, and
guessing from the trained model which ones were in (:mod:`dpsynth.audit.canary` holds the
statistics). This module runs that audit in the white-box setting of their Section 7 with
"Dirac" gradient canaries, on the production code path:

* The private table has one categorical column, ``"record"``. Canary j is a row with value
  ``canary_j``; ``n_ordinary`` ordinary rows take one of :data:`ORDINARY_WIDTH` other values.
  The table goes through :class:`~dpsynth.data.private.PrivateData`, whose
  :meth:`~dpsynth.data.private.PrivateData.encoded_rows` one-hot encodes it with a public
  encoder built from the domain, so canary j's encoded row is the unit vector e_j.
* The model is a linear map w ∈ R^d (d = m + :data:`ORDINARY_WIDTH`) started at 0, and a
  row x has loss −C·⟨w, x⟩. Canary j's gradient is therefore exactly −C·e_j: norm C, so
  clipping at C leaves it unchanged, and no other row touches coordinate j.
* :class:`~dpsynth.dpsgd.PrivateTrainer` trains it with plain SGD (learning rate 1, no
  momentum, no weight decay): Poisson sampling, clipping (Opacus ghost clipping by
  default), Gaussian noise and the accountant's charge are all the production code.

Gradient descent moves w along +C·e_j whenever canary j is in the batch, so after T steps
w[j] = (C·N_j + Σ_t Z_{t,j}) / B, where N_j is the number of steps whose Poisson sample held
canary j (0 when it was left out), Z the noise (standard deviation σC) and B the expected
batch size. The score of canary j is w[j] (``observe="final"``: only the final model is
seen). With ``observe="all_steps"`` the
auditor also sees every intermediate model (the threat model DP-SGD's accounting covers)
and scores each canary by the log-likelihood ratio of its per-step updates under
"included" versus "excluded", for the configured σ and q; any score fixed before the
inclusion bits are looked at gives a valid bound.

Guesses. For each k of a small grid fixed by m alone (by default 1%, 2.5%, 5%, 10%, 25% and
50% of m), the auditor guesses "in" for the k highest scores and "out" for the k lowest
(r = 2k guesses) and computes the one-run lower bound at level α / (grid size). The
reported bound is the largest over the grid: by a Bonferroni (union) bound it holds with
confidence at least 1 − α although the best k was picked after seeing the scores.

Neighbouring relation. The one-run bound is for adding or removing one canary with every
canary's inclusion random; DP-SGD with Poisson sampling is DP under add/remove one row, so
the claim and the audit speak of the same neighbours. The sample rate q and the expected
batch size are fixed from m/2 + n (the expected table size), never from the inclusion bits.

What to expect. The accountant's ε covers an adversary who sees every intermediate model
and picks the worst pair of neighbours; a one-run audit with m = 1,000 canaries cannot
certify more than about 5 even when every guess is right, and the final-model view loses
further information when q < 1. Bounds well below the claim (e.g. 1–2.5 for a claimed
ε = 8) are the expected outcome of a correct trainer: "consistent" means that no leak
beyond the claim was found, not that the claim is tight. A bound above the claim is a
real violation at confidence 1 − α.

Positive control. ``actual_noise_multiplier`` trains with a σ other than the one the
claim is computed for: the claim is the accountant's ε for the σ calibrated to the budget,
while the trainer (constructed with the actual σ) adds that noise and honestly charges a
separate, unlimited accountant for it (reported as ``epsilon_charged``). A σ far below the
claimed one is a mis-scaled mechanism, which the audit must flag.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import numpy as np

from dpsynth.audit.canary import OneRunAudit, audit_one_run
from dpsynth.audit.epsilon import Verdict
from dpsynth.errors import InvalidParameterError, check_positive
from dpsynth.privacy import Accountant, NoiseSource, PrivacyBudget
from dpsynth.privacy.random import RandomState, make_rng

Observe = Literal["final", "all_steps"]

#: Coordinates (one-hot categories) shared by the ordinary, non-canary rows.
ORDINARY_WIDTH = 16
#: Default guess sizes k, as fractions of m (the grid is fixed before any score is seen).
K_FRACTIONS: tuple[float, ...] = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5)
#: Budget of the accountant that records a positive control's actual σ (any finite ε fits).
_UNLIMITED_EPSILON = 1e12

_OWNER = "audit_dpsgd_canaries"


@dataclass(frozen=True)
class DPSGDCanaryAudit:
    """The outcome of a one-run Dirac-canary audit of the DP-SGD trainer.

    Attributes:
        audit: The :class:`OneRunAudit` of the k with the largest bound (its ``alpha`` is
            the per-k level α / len(k_values)).
        audits: One :class:`OneRunAudit` per k of ``k_values``, in that order.
        k_values: The guess sizes tried (k "in" and k "out" guesses each).
        alpha: The overall level: the bound holds with confidence ≥ 1 − alpha.
        epsilon_claimed: The ε the trainer's accountant states at ``delta`` for σ =
            ``noise_multiplier``.
        delta: The δ of the claim and of the bound.
        epsilon_charged: ε at ``delta`` that the trainer charged for the run it actually did
            (equal to ``epsilon_claimed`` unless ``actual_noise_multiplier`` was given).
        noise_multiplier: σ the claim is computed for (calibrated to the budget).
        actual_noise_multiplier: σ the trainer added (a positive control when it differs).
        sample_rate: Poisson sampling rate q.
        steps: Optimizer steps T.
        max_grad_norm: Clipping norm C.
        expected_batch_size: B, what noisy gradient sums were divided by.
        m: Canaries.
        n_ordinary: Ordinary (non-canary) rows.
        observe: ``"final"`` or ``"all_steps"`` (what the auditor scored).
        seconds: Wall time of the whole audit (calibration, training and statistics).
        interpretation: A plain-language reading of the verdict.
    """

    audit: OneRunAudit
    audits: tuple[OneRunAudit, ...]
    k_values: tuple[int, ...]
    alpha: float
    epsilon_claimed: float
    delta: float
    epsilon_charged: float
    noise_multiplier: float
    actual_noise_multiplier: float
    sample_rate: float
    steps: int
    max_grad_norm: float
    expected_batch_size: float
    m: int
    n_ordinary: int
    observe: Observe
    seconds: float
    interpretation: str = field(default="")

    @property
    def epsilon_lb(self) -> float:
        """The lower bound on ε at confidence 1 − ``alpha`` (largest over ``k_values``)."""
        return self.audit.epsilon_lb

    @property
    def verdict(self) -> Verdict:
        """``"violation"`` if the bound exceeds the claimed ε, else ``"consistent"``."""
        return "violation" if self.epsilon_lb > self.epsilon_claimed else "consistent"

    @property
    def r(self) -> int:
        """Guesses made at the chosen k."""
        return self.audit.r

    @property
    def v(self) -> int:
        """Correct guesses at the chosen k."""
        return self.audit.v

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (with ``epsilon_lb`` and ``verdict``)."""
        d = asdict(self)
        d["epsilon_lb"] = self.epsilon_lb
        d["verdict"] = self.verdict
        return d


def default_k_values(m: int) -> tuple[int, ...]:
    """The guess sizes tried by default: 1%, 2.5%, 5%, 10%, 25% and 50% of m (at least 1).

    Args:
        m: Number of canaries (>= 2).

    Returns:
        Distinct k with 1 <= k and 2k <= m, increasing.
    """
    _check_int(m, "m", minimum=2)
    return tuple(sorted({min(m // 2, max(1, round(f * m))) for f in K_FRACTIONS}))


def audit_dpsgd_canaries(
    budget: PrivacyBudget | tuple[float, float] | float,
    *,
    m: int = 1000,
    n_ordinary: int = 0,
    sample_rate: float = 0.5,
    steps: int = 20,
    max_grad_norm: float = 1.0,
    grad_sample_mode: Literal["ghost", "hooks", "functorch"] = "ghost",
    k_values: Sequence[int] | None = None,
    alpha: float = 0.05,
    observe: Observe = "final",
    actual_noise_multiplier: float | None = None,
    threads: int | None = None,
    random_state: RandomState = None,
) -> DPSGDCanaryAudit:
    """Audit :class:`~dpsynth.dpsgd.PrivateTrainer` with m Dirac gradient canaries in one run.

    σ is calibrated so that the run spends ``budget`` exactly (as :func:`dpsynth.dpsgd.train`
    does); the claimed ε is what the accountant then states at the budget's δ. See the module
    docstring for the construction and for how to read the result.

    Privacy:
        This is an audit, not a release: it builds its own table of canaries and, with a
        seed, its noise is reproducible. The trainer is charged exactly as in a fit (T
        Poisson-subsampled Gaussian steps, add/remove one row, sensitivity C); the one-run
        bound is for add/remove one canary (Steinke et al. 2023, Thm. 5.2).

    Args:
        budget: The (ε, δ) the trainer is calibrated to and claims: a PrivacyBudget, an
            (epsilon, delta) pair, or a bare ε (δ = 1e-9, dpsynth's default).
        m: Number of canaries (>= 2); each is included with probability ½.
        n_ordinary: Ordinary rows (always included), whose gradients live on other coordinates.
        sample_rate: Poisson sampling rate q in (0, 1]. The expected batch size is
            q · (m/2 + n_ordinary), which never depends on the inclusion bits.
        steps: Optimizer steps T.
        max_grad_norm: Clipping norm C (each canary's gradient has norm exactly C).
        grad_sample_mode: How the trainer clips (see :class:`~dpsynth.dpsgd.DPSGDConfig`).
        k_values: Guess sizes k (k "in" and k "out" guesses each; 1 <= k, 2k <= m), fixed in
            advance. Default :func:`default_k_values`. The level α is split evenly among them.
        alpha: One minus the confidence of the bound.
        observe: ``"final"`` (score = final w[j]) or ``"all_steps"`` (score = log-likelihood
            ratio of canary j's per-step updates).
        actual_noise_multiplier: FOR POSITIVE CONTROLS ONLY. Train with this σ instead of
            the calibrated one, while the claim stays the accountant's ε for the calibrated
            σ; the trainer still charges what it actually does, to a separate unlimited
            accountant. Values below about 0.2 make that charge slow to compute
            (privacy-loss distributions grow like 1/σ²); 0.3–0.5 is ample to be caught.
        threads: Torch CPU threads (default :func:`dpsynth.dpsgd.default_threads`).
        random_state: Seed for the inclusion bits (the auditor's randomness) and, from the
            same seed, for the trainer's noise. None: both from the operating system.

    Returns:
        A :class:`DPSGDCanaryAudit`.

    Raises:
        InvalidParameterError: For an invalid budget, m < 2, a k with 2k > m, a sample rate
            outside (0, 1], or any other bad argument.
        BudgetExceededError: If no noise multiplier up to the trainer's maximum meets the
            budget (too many steps for ε).
    """
    t0 = time.perf_counter()
    from dpsynth.synth.base import as_budget

    budget = as_budget(budget)
    _check_int(m, "m", minimum=2)
    _check_int(n_ordinary, "n_ordinary", minimum=0)
    _check_int(steps, "steps", minimum=1)
    m, n_ordinary, steps = int(m), int(n_ordinary), int(steps)
    if (
        isinstance(sample_rate, bool)
        or not isinstance(sample_rate, int | float)
        or not 0.0 < sample_rate <= 1.0
    ):
        raise InvalidParameterError(
            f"The 'sample_rate' parameter of {_OWNER} must be in (0, 1]. Got {sample_rate!r} instead."
        )
    check_positive(max_grad_norm, "max_grad_norm", _OWNER)
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0.0 < alpha < 1.0:
        raise InvalidParameterError(
            f"The 'alpha' parameter of {_OWNER} must be in (0, 1). Got {alpha!r} instead."
        )
    if observe not in ("final", "all_steps"):
        raise InvalidParameterError(
            f"The 'observe' parameter of {_OWNER} must be one of final, all_steps. Got {observe!r} instead."
        )
    if actual_noise_multiplier is not None:
        check_positive(actual_noise_multiplier, "actual_noise_multiplier", _OWNER)
    ks = _k_values(k_values, m)

    # Torch (and Opacus) load only once the arguments are known to be good.
    import torch

    from dpsynth.dpsgd import (
        DPSGDConfig,
        PrivateTrainer,
        Stage,
        calibrate,
        mechanism,
        torch_threads,
    )

    expected_batch = float(sample_rate) * (m / 2.0 + n_ordinary)
    config = DPSGDConfig(
        steps=steps,
        batch_size=max(1, round(expected_batch)),
        max_grad_norm=float(max_grad_norm),
        clipping="per_sample",
        lr=1.0,
        optimizer="sgd",
        weight_decay=0.0,
        grad_sample_mode=grad_sample_mode,
    )
    config.validate(_OWNER)

    # The auditor's randomness (inclusion bits) and the trainer's noise, both from one seed.
    rng = make_rng(random_state)
    included = rng.random(m) < 0.5
    seeded = random_state is not None
    noise = NoiseSource(int(rng.integers(2**63)) if seeded else None)

    claim = Accountant(budget, seeded=seeded)
    (sigma,) = calibrate(claim, [Stage("audit.canary_dpsgd", config, float(sample_rate))])
    if actual_noise_multiplier is None:
        accountant, sigma_actual = claim, sigma
    else:
        accountant = Accountant(PrivacyBudget(_UNLIMITED_EPSILON, budget.delta), seeded=seeded)
        sigma_actual = float(actual_noise_multiplier)

    rows = _canary_table(included, n_ordinary).bind(accountant, noise).encoded_rows(_one_hot(m))
    trainer = PrivateTrainer(
        rows,
        config,
        noise_multiplier=sigma_actual,
        sample_rate=float(sample_rate),
        step="audit.canary_dpsgd",
        description=f"one-run canary audit, {m} Dirac canaries, C={max_grad_norm:g}",
        expected_batch_size=float(config.batch_size),
    )
    model = torch.nn.Linear(m + ORDINARY_WIDTH, 1, bias=False)
    with torch.no_grad():
        model.weight.zero_()

    def loss_fn(model: torch.nn.Module, batch: torch.Tensor) -> torch.Tensor:
        # Gradient of row x is −C·x: −C·e_j for canary j, norm exactly C.
        return -float(max_grad_norm) * model(batch).squeeze(-1)

    updates = np.zeros((steps, m)) if observe == "all_steps" else None
    with torch_threads(threads):
        run = trainer.start(model, loss_fn)
        try:
            for t in range(steps):
                if updates is None:
                    run.step()
                    continue
                before = model.weight.detach()[0, :m].double().clone()
                run.step()
                updates[t] = (model.weight.detach()[0, :m].double() - before).numpy()
        finally:
            run.finish()
    w = model.weight.detach()[0, :m].double().numpy()

    epsilon_charged = accountant.epsilon()
    if actual_noise_multiplier is None:
        epsilon_claimed = epsilon_charged
    else:
        epsilon_claimed = claim.epsilon_with([mechanism(config, sigma, float(sample_rate))])

    if updates is None:
        scores = w
    else:
        # Per-step update of coordinate j in units of C: 1 + N(0, σ²) if sampled, else N(0, σ²).
        x = updates * config.batch_size / float(max_grad_norm)
        scores = _log_likelihood_ratio(x, q=float(sample_rate), sigma=sigma)

    level = alpha / len(ks)
    audits = tuple(
        audit_one_run(
            scores,
            included,
            k_pos=k,
            k_neg=k,
            delta=budget.delta,
            alpha=level,
            epsilon_claimed=epsilon_claimed,
        )
        for k in ks
    )
    best = max(audits, key=lambda a: a.epsilon_lb)
    result = DPSGDCanaryAudit(
        audit=best,
        audits=audits,
        k_values=ks,
        alpha=float(alpha),
        epsilon_claimed=float(epsilon_claimed),
        delta=budget.delta,
        epsilon_charged=float(epsilon_charged),
        noise_multiplier=float(sigma),
        actual_noise_multiplier=float(sigma_actual),
        sample_rate=float(sample_rate),
        steps=steps,
        max_grad_norm=float(max_grad_norm),
        expected_batch_size=float(config.batch_size),
        m=m,
        n_ordinary=n_ordinary,
        observe=observe,
        seconds=time.perf_counter() - t0,
    )
    return _with_interpretation(result)


def _with_interpretation(res: DPSGDCanaryAudit) -> DPSGDCanaryAudit:
    head = (
        f"ε_lb = {res.epsilon_lb:.3g} at {100 * (1 - res.alpha):g}% confidence "
        f"({res.v}/{res.r} guesses right, k = {res.audit.k_pos}) against claimed ε = {res.epsilon_claimed:.3g} "
        f"(δ = {res.delta:g}). "
    )
    if res.verdict == "violation":
        text = head + (
            "VIOLATION: the trained model reveals canary membership beyond what the claim allows; "
            "the noise added or the accounting is wrong."
        )
        if res.actual_noise_multiplier != res.noise_multiplier:
            text += (
                f" (Positive control: trained with σ = {res.actual_noise_multiplier:.3g}, claim computed for "
                f"σ = {res.noise_multiplier:.3g}.)"
            )
    else:
        text = head + (
            "Consistent: no leak beyond the claim was found. This does not show the claim is tight: a "
            f"one-run audit with {res.m} canaries and "
            + ("only the final model" if res.observe == "final" else "every intermediate model")
            + " is expected to give a bound well below the accountant's ε (Steinke, Nasr, Jagielski 2023)."
        )
    return replace(res, interpretation=text)


def _log_likelihood_ratio(x: np.ndarray, *, q: float, sigma: float) -> np.ndarray:
    """Σ_t log[(1 − q)·N(x_t; 0, σ²) + q·N(x_t; 1, σ²)] − log N(x_t; 0, σ²), per column."""
    shift = (2.0 * x - 1.0) / (2.0 * sigma**2)
    if q >= 1.0:
        return shift.sum(axis=0)
    return np.logaddexp(math.log1p(-q), math.log(q) + shift).sum(axis=0)


def _canary_table(included: np.ndarray, n_ordinary: int) -> Any:
    """The private table: one ``record`` column holding the included canaries and ordinary rows."""
    import pandas as pd

    from dpsynth.data.domain import Column, Domain
    from dpsynth.data.private import PrivateData

    m = len(included)
    names = _category_names(m)
    values = [names[j] for j in np.flatnonzero(included)]
    values += [names[m + i % ORDINARY_WIDTH] for i in range(n_ordinary)]
    domain = Domain(
        [Column("record", "categorical", categories=tuple(names))], name="dirac_canaries"
    )
    # The auditor built the table from the domain itself: nothing to validate.
    return PrivateData(
        pd.DataFrame({"record": pd.Series(values, dtype=object)}), domain, validate_data=False
    )


def _category_names(m: int) -> list[str]:
    return [f"canary_{j}" for j in range(m)] + [f"ordinary_{i}" for i in range(ORDINARY_WIDTH)]


def _one_hot(m: int) -> Any:
    """The public encoder: one-hot over the domain's categories (canary j → e_j)."""
    index = {name: i for i, name in enumerate(_category_names(m))}
    width = len(index)

    def encode(frame: Any) -> np.ndarray:
        codes = np.fromiter((index[v] for v in frame["record"]), dtype=np.int64, count=len(frame))
        out = np.zeros((len(codes), width), dtype=np.float32)
        out[np.arange(len(codes)), codes] = 1.0
        return out

    return encode


def _check_int(value: object, name: str, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise InvalidParameterError(
            f"The {name!r} parameter of {_OWNER} must be an integer >= {minimum}. Got {value!r} instead."
        )


def _k_values(k_values: Sequence[int] | None, m: int) -> tuple[int, ...]:
    if k_values is None:
        return default_k_values(m)
    ks = tuple(k_values)
    bad = [
        k
        for k in ks
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= m // 2
    ]
    if not ks or bad:
        raise InvalidParameterError(
            f"The 'k_values' parameter of {_OWNER} must list guess sizes k with 1 <= k and 2k <= m = {m} "
            f"(k 'in' and k 'out' guesses each). Got {list(ks)!r}; bad: {bad!r}."
        )
    return tuple(sorted({int(k) for k in ks}))
