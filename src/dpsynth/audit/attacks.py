"""Membership-inference attacks on synthetic data.

Every attack has ``score(synthetic, target, *, domain, reference=None) -> float``: the higher
the score, the more the attack believes the target was in the generator's training data. The
attack sees only the synthetic rows, the target, the public domain and, optionally, a
reference sample from the same population (the adversary's auxiliary knowledge).

Rows are compared in a standardised encoding built from the public domain only (never from
the data): a categorical column becomes a one-hot vector scaled so two different categories
are at distance 1; an ordinal, numeric or datetime column becomes its bin code divided by
its number of bins minus one, in [0, 1]; a nullable column gets a 0/1 missing indicator.

Reading raw rows is the point here: the audit measures a release, it is not part of it.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
import pandas as pd

from dpsynth.data.discretize import Discretizer
from dpsynth.data.domain import Domain
from dpsynth.errors import InvalidParameterError


class Attack(Protocol):
    """What the privacy game needs from an attack."""

    name: str

    def score(
        self,
        synthetic: pd.DataFrame,
        target: pd.Series,
        *,
        domain: Domain,
        reference: pd.DataFrame | None = None,
    ) -> float:
        """Membership score of ``target`` (higher = more likely a member)."""
        ...


def _as_frame(target: pd.Series | pd.DataFrame) -> pd.DataFrame:
    if isinstance(target, pd.DataFrame):
        if len(target) != 1:
            raise InvalidParameterError(f"The target must be one row. Got {len(target)} rows.")
        return target
    return target.to_frame().T


def encode_codes(frame: pd.DataFrame, domain: Domain) -> np.ndarray:
    """Integer codes (n × d) of a frame under the domain's public discretisation."""
    return np.asarray(Discretizer(domain).encode_frame(frame[list(domain.names)]), dtype=np.int64)


def standardise(codes: np.ndarray, domain: Domain) -> np.ndarray:
    """The standardised encoding (see the module docstring) of integer codes."""
    disc = Discretizer(domain)
    parts: list[np.ndarray] = []
    for j, col in enumerate(domain):
        c = codes[:, j]
        miss = disc.missing_code(col.name)
        present = c != miss if miss is not None else np.ones(len(c), dtype=bool)
        n_present = disc.sizes[col.name] - (1 if miss is not None else 0)
        if col.kind == "categorical":
            onehot = np.zeros((len(c), max(n_present, 1)))
            rows = np.nonzero(present)[0]
            onehot[rows, c[present]] = 1.0 / math.sqrt(2.0)
            parts.append(onehot)
        else:
            scaled = np.where(present, c / max(n_present - 1, 1), 0.0)
            parts.append(scaled[:, None])
        if miss is not None:
            parts.append((~present).astype(float)[:, None])
    return np.hstack(parts) if parts else np.zeros((len(codes), 0))


class ClosestDistanceAttack:
    """Distance to the closest synthetic record (the "DCR" attack).

    A generator that memorises its training rows puts a synthetic row at or near each member;
    the score is minus the Euclidean distance, on the standardised encoding, from the target to
    its nearest synthetic row. With a ``reference`` sample the distance is divided by the
    target's distance to its nearest reference row, so that targets in dense regions are not
    called members merely for having close neighbours.
    """

    name = "closest_distance"

    def score(
        self,
        synthetic: pd.DataFrame,
        target: pd.Series,
        *,
        domain: Domain,
        reference: pd.DataFrame | None = None,
    ) -> float:
        """Minus the (optionally reference-normalised) distance to the closest synthetic row."""
        if len(synthetic) == 0:
            raise InvalidParameterError("The synthetic data is empty; there is nothing to attack.")
        t = standardise(encode_codes(_as_frame(target), domain), domain)
        s = standardise(encode_codes(synthetic, domain), domain)
        d = float(np.sqrt(((s - t) ** 2).sum(axis=1)).min())
        if reference is not None and len(reference) > 0:
            r = standardise(encode_codes(reference, domain), domain)
            d_ref = float(np.sqrt(((r - t) ** 2).sum(axis=1)).min())
            return -math.log((d + 1e-3) / (d_ref + 1e-3))
        return -d


class QueryAttack:
    """Counting queries on random attribute subsets (TAPAS's query-based attack, simplified).

    For ``n_queries`` random subsets of the columns (drawn once, from ``random_state``), count
    the synthetic rows that match the target on every column of the subset. The score is the
    mean over subsets of ``log((count_synth + ½) / (n_synth + 1))``, minus the same quantity on
    the ``reference`` sample when one is given. This is the unsupervised variant: TAPAS feeds
    the counts to a classifier trained on shadow games, which is not built here.

    Args:
        n_queries: Number of random subsets.
        min_size: Smallest subset size.
        max_size: Largest subset size (None: all columns).
        random_state: Seed for the subsets.
    """

    name = "query"

    def __init__(
        self,
        *,
        n_queries: int = 200,
        min_size: int = 1,
        max_size: int | None = None,
        random_state: int = 0,
    ) -> None:
        self.n_queries = n_queries
        self.min_size = min_size
        self.max_size = max_size
        self.random_state = random_state

    def _subsets(self, d: int) -> list[np.ndarray]:
        if self.n_queries < 1 or self.min_size < 1:
            raise InvalidParameterError(
                "The 'n_queries' and 'min_size' parameters of QueryAttack must be >= 1. "
                f"Got n_queries={self.n_queries!r}, min_size={self.min_size!r}."
            )
        hi = min(self.max_size or d, d)
        lo = min(self.min_size, hi)
        rng = np.random.default_rng(self.random_state)
        sizes = rng.integers(lo, hi + 1, size=self.n_queries)
        return [rng.choice(d, size=k, replace=False) for k in sizes]

    @staticmethod
    def _log_freq(codes: np.ndarray, t: np.ndarray, subsets: list[np.ndarray]) -> np.ndarray:
        eq = codes == t  # n × d
        counts = np.array([eq[:, q].all(axis=1).sum() for q in subsets], dtype=float)
        return np.log((counts + 0.5) / (len(codes) + 1.0))

    def features(
        self,
        synthetic: pd.DataFrame,
        target: pd.Series,
        *,
        domain: Domain,
        reference: pd.DataFrame | None = None,
    ) -> np.ndarray:
        """Per-query log frequencies of the target (reference-corrected if given)."""
        if len(synthetic) == 0:
            raise InvalidParameterError("The synthetic data is empty; there is nothing to attack.")
        subsets = self._subsets(len(domain))
        t = encode_codes(_as_frame(target), domain)[0]
        f = self._log_freq(encode_codes(synthetic, domain), t, subsets)
        if reference is not None and len(reference) > 0:
            f = f - self._log_freq(encode_codes(reference, domain), t, subsets)
        return f

    def score(
        self,
        synthetic: pd.DataFrame,
        target: pd.Series,
        *,
        domain: Domain,
        reference: pd.DataFrame | None = None,
    ) -> float:
        """Mean over the queries of :meth:`features`."""
        return float(self.features(synthetic, target, domain=domain, reference=reference).mean())


ATTACKS: dict[str, type] = {"closest_distance": ClosestDistanceAttack, "query": QueryAttack}


def get_attack(name: str) -> Attack:
    """An attack by name, with default settings.

    Raises:
        InvalidParameterError: For an unknown name.
    """
    if name not in ATTACKS:
        raise InvalidParameterError(f"Unknown attack {name!r}. Choose one of {sorted(ATTACKS)}.")
    attack: Attack = ATTACKS[name]()
    return attack
