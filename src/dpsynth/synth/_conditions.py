"""Conditional sampling: rows drawn from a fitted model's conditional distribution.

``model.sample(n, conditions={"sex": "Female", "age": (30, 40)})`` returns rows that all
satisfy the conditions, drawn from the model's distribution given them. It is
post-processing of the released model: it costs no budget and reads no private row.

A condition on a column is one of:

- a value: equal to it (a category, a number, an ISO date; ``None`` means missing);
- a ``(low, high)`` pair: a closed range, for numeric and datetime columns (either end may
  be ``None`` for an open end);
- a list or set of values: one of them.

The graphical-model generators condition their model exactly (the evidence enters the
junction tree as an indicator potential, so no sample is wasted on other rows; only rows in
a bin that straddles a range end are redrawn). Other generators draw from their ordinary
(calibrated) sampler and keep the rows that satisfy the conditions. A condition with (near)
zero probability under the model is refused with a clear error instead of looping.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dpsynth.data._parse import category_index, missing_mask, numbers, user_numbers
from dpsynth.data.constraints import Constraint, rows_satisfying
from dpsynth.data.discretize import Discretizer
from dpsynth.data.domain import Column, Domain
from dpsynth.errors import InvalidParameterError

#: Conditions whose probability under the model is below this are refused.
MIN_PROBABILITY = 1e-6
#: Rejection sampling gives up after drawing this many rows per row asked for (and at least
#: ``MIN_DRAWS``) when the conditions are too rare under the model.
MAX_DRAWS_PER_ROW = 1000
MIN_DRAWS = 200_000


@dataclass(frozen=True)
class Condition:
    """One column's condition, parsed against the public domain."""

    column: Column
    kind: str  # "equal" | "one_of" | "range"
    values: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None

    @property
    def name(self) -> str:
        """The column the condition is on."""
        return self.column.name

    def describe(self) -> str:
        """The condition in words, for messages and reports."""
        if self.kind == "range":
            return f"{self.low if self.low is not None else '-inf'} ≤ {self.name} ≤ {self.high if self.high is not None else 'inf'}"
        if self.kind == "equal":
            return f"{self.name} = {self.values[0]!r}"
        return f"{self.name} in {list(self.values)!r}"

    def mask(self, values: pd.Series) -> np.ndarray:
        """Which of ``values`` (decoded synthetic values of this column) satisfy it."""
        col = self.column
        values = values.reset_index(drop=True)
        missing = missing_mask(col, values)
        want_missing = any(v is None for v in self.values)
        present = [v for v in self.values if v is not None]
        if self.kind == "range":
            x = numbers(col, values)
            ok = ~np.isnan(x)
            if self.low is not None:
                ok &= x >= self.low
            if self.high is not None:
                ok &= x <= self.high
            return ok & ~missing
        if col.is_numeric:
            x = numbers(col, values)
            targets = user_numbers(col, pd.Series(present, dtype=object)) if present else np.empty(0)
            ok = np.isin(x, targets) & ~missing
        else:
            idx = category_index(col, values)
            targets_i = category_index(col, pd.Series(present, dtype=object)) if present else np.empty(0, int)
            ok = np.isin(idx, targets_i) & ~missing
        return ok | (missing & want_missing)


def parse_conditions(domain: Domain, conditions: Mapping[str, Any] | None) -> list[Condition]:
    """Check ``conditions`` against the public domain; every problem is listed at once.

    Raises:
        InvalidParameterError: Unknown columns, values outside the declared categories or
            bounds, ranges on categorical columns, reversed ranges.
    """
    if conditions is None:
        return []
    if not isinstance(conditions, Mapping):
        raise InvalidParameterError(
            f"conditions must be a dict {{column: value}}. Got {type(conditions).__name__}."
        )
    problems: list[str] = []
    out: list[Condition] = []
    for name, spec in conditions.items():
        if name not in domain:
            problems.append(f"no column {name!r} in the model (columns: {', '.join(domain.names)})")
            continue
        try:
            out.append(_parse_one(domain[name], spec))
        except ValueError as err:
            problems.append(str(err))
    if problems:
        raise InvalidParameterError("Bad sampling conditions: " + "; ".join(problems) + ".")
    return out


def _number(col: Column, value: Any, what: str) -> float:
    x = user_numbers(col, pd.Series([value], dtype=object))[0]
    if math.isnan(x):
        raise ValueError(f"{col.name!r}: {what} {value!r} is not a valid {col.kind} value")
    return float(x)


def _parse_one(col: Column, spec: Any) -> Condition:
    if isinstance(spec, tuple):
        if len(spec) != 2:
            raise ValueError(f"{col.name!r}: a range is a (low, high) pair; got {spec!r}")
        if not col.is_numeric:
            raise ValueError(f"{col.name!r} is {col.kind}: give a category or a list of categories, not a range")
        low = None if spec[0] is None else _number(col, spec[0], "low end")
        high = None if spec[1] is None else _number(col, spec[1], "high end")
        if low is not None and high is not None and low > high:
            raise ValueError(f"{col.name!r}: the range ({spec[0]}, {spec[1]}) has low > high")
        lo_b = col.lower if col.lower is not None else (col.edges[0] if col.edges else None)
        hi_b = col.upper if col.upper is not None else (col.edges[-1] if col.edges else None)
        if (high is not None and lo_b is not None and high < lo_b) or (
            low is not None and hi_b is not None and low > hi_b
        ):
            raise ValueError(f"{col.name!r}: the range ({spec[0]}, {spec[1]}) lies outside the column's "
                             f"bounds [{lo_b}, {hi_b}]")
        return Condition(col, "range", low=low, high=high)
    if isinstance(spec, list | set | frozenset):
        values = tuple(spec)
        if not values:
            raise ValueError(f"{col.name!r}: an empty list of values matches no row")
        kind = "one_of"
    else:
        values = (spec,)
        kind = "equal"
    for v in values:
        if v is None:
            if not col.nullable:
                raise ValueError(f"{col.name!r} is never missing in this model (not nullable)")
            continue
        if col.is_numeric:
            _number(col, v, "value")
        elif category_index(col, pd.Series([v], dtype=object))[0] < 0:
            cats = list(col.categories or ())
            shown = ", ".join(map(repr, cats[:12])) + (" …" if len(cats) > 12 else "")
            raise ValueError(f"{col.name!r}: {v!r} is not one of its categories ({shown})")
    return Condition(col, kind, values=values)


def allowed_codes(disc: Discretizer, cond: Condition, rng: np.random.Generator, draws: int = 64) -> np.ndarray:
    """Which codes of the condition's column can decode to a value that satisfies it.

    A code is allowed when any of ``draws`` decoded values satisfies the condition, or (for
    numeric bins) when its bin overlaps the range; rows decoded outside the condition are
    redrawn by the caller, so an allowed code never makes a wrong row, only a wasted one.
    """
    names = disc.names
    j = names.index(cond.name)
    size = disc.sizes[cond.name]
    codes = np.zeros((size * draws, len(names)), dtype=np.int64)
    codes[:, j] = np.repeat(np.arange(size), draws)
    decoded = disc.decode(codes, rng)[cond.name]
    ok: np.ndarray = np.asarray(cond.mask(decoded).reshape(size, draws).any(axis=1), dtype=bool)
    edges = disc.bin_edges(cond.name)
    if cond.kind == "range" and edges is not None:
        lo = -np.inf if cond.low is None else cond.low
        hi = np.inf if cond.high is None else cond.high
        nb = len(edges) - 1
        overlap = (edges[1:] >= lo) & (edges[:-1] <= hi)
        ok[: min(nb, size)] |= overlap[: min(nb, size)]
        mc = disc.missing_code(cond.name)
        if mc is not None:
            ok[mc] = False
    return ok


def too_rare(conds: Sequence[Condition], probability: float, domain: Domain | None = None) -> InvalidParameterError:
    """The error for conditions (and constraints) the model (almost) never produces."""
    parts = [c.describe() for c in conds]
    parts += [f"constraint {r.describe()}" for r in (domain.constraints if domain is not None else ())]
    return InvalidParameterError(
        f"The conditions {' and '.join(parts)} have probability {probability:.2g} under the model: it "
        "(almost) never produces such rows. Relax the conditions (a wider range, more values)."
    )


def sample_by_rejection(
    draw: Callable[[int], pd.DataFrame], conds: Sequence[Condition], n: int, domain: Domain | None = None
) -> pd.DataFrame:
    """Draw batches from ``draw`` and keep the rows that satisfy every condition.

    With ``domain``, rows must also satisfy its public constraints.

    Raises:
        InvalidParameterError: When the acceptance rate shows the conditions have (near)
            zero probability under the model.
    """
    kept: list[pd.DataFrame] = []
    got = drawn = 0
    limit = max(MIN_DRAWS, MAX_DRAWS_PER_ROW * n)
    batch = max(1000, 2 * n)
    while got < n:
        frame = draw(batch).reset_index(drop=True)
        ok = np.ones(len(frame), dtype=bool)
        for c in conds:
            ok &= c.mask(frame[c.name])
        if domain is not None and domain.constraints:
            ok &= rows_satisfying(domain.constraints, frame, domain)
        kept.append(frame[ok])
        got += int(ok.sum())
        drawn += len(frame)
        rate = got / drawn
        if got < n and (drawn >= limit or (drawn >= MIN_DRAWS // 10 and rate < MIN_PROBABILITY)):
            raise too_rare(conds, rate, domain)
        if got < n:
            need = (n - got) / max(rate, 1.0 / drawn)
            batch = int(min(max(1000, 1.2 * need), 200_000))
    return pd.concat(kept, ignore_index=True).iloc[:n].reset_index(drop=True)


def sample_exact(synth: Any, n: int, rng: np.random.Generator, conds: Sequence[Condition]) -> pd.DataFrame:
    """Conditional rows of a graphical-model synthesizer, by conditioning its model.

    ``synth`` is a fitted :class:`~dpsynth.synth.marginal.MarginalSynthesizer`. Only rows
    decoded inside a bin that straddles a range's end can miss the condition; they are
    redrawn from the conditioned model.
    """
    from dpsynth.pgm._condition import condition
    from dpsynth.synth.marginal import expand_codes

    disc = Discretizer(synth.domain_)
    model = synth.model_
    evidence: dict[str, np.ndarray] = {}
    for c in conds:
        fine = allowed_codes(disc, c, rng)
        if synth.coarsen_ is not None:
            mapping = np.asarray(synth.coarsen_[c.name])
            coarse = np.zeros(model.domain[c.name], dtype=bool)
            coarse[mapping[fine]] = True
            fine = coarse
        evidence[c.name] = evidence[c.name] & fine if c.name in evidence else fine
    joint: dict[str | tuple[str, ...], np.ndarray] = {}
    joint.update(evidence)
    if synth.coarsen_ is None:
        for rule in synth.domain_.constraints:
            cells = allowed_cells(disc, rule, synth.domain_, rng)
            if cells is not None:
                joint[rule.columns] = cells
    conditioned, probability = condition(model, joint)
    if probability < MIN_PROBABILITY:
        raise too_rare(conds, probability, synth.domain_)

    def draw(m: int) -> pd.DataFrame:
        codes = conditioned.sample(m, rng)
        if synth.coarsen_ is not None:
            for j, attr in enumerate(conditioned.domain.attrs):
                codes[:, j] = expand_codes(codes[:, j], synth.coarsen_[attr], rng)
        return disc.decode(codes, rng)

    return sample_by_rejection(draw, conds, n, synth.domain_)


#: A rule over more joint codes than this is enforced by rejection only (no exact zeroing).
MAX_RULE_CELLS = 100_000


def allowed_cells(
    disc: Discretizer, rule: Constraint, domain: Domain, rng: np.random.Generator
) -> np.ndarray | None:
    """The joint codes of a rule's columns where some decoded row can satisfy it.

    Each cell is decoded a few times; a cell none of whose draws satisfies the rule is
    zeroed in the model (rows there could only break it). Returns None when the rule spans
    more than :data:`MAX_RULE_CELLS` cells (rejection alone enforces it then).
    """
    names = disc.names
    shape = tuple(disc.sizes[c] for c in rule.columns)
    cells = int(np.prod(shape))
    if cells > MAX_RULE_CELLS:
        return None
    draws = max(4, min(32, 400_000 // max(cells, 1)))
    grid = np.stack(np.unravel_index(np.arange(cells), shape), axis=1)
    codes = np.zeros((cells * draws, len(names)), dtype=np.int64)
    for k, c in enumerate(rule.columns):
        codes[:, names.index(c)] = np.repeat(grid[:, k], draws)
    ok = rule.holds(disc.decode(codes, rng), domain).reshape(cells, draws).any(axis=1)
    return np.asarray(ok, dtype=bool).reshape(shape)


def conditions_from_strings(items: Sequence[str]) -> dict[str, Any]:
    """``["sex=Female", "age=30..40", "race=White|Black"]`` → a ``conditions`` dict (CLI form).

    ``LOW..HIGH`` is a closed range (an empty end is open); ``A|B`` one of several values.

    Raises:
        InvalidParameterError: An item without ``=``, or a column given twice.
    """
    out: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise InvalidParameterError(
                f"A condition is COLUMN=VALUE, COLUMN=LOW..HIGH or COLUMN=A|B. Got {item!r}."
            )
        if name in out:
            raise InvalidParameterError(f"Column {name!r} is conditioned twice; give it once (A|B for several values).")
        if ".." in value:
            low, _, high = value.partition("..")
            out[name] = (low.strip() or None, high.strip() or None)
        elif "|" in value:
            out[name] = [v.strip() for v in value.split("|")]
        else:
            out[name] = value.strip()
    return out
