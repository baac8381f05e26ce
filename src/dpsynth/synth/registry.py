"""Generators by short name, for the CLI, the benchmarks and the contract tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from dpsynth.errors import InvalidParameterError

_REGISTRY: dict[str, type] = {}
T = TypeVar("T", bound=type)


def register(name: str) -> Callable[[T], T]:
    """Class decorator registering a Synthesizer under ``name``."""

    def deco(cls: T) -> T:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"A generator named {name!r} is already registered.")
        _REGISTRY[name] = cls
        cls.name = name  # type: ignore[attr-defined]
        return cls

    return deco


#: Modules of dpsynth.synth whose import registers a generator (one line per generator).
_BUILTIN = (
    "independent",
    "mst",
    "aim",
    "gsd",
    "pe",
    "ctabgan",
    "tldm",
)


def _load_builtin() -> None:
    # Importing the modules registers them; modules import heavy dependencies (torch)
    # lazily, inside fit, so listing generators stays cheap.
    import importlib

    for module in _BUILTIN:
        importlib.import_module(f"dpsynth.synth.{module}")


def available() -> list[str]:
    """Names of every registered generator."""
    _load_builtin()
    return sorted(_REGISTRY)


def get_class(name: str) -> type:
    """The Synthesizer class registered as ``name``."""
    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise InvalidParameterError(
            f"Unknown generator {name!r}. Available: {', '.join(sorted(_REGISTRY))}."
        ) from None


def create(name: str, **params: Any) -> Any:
    """Instantiate the generator ``name`` with hyper-parameters ``params``."""
    klass = get_class(name)
    try:
        return klass(**params)
    except TypeError as exc:
        raise InvalidParameterError(f"Bad parameters for generator {name!r}: {exc}") from None
