"""Public rules every synthetic row must satisfy.

A constraint is public knowledge — a business rule, a codebook's "not applicable" logic,
an administrative hierarchy — declared by the data steward, never learned from the rows.
It costs no budget: generators enforce it when they sample (post-processing), the privacy
report lists it, and :func:`dpsynth.evaluate.evaluate_all` reports the share of rows that
break it.

Declared in the metadata under a top-level ``"constraints"`` list, or in Python:

``{"type": "inequality", "low": "start_date", "high": "end_date", "strict": false}``
    ``low ≤ high`` (``<`` when strict) for two numeric or two datetime columns.
``{"type": "range", "low": "min_price", "middle": "price", "high": "max_price"}``
    ``low ≤ middle ≤ high``.
``{"type": "fixed_combinations", "columns": ["city", "country"], "combinations": [["Paris", "France"], ["Lyon", "France"]]}``
    The columns take only the listed combinations (the list is public: written from a
    codebook or a reference table, not read off the data).
``{"type": "if_then", "if": [["capital-gain", ">", 0]], "then": [["capital-loss", "=", 0]]}``
    Rows meeting every ``if`` clause meet every ``then`` clause. A clause is
    ``[column, op, value]`` with ``op`` one of ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=``,
    ``in``, ``not in`` (value a list), or ``[column, "is missing"]`` / ``[column, "is present"]``.

A rule holds trivially on a row where a column it compares is missing (nothing to compare),
except for ``is missing`` / ``is present`` clauses, which test exactly that.
"""

from __future__ import annotations

import operator
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dpsynth.errors import MetadataError

if TYPE_CHECKING:
    from dpsynth.data.domain import Column, Domain

_COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_OPS = ("=", "!=", "<", "<=", ">", ">=", "in", "not in", "is missing", "is present")


def _values(col: Column, s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(comparable values, missing mask): floats for numbers/datetimes, category keys otherwise."""
    from dpsynth.data._parse import missing_mask, numbers
    from dpsynth.data.domain import category_key

    s = s.reset_index(drop=True)
    missing = missing_mask(col, s)
    if col.is_numeric:
        x = numbers(col, s)
        return x, missing | np.isnan(x)
    keys = np.asarray([category_key(v) if not m else "" for v, m in zip(s.tolist(), missing, strict=True)],
                      dtype=object)
    return keys, missing


def _scalar(col: Column, value: Any) -> Any:
    from dpsynth.data._parse import user_numbers
    from dpsynth.data.domain import category_key

    if col.is_numeric:
        x = float(user_numbers(col, pd.Series([value], dtype=object))[0])
        if np.isnan(x):
            raise ValueError(f"{value!r} is not a valid {col.kind} value of {col.name!r}")
        return x
    return category_key(value)


class Constraint(ABC):
    """A public rule on synthetic rows."""

    @property
    @abstractmethod
    def columns(self) -> tuple[str, ...]:
        """The columns the rule reads."""

    @abstractmethod
    def holds(self, frame: pd.DataFrame, domain: Domain) -> np.ndarray:
        """A boolean mask: the rows of ``frame`` that satisfy the rule."""

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """The rule as a metadata JSON object."""

    @abstractmethod
    def describe(self) -> str:
        """The rule in words."""

    def check(self, domain: Domain) -> list[str]:
        """Problems with the rule on this domain (unknown columns, wrong types)."""
        return [f"column {c!r} is not in the metadata" for c in self.columns if c not in domain]


@dataclass(frozen=True)
class Inequality(Constraint):
    """``low ≤ high`` (or ``<`` when ``strict``) between two numeric or datetime columns."""

    low: str
    high: str
    strict: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        """The two columns compared."""
        return (self.low, self.high)

    def check(self, domain: Domain) -> list[str]:
        """Both columns numeric, or both datetime."""
        problems = super().check(domain)
        if not problems:
            a, b = domain[self.low], domain[self.high]
            if not (a.is_numeric and b.is_numeric) or a.kind != b.kind:
                problems.append(f"inequality needs two numeric or two datetime columns; {self.low!r} is "
                                f"{a.kind} and {self.high!r} is {b.kind}")
        return problems

    def holds(self, frame: pd.DataFrame, domain: Domain) -> np.ndarray:
        """Rows where low ≤ high (or a side is missing)."""
        a, ma = _values(domain[self.low], frame[self.low])
        b, mb = _values(domain[self.high], frame[self.high])
        with np.errstate(invalid="ignore"):
            ok = (a < b) if self.strict else (a <= b)
        return np.asarray(ok | ma | mb, dtype=bool)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        out: dict[str, Any] = {"type": "inequality", "low": self.low, "high": self.high}
        if self.strict:
            out["strict"] = True
        return out

    def describe(self) -> str:
        """In words."""
        return f"{self.low} {'<' if self.strict else '≤'} {self.high}"


@dataclass(frozen=True)
class Range(Constraint):
    """``low ≤ middle ≤ high``: two inequalities."""

    low: str
    middle: str
    high: str

    @property
    def columns(self) -> tuple[str, ...]:
        """The three columns."""
        return (self.low, self.middle, self.high)

    def check(self, domain: Domain) -> list[str]:
        """As two inequalities."""
        return Inequality(self.low, self.middle).check(domain) + Inequality(self.middle, self.high).check(domain)

    def holds(self, frame: pd.DataFrame, domain: Domain) -> np.ndarray:
        """Both inequalities."""
        return Inequality(self.low, self.middle).holds(frame, domain) & Inequality(self.middle, self.high).holds(
            frame, domain)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"type": "range", "low": self.low, "middle": self.middle, "high": self.high}

    def describe(self) -> str:
        """In words."""
        return f"{self.low} ≤ {self.middle} ≤ {self.high}"


@dataclass(frozen=True)
class FixedCombinations(Constraint):
    """The columns take only the listed (public) combinations of values."""

    names: tuple[str, ...]
    combinations: tuple[tuple[Any, ...], ...]

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns combined."""
        return self.names

    def check(self, domain: Domain) -> list[str]:
        """At least two columns; every combination as long as the column list, with valid values."""
        problems = super().check(domain)
        if len(self.names) < 2:
            problems.append("fixed_combinations needs at least two columns")
        if not self.combinations:
            problems.append("fixed_combinations needs a non-empty 'combinations' list")
        for combo in self.combinations:
            if len(combo) != len(self.names):
                problems.append(f"combination {list(combo)!r} has {len(combo)} values for {len(self.names)} columns")
                break
        if not problems:
            from dpsynth.data._parse import category_index

            for j, name in enumerate(self.names):
                col = domain[name]
                vals = [c[j] for c in self.combinations]
                if not col.is_numeric and col.categories is not None:
                    bad = [v for v, i in zip(vals, category_index(col, pd.Series(vals, dtype=object)),
                                             strict=True) if i < 0]
                    if bad:
                        problems.append(f"{name!r}: {bad[:5]!r} not among its categories")
        return problems

    def holds(self, frame: pd.DataFrame, domain: Domain) -> np.ndarray:
        """Rows whose values form a listed combination (or have a missing value)."""
        cols = [_values(domain[n], frame[n]) for n in self.names]
        allowed = {tuple(_scalar(domain[n], v) for n, v in zip(self.names, combo, strict=True))
                   for combo in self.combinations}
        any_missing = np.zeros(len(frame), dtype=bool)
        for _, m in cols:
            any_missing |= m
        rows = zip(*(v.tolist() for v, _ in cols), strict=True)
        ok = np.fromiter((r in allowed for r in rows), dtype=bool, count=len(frame))
        return ok | any_missing

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"type": "fixed_combinations", "columns": list(self.names),
                "combinations": [list(c) for c in self.combinations]}

    def describe(self) -> str:
        """In words."""
        return f"({', '.join(self.names)}) in {len(self.combinations)} listed combinations"


@dataclass(frozen=True)
class Clause:
    """``column op value``, one test on one column."""

    column: str
    op: str
    value: Any = None

    def test(self, frame: pd.DataFrame, domain: Domain) -> tuple[np.ndarray, np.ndarray]:
        """(rows where the test is true, rows where it cannot be decided: a missing value)."""
        col = domain[self.column]
        x, missing = _values(col, frame[self.column])
        if self.op == "is missing":
            return missing, np.zeros(len(x), dtype=bool)
        if self.op == "is present":
            return ~missing, np.zeros(len(x), dtype=bool)
        if self.op in ("in", "not in"):
            targets = {_scalar(col, v) for v in self.value}
            hit = np.fromiter((v in targets for v in x.tolist()), dtype=bool, count=len(x))
            return (hit if self.op == "in" else ~hit) & ~missing, missing
        target = _scalar(col, self.value)
        if self.op in ("=", "!="):
            hit = np.asarray(x == target, dtype=bool)
            return (hit if self.op == "=" else ~hit) & ~missing, missing
        with np.errstate(invalid="ignore"):
            return np.asarray(_COMPARE[self.op](x, target), dtype=bool) & ~missing, missing

    def check(self, domain: Domain) -> list[str]:
        """The op fits the column's type and the value parses."""
        if self.column not in domain:
            return [f"column {self.column!r} is not in the metadata"]
        col = domain[self.column]
        if self.op not in _OPS:
            return [f"unknown operator {self.op!r}; use one of {', '.join(_OPS)}"]
        if self.op in _COMPARE and not col.is_numeric:
            return [f"{self.column!r} is {col.kind}: '{self.op}' needs a numeric or datetime column"]
        if self.op in ("is missing", "is present"):
            return []
        values = self.value if self.op in ("in", "not in") else [self.value]
        if self.op in ("in", "not in") and (isinstance(self.value, str) or not isinstance(self.value, Sequence)):
            return [f"'{self.op}' needs a list of values"]
        try:
            for v in values:
                _scalar(col, v)
        except ValueError as err:
            return [str(err)]
        return []

    def to_list(self) -> list[Any]:
        """JSON form."""
        if self.op in ("is missing", "is present"):
            return [self.column, self.op]
        return [self.column, self.op, list(self.value) if self.op in ("in", "not in") else self.value]

    def describe(self) -> str:
        """In words."""
        return " ".join(str(p) for p in self.to_list())


@dataclass(frozen=True)
class IfThen(Constraint):
    """Rows meeting every ``if_`` clause meet every ``then`` clause."""

    if_: tuple[Clause, ...]
    then: tuple[Clause, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column a clause reads, in order, once."""
        return tuple(dict.fromkeys(c.column for c in (*self.if_, *self.then)))

    def check(self, domain: Domain) -> list[str]:
        """Each clause checked; both sides non-empty."""
        problems = [] if self.if_ and self.then else ["if_then needs non-empty 'if' and 'then' lists"]
        for c in (*self.if_, *self.then):
            problems.extend(c.check(domain))
        return problems

    def holds(self, frame: pd.DataFrame, domain: Domain) -> np.ndarray:
        """Rows where the premise fails, is undecided, or the conclusion holds."""
        n = len(frame)
        premise = np.ones(n, dtype=bool)
        undecided = np.zeros(n, dtype=bool)
        for c in self.if_:
            t, u = c.test(frame, domain)
            premise &= t
            undecided |= u
        conclusion = np.ones(n, dtype=bool)
        for c in self.then:
            t, u = c.test(frame, domain)
            conclusion &= t | u
        return ~premise | undecided | conclusion

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"type": "if_then", "if": [c.to_list() for c in self.if_],
                "then": [c.to_list() for c in self.then]}

    def describe(self) -> str:
        """In words."""
        return ("if " + " and ".join(c.describe() for c in self.if_) + " then "
                + " and ".join(c.describe() for c in self.then))


def _clauses(raw: Any, key: str) -> tuple[Clause, ...]:
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"'{key}' must be a non-empty list of [column, op, value] clauses")
    out = []
    for item in raw:
        if not isinstance(item, list | tuple) or len(item) not in (2, 3) or not isinstance(item[0], str):
            raise ValueError(f"clause {item!r} must be [column, op, value] or [column, 'is missing']")
        value = item[2] if len(item) == 3 else None
        if isinstance(value, list):
            value = tuple(value)  # hashable, so rules compare and hash by value
        out.append(Clause(item[0], str(item[1]), value))
    return tuple(out)


def constraint_from_dict(doc: Mapping[str, Any]) -> Constraint:
    """Parse one rule of the metadata's ``constraints`` list.

    Raises:
        ValueError: A malformed rule (the message says what is wrong).
    """
    if not isinstance(doc, Mapping):
        raise ValueError(f"a constraint must be an object with a 'type'; got {doc!r}")
    kind = doc.get("type")
    if kind == "inequality":
        if not isinstance(doc.get("low"), str) or not isinstance(doc.get("high"), str):
            raise ValueError("inequality needs 'low' and 'high' column names")
        return Inequality(doc["low"], doc["high"], bool(doc.get("strict", False)))
    if kind == "range":
        if not all(isinstance(doc.get(k), str) for k in ("low", "middle", "high")):
            raise ValueError("range needs 'low', 'middle' and 'high' column names")
        return Range(doc["low"], doc["middle"], doc["high"])
    if kind == "fixed_combinations":
        names, combos = doc.get("columns"), doc.get("combinations")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ValueError("fixed_combinations needs 'columns': a list of column names")
        if not isinstance(combos, list) or not all(isinstance(c, list) for c in combos):
            raise ValueError("fixed_combinations needs 'combinations': a list of value lists")
        return FixedCombinations(tuple(names), tuple(tuple(c) for c in combos))
    if kind == "if_then":
        return IfThen(_clauses(doc.get("if"), "if"), _clauses(doc.get("then"), "then"))
    raise ValueError(f"unknown constraint type {kind!r}; use inequality, range, fixed_combinations or if_then")




def parse_constraints(raw: Any, domain: Domain | None = None) -> tuple[list[Constraint], list[str]]:
    """Parse the metadata's ``constraints`` list; returns the rules and every problem found."""
    if raw is None:
        return [], []
    if not isinstance(raw, list):
        return [], ["'constraints' must be a list of rule objects"]
    rules: list[Constraint] = []
    problems: list[str] = []
    for i, doc in enumerate(raw):
        try:
            rule = constraint_from_dict(doc)
        except ValueError as err:
            problems.append(f"constraint #{i + 1}: {err}")
            continue
        if domain is not None:
            problems.extend(f"constraint #{i + 1} ({rule.describe()}): {p}" for p in rule.check(domain))
        rules.append(rule)
    return rules, problems


def rows_satisfying(constraints: Sequence[Constraint], frame: pd.DataFrame, domain: Domain) -> np.ndarray:
    """Rows of ``frame`` that satisfy every rule."""
    ok = np.ones(len(frame), dtype=bool)
    for rule in constraints:
        ok &= rule.holds(frame, domain)
    return ok


def check_constraints(constraints: Sequence[Constraint], domain: Domain) -> None:
    """Raise one MetadataError listing every problem of ``constraints`` on ``domain``."""
    problems = [f"constraint {r.describe()}: {p}" for r in constraints for p in r.check(domain)]
    if problems:
        raise MetadataError(problems, hint="Fix the constraints (see dpsynth.data.constraints).")
