"""The privacy budget and the accountant every private answer of a fit is charged through.

One :class:`Accountant` per fit. ``charge`` is called *before* noise is drawn; it raises
:class:`~dpsynth.errors.BudgetExceededError` if the release would take the fit past its
budget, and otherwise records the release in the ledger. The marginal-based generators
compose in zero-concentrated DP (ρ adds up); the headline ε is the tight zCDP → (ε, δ)
conversion. Fits with subsampled DP-SGD steps compose privacy-loss distributions (PLDs).
Where every release has an exact PLD (discrete Gaussian counts, whose PLD is built from
the discrete noise itself, not from the continuous Gaussian; subsampled Gaussian steps),
the report adds the f-DP trade-off curve of their composition, its separation κ and its
ε(δ); no mechanism here is exactly μ-GDP, so μ is only a summary of that curve.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import dp_accounting
import numpy as np
from dp_accounting.pld import PLDAccountant
from dp_accounting.rdp import RdpAccountant

from dpsynth.errors import BudgetExceededError, InvalidParameterError, check_positive
from dpsynth.privacy import fdp, zcdp
from dpsynth.privacy.mechanisms import DiscreteGaussianDpEvent, Mechanism

# Relative slack for floating-point round-off when a method spends exactly its budget.
_SLACK = 1e-9
#: Largest spent zCDP ε at which a zCDP fit's report still computes the f-DP curve from PLDs.
_MAX_FDP_EPSILON = 100.0


@dataclass(frozen=True)
class PrivacyBudget:
    """A privacy budget (ε, δ) under add/remove-one-row neighbouring.

    Args:
        epsilon: ε > 0.
        delta: 0 < δ < 1; should be well below 1/n for n rows.
    """

    epsilon: float
    delta: float = 1e-9

    def __post_init__(self) -> None:
        check_positive(self.epsilon, "epsilon", "PrivacyBudget")
        if (
            isinstance(self.delta, bool)
            or not isinstance(self.delta, int | float)
            or not (0.0 < self.delta < 1.0)
        ):
            raise InvalidParameterError(
                f"The 'delta' parameter of PrivacyBudget must be in (0, 1). Got {self.delta!r} "
                "instead. Pick delta far below 1/n (e.g. 1e-9)."
            )

    @property
    def rho(self) -> float:
        """The zCDP budget ρ equivalent to (ε, δ) under the tight conversion."""
        return zcdp.rho_for(self.epsilon, self.delta)

    def split(self, share: float) -> tuple[float, float]:
        """Split ρ into (share·ρ, (1 − share)·ρ), for a declared sub-budget such as domain inference."""
        if not 0.0 < share < 1.0:
            raise InvalidParameterError(f"A budget share must be in (0, 1). Got {share!r}.")
        return share * self.rho, (1.0 - share) * self.rho


@dataclass(frozen=True)
class LedgerEntry:
    """One charged release: what was measured, by which step, at what noise."""

    step: str
    description: str
    mechanism: str
    noise_scale: float
    count: int
    rho: float | None
    mu: float | None
    time: float
    delta: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


@dataclass
class PrivacyReport:
    """What a fit spent, in every currency we can state soundly.

    Attributes:
        epsilon: ε at ``delta`` (tight zCDP conversion of the spent ρ).
        delta: The δ of the budget.
        rho: zCDP ρ spent (None when a release has no zCDP bound, e.g. subsampled Gaussian
            steps, whose composition is then accounted with privacy-loss distributions).
        mu: A summary, not a guarantee: the Gaussian-DP μ whose curve has the same ε at δ
            as ``tradeoff`` (``epsilon_gdp``), given only when that μ-GDP curve stays within
            0.02 of ``tradeoff`` (the composition is Gaussian-like) and no δ₀ was spent;
            else None. The guarantee is ``tradeoff`` (and ε).
        epsilon_gdp: ε at δ of the exact privacy-loss distribution of the composition, where
            ``tradeoff`` is given and no δ₀ was spent (for a zCDP fit it is tighter than the
            headline ``epsilon``, which is the one charged against the budget); else None.
        kappa: Separation κ of ``tradeoff`` from random guessing, where it is given.
        budget_epsilon: The ε of the budget.
        seeded: True when noise came from a seed: such a fit is not for release.
        ledger: Every charge.
        notes: Human-readable remarks (inferred metadata, warnings).
        tradeoff: Where every release has an exact privacy-loss distribution (discrete
            Gaussian counts and subsampled Gaussian steps, but not the exponential
            mechanism nor the lattice Gaussian), the f-DP trade-off curve of their
            composition computed from the PLD's privacy profile (plus any δ₀), as
            ``[[α, β], …]`` pairs: a sound lower bound on an attacker's type II error. None
            otherwise, and for zCDP fits that spent ε > 100 (the curve would say nothing).
    """

    epsilon: float
    delta: float
    rho: float | None
    mu: float | None
    epsilon_gdp: float | None
    kappa: float | None
    budget_epsilon: float
    seeded: bool
    ledger: list[LedgerEntry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tradeoff: list[list[float]] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        d = {k: v for k, v in asdict(self).items() if k != "ledger"}
        d["ledger"] = [e.to_dict() for e in self.ledger]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PrivacyReport:
        """Inverse of :meth:`to_dict`."""
        d = dict(d)
        d["ledger"] = [LedgerEntry(**e) for e in d.get("ledger", [])]
        return cls(**d)

    @property
    def within_budget(self) -> bool:
        """Whether the spent ε is within the budget's ε."""
        return self.epsilon <= self.budget_epsilon * (1 + 1e-6)

    def summary(self) -> str:
        """One-paragraph plain-text summary."""
        parts = [f"(ε = {self.epsilon:.4g}, δ = {self.delta:.3g})-DP"]
        if self.rho is not None:
            parts.append(f"ρ = {self.rho:.4g} zCDP")
        if self.kappa is not None:
            near = "" if self.mu is None else f", close to μ = {self.mu:.4g} GDP"
            parts.append(f"f-DP curve from exact privacy-loss distributions (κ = {self.kappa:.4g}{near})")
        text = (
            "; ".join(parts) + f"; {len(self.ledger)} charges, budget ε = {self.budget_epsilon:g}."
        )
        if self.seeded:
            text += " Noise was seeded: NOT FOR RELEASE."
        return text

    def _repr_html_(self) -> str:
        """Rich display in Jupyter: the guarantee, the ledger and the notes."""
        from dpsynth import _notebook as nb

        currencies = [("ε at δ", self.epsilon, f"δ = {self.delta:g}"),
                      ("zCDP ρ", self.rho, ""), ("Gaussian-DP μ", self.mu, ""),
                      ("ε from μ-GDP", self.epsilon_gdp, ""), ("separation κ", self.kappa, "")]
        ledger = [(e.step, e.mechanism, e.noise_scale, e.count, e.rho) for e in self.ledger]
        return nb.card(
            "Privacy guarantee",
            nb.paragraph(self.summary()),
            nb.table(["currency", "value", ""], [c for c in currencies if c[1] is not None]),
            nb.table(["step", "mechanism", "noise scale", "releases", "ρ"], ledger),
            nb.bullets(self.notes),
            warning="Noise was seeded: NOT FOR RELEASE." if self.seeded else None,
        )


class Accountant:
    """The running ledger of one fit against its budget.

    Args:
        budget: The fit's (ε, δ) budget.
        seeded: Whether the fit's noise is seeded (then the report says it is not for release).
    """

    def __init__(self, budget: PrivacyBudget, *, seeded: bool = False) -> None:
        if not isinstance(budget, PrivacyBudget):
            raise InvalidParameterError(
                f"Accountant needs a PrivacyBudget. Got {type(budget).__name__} instead."
            )
        self.budget = budget
        self.seeded = seeded
        self._ledger: list[LedgerEntry] = []
        self._events: list[dp_accounting.DpEvent | None] = []
        self.notes: list[str] = []

    @property
    def ledger(self) -> list[LedgerEntry]:
        """A copy of the ledger."""
        return list(self._ledger)

    @property
    def delta_spent(self) -> float:
        """δ₀ charged by approximate-zCDP releases (e.g. thresholded histograms)."""
        return math.fsum(e.delta for e in self._ledger)

    @property
    def rho_budget(self) -> float:
        """The ρ the budget allows, given the δ₀ already charged.

        Approximate zCDP composes as (Σρ, Σδ₀) and converts to (ε, δ) at δ − Σδ₀
        (Bun & Steinke 2016, Def. 8).
        """
        return self._rho_budget_for(self.delta_spent)

    def _rho_budget_for(self, delta0: float) -> float:
        left = self.budget.delta - delta0
        if left <= 0:
            return 0.0
        return zcdp.rho_for(self.budget.epsilon, left)

    @property
    def rho_spent(self) -> float:
        """Total zCDP ρ charged so far."""
        return math.fsum(e.rho for e in self._ledger if e.rho is not None)

    @property
    def zcdp_only(self) -> bool:
        """Whether every charge so far has a zCDP cost (then ρ composes exactly by addition)."""
        return all(e.rho is not None for e in self._ledger)

    @property
    def rho_remaining(self) -> float:
        """ρ still available."""
        return max(0.0, self.rho_budget - self.rho_spent)

    def can_afford(self, mechanism: Mechanism, count: int = 1, *, delta: float = 0.0) -> bool:
        """Whether ``count`` releases of ``mechanism`` (and δ₀ = ``delta``) fit in the budget."""
        if mechanism.rho is not None and self.zcdp_only:
            limit = self._rho_budget_for(self.delta_spent + delta)
            return self.rho_spent + count * mechanism.rho <= limit * (1 + _SLACK)
        events = [*self._events, _repeat(mechanism.event, count)]
        left = self.budget.delta - self.delta_spent - delta
        return left > 0 and pld_epsilon(_require_events(events), left, self._interval) <= self.budget.epsilon * (1 + _SLACK)

    def charge(
        self,
        mechanism: Mechanism,
        *,
        step: str,
        count: int = 1,
        description: str = "",
        delta: float = 0.0,
    ) -> None:
        """Record ``count`` releases of ``mechanism``, or refuse before anything is released.

        Args:
            mechanism: What is about to be released.
            step: The algorithm step asking (e.g. ``"aim.measure"``).
            count: How many releases of this mechanism (e.g. one per marginal).
            description: What is measured, in public terms (column names, never data).
            delta: The δ₀ of an approximate-zCDP release (0 for plain zCDP mechanisms).

        Raises:
            BudgetExceededError: If the charge would exceed the budget. Nothing is recorded.
        """
        if count < 1:
            raise InvalidParameterError(f"A charge needs count >= 1. Got {count}.")
        if not 0.0 <= delta < self.budget.delta:
            raise InvalidParameterError(f"A charge's delta must be in [0, {self.budget.delta}). Got {delta}.")
        cost = None if mechanism.rho is None else count * mechanism.rho
        if not self.can_afford(mechanism, count, delta=delta):
            raise BudgetExceededError(
                f"Step {step!r} asks for {mechanism.describe()} × {count}, which does not fit in what "
                f"is left of (ε = {self.budget.epsilon:g}, δ = {self.budget.delta:g}) "
                f"(ρ left {self.rho_remaining:.4g} of {self.rho_budget:.4g}). Nothing was released; "
                "raise epsilon or lower the method's demands."
            )
        mu = mechanism.mu
        self._ledger.append(
            LedgerEntry(
                step=step,
                description=description,
                mechanism=mechanism.describe(),
                noise_scale=float(mechanism.noise_scale),
                count=int(count),
                rho=None if cost is None else float(cost),
                mu=None if mu is None else float(mu * math.sqrt(count)),
                time=time.time(),
                delta=float(delta),
            )
        )
        self._events.append(_repeat(mechanism.event, count))

    def epsilon(self, delta: float | None = None) -> float:
        """ε at ``delta`` (default: the budget's δ) of everything charged so far."""
        delta = self.budget.delta if delta is None else delta
        if self.zcdp_only:
            return zcdp.epsilon_for(self.rho_spent, delta - self.delta_spent)
        return pld_epsilon(_require_events(self._events), delta - self.delta_spent, self._interval)

    def report(self) -> PrivacyReport:
        """The privacy report of everything charged so far."""
        delta = self.budget.delta
        mu = eps_gdp = kappa = None
        tradeoff = None
        spent: float | None = None
        exact = bool(self._ledger) and all(e is not None for e in self._events)
        if exact and self.zcdp_only and self.epsilon() > _MAX_FDP_EPSILON:
            exact = False  # a curve at this ε says nothing, and its PLD grid would not fit in memory
        if exact:
            # Every release has an exact privacy-loss distribution (discrete Gaussian counts,
            # subsampled Gaussian steps): the f-DP curve, κ and ε(δ) come from their composition.
            mu, eps_gdp, kappa, tradeoff, eps_pld = pld_fdp(
                _require_events(self._events), delta, self.delta_spent, self._interval
            )
            spent = None if self.zcdp_only else eps_pld  # the same PLD epsilon() would compute
            if self.delta_spent > 0.0:
                mu = eps_gdp = None  # no pure Gaussian-DP statement once a δ₀ was spent
        if spent is None:
            spent = self.epsilon()
        return PrivacyReport(
            epsilon=spent,
            delta=delta,
            rho=self.rho_spent if self.zcdp_only else None,
            mu=mu,
            epsilon_gdp=eps_gdp,
            kappa=kappa,
            budget_epsilon=self.budget.epsilon,
            seeded=self.seeded,
            ledger=self.ledger,
            notes=list(self.notes),
            tradeoff=tradeoff,
        )

    @property
    def _interval(self) -> float:
        return pld_interval(self.budget.epsilon)

    def epsilon_with(self, mechanisms: Sequence[Mechanism], *, value_discretization_interval: float | None = None) -> float:
        """ε at the budget's δ if ``mechanisms`` were charged next (a dry run: nothing is recorded).

        Used to calibrate noise against what is left (e.g. the stages of a DP-SGD fit).
        Composes with privacy-loss distributions; a coarser ``value_discretization_interval``
        is faster and pessimistic (it never understates ε).
        """
        left = self.budget.delta - self.delta_spent
        if left <= 0:
            return math.inf
        if self.zcdp_only and all(m.rho is not None for m in mechanisms):
            # What charge() would then use: ρ adds up (see can_afford).
            return zcdp.epsilon_for(self.rho_spent + math.fsum(m.rho or 0.0 for m in mechanisms), left)
        events = _require_events([*self._events, *(m.event for m in mechanisms)])
        interval = self._interval if value_discretization_interval is None else value_discretization_interval
        return pld_epsilon(events, left, max(interval, self._interval))


def _repeat(event: dp_accounting.DpEvent | None, count: int) -> dp_accounting.DpEvent | None:
    if event is None or count == 1:
        return event
    return dp_accounting.SelfComposedDpEvent(event, count)


def _require_events(events: Sequence[dp_accounting.DpEvent | None]) -> list[dp_accounting.DpEvent]:
    if any(e is None for e in events):
        raise InvalidParameterError(
            "This fit mixes a release with no dp-accounting event (e.g. the exponential mechanism) "
            "with one that has no zCDP bound (subsampled Gaussian); dpsynth cannot compose them soundly."
        )
    return [e for e in events if e is not None]


def noise_multiplier_for(epsilon: float, delta: float, *, sample_rate: float, steps: int) -> float:
    """The smallest noise multiplier σ whose ``steps`` Poisson-subsampled Gaussian steps meet (ε, δ).

    Calibrated with dp-accounting's PLD accountant (``calibrate_dp_mechanism``).
    """
    from dp_accounting.mechanism_calibration import ExplicitBracketInterval, calibrate_dp_mechanism

    from dpsynth.privacy.mechanisms import SubsampledGaussianMechanism

    check_positive(epsilon, "epsilon", "noise_multiplier_for")
    check_positive(delta, "delta", "noise_multiplier_for")
    def eps(sigma: float) -> float:
        return pld_epsilon([SubsampledGaussianMechanism(sigma, sample_rate, steps).event], delta)

    # Bracket by doubling/halving: tiny σ makes huge privacy-loss distributions, so never
    # probe far below the answer.
    hi = 1.0
    while eps(hi) > epsilon:
        hi *= 2.0
    lo = hi / 2.0
    while eps(lo) <= epsilon:
        hi, lo = lo, lo / 2.0
    return float(
        calibrate_dp_mechanism(
            PLDAccountant,
            lambda sigma: SubsampledGaussianMechanism(sigma, sample_rate, steps).event,
            epsilon,
            delta,
            ExplicitBracketInterval(lo, hi),
            tol=1e-4,
        )
    )


def pld_interval(epsilon: float) -> float:
    """The PLD grid step used for a budget of ``epsilon``: 1e-4, coarser above ε = 10.

    The grid of a privacy-loss distribution spans its loss range, which grows quickly as the
    noise shrinks: at ε = 1,000 a 1e-4 grid needs several GiB (the fit was killed for
    memory). A step proportional to ε (up to 1e-2, reached at ε = 1,000) keeps the relative
    resolution and the grid small; the discretisation is pessimistic, so a coarser grid
    never understates ε.
    """
    if not math.isfinite(epsilon):
        return 1e-4
    # Capped: a step much coarser than 1e-2 makes dp-accounting's own arithmetic overflow
    # (an "unlimited" budget of 1e6 would ask for a step of 10).
    return min(1e-4 * max(1.0, float(epsilon) / 10.0), 1e-2)


#: PLDs of single events already built, by (repr of the event, grid step); see _composed_pld.
_PLD_CACHE: dict[tuple[str, float], Any] = {}
_PLD_CACHE_SIZE = 256


def _event_pld(event: dp_accounting.DpEvent, interval: float) -> Any:
    """The PLD of one (possibly self-composed) event, or None if it is not DP; memoised.

    Building the PLD of a subsampled Gaussian run is most of the cost of accounting (tens
    of seconds per fit when every charge, dry run and report rebuilt all of them); a fit
    composes the same few events many times. Events are keyed by their repr, which lists
    every field exactly (dp-accounting's events are attrs classes).
    """
    key = (repr(event), float(interval))
    if key not in _PLD_CACHE:
        if _has_discrete(event):
            _PLD_CACHE[key] = _discrete_pld(event, interval)
        else:
            acc = PLDAccountant(value_discretization_interval=interval)
            acc.compose(event)
            # dp-accounting keeps the composed PLD and the non-DP flag in these two attributes.
            _PLD_CACHE[key] = None if acc._contains_non_dp_event else acc._pld
        while len(_PLD_CACHE) > _PLD_CACHE_SIZE:
            del _PLD_CACHE[next(iter(_PLD_CACHE))]
    return _PLD_CACHE[key]


def _has_discrete(event: dp_accounting.DpEvent) -> bool:
    """Whether ``event`` holds a :class:`DiscreteGaussianDpEvent` (which PLDAccountant does not know)."""
    if isinstance(event, DiscreteGaussianDpEvent):
        return True
    if isinstance(event, dp_accounting.SelfComposedDpEvent):
        return _has_discrete(event.event)
    if isinstance(event, dp_accounting.ComposedDpEvent):
        return any(_has_discrete(e) for e in event.events)
    return False


def _discrete_pld(event: dp_accounting.DpEvent, interval: float) -> Any:
    """The PLD of an event holding discrete Gaussian releases (None if a part is not DP).

    A :class:`DiscreteGaussianDpEvent` ``(σ, h)`` is the h-fold composition of the discrete
    Gaussian's exact PLD with shift 1 (dp-accounting's ``from_discrete_gaussian_mechanism``,
    pessimistic estimate, connect-the-dots); compositions are built as PLDAccountant would.
    """
    from dp_accounting.pld import privacy_loss_distribution as pld_lib

    if isinstance(event, DiscreteGaussianDpEvent):
        one = pld_lib.from_discrete_gaussian_mechanism(
            float(event.sigma), sensitivity=1, value_discretization_interval=interval, use_connect_dots=True
        )
        return one if event.shifts == 1 else one.self_compose(int(event.shifts))
    if isinstance(event, dp_accounting.SelfComposedDpEvent):
        inner = _event_pld(event.event, interval)
        return None if inner is None else inner.self_compose(int(event.count))
    if isinstance(event, dp_accounting.ComposedDpEvent):
        return _composed_pld(event.events, interval)
    return _event_pld(event, interval)


def _composed_pld(events: Sequence[dp_accounting.DpEvent], interval: float) -> Any:
    """The PLD of the composition of ``events`` (None if one is not DP), as PLDAccountant composes them."""
    pld = dp_accounting.pld.privacy_loss_distribution.identity(value_discretization_interval=interval)
    for e in events:
        one = _event_pld(e, interval)
        if one is None:
            return None
        pld = pld.compose(one)
    return pld


def pld_epsilon(events: Sequence[dp_accounting.DpEvent], delta: float, interval: float = 1e-4) -> float:
    """ε at δ of the composition of ``events`` by dp-accounting's PLDs."""
    pld = _composed_pld(events, interval)
    return math.inf if pld is None else float(pld.get_epsilon_for_delta(delta))


def rdp_epsilon(events: Sequence[dp_accounting.DpEvent], delta: float) -> float:
    """ε at δ of the composition of ``events`` by dp-accounting's RDP accountant (a cross-check).

    A :class:`DiscreteGaussianDpEvent` ``(σ, h)`` is accounted as the continuous Gaussian of
    noise multiplier σ/√h, whose Rényi divergences bound the discrete one's (Canonne,
    Kamath, Steinke 2020, multivariate case): sound, and slightly looser than its exact PLD.
    """
    acc = RdpAccountant()
    acc.compose(dp_accounting.ComposedDpEvent([_rdp_form(e) for e in events]))
    return float(acc.get_epsilon(delta))


def _rdp_form(event: dp_accounting.DpEvent) -> dp_accounting.DpEvent:
    if isinstance(event, DiscreteGaussianDpEvent):
        return dp_accounting.GaussianDpEvent(event.sigma / math.sqrt(event.shifts))
    if isinstance(event, dp_accounting.SelfComposedDpEvent):
        return dp_accounting.SelfComposedDpEvent(_rdp_form(event.event), event.count)
    if isinstance(event, dp_accounting.ComposedDpEvent):
        return dp_accounting.ComposedDpEvent([_rdp_form(e) for e in event.events])
    return event


def pld_fdp(
    events: Sequence[dp_accounting.DpEvent], delta: float, delta0: float = 0.0, interval: float = 1e-4
) -> tuple[float | None, float | None, float, list[list[float]], float]:
    """f-DP summary of a PLD-accounted composition (memoised: see :func:`_pld_fdp`)."""
    key = (tuple(repr(e) for e in events), float(delta), float(delta0), float(interval))
    hit = _FDP_CACHE.get(key)
    if hit is None:
        hit = _pld_fdp(events, delta, delta0, interval)
        if len(_FDP_CACHE) >= 256:
            _FDP_CACHE.pop(next(iter(_FDP_CACHE)))
        _FDP_CACHE[key] = hit
    mu, eps_gdp, kappa, curve, eps = hit
    return mu, eps_gdp, kappa, [list(p) for p in curve], eps


#: Reports of fits with the same releases (an audit refits thousands of times) share one curve.
_FDP_CACHE: dict[tuple[Any, ...], tuple[float | None, float | None, float, list[list[float]], float]] = {}


def _pld_fdp(
    events: Sequence[dp_accounting.DpEvent], delta: float, delta0: float = 0.0, interval: float = 1e-4
) -> tuple[float | None, float | None, float, list[list[float]], float]:
    """f-DP summary of a PLD-accounted composition: (μ or None, ε(δ) of μ or None, κ, curve, ε(δ)).

    The last item is the PLD's ε at ``delta`` (what :meth:`Accountant.epsilon` returns when
    the composition is not pure zCDP).

    The trade-off curve comes from the privacy profile δ(ε) on a grid of ε (plus ``delta0``
    from approximate-zCDP releases), through Dong, Roth & Su (2022, Prop. 2.12); it is a
    sound lower bound on the attacker's type II error. μ is the GDP parameter with the
    same ε at ``delta``, a summary rather than a guarantee (the curve may dip below the
    μ-GDP curve by up to 0.02 elsewhere); it is returned only when the μ-GDP curve stays
    within 0.02 of the numerical one (Gaussian-like), since otherwise it would mislead.
    """
    eps_grid = np.concatenate([np.linspace(0.0, 2.0, 41), np.geomspace(2.1, 60.0, 50)])
    pld = _composed_pld(events, interval)
    if pld is None:
        raise InvalidParameterError("A release that is not differentially private has no trade-off curve.")
    deltas = np.minimum(1.0, np.asarray(pld.get_delta_for_epsilon(eps_grid), dtype=np.float64) + delta0)
    alpha = np.concatenate([[0.0], np.geomspace(1e-6, 1e-2, 30), np.linspace(0.0125, 1.0, 80)])
    beta = fdp.tradeoff_from_profile(alpha, eps_grid, deltas)
    kappa = fdp.separation_of_curve(alpha, beta)
    eps = float(pld.get_epsilon_for_delta(delta - delta0)) if delta > delta0 else math.inf
    mu: float | None = None
    eps_gdp: float | None = None
    if 0.0 < eps < math.inf:
        cand = fdp.mu_for_epsilon(eps, delta)
        gap = float(np.max(np.abs(fdp.tradeoff(alpha, cand) - beta)))
        if gap <= 0.02:
            mu, eps_gdp = cand, eps
    curve = [[float(a), float(b)] for a, b in zip(alpha, beta, strict=True)]
    return mu, eps_gdp, kappa, curve, eps
