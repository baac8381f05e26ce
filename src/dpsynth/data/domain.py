"""Column types and the :class:`Domain`: the public description of a table.

A domain says, for every column, what values it may take. It is *public*: it comes from
metadata the data owner writes from documentation (a codebook, a schema), never from the
sensitive rows. Anything the metadata leaves unknown (``null``) is inferred later with
differential privacy and charged to the fit's budget (see :mod:`dpsynth.data.infer`), so a
column may be declared with its type only; :attr:`Column.needs_inference` says so.

The metadata format
-------------------
A JSON object::

    {
      "version": 1,
      "name": "adult",
      "description": "UCI Adult (Census Income)",
      "source": "https://archive.ics.uci.edu/dataset/2/adult",
      "target": "income",
      "ignore": ["row_id"],
      "missing_values": ["?"],
      "columns": [
        {"name": "age", "type": "numeric", "integer": true, "lower": 17, "upper": 90},
        {"name": "fnlwgt", "type": "numeric", "integer": true},
        {"name": "education", "type": "ordinal",
         "categories": ["Preschool", "1st-4th", "HS-grad", "Bachelors", "Doctorate"]},
        {"name": "workclass", "type": "categorical", "nullable": true,
         "categories": ["Private", "State-gov", "Never-worked"]},
        {"name": "income", "type": "categorical", "categories": ["<=50K", ">50K"]}
      ]
    }

Top-level keys (all optional except ``columns``):

``version``
    Format version; only ``1`` exists.
``name``, ``description``, ``source``
    Free text: what the table is and where its documentation lives.
``target``
    The column a downstream model predicts (used by utility metrics).
``ignore``
    Columns present in the data that dpsynth must drop (row ids, free text). They are
    neither validated nor synthesized.
``missing_values``
    Default missing-value tokens for every column that does not list its own.
``columns``
    A list of column objects, in the order of the synthetic output (an object mapping
    name → column object is accepted too).

Column keys (``name`` and ``type`` are required):

``type``
    ``"categorical"`` (unordered labels), ``"ordinal"`` (labels whose listed order is
    meaningful), ``"numeric"`` (numbers) or ``"datetime"`` (ISO 8601 timestamps
    ``YYYY-MM-DD[ HH:MM[:SS[.ffffff]]]``, handled as seconds since 1970-01-01).
``categories``
    Categorical/ordinal only: every allowed value (strings or numbers, matched against the
    data as text), in order. ``null`` or absent: unknown, inferred with DP.
``lower``, ``upper``
    Numeric/datetime only: the public range. ``null`` or absent: unknown, inferred with DP.
    Datetime bounds may be ISO strings or epoch seconds.
``integer``
    Numeric/datetime only: values are whole numbers (whole seconds for datetimes).
``nullable``
    The column may be missing (default ``false``). Missing means an empty field, a null,
    or one of ``missing_values``.
``missing_values``
    Tokens that mean "missing" in this column, e.g. ``"?"`` or ``"N"`` (not applicable).
``bins``
    Numeric/datetime only: number of bins wanted when discretising (default 32).
``edges``
    Numeric/datetime only: explicit, strictly increasing bin edges (e.g. public or DP
    quantiles). They override ``bins``.
``step``
    Numeric/datetime only: the precision values are recorded in; every value is a whole
    multiple of it (``1`` for whole numbers, ``100`` for amounts in hundreds, ``0.01`` for
    two decimals; for datetimes in seconds: ``60`` whole minutes, ``86400`` dates).
    Synthetic values are drawn on this grid and written in the column's form. ``null`` or
    absent: inferred with DP (noisy counts of the values on nested candidate grids).
``atoms``
    Numeric/datetime only: public special values that occur exactly and often (``0``, a
    top-code such as ``99999``, the usual ``40`` hours). Each gets a code of its own and is
    decoded exactly. ``null`` or absent: found with DP (a thresholded noisy histogram of
    the exact values, whose δ is charged); ``[]``: none, and none are searched for.
``rounding``
    Numeric/datetime only: ``{"grids": [...], "shares": [...]}``, how round the non-zero
    values are: ``shares[i]`` is the share of them whose coarsest grid among the nested
    ``grids`` is ``grids[i]`` (each grid a whole multiple of the one before, the first one
    the column's ``step``, ``1`` for an integer column without one). Amounts of which 12% are whole hundreds but not thousands read
    ``{"grids": [1, 100, 1000], "shares": [0.7, 0.12, 0.18]}``. Decoding puts that share of
    synthetic values on each grid (``40`` and ``100`` where a uniform draw on the step
    would write ``37`` and ``113``). ``null`` or absent: read with DP from the same noisy
    histogram that infers ``step`` (no further budget); absent when ``step`` is declared.
``density``
    Numeric/datetime only: ``{"edges": [...], "weights": [...]}``, a histogram of the
    column on cells finer than its bins. Decoding draws a value inside its bin from this
    shape instead of uniformly. Written by dpsynth after measuring it with DP; rarely
    written by hand.
``format``
    Numeric/datetime only: how the values are written, when not as plain numbers or ISO
    8601. For a numeric column an object with any of ``"prefix"`` (e.g. ``"$"``),
    ``"suffix"`` (e.g. ``"%"``), ``"thousands"`` (one of ``","``, ``"."``, ``" "``,
    ``"'"``) and ``"decimal"`` (``"."`` or ``","``): ``{"prefix": "$", "thousands": ","}``
    reads ``$1,234.50`` and ``-$5`` as 1234.5 and -5; ``{"suffix": "%"}`` reads ``27.8%`` as
    27.8; ``{"thousands": ".", "decimal": ","}`` reads ``1.234,5``. A value is
    ``[sign] prefix [sign] digits [decimal digits] suffix``; the digits may be grouped by
    threes or not grouped; no exponent. ``"width"`` (a whole number of digits, 2 to
    :data:`MAX_WIDTH`) writes the whole part with at least that many digits, zero-padded:
    ``{"width": 5}`` reads ``02134`` as 2134 and writes 2134 as ``02134`` (ZIP and other
    codes kept as numbers without losing their leading zeros). For a datetime column one of
    :data:`DATETIME_FORMATS` (``"%m/%d/%Y"``, ``"%d.%m.%Y %H:%M"``, ``"%b %d %Y"``…).
    Reading is strict: a value not in the format is invalid, as an unparsable one.
    Synthetic CSV output writes the column in its format (with the decimals of ``step``
    when it has one). ``null`` or absent: plain numbers / ISO 8601; when the column's type
    is inferred, a format is chosen with DP among a fixed public list
    (:data:`dpsynth.data.infer.NUMBER_FORMATS`, :data:`dpsynth.data.infer.DATE_FORMATS`).
``description``
    Free text (the codebook's meaning of the column).

SDV single-table metadata (``"METADATA_SPEC_VERSION": "SINGLE_TABLE_V1"``) is accepted
wherever a metadata file is: see :mod:`dpsynth.data.sdv` for how its sdtypes map.

Values are compared after stripping surrounding spaces. Validation of the metadata is
strict and collects every problem before raising one :class:`~dpsynth.errors.MetadataError`.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dpsynth._files import atomic_open
from dpsynth.errors import MetadataError

if TYPE_CHECKING:
    from dpsynth.data.constraints import Constraint

KINDS: tuple[str, ...] = ("categorical", "ordinal", "numeric", "datetime")
#: Bins used for a numeric column whose metadata gives neither ``bins`` nor ``edges``.
DEFAULT_BINS = 32
FORMAT_VERSION = 1

_COLUMN_KEYS = (
    "name",
    "type",
    "categories",
    "lower",
    "upper",
    "integer",
    "nullable",
    "bins",
    "edges",
    "missing_values",
    "description",
    "step",
    "atoms",
    "density",
    "rounding",
    "format",
)
_DOMAIN_KEYS = (
    "version",
    "name",
    "description",
    "source",
    "target",
    "ignore",
    "missing_values",
    "columns",
    "constraints",
)
_DATETIME_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?)?"
)


def category_key(value: object) -> str:
    """The text a category (or a data value) is matched as.

    Integer-valued numbers are written without a decimal point, so that the category ``3``
    matches the CSV field ``3`` and a pandas float ``3.0``.
    """
    if isinstance(value, str):
        return value.strip(" ")
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    return str(value).strip(" ")


def parse_datetime_seconds(text: str) -> float | None:
    """Seconds since 1970-01-01 of an ISO 8601 timestamp (naive, UTC), or None if malformed."""
    text = text.strip(" ")
    if not _DATETIME_RE.fullmatch(text):
        return None
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    delta = dt.replace(tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return micros / 1e6


# -- value formats (``format``) ----------------------------------------------------------------
#: Thousands separators a number ``format`` may name ("" for none).
THOUSANDS_SEPARATORS: tuple[str, ...] = ("", ",", ".", " ", "'")
#: Decimal marks a number ``format`` may name.
DECIMAL_MARKS: tuple[str, ...] = (".", ",")
#: Longest ``prefix`` / ``suffix`` of a number format.
MAX_AFFIX = 8
#: The date/time patterns a datetime ``format`` may name (ISO 8601 needs none, but its UTC
#: form with a trailing ``Z``, ``2023-05-01T12:34:56Z``, is written back only through one).
#: ``%Y`` is four digits; ``%m``, ``%d`` and ``%H`` one or two (written with two); ``%M``
#: and ``%S`` two; ``%b`` an English month abbreviation (``Jan`` … ``Dec``).
DATETIME_FORMATS: tuple[str, ...] = (
    "%m/%d/%Y", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S",
    "%Y/%m/%d", "%Y/%m/%d %H:%M", "%Y/%m/%d %H:%M:%S",
    "%d.%m.%Y", "%d.%m.%Y %H:%M", "%d.%m.%Y %H:%M:%S",
    "%d-%m-%Y", "%m-%d-%Y",
    "%b %d %Y", "%b %d, %Y", "%d %b %Y",
    "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%MZ",
)
MONTH_NAMES: tuple[str, ...] = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_NUMBER_FORMAT_KEYS = ("prefix", "suffix", "thousands", "decimal", "width")
#: Most digits a number format's ``width`` may zero-pad to.
MAX_WIDTH = 18


@dataclass(frozen=True)
class NumberFormat:
    """How a numeric column writes its numbers: ``$1,234.50``, ``27.8%``, ``1.234,5``.

    A value is read as ``[sign] prefix [sign] digits [decimal digits] suffix`` (one sign at
    most, before or after the prefix); the integer digits may be grouped by threes with
    ``thousands`` (or not grouped at all); no exponent. With ``width``, the whole part is
    written zero-padded to at least that many digits (leading zeros are read as any digits
    are). Construct through :func:`number_format` (which validates); the fields are the
    metadata keys.
    """

    prefix: str = ""
    suffix: str = ""
    thousands: str = ""
    decimal: str = "."
    width: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The metadata object (keys at their default left out)."""
        out: dict[str, Any] = {"prefix": self.prefix, "suffix": self.suffix, "thousands": self.thousands}
        out = {k: v for k, v in out.items() if v}
        if self.decimal != ".":
            out["decimal"] = self.decimal
        if self.width:
            out["width"] = self.width
        return out

    def __str__(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)


def number_format(spec: Any) -> tuple[NumberFormat | None, str | None]:
    """A :class:`NumberFormat` from its metadata object, or (None, the problem)."""
    if isinstance(spec, NumberFormat):
        return spec, None
    if not isinstance(spec, Mapping):
        return None, ("a numeric column's 'format' must be an object such as "
                      f"{{\"prefix\": \"$\", \"thousands\": \",\"}}, got {spec!r}")
    unknown = [k for k in spec if k not in _NUMBER_FORMAT_KEYS]
    if unknown:
        return None, f"unknown key(s) {unknown} in 'format'; known: {', '.join(_NUMBER_FORMAT_KEYS)}"
    width = spec.get("width", 0)
    width = 0 if width is None else width
    if isinstance(width, bool) or not isinstance(width, int) or not (width == 0 or 2 <= width <= MAX_WIDTH):
        return None, f"'format' width must be a whole number of digits from 2 to {MAX_WIDTH}, got {width!r}"
    if width and spec.get("thousands"):
        return None, "'format' width (zero-padded digits) cannot be combined with thousands separators"
    vals = {k: spec.get(k, "." if k == "decimal" else "") for k in _NUMBER_FORMAT_KEYS if k != "width"}
    vals = {k: "" if v is None and k != "decimal" else v for k, v in vals.items()}
    bad = [k for k, v in vals.items() if not isinstance(v, str)]
    if bad:
        return None, f"'format' {bad[0]!r} must be a string, got {vals[bad[0]]!r}"
    if vals["thousands"] not in THOUSANDS_SEPARATORS:
        return None, (f"'format' thousands must be one of {list(THOUSANDS_SEPARATORS)}, "
                      f"got {vals['thousands']!r}")
    if vals["decimal"] not in DECIMAL_MARKS:
        return None, f"'format' decimal must be one of {list(DECIMAL_MARKS)}, got {vals['decimal']!r}"
    if vals["thousands"] == vals["decimal"]:
        return None, f"'format' thousands and decimal are both {vals['decimal']!r}"
    for key in ("prefix", "suffix"):
        v = vals[key]
        if len(v) > MAX_AFFIX or any(ch.isdigit() or ch in "+-" or not ch.isprintable() for ch in v):
            return None, (f"'format' {key} must be at most {MAX_AFFIX} printable characters without digits "
                          f"or signs, got {v!r}")
    if vals["prefix"][:1] == " " or vals["suffix"][-1:] == " ":
        return None, "'format' prefix may not start, nor suffix end, with a space (values are stripped)"
    fmt = NumberFormat(**vals, width=width)
    if fmt == NumberFormat():
        return None, "'format' {} is the plain number format: leave 'format' out"
    return fmt, None


def datetime_format(spec: Any) -> tuple[str | None, str | None]:
    """A datetime ``format`` (one of :data:`DATETIME_FORMATS`), or (None, the problem)."""
    if isinstance(spec, str) and spec in DATETIME_FORMATS:
        return spec, None
    if spec in ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"):
        return None, f"'format' {spec!r} is ISO 8601, read without a format: leave 'format' out"
    return None, f"a datetime column's 'format' must be one of {list(DATETIME_FORMATS)}, got {spec!r}"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class Column:
    """The public description of one column.

    Args:
        name: Column name, as in the data's header.
        kind: ``"categorical"``, ``"ordinal"``, ``"numeric"`` or ``"datetime"``.
        categories: Allowed values, in order (categorical/ordinal); None if unknown.
        lower: Public lower bound (numeric/datetime; epoch seconds for datetimes); None if unknown.
        upper: Public upper bound; None if unknown.
        integer: Whether values are whole numbers.
        nullable: Whether the column may be missing.
        bins: Number of bins wanted when discretising a numeric column (default 32).
        edges: Explicit, strictly increasing bin edges; they override ``bins``.
        missing_values: Tokens that mean missing, e.g. ``("?",)``.
        description: Free text.
        step: The precision values are recorded in (every value a multiple of it); None
            if unknown.
        atoms: Values that occur exactly and often, each coded and decoded exactly; None
            if unknown, ``()`` for none.
        density: ``(edges, weights)``: a histogram on cells finer than the bins that
            decoding draws from within a bin; None for a uniform draw.
        rounding: ``(grids, shares)``: the share of non-zero values whose coarsest grid
            among the nested ``grids`` is each grid; None to leave values on ``step`` only.
        format: How values are written: a :class:`NumberFormat` (or its metadata object)
            for a numeric column, one of :data:`DATETIME_FORMATS` for a datetime column;
            None for plain numbers and ISO 8601.

    Raises:
        MetadataError: Listing every problem with the description.
    """

    name: str
    kind: str = "categorical"
    categories: tuple[Any, ...] | None = None
    lower: float | None = None
    upper: float | None = None
    integer: bool = False
    nullable: bool = False
    bins: int | None = None
    edges: tuple[float, ...] | None = None
    missing_values: tuple[str, ...] = ()
    description: str = ""
    step: float | None = None
    atoms: tuple[float, ...] | None = None
    density: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    rounding: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    format: NumberFormat | str | None = None

    def __post_init__(self) -> None:
        problems = self._normalise()
        if problems:
            label = self.name if isinstance(self.name, str) and self.name else "?"
            raise MetadataError(
                [f"column {label!r}: {p}" for p in problems],
                hint="Fix the metadata (see the format in dpsynth.data.domain).",
            )

    def _normalise(self) -> list[str]:
        """Coerce containers to tuples and numbers to floats; return every problem found."""
        problems: list[str] = []
        set_ = object.__setattr__
        if not isinstance(self.name, str) or not self.name:
            problems.append(f"the name must be a non-empty string, got {self.name!r}")
        if self.kind not in KINDS:
            problems.append(f"unknown type {self.kind!r}; use one of {', '.join(KINDS)}")
            return problems
        numeric = self.kind in ("numeric", "datetime")
        if not isinstance(self.integer, bool):
            problems.append(f"'integer' must be true or false, got {self.integer!r}")
        if not isinstance(self.nullable, bool):
            problems.append(f"'nullable' must be true or false, got {self.nullable!r}")
        if not isinstance(self.description, str):
            problems.append("'description' must be a string")

        # Missing-value tokens.
        mv = self.missing_values
        if isinstance(mv, str) or not isinstance(mv, Iterable):
            problems.append(f"'missing_values' must be a list of strings, got {mv!r}")
            tokens: tuple[str, ...] = ()
        else:
            mv = tuple(mv)
            if not all(isinstance(t, str) for t in mv):
                problems.append(f"'missing_values' must be a list of strings, got {list(mv)!r}")
                tokens = ()
            else:
                tokens = tuple(t.strip(" ") for t in mv)
            set_(self, "missing_values", tuple(mv))

        # Categories.
        cats = self.categories
        if cats is not None:
            if numeric:
                problems.append(f"'categories' apply to categorical/ordinal columns, not {self.kind}")
            elif isinstance(cats, str | bytes) or not isinstance(cats, Iterable):
                problems.append(f"'categories' must be a list, got {cats!r}")
            else:
                cats = tuple(_plain(c) for c in cats)
                set_(self, "categories", cats)
                bad = [c for c in cats if not (isinstance(c, str) or _is_number(c))]
                bad += [c for c in cats if isinstance(c, float) and not math.isfinite(c)]
                if not cats:
                    problems.append("'categories' is empty; list every allowed value, or use null to infer them")
                if bad:
                    problems.append(f"categories must be strings or finite numbers, got {bad[:5]!r}")
                else:
                    keys = [category_key(c) for c in cats]
                    dups = sorted({k for k in keys if keys.count(k) > 1})
                    if dups:
                        problems.append(f"duplicate categories {dups[:5]!r}")
                    if "" in keys:
                        problems.append("an empty category is not allowed (an empty field means missing)")
                    clash = sorted(set(keys) & set(tokens))
                    if clash:
                        problems.append(f"{clash!r} listed both as categories and as missing_values")

        # Bounds.
        for attr in ("lower", "upper"):
            v = getattr(self, attr)
            if v is None:
                continue
            if not numeric:
                problems.append(f"'{attr}' applies to numeric/datetime columns, not {self.kind}")
                continue
            num = _to_float(v, self.kind)
            if num is None:
                what = "a number or an ISO timestamp" if self.kind == "datetime" else "a finite number"
                problems.append(f"'{attr}' must be {what}, got {v!r}")
            else:
                set_(self, attr, num)
        lo, hi = self.lower, self.upper
        if isinstance(lo, float) and isinstance(hi, float):
            if lo > hi:
                problems.append(f"lower ({lo:g}) > upper ({hi:g})")
            elif self.integer is True and math.ceil(lo) > math.floor(hi):
                problems.append(f"no whole number lies in [{lo:g}, {hi:g}] but the column is integer")

        # Bins and edges.
        if self.bins is not None:
            if not numeric:
                problems.append(f"'bins' applies to numeric/datetime columns, not {self.kind}")
            elif isinstance(self.bins, bool) or not isinstance(self.bins, int) or self.bins < 1:
                problems.append(f"'bins' must be an integer >= 1, got {self.bins!r}")
            else:
                set_(self, "bins", int(self.bins))
        if self.edges is not None:
            if not numeric:
                problems.append(f"'edges' apply to numeric/datetime columns, not {self.kind}")
            elif isinstance(self.edges, str | bytes) or not isinstance(self.edges, Iterable):
                problems.append(f"'edges' must be a list of numbers, got {self.edges!r}")
            else:
                raw = tuple(self.edges)
                conv = [_to_float(e, self.kind) for e in raw]
                if any(e is None for e in conv):
                    problems.append(f"'edges' must be finite numbers, got {list(raw)[:5]!r}…")
                else:
                    edges = tuple(float(e) for e in conv if e is not None)
                    set_(self, "edges", edges)
                    if len(edges) < 2:
                        problems.append("'edges' needs at least 2 values (one bin)")
                    elif any(b <= a for a, b in itertools.pairwise(edges)):
                        problems.append("'edges' must be strictly increasing")
        problems.extend(self._normalise_numeric_detail(numeric))
        return problems

    def _normalise_numeric_detail(self, numeric: bool) -> list[str]:
        """Check and coerce ``step``, ``atoms``, ``density`` and ``rounding``."""
        problems: list[str] = []
        set_ = object.__setattr__
        for attr in ("step", "atoms", "density", "rounding", "format"):
            if getattr(self, attr) is not None and not numeric:
                problems.append(f"'{attr}' applies to numeric/datetime columns, not {self.kind}")
                set_(self, attr, None)
        if self.format is not None:
            fmt, problem = (number_format if self.kind == "numeric" else datetime_format)(self.format)
            if problem:
                problems.append(problem)
            else:
                set_(self, "format", fmt)
        if self.step is not None:
            st = _plain(self.step)
            if not _is_number(st) or not math.isfinite(float(st)) or float(st) <= 0:
                problems.append(f"'step' must be a number > 0, got {self.step!r}")
            else:
                set_(self, "step", float(st))
                if self.integer is True and not float(st).is_integer():
                    problems.append(f"'step' of an integer column must be a whole number, got {st!r}")
        if self.atoms is not None:
            if isinstance(self.atoms, str | bytes) or not isinstance(self.atoms, Iterable):
                problems.append(f"'atoms' must be a list of numbers, got {self.atoms!r}")
            else:
                conv = [_to_float(a, self.kind) for a in tuple(self.atoms)]
                if any(a is None for a in conv):
                    problems.append(f"'atoms' must be finite numbers, got {list(self.atoms)[:5]!r}")
                else:
                    set_(self, "atoms", tuple(sorted({float(a) for a in conv if a is not None})))
        if self.density is not None:
            pair = _two_lists(self.density, "edges", "weights")
            if pair is None:
                problems.append("'density' must be {\"edges\": [...], \"weights\": [...]}")
            else:
                edges, weights = pair
                if len(edges) < 2 or len(weights) != len(edges) - 1:
                    problems.append("'density' needs n + 1 edges and n weights")
                elif any(b <= a for a, b in itertools.pairwise(edges)) or not all(map(math.isfinite, edges)):
                    problems.append("'density' edges must be finite and strictly increasing")
                elif any(not math.isfinite(x) or x < 0 for x in weights):
                    problems.append("'density' weights must be finite and >= 0")
                else:
                    set_(self, "density", (edges, weights))
        if self.rounding is not None:
            problems.extend(self._normalise_rounding())
        return problems

    def _normalise_rounding(self) -> list[str]:
        """Check and coerce ``rounding`` (nested grids, shares of the non-zero values)."""
        pair = _two_lists(self.rounding, "grids", "shares")
        if pair is None:
            return ["'rounding' must be {\"grids\": [...], \"shares\": [...]}"]
        grids, shares = pair
        if len(grids) < 1 or len(shares) != len(grids):
            return ["'rounding' needs as many shares as grids (at least one)"]
        if not all(math.isfinite(x) and x > 0 for x in grids):
            return ["'rounding' grids must be finite numbers > 0"]
        if any(not (b > a and abs(b / a - round(b / a)) <= 1e-9 * (b / a)) for a, b in itertools.pairwise(grids)):
            return ["'rounding' grids must be increasing, each a whole multiple of the one before"]
        if self.integer is True and not all(x.is_integer() for x in grids):
            return ["'rounding' grids of an integer column must be whole numbers"]
        base = float(self.step) if self.step is not None else (1.0 if self.integer is True else None)
        if base is None:
            return ["'rounding' needs a 'step' (or an integer column): its first grid is the step"]
        if abs(grids[0] - base) > 1e-9 * base:
            return [f"'rounding' must start at the column's step {base:g}, got {grids[0]:g}"]
        if any(not math.isfinite(x) or x < 0 for x in shares) or not sum(shares) > 0:
            return ["'rounding' shares must be finite, >= 0 and not all 0"]
        total = sum(shares)
        object.__setattr__(self, "rounding", (grids, tuple(x / total for x in shares)))
        return []

    @property
    def is_numeric(self) -> bool:
        """Whether values are numbers (numeric, or datetime as epoch seconds)."""
        return self.kind in ("numeric", "datetime")

    @property
    def needs_inference(self) -> bool:
        """Whether the metadata left categories or bounds unknown (to be inferred with DP)."""
        if self.is_numeric:
            return self.edges is None and (self.lower is None or self.upper is None)
        return self.categories is None

    def replace(self, **changes: Any) -> Column:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The column as a metadata JSON object (fields at their default are left out)."""
        out: dict[str, Any] = {"name": self.name, "type": self.kind}
        if self.categories is not None:
            out["categories"] = list(self.categories)
        for attr in ("lower", "upper"):
            v = getattr(self, attr)
            if v is not None:
                out[attr] = _compact(v)
        if self.integer:
            out["integer"] = True
        if self.nullable:
            out["nullable"] = True
        if self.bins is not None:
            out["bins"] = self.bins
        if self.edges is not None:
            out["edges"] = [_compact(e) for e in self.edges]
        if self.missing_values:
            out["missing_values"] = list(self.missing_values)
        if self.description:
            out["description"] = self.description
        if self.step is not None:
            out["step"] = _compact(self.step)
        if self.atoms is not None:
            out["atoms"] = [_compact(a) for a in self.atoms]
        if self.density is not None:
            out["density"] = {
                "edges": [_compact(e) for e in self.density[0]],
                "weights": [_compact(w) for w in self.density[1]],
            }
        if self.rounding is not None:
            out["rounding"] = {
                "grids": [_compact(g) for g in self.rounding[0]],
                "shares": [_compact(w) for w in self.rounding[1]],
            }
        if self.format is not None:
            out["format"] = self.format.to_dict() if isinstance(self.format, NumberFormat) else self.format
        return out

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], *, default_missing: Sequence[str] = ()) -> Column:
        """Build a column from its metadata JSON object.

        Args:
            doc: The JSON object.
            default_missing: Missing-value tokens to use when ``doc`` lists none.

        Raises:
            MetadataError: Listing every problem with this column.
        """
        label = doc.get("name", "?") if isinstance(doc, Mapping) else "?"
        if not isinstance(doc, Mapping):
            raise MetadataError(f"a column must be a JSON object, got {doc!r}")
        problems = []
        unknown = [k for k in doc if k not in _COLUMN_KEYS]
        if unknown:
            problems.append(f"unknown field(s) {unknown}; known: {', '.join(_COLUMN_KEYS)}")
        if "name" not in doc:
            problems.append("has no 'name'")
        if "type" not in doc:
            problems.append(f"has no 'type' (one of {', '.join(KINDS)})")
        kwargs = {k: v for k, v in doc.items() if k in _COLUMN_KEYS and k != "type"}
        kwargs["kind"] = doc.get("type", "categorical")
        kwargs.setdefault("name", "?")
        if "missing_values" not in doc:
            kwargs["missing_values"] = tuple(default_missing)
        for key in ("integer", "nullable"):
            if kwargs.get(key) is None:
                kwargs.pop(key, None)
        kwargs.setdefault("description", "")
        if kwargs.get("description") is None:
            kwargs["description"] = ""
        try:
            col = cls(**kwargs)
        except MetadataError as err:
            problems.extend(p.split(": ", 1)[1] if p.startswith("column ") else p for p in err.problems)
            col = None
        if problems:
            raise MetadataError([f"column {label!r}: {p}" for p in problems])
        assert col is not None
        return col


def _two_lists(value: Any, first: str, second: str) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """``{first: [...], second: [...]}`` or a pair of sequences as two tuples of floats (None if not)."""
    if isinstance(value, Mapping):
        value = (value.get(first), value.get(second))
    try:
        a, b = value
        return tuple(float(_plain(x)) for x in a), tuple(float(_plain(x)) for x in b)
    except (TypeError, ValueError):
        return None


def _plain(value: Any) -> Any:
    """Turn numpy scalars into Python ones (JSON and hashing behave)."""
    item = getattr(value, "item", None)
    if item is not None and not isinstance(value, str | int | float):
        try:
            return item()
        except (TypeError, ValueError):
            return value
    return value


def _to_float(value: Any, kind: str) -> float | None:
    value = _plain(value)
    if kind == "datetime" and isinstance(value, str):
        return parse_datetime_seconds(value)
    if not _is_number(value):
        return None
    v = float(value)
    return v if math.isfinite(v) else None


def _compact(v: float) -> int | float:
    """Write 17.0 as 17 in JSON (same value, reads better)."""
    return int(v) if v.is_integer() and abs(v) < 2**53 else v


class Domain:
    """The ordered, public description of a table's columns.

    A domain is immutable: :meth:`project` and :meth:`replace` return new domains.

    Args:
        columns: The columns, in output order.
        target: The column downstream models predict, if any.
        ignore: Columns present in the data that are dropped (row ids, free text).
        name: Short name of the dataset.
        description: Free text.
        source: Where the documentation came from.

    Raises:
        MetadataError: Duplicate names, an unknown target, or a column both used and ignored.
    """

    __slots__ = ("_columns", "_index", "constraints", "description", "ignore", "name", "source", "target")

    def __init__(
        self,
        columns: Iterable[Column],
        *,
        target: str | None = None,
        ignore: Iterable[str] = (),
        name: str = "",
        description: str = "",
        source: str = "",
        constraints: Iterable[Constraint] = (),
    ) -> None:
        cols = tuple(columns)
        bad = [c for c in cols if not isinstance(c, Column)]
        if bad:
            raise MetadataError(f"columns must be Column objects, got {type(bad[0]).__name__}")
        problems = _domain_problems([c.name for c in cols], target, ignore)
        if problems:
            raise MetadataError(problems, hint="Fix the metadata (see the format in dpsynth.data.domain).")
        self._columns = cols
        self._index = {c.name: i for i, c in enumerate(cols)}
        self.target = target
        self.ignore = tuple(ignore)
        self.name = name
        self.description = description
        self.source = source
        #: Public rules every synthetic row satisfies (see :mod:`dpsynth.data.constraints`).
        self.constraints: tuple[Constraint, ...] = tuple(constraints)
        if self.constraints:
            from dpsynth.data.constraints import check_constraints

            check_constraints(self.constraints, self)

    # -- container protocol -------------------------------------------------------------
    @property
    def columns(self) -> tuple[Column, ...]:
        """The columns, in order."""
        return self._columns

    @property
    def names(self) -> tuple[str, ...]:
        """Column names, in order."""
        return tuple(c.name for c in self._columns)

    def __getitem__(self, key: str | int) -> Column:
        if isinstance(key, int):
            return self._columns[key]
        try:
            return self._columns[self._index[key]]
        except KeyError:
            raise KeyError(f"no column {key!r} in the domain; columns: {list(self.names)}") from None

    def __iter__(self) -> Iterator[Column]:
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Domain):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self) -> tuple[Any, ...]:
        return (self._columns, self.target, self.ignore, self.name, self.description, self.source,
                self.constraints)

    def __repr__(self) -> str:
        return f"Domain({list(self.names)!r}, target={self.target!r})"

    # -- derived domains ----------------------------------------------------------------
    @property
    def needs_inference(self) -> tuple[str, ...]:
        """Names of the columns whose categories or bounds are still unknown."""
        return tuple(c.name for c in self._columns if c.needs_inference)

    def project(self, names: Iterable[str]) -> Domain:
        """The sub-domain of ``names``, in the order given (target kept only if included)."""
        names = list(names)
        unknown = [n for n in names if n not in self._index]
        if unknown:
            raise KeyError(f"no column(s) {unknown} in the domain; columns: {list(self.names)}")
        kept = set(names)
        return self.replace(
            columns=[self[n] for n in names], target=self.target if self.target in names else None,
            constraints=[r for r in self.constraints if set(r.columns) <= kept],
        )

    def replace(self, **changes: Any) -> Domain:
        """A copy with some attributes changed (``columns``, ``target``, ``ignore``, ``name``…).

        Use this rather than ``Domain(columns, target=...)`` to keep ``ignore`` and the
        descriptive fields.
        """
        allowed = {"columns", "target", "ignore", "name", "description", "source", "constraints"}
        bad = set(changes) - allowed
        if bad:
            raise TypeError(f"Domain.replace got unknown field(s) {sorted(bad)}")
        kw: dict[str, Any] = {
            "columns": self._columns,
            "target": self.target,
            "ignore": self.ignore,
            "name": self.name,
            "description": self.description,
            "source": self.source,
            "constraints": self.constraints,
        }
        kw.update(changes)
        return Domain(kw.pop("columns"), **kw)

    def with_columns(self, columns: Iterable[Column]) -> Domain:
        """This domain with some columns swapped for new versions (matched by name)."""
        new = {c.name: c for c in columns}
        unknown = [n for n in new if n not in self._index]
        if unknown:
            raise KeyError(f"no column(s) {unknown} in the domain")
        return self.replace(columns=[new.get(c.name, c) for c in self._columns])

    # -- JSON ----------------------------------------------------------------------------
    def to_json(self, path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
        """The domain as a metadata JSON object; also written to ``path`` (atomically) if given.

        Returns:
            The JSON-compatible dict (``Domain.from_json`` of it gives back an equal domain).
        """
        doc: dict[str, Any] = {"version": FORMAT_VERSION}
        for attr in ("name", "description", "source"):
            if getattr(self, attr):
                doc[attr] = getattr(self, attr)
        if self.target is not None:
            doc["target"] = self.target
        if self.ignore:
            doc["ignore"] = list(self.ignore)
        doc["columns"] = [c.to_dict() for c in self._columns]
        if self.constraints:
            doc["constraints"] = [r.to_dict() for r in self.constraints]
        if path is not None:
            _write_text_atomic(Path(path), format_json(doc))
        return doc

    @classmethod
    def from_json(cls, source: str | os.PathLike[str] | Mapping[str, Any]) -> Domain:
        """Read metadata from a JSON file path or an already-parsed dict.

        Every problem in the metadata is collected and raised at once.

        Raises:
            MetadataError: If the file is missing or malformed, or the metadata inconsistent.
        """
        if isinstance(source, Mapping):
            doc: Any = source
            where = "metadata"
        else:
            path = Path(source)
            where = str(path)
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise MetadataError(
                    f"metadata file {where} not found", hint="Check the path to the metadata JSON."
                ) from None
            except UnicodeDecodeError:
                raise MetadataError(f"metadata file {where} is not UTF-8 text") from None
            except OSError as err:
                raise MetadataError(f"metadata file {where} cannot be read: {err}") from None
            try:
                doc = json.loads(text)
            except json.JSONDecodeError as err:
                raise MetadataError(
                    f"metadata file {where} is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}"
                ) from None
        if not isinstance(doc, Mapping):
            raise MetadataError(f"{where}: the metadata must be a JSON object with a 'columns' list")
        from dpsynth.data.sdv import is_sdv_metadata

        if is_sdv_metadata(doc):
            return cls.from_sdv(doc, where=where)
        problems: list[str] = []
        unknown = [k for k in doc if k not in _DOMAIN_KEYS]
        if unknown:
            problems.append(f"unknown top-level field(s) {unknown}; known: {', '.join(_DOMAIN_KEYS)}")
        version = doc.get("version", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            problems.append(f"unsupported metadata version {version!r}; this dpsynth reads version {FORMAT_VERSION}")
        default_missing = doc.get("missing_values", ())
        if isinstance(default_missing, str) or not isinstance(default_missing, list | tuple) or not all(
            isinstance(t, str) for t in default_missing
        ):
            problems.append(f"top-level 'missing_values' must be a list of strings, got {default_missing!r}")
            default_missing = ()
        raw_cols = doc.get("columns")
        items: list[Any]
        if raw_cols is None:
            problems.append("no 'columns' given")
            items = []
        elif isinstance(raw_cols, Mapping):
            items = []
            for name, spec in raw_cols.items():
                if isinstance(spec, Mapping):
                    items.append({"name": name, **spec})
                else:
                    items.append(spec)
        elif isinstance(raw_cols, list):
            items = list(raw_cols)
            if not items:
                problems.append("'columns' is empty")
        else:
            problems.append("'columns' must be a list of column objects")
            items = []
        columns: list[Column] = []
        for i, spec in enumerate(items):
            try:
                columns.append(Column.from_dict(spec, default_missing=default_missing))
            except MetadataError as err:
                if isinstance(spec, Mapping) and "name" not in spec:
                    problems.extend(p.replace("column '?'", f"column #{i + 1}") for p in err.problems)
                else:
                    problems.extend(err.problems)
        target = doc.get("target")
        if target is not None and not isinstance(target, str):
            problems.append(f"'target' must be a column name, got {target!r}")
            target = None
        ignore = doc.get("ignore", [])
        if not isinstance(ignore, list) or not all(isinstance(n, str) for n in ignore):
            problems.append(f"'ignore' must be a list of column names, got {ignore!r}")
            ignore = []
        texts: dict[str, Any] = {}
        for attr in ("name", "description", "source"):
            val = doc.get(attr, "")
            if val is None:
                val = ""
            if not isinstance(val, str):
                problems.append(f"'{attr}' must be a string")
                val = ""
            texts[attr] = val
        # Checked on the names as written, so that a column that failed to parse still counts.
        raw_names = [s["name"] for s in items if isinstance(s, Mapping) and isinstance(s.get("name"), str)]
        problems.extend(_domain_problems(raw_names, target, ignore))
        from dpsynth.data.constraints import parse_constraints

        constraints, rule_problems = parse_constraints(doc.get("constraints"))
        problems.extend(rule_problems)
        if not problems:
            try:
                probe = cls(columns, target=target, ignore=ignore, **texts)
            except MetadataError as err:
                problems.extend(err.problems)
            else:
                problems.extend(f"constraint {r.describe()}: {p}" for r in constraints for p in r.check(probe))
        if problems:
            raise MetadataError(
                [f"{where}: {p}" for p in problems],
                hint="Fix the metadata (see the format in dpsynth.data.domain).",
            )
        return cls(columns, target=target, ignore=ignore, constraints=constraints, **texts)


    @classmethod
    def from_sdv(cls, doc: Mapping[str, Any], *, table: str | None = None, where: str = "SDV metadata") -> Domain:
        """Read SDV single-table metadata (see :mod:`dpsynth.data.sdv` for the mapping).

        What could not be mapped (keys, PII columns, non-ISO datetime formats) is said in one
        warning. Categories and bounds are left unknown: inferred with DP at fit time.
        """
        from dpsynth.data.sdv import domain_from_sdv

        domain, notes = domain_from_sdv(doc, table=table, where=where)
        if notes:
            warnings.warn(f"{where}: " + "; ".join(notes), UserWarning, stacklevel=2)
        return domain

    def to_sdv(self) -> dict[str, Any]:
        """This domain as SDV single-table metadata (see :mod:`dpsynth.data.sdv`)."""
        from dpsynth.data.sdv import domain_to_sdv

        return domain_to_sdv(self)


def format_json(doc: Any, indent: int = 0) -> str:
    """Indented JSON with lists of plain values on one line (metadata files stay readable)."""
    pad, inner = " " * indent, " " * (indent + 2)
    if isinstance(doc, Mapping) and doc:
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {format_json(v, indent + 2).lstrip()}" for k, v in doc.items()]
        body = ",\n".join(items)
        text = "{\n" + body + "\n" + pad + "}"
    elif isinstance(doc, list | tuple) and doc and any(isinstance(v, Mapping | list | tuple) for v in doc):
        body = ",\n".join(inner + format_json(v, indent + 2).lstrip() for v in doc)
        text = "[\n" + body + "\n" + pad + "]"
    else:
        text = json.dumps(doc, ensure_ascii=False)
    return (text + "\n") if indent == 0 else text


def _domain_problems(names: Sequence[str], target: str | None, ignore: Iterable[str]) -> list[str]:
    problems = []
    dups = sorted({n for n in names if names.count(n) > 1})
    if dups:
        problems.append(f"duplicate column name(s) {dups}")
    if target is not None and target not in names:
        problems.append(f"target {target!r} is not one of the columns")
    ignore = list(ignore)
    both = sorted(set(ignore) & set(names))
    if both:
        problems.append(f"column(s) {both} are both described and listed in 'ignore'")
    return problems


def _write_text_atomic(path: Path, text: str) -> None:
    with atomic_open(path) as fh:
        fh.write(text)


__all__ = ["DATETIME_FORMATS", "DEFAULT_BINS", "KINDS", "Column", "Domain", "NumberFormat", "category_key",
           "parse_datetime_seconds"]
