"""Charging local-DP reports in the toolkit's accounting vocabulary.

A local randomiser is a :class:`~dpsynth.privacy.Mechanism` whose guarantee is pure
ε-LDP per user; a :class:`LocalAccountant` is an :class:`~dpsynth.privacy.Accountant`
whose budget is the ε each user may spend, composing charges by addition (sequential
composition of pure DP: a user who answers two collections at ε₁ and ε₂ is
(ε₁ + ε₂)-LDP). Charges that concern disjoint groups of users (each user reports once)
are one charge: the ε a user spends is the largest any group spends (parallel composition).

Its :class:`~dpsynth.privacy.PrivacyReport` has δ = 0, no ρ / μ (these are central-model
currencies) and the ledger of every collection.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from dpsynth.errors import BudgetExceededError, InvalidParameterError, check_positive
from dpsynth.privacy import Accountant, Mechanism, PrivacyBudget, PrivacyReport

_SLACK = 1e-9
_ALL = "\x00all"


@dataclass(frozen=True)
class LocalRandomizer(Mechanism):
    """One user's report under pure ε-LDP.

    Privacy:
        Neighbouring: one user's input replaced by any other (their report's distribution
        changes by at most a factor e^ε). No zCDP / dp-accounting event: it is charged to
        a :class:`LocalAccountant` in pure ε.

    Args:
        epsilon: The ε of the report.
        protocol: What the user runs (for the ledger), e.g. ``"OLH on age×sex"``.
        users: The group of users who run it, disjoint from every other named group (their
            charges compose in parallel); None: every user.
    """

    epsilon: float
    protocol: str = "local randomiser"
    users: str | None = None
    name: str = "local_randomizer"

    def __post_init__(self) -> None:
        check_positive(self.epsilon, "epsilon", "LocalRandomizer")

    @property
    def rho(self) -> float | None:  # noqa: D102
        return None

    @property
    def noise_scale(self) -> float:  # noqa: D102
        return float(self.epsilon)

    def describe(self) -> str:  # noqa: D102
        return f"{self.protocol}, epsilon={self.epsilon:.4g}-LDP per user"


class LocalAccountant(Accountant):
    """An accountant for pure ε-LDP collections (ε per user adds up across collections).

    It is the central :class:`~dpsynth.privacy.Accountant` (same ledger, same report path):
    what differs is only what "affordable" and "spent" mean — ε per user, composed by
    addition, with disjoint groups of users in parallel — and that its report states δ = 0.

    Args:
        budget: The ε each user may spend (a PrivacyBudget, or a bare ε).
        seeded: Whether the reports were randomised from a seed (then not for release).
    """

    def __init__(self, budget: PrivacyBudget | float, *, seeded: bool = False) -> None:
        if not isinstance(budget, PrivacyBudget):
            budget = PrivacyBudget(check_positive(budget, "epsilon", "LocalAccountant"))
        super().__init__(budget, seeded=seeded)
        self._group_eps: dict[str, list[float]] = {}
        self.notes.append(
            "Local differential privacy: every user randomised their own record before sending it; "
            "the guarantee is pure epsilon-LDP per user (delta = 0), against the collector too."
        )

    @property
    def epsilon_spent(self) -> float:
        """ε per user charged so far: charges to all users add up; disjoint groups take the max."""
        return self._spent_with(None, 0.0)

    def _spent_with(self, group: str | None, extra: float) -> float:
        everyone = math.fsum(self._group_eps.get(_ALL, [])) + (extra if group is None else 0.0)
        groups = [math.fsum(v) + (extra if g == group else 0.0) for g, v in self._group_eps.items() if g != _ALL]
        if group is not None and group not in self._group_eps:
            groups.append(extra)
        return everyone + max(groups, default=0.0)

    def can_afford(self, mechanism: Mechanism, count: int = 1, *, delta: float = 0.0, group: str | None = None) -> bool:
        """Whether ``count`` reports of ``mechanism`` per user (of ``group``, or of its own group) fit."""
        if not isinstance(mechanism, LocalRandomizer) or delta != 0.0:
            return False
        users = mechanism.users if group is None else group
        return self._spent_with(users, count * mechanism.epsilon) <= self.budget.epsilon * (1 + _SLACK)

    def charge(
        self,
        mechanism: Mechanism,
        *,
        step: str,
        count: int = 1,
        description: str = "",
        delta: float = 0.0,
        group: str | None = None,
    ) -> None:
        """Record ``count`` sequential ε-LDP reports per user, or refuse before anything is collected.

        Checks the local-DP terms, then records through :meth:`Accountant.charge`.

        Args:
            mechanism: The local randomiser each user runs.
            step: The algorithm step asking.
            count: How many reports each user sends with it.
            description: What is collected, in public terms.
            delta: Must be 0 (pure LDP).
            group: A name for a group of users disjoint from every other named group
                (their charges compose in parallel); None charges the randomiser's
                ``users`` (every user unless it names a group).
        """
        if not isinstance(mechanism, LocalRandomizer):
            raise InvalidParameterError(
                f"A LocalAccountant charges only local randomisers (pure ε-LDP). Got {mechanism.describe()}."
            )
        if count < 1 or delta != 0.0:
            raise InvalidParameterError("A local-DP charge needs count >= 1 and delta = 0.")
        if group is not None:
            mechanism = replace(mechanism, users=group)
        if not self.can_afford(mechanism, count):
            raise BudgetExceededError(
                f"Step {step!r} asks each user for {mechanism.describe()} × {count}, but only "
                f"{self.budget.epsilon - self.epsilon_spent:.4g} of epsilon = {self.budget.epsilon:g} per user "
                "is left. Nothing was collected; lower the per-collection epsilon."
            )
        users = mechanism.users
        super().charge(
            mechanism,
            step=step,
            count=count,
            description=description if users is None else f"{description} [users: {users}]",
        )
        self._group_eps.setdefault(_ALL if users is None else users, []).append(count * mechanism.epsilon)

    def epsilon(self, delta: float | None = None) -> float:
        """ε per user (pure LDP: the same at every δ)."""
        return self.epsilon_spent

    def report(self) -> PrivacyReport:
        """The privacy report: the central one, in pure ε-LDP per user (δ = 0, no zCDP ρ)."""
        return replace(super().report(), delta=0.0, rho=None)
