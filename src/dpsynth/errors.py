"""The exceptions dpsynth raises.

Every error a user can cause derives from :class:`DpsynthError`, and also from the
builtin it refines (``ValueError`` or ``TypeError``) so that generic handlers keep working.
Messages say what was wrong and what to do about it.
"""

from __future__ import annotations

from collections.abc import Iterable


class DpsynthError(Exception):
    """Base class of every error dpsynth raises on purpose."""


class InvalidParameterError(DpsynthError, ValueError):
    """A hyper-parameter or argument has a value outside its allowed range."""


class InvalidDataError(DpsynthError, ValueError):
    """The table (or its metadata) cannot be used as given.

    Collects every problem found, so that the user can fix them all in one go.

    Args:
        problems: One human-readable line per problem, each naming the column.
        hint: What to do about it.
    """

    def __init__(self, problems: Iterable[str] | str, hint: str = "") -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.hint = hint
        lines = self.problems
        msg = (
            lines[0]
            if len(lines) == 1
            else f"{len(lines)} problems with the data:\n  - " + ("\n  - ".join(lines))
        )
        if hint:
            msg = f"{msg}\n{hint}"
        super().__init__(msg)


class MetadataError(InvalidDataError):
    """The public metadata (domain description) is missing, malformed or inconsistent."""


class BudgetExceededError(DpsynthError, ValueError):
    """A charge would take the accountant past its privacy budget; nothing was released."""


class NotFittedError(DpsynthError, ValueError):
    """A method that needs a fitted synthesizer was called before ``fit``."""


class SerializationError(DpsynthError, ValueError):
    """A saved model file is unreadable, of the wrong kind, or of an unsupported version."""


def check_positive(value: object, name: str, owner: str, *, allow_zero: bool = False) -> float:
    """Validate a real-valued parameter, scikit-learn style.

    Args:
        value: The value given by the user.
        name: The parameter's name.
        owner: Who owns it (a class or function name), for the message.
        allow_zero: Whether 0 is allowed.

    Returns:
        The value as a float.

    Raises:
        InvalidParameterError: If it is not a finite number > 0 (or >= 0).
    """
    bound = ">= 0" if allow_zero else "> 0"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be a number {bound}. Got {value!r} instead."
        )
    v = float(value)
    ok = v >= 0 if allow_zero else v > 0
    if not ok or v != v or v == float("inf"):
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be a finite number {bound}. Got {value!r} instead."
        )
    return v
