"""Domains and measurements: the two value types the estimation engine consumes."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dpsynth.errors import InvalidDataError, InvalidParameterError

Clique = tuple[str, ...]


def as_clique(attrs: str | Iterable[str]) -> Clique:
    """Normalise a single attribute name or an iterable of names to a tuple."""
    if isinstance(attrs, str):
        return (attrs,)
    return tuple(attrs)


@dataclass(frozen=True)
class Domain:
    """Attribute names and how many integer codes each one takes.

    Codes of attribute ``attrs[i]`` are ``0 .. shape[i] - 1``.

    Args:
        attrs: Attribute names, unique.
        shape: Number of codes of each attribute (>= 1).

    Raises:
        InvalidParameterError: If the names repeat, the lengths differ or a size is not a
            positive integer.
    """

    attrs: tuple[str, ...]
    shape: tuple[int, ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        attrs = tuple(self.attrs)
        shape = tuple(self.shape)
        if len(attrs) != len(shape):
            raise InvalidParameterError(
                f"A Domain needs one size per attribute: got {len(attrs)} attributes and "
                f"{len(shape)} sizes."
            )
        if not all(isinstance(a, str) for a in attrs):
            raise InvalidParameterError("Domain attribute names must be strings.")
        if len(set(attrs)) != len(attrs):
            dup = sorted({a for a in attrs if attrs.count(a) > 1})
            raise InvalidParameterError(f"Domain attribute names must be unique; repeated: {dup}.")
        sizes = []
        for a, s in zip(attrs, shape, strict=True):
            if isinstance(s, bool) or not isinstance(s, int | np.integer) or s < 1:
                raise InvalidParameterError(
                    f"The size of attribute {a!r} must be an integer >= 1. Got {s!r} instead."
                )
            sizes.append(int(s))
        object.__setattr__(self, "attrs", attrs)
        object.__setattr__(self, "shape", tuple(sizes))
        object.__setattr__(self, "_index", {a: i for i, a in enumerate(attrs)})

    @classmethod
    def fromdict(cls, sizes: Mapping[str, int]) -> Domain:
        """Build a domain from ``{name: size}`` (insertion order is kept)."""
        return cls(tuple(sizes), tuple(sizes.values()))

    def to_dict(self) -> dict[str, int]:
        """``{name: size}`` in attribute order."""
        return dict(zip(self.attrs, self.shape, strict=True))

    @property
    def index_map(self) -> Mapping[str, int]:
        """``{name: position}`` (read it, do not modify it)."""
        return self._index

    def index(self, attr: str) -> int:
        """Position of ``attr`` in :attr:`attrs`.

        Raises:
            InvalidParameterError: If the attribute is not in the domain.
        """
        try:
            return self._index[attr]
        except KeyError:
            raise InvalidParameterError(
                f"Unknown attribute {attr!r}; the domain has {list(self.attrs)}."
            ) from None

    def check(self, attrs: str | Iterable[str], what: str = "clique") -> Clique:
        """Validate a tuple of attribute names against the domain.

        Args:
            attrs: Attribute names.
            what: How to call them in the error message.

        Returns:
            The names as a tuple.

        Raises:
            InvalidParameterError: On an unknown or repeated attribute.
        """
        cl = as_clique(attrs)
        unknown = [a for a in cl if a not in self._index]
        if unknown:
            raise InvalidParameterError(
                f"The {what} {cl} names unknown attribute(s) {unknown}; "
                f"the domain has {list(self.attrs)}."
            )
        if len(set(cl)) != len(cl):
            raise InvalidParameterError(f"The {what} {cl} repeats an attribute.")
        return cl

    def canonical(self, attrs: str | Iterable[str]) -> Clique:
        """The same attributes, sorted in domain order (validated)."""
        cl = self.check(attrs)
        return tuple(sorted(cl, key=self._index.__getitem__))

    def project(self, attrs: str | Iterable[str]) -> Domain:
        """The sub-domain over ``attrs``, in the order given."""
        cl = self.check(attrs)
        return Domain(cl, tuple(self.shape[self._index[a]] for a in cl))

    def size(self, attrs: str | Iterable[str] | None = None) -> int:
        """Number of cells of the marginal over ``attrs`` (all attributes by default)."""
        if attrs is None:
            return math.prod(self.shape)
        cl = self.check(attrs)
        return math.prod(self.shape[self._index[a]] for a in cl)

    def __contains__(self, attr: object) -> bool:
        return attr in self._index

    def __len__(self) -> int:
        return len(self.attrs)

    def __iter__(self) -> Iterator[str]:
        return iter(self.attrs)

    def __getitem__(self, attr: str) -> int:
        """The number of codes of ``attr``."""
        return self.shape[self.index(attr)]


@dataclass(frozen=True, eq=False)
class Measurement:
    """A noisy identity measurement of one marginal (already private).

    Args:
        clique: Attribute order of ``values``.
        values: Noisy counts, flattened in C order over the clique's shape (the n-d shape
            is accepted too).
        sigma: Standard deviation of the noise; the measurement weighs ``1 / sigma``.

    Raises:
        InvalidParameterError: If ``sigma`` is not a finite number > 0 or the clique is
            not a tuple of names.
        InvalidDataError: If ``values`` holds NaN or infinite entries.
    """

    clique: Clique
    values: np.ndarray
    sigma: float

    def __post_init__(self) -> None:
        clique = as_clique(self.clique)
        if not all(isinstance(a, str) for a in clique):
            raise InvalidParameterError(
                f"A measurement's clique must be a tuple of attribute names. Got {self.clique!r}."
            )
        if len(set(clique)) != len(clique):
            raise InvalidParameterError(f"The measurement clique {clique} repeats an attribute.")
        sigma = self.sigma
        if isinstance(sigma, bool) or not isinstance(sigma, int | float | np.floating | np.integer):
            raise InvalidParameterError(
                f"The sigma of the measurement of {clique} must be a number > 0. Got {sigma!r}."
            )
        if not (math.isfinite(float(sigma)) and float(sigma) > 0):
            raise InvalidParameterError(
                f"The sigma of the measurement of {clique} must be a finite number > 0. "
                f"Got {sigma!r}."
            )
        try:
            values = np.asarray(self.values, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InvalidDataError(
                f"The values of the measurement of {clique} are not numbers ({exc})."
            ) from None
        if not np.all(np.isfinite(values)):
            raise InvalidDataError(
                f"The values of the measurement of {clique} contain NaN or infinite entries.",
                hint="Noisy counts must be finite numbers.",
            )
        object.__setattr__(self, "clique", clique)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "sigma", float(sigma))

    def flat_values(self, domain: Domain) -> np.ndarray:
        """The values as a flat vector, checked against the clique's size in ``domain``.

        Raises:
            InvalidParameterError: If the clique names an attribute not in ``domain``.
            InvalidDataError: If the number of values is not the clique's size.
        """
        domain.check(self.clique, "measurement clique")
        shape = tuple(domain[a] for a in self.clique)
        v = self.values
        if (v.shape != shape and v.ndim != 1) or v.size != math.prod(shape):
            raise InvalidDataError(
                f"The measurement of {self.clique} has values of shape {v.shape}; "
                f"expected {math.prod(shape)} values (shape {shape}).",
                hint="Pass the noisy marginal flattened in C order over the clique's attributes.",
            )
        return v.reshape(-1)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description (lists and plain numbers)."""
        return {
            "clique": list(self.clique),
            "values": self.values.ravel().tolist(),
            "sigma": self.sigma,
        }
