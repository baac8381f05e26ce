"""How raw values are read, written twice: as DuckDB SQL and as numpy/pandas.

Every table dpsynth reads is held as text (VARCHAR) and typed by the metadata. The two
implementations here must agree value for value (tests check it on random data), so both
accept only a strict grammar instead of each engine's own lenient parser:

* surrounding spaces are stripped (only spaces, as DuckDB's ``trim``);
* missing: null, an empty string, or one of the column's ``missing_values``;
* a number: ``[+-]digits[.digits][e[+-]digits]`` (no ``inf``, ``nan``, hex or ``1_000``);
  a number that overflows to ±inf is invalid;
* a datetime: ``YYYY-MM-DD[( |T)HH:MM[:SS[.ffffff]]]`` (hours 00-23), naive, as seconds since 1970-01-01
  (microseconds / 1e6).

A column with a ``format`` (:class:`~dpsynth.data.domain.NumberFormat`, or one of
:data:`~dpsynth.data.domain.DATETIME_FORMATS`) is read in two steps, the same in every engine:
the stripped text must match the format's regular expression (:func:`format_regex`, written
so that Python's ``re``, DuckDB's RE2 and Java's regex read it alike), and the captured parts
are put together into the plain text above (``-$1,234.5`` → ``-1234.5``, ``12/31/2020`` →
``2020-12-31``), which is then parsed by the plain rule. :func:`format_value` writes a number
back in the format.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from dpsynth.data.domain import MONTH_NAMES, Column, NumberFormat, category_key

NUMBER_PATTERN = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?"
# Hours 00-23: DuckDB reads "24:00" as the next day, pandas as invalid; both refuse it here.
DATETIME_PATTERN = r"[0-9]{4}-[0-9]{2}-[0-9]{2}([ T]([01][0-9]|2[0-3]):[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?)?"
_NUMBER_RE = re.compile(NUMBER_PATTERN)
_DATETIME_RE = re.compile(DATETIME_PATTERN)
_DATE_FIELDS = {"%Y": "[0-9]{4}", "%m": "[0-9]{1,2}", "%d": "[0-9]{1,2}", "%H": "[0-9]{1,2}",
                "%M": "[0-9]{2}", "%S": "[0-9]{2}", "%b": "|".join(MONTH_NAMES)}


# -- formats -------------------------------------------------------------------------------
def _rx_escape(text: str) -> str:
    """Escape ASCII punctuation only (RE2 rejects an escaped non-ASCII character)."""
    return "".join("\\" + ch if ch.isascii() and not ch.isalnum() and ch != " " else ch for ch in text)


def format_regex(fmt: NumberFormat | str) -> tuple[str, tuple[str, ...]]:
    """The regular expression of a format, and what each of its groups holds.

    Number groups: ``sign`` (before the prefix), ``sign`` (after it), ``int``, ``frac``.
    Datetime groups: one per field (``%Y``, ``%m``, …), in the pattern's order.
    """
    if isinstance(fmt, NumberFormat):
        p = _rx_escape(fmt.prefix)
        sign = f"(?:([+-]){p}|{p}([+-]?))" if p else "([+-]?)()"
        t = _rx_escape(fmt.thousands)
        digits = f"([0-9]{{1,3}}(?:{t}[0-9]{{3}})+|[0-9]+)" if t else "([0-9]+)"
        return (f"{sign}{digits}(?:{_rx_escape(fmt.decimal)}([0-9]*))?{_rx_escape(fmt.suffix)}",
                ("sign", "sign", "int", "frac"))
    parts, fields = [], []
    for tok in re.split(r"(%[a-zA-Z])", fmt):
        if tok in _DATE_FIELDS:
            parts.append(f"({_DATE_FIELDS[tok]})")
            fields.append(tok)
        else:
            parts.append(_rx_escape(tok))
    return "".join(parts), tuple(fields)


def _canonical_parts(fmt: NumberFormat | str, groups: dict[str, Any]) -> list[Any]:
    """The plain text of a formatted value, as a list of pieces to concatenate.

    ``groups`` maps a group's name (``"g1"``, …) to how the engine spells its text. A piece
    is a literal string or ``(what, group)``: ``"raw"`` the group's text, ``"strip"`` it
    without thousands separators, ``"pad"`` it padded to two digits, ``"month"`` the number
    of its month name.
    """
    _, names = format_regex(fmt)
    g = {n: groups[f"g{i + 1}"] for i, n in enumerate(names) if n != "sign"}
    if isinstance(fmt, NumberFormat):
        return [("raw", groups["g1"]), ("raw", groups["g2"]), ("strip", g["int"]), ".", ("raw", g["frac"]), "0"]
    month = ("month", g["%b"]) if "%b" in g else ("pad", g["%m"])
    out: list[Any] = [("raw", g["%Y"]), "-", month, "-", ("pad", g["%d"])]
    if "%H" in g:
        out += [" ", ("pad", g["%H"]), ":", ("raw", g["%M"])]
        if "%S" in g:
            out += [":", ("raw", g["%S"])]
    return out


def canonical_text(fmt: NumberFormat | str, text: str | None) -> str | None:
    """The plain text of a stripped formatted value (None if it is not in the format)."""
    if text is None:
        return None
    rx, names = format_regex(fmt)
    m = re.fullmatch(rx, text)
    if m is None:
        return None
    groups = {f"g{i + 1}": m.group(i + 1) or "" for i in range(len(names))}
    sep = fmt.thousands if isinstance(fmt, NumberFormat) else ""
    out = []
    for piece in _canonical_parts(fmt, groups):
        if isinstance(piece, tuple):
            kind, v = piece
            if kind == "strip":
                v = v.replace(sep, "") if sep else v
            elif kind == "raw":
                pass
            elif kind == "pad":
                v = v.rjust(2, "0")
            else:
                v = f"{MONTH_NAMES.index(v) + 1:02d}"
            out.append(v)
        else:
            out.append(piece)
    return "".join(out)


def _decimals_of(step: float) -> int:
    """Decimals of a step's shortest text (0.01 → 2, 0.5 → 1, 100 → 0)."""
    text = np.format_float_positional(float(step), trim="-")
    return len(text.split(".")[1]) if "." in text else 0


def value_decimals(col: Column) -> int | None:
    """Decimals a formatted number is written with: fixed by ``integer`` or ``step``, else None."""
    if col.integer:
        return 0
    if col.step is not None:
        return _decimals_of(col.step)
    return None


def format_number(fmt: NumberFormat, value: float, decimals: int | None = None) -> str:
    """``value`` written in ``fmt`` (shortest digits, or ``decimals`` fixed)."""
    v = float(value)
    digits = f"{abs(v):.{decimals}f}" if decimals is not None else np.format_float_positional(abs(v), trim="-")
    whole, _, frac = digits.partition(".")
    if fmt.width:
        whole = whole.zfill(fmt.width)
    if fmt.thousands:
        head = len(whole) % 3 or 3
        whole = fmt.thousands.join([whole[:head], *(whole[i:i + 3] for i in range(head, len(whole), 3))])
    sign = "-" if v < 0 and any(ch not in "0." for ch in digits) else ""
    return f"{sign}{fmt.prefix}{whole}{fmt.decimal + frac if frac else ''}{fmt.suffix}"


def format_datetime(fmt: str, seconds: float) -> str:
    """Epoch ``seconds`` written in a datetime pattern (below its precision: truncated)."""
    ts = datetime(1970, 1, 1) + timedelta(microseconds=round(float(seconds) * 1e6))
    fields = {"%Y": f"{ts.year:04d}", "%m": f"{ts.month:02d}", "%d": f"{ts.day:02d}", "%H": f"{ts.hour:02d}",
              "%M": f"{ts.minute:02d}", "%S": f"{ts.second:02d}", "%b": MONTH_NAMES[ts.month - 1]}
    return "".join(fields.get(tok, tok) for tok in re.split(r"(%[a-zA-Z])", fmt))


def format_value(col: Column, value: float) -> str:
    """A number (epoch seconds for datetimes) written as the column writes it.

    In the column's ``format`` when it has one; otherwise ISO 8601 for datetimes and the
    shortest ``repr`` for numbers.
    """
    if col.kind == "datetime":
        if isinstance(col.format, str):
            return format_datetime(col.format, value)
        micros = round(float(value) * 1e6)
        return np.datetime64(micros, "us").astype(str).replace("T", " ")
    if isinstance(col.format, NumberFormat):
        return format_number(col.format, value, value_decimals(col))
    return repr(float(value))


def bound_text(col: Column, value: float, *, upper: bool) -> str:
    """The text a value clamped to the bound ``value`` is written as (read back inside the range).

    Plain columns: ``repr`` / ISO text (exact). Formatted numbers: shortest digits (exact).
    Formatted datetimes hold whole days, minutes or seconds: the bound rounded inwards.
    """
    if isinstance(col.format, str):
        unit = 1.0 if "%S" in col.format else 60.0 if "%M" in col.format else 86400.0
        k = math.floor(value / unit + 1e-9) if upper else math.ceil(value / unit - 1e-9)
        return format_datetime(col.format, k * unit)
    if isinstance(col.format, NumberFormat):
        return format_number(col.format, value)
    return format_value(col, value)


def format_values(col: Column, values: pd.Series) -> pd.Series:
    """A decoded column (floats, Int64 or datetime64) as text in the column's format (None where missing)."""
    if col.format is None:
        return values
    if col.kind == "datetime":
        secs = _epoch_seconds(pd.Series(pd.to_datetime(values)).reset_index(drop=True))
    else:
        secs = pd.Series(values).reset_index(drop=True).to_numpy(dtype=np.float64, na_value=np.nan)
    codes, uniques = pd.factorize(pd.Series(secs), use_na_sentinel=True)
    texts = np.array([format_value(col, float(u)) for u in uniques] + [None], dtype=object)
    return pd.Series(texts[codes], index=values.index, dtype=object)


# -- SQL ---------------------------------------------------------------------------------
def quote_ident(name: str) -> str:
    """A DuckDB identifier for ``name`` (any characters)."""
    return '"' + str(name).replace('"', '""') + '"'


def sql_str(value: object) -> str:
    """A DuckDB string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def sql_double(value: float) -> str:
    """A DuckDB DOUBLE constant equal to ``value`` bit for bit.

    A bare ``0.1`` would be parsed as DECIMAL, and DECIMAL→DOUBLE of long literals may
    round twice; parsing the shortest repr as a string is exact.
    """
    return f"CAST({sql_str(repr(float(value)))} AS DOUBLE)"


def sql_text(ident: str) -> str:
    """The stripped text of a column."""
    return f"trim(CAST({ident} AS VARCHAR))"


def sql_missing(col: Column, ident: str) -> str:
    """SQL condition: the value counts as missing."""
    t = sql_text(ident)
    cond = f"{ident} IS NULL OR {t} = ''"
    tokens = sorted({tok.strip(" ") for tok in col.missing_values} - {""})
    if tokens:
        cond += f" OR {t} IN ({', '.join(sql_str(tok) for tok in tokens)})"
    return f"({cond})"


def sql_number(col: Column, ident: str) -> str:
    """SQL DOUBLE of the value (epoch seconds for datetimes); NULL if it does not parse."""
    t = sql_text(ident)
    if col.format is not None:
        rx, _ = format_regex(col.format)
        return (f"(CASE WHEN regexp_full_match({t}, {sql_str(rx)}) THEN "
                f"{_sql_plain_number(col.kind, sql_canonical(col.format, t))} END)")
    return _sql_plain_number(col.kind, t)


def _sql_plain_number(kind: str, t: str) -> str:
    if kind == "datetime":
        return (
            f"(CASE WHEN regexp_full_match({t}, {sql_str(DATETIME_PATTERN)}) THEN "
            f"CAST(epoch_us(TRY_CAST({t} AS TIMESTAMP)) AS DOUBLE) / CAST(1000000 AS DOUBLE) END)"
        )
    return f"(CASE WHEN regexp_full_match({t}, {sql_str(NUMBER_PATTERN)}) THEN TRY_CAST({t} AS DOUBLE) END)"


def sql_canonical(fmt: NumberFormat | str, t: str) -> str:
    """SQL: the plain text of the (stripped) text ``t`` in format ``fmt`` (garbage if it does not match)."""
    rx, names = format_regex(fmt)
    anchored = sql_str(f"^(?:{rx})$")
    groups = {f"g{i + 1}": f"regexp_extract({t}, {anchored}, {i + 1})" for i in range(len(names))}
    sep = fmt.thousands if isinstance(fmt, NumberFormat) else ""
    months = "[" + ", ".join(sql_str(m) for m in MONTH_NAMES) + "]"
    out = []
    for piece in _canonical_parts(fmt, groups):
        if isinstance(piece, tuple):
            kind, v = piece
            if kind == "strip":
                out.append(f"replace({v}, {sql_str(sep)}, '')" if sep else v)
            elif kind == "raw":
                out.append(v)
            elif kind == "pad":
                out.append(f"lpad({v}, 2, '0')")
            else:
                out.append(f"lpad(CAST(list_position({months}, {v}) AS VARCHAR), 2, '0')")
        else:
            out.append(sql_str(piece))
    return "(" + " || ".join(out) + ")"


def sql_valid_number(expr: str) -> str:
    """SQL condition: a parsed number is usable (parsed and finite)."""
    return f"({expr} IS NOT NULL AND isfinite({expr}))"


def sql_category_keys(col: Column) -> str:
    """A DuckDB list literal of the column's category keys, in order."""
    return "[" + ", ".join(sql_str(category_key(c)) for c in col.categories or ()) + "]"


def sql_as_text(ident: str, duck_type: str) -> str:
    """Cast a typed DuckDB column to the text dpsynth reads (as pandas values would be written)."""
    t = duck_type.upper()
    if t == "VARCHAR":
        return ident
    if t in ("DOUBLE", "FLOAT", "REAL") or t.startswith("DECIMAL"):
        x = f"CAST({ident} AS DOUBLE)"
        return (
            f"CASE WHEN isnan({x}) THEN NULL "
            f"WHEN {x} = trunc({x}) AND abs({x}) < 1e15 THEN CAST(CAST({x} AS BIGINT) AS VARCHAR) "
            f"ELSE CAST({x} AS VARCHAR) END"
        )
    if t == "BOOLEAN":
        return f"CASE WHEN {ident} THEN 'True' WHEN NOT {ident} THEN 'False' END"
    if t.startswith("TIMESTAMP") or t == "DATE":
        return f"strftime(CAST({ident} AS TIMESTAMP), '%Y-%m-%d %H:%M:%S.%f')"
    return f"CAST({ident} AS VARCHAR)"


# -- pandas / numpy ------------------------------------------------------------------------
def text_values(values: pd.Series | Sequence[Any] | np.ndarray) -> np.ndarray:
    """The text of each value as dpsynth stores it (object array; None where null).

    Floats that are whole numbers are written without ``.0``; datetimes as
    ``YYYY-MM-DD HH:MM:SS.ffffff``; strings are kept as they are (stripped when parsed).
    """
    s = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
    dtype = s.dtype
    na = s.isna().to_numpy()
    if pd.api.types.is_datetime64_any_dtype(dtype):
        ts = s.dt.tz_convert("UTC").dt.tz_localize(None) if getattr(dtype, "tz", None) else s
        txt = ts.dt.strftime("%Y-%m-%d %H:%M:%S.%f").to_numpy(dtype=object)
    elif pd.api.types.is_bool_dtype(dtype):
        txt = np.array([str(bool(v)) if not m else None for v, m in zip(s.to_numpy(dtype=object), na, strict=True)],
                       dtype=object)
    elif pd.api.types.is_integer_dtype(dtype):
        txt = s.astype(str).to_numpy(dtype=object)
    elif pd.api.types.is_float_dtype(dtype):
        arr = s.to_numpy(dtype=np.float64, na_value=np.nan)
        txt = np.array([category_key(float(v)) for v in arr], dtype=object)
    elif (kind := pd.api.types.infer_dtype(s, skipna=True)) in ("string", "empty"):
        txt = s.to_numpy(dtype=object, copy=True)  # already text (the common case: tables are read as text)
    elif kind in ("integer", "boolean"):
        # One Python type throughout (ints or bools, never mixed: 1 == True would merge them),
        # so equal values have equal text: convert each distinct value once.
        codes, uniques = pd.factorize(s, use_na_sentinel=True)
        txt = np.array([_text_of(u) for u in uniques] + [None], dtype=object)[codes]
    else:
        txt = np.array([None if m else _text_of(v) for v, m in zip(s.to_numpy(dtype=object), na, strict=True)],
                       dtype=object)
    txt[na] = None
    return txt


def _per_unique(text: np.ndarray, fn: Any, dtype: Any) -> np.ndarray:
    """``[fn(t) for t in text]`` for an array of str/None, computing ``fn`` once per distinct value.

    Strings hash and compare exactly, so mapping through the distinct values is the same
    as the per-value loop; tables have few distinct values per column and many rows.
    """
    codes, uniques = pd.factorize(pd.Series(text, dtype=object), use_na_sentinel=True)
    mapped = np.array([fn(u) for u in uniques] + [fn(None)], dtype=dtype)
    return mapped[codes]  # code -1 (null) takes the last entry


def _text_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, np.generic):
        value = value.item()
    return category_key(value)


def _stripped(text: np.ndarray) -> np.ndarray:
    return _per_unique(text, lambda t: t.strip(" ") if isinstance(t, str) else None, object)


def missing_mask(col: Column, values: pd.Series | np.ndarray) -> np.ndarray:
    """Boolean mask of missing values (same rule as :func:`sql_missing`)."""
    s = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
    tokens = {tok.strip(" ") for tok in col.missing_values} | {""}
    typed = not (pd.api.types.is_object_dtype(s.dtype) or pd.api.types.is_string_dtype(s.dtype))
    if typed and tokens == {""}:
        # Typed values cannot be empty strings: only nulls (NaN, NaT, NA) are missing.
        return np.asarray(s.isna().to_numpy(), dtype=bool)
    return _per_unique(text_values(s), lambda t: t is None or t.strip(" ") in tokens, bool)


def numbers(col: Column, values: pd.Series | np.ndarray) -> np.ndarray:
    """Float64 of each value (epoch seconds for datetimes), NaN where it does not parse.

    Missing values come out as NaN too; combine with :func:`missing_mask`. Non-finite
    numbers come out as NaN (they are invalid, as in SQL).
    """
    s = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
    dtype = s.dtype
    if col.kind == "datetime":
        if pd.api.types.is_datetime64_any_dtype(dtype):
            ts = s.dt.tz_convert("UTC").dt.tz_localize(None) if getattr(dtype, "tz", None) else s
            return _epoch_seconds(ts)
        text = _stripped(text_values(s))
        if col.format is not None:
            fmt = col.format
            text = _per_unique(text, lambda t: canonical_text(fmt, t), object)
        ok = np.array([t is not None and _DATETIME_RE.fullmatch(t) is not None for t in text], dtype=bool)
        kept = pd.Series([t if good else None for t, good in zip(text, ok, strict=True)], dtype=object)
        parsed = pd.to_datetime(kept, format="ISO8601", errors="coerce")
        return _epoch_seconds(parsed)
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        out = s.to_numpy(dtype=np.float64, na_value=np.nan)
    elif isinstance(col.format, NumberFormat):
        fmt = col.format

        def parse(t: str | None) -> float:
            c = canonical_text(fmt, t.strip(" ")) if t is not None else None
            return float(c) if c is not None and _NUMBER_RE.fullmatch(c) else np.nan

        out = _per_unique(text_values(s), parse, np.float64)
    else:
        out = _per_unique(
            text_values(s),
            lambda t: float(t.strip(" ")) if t is not None and _NUMBER_RE.fullmatch(t.strip(" ")) else np.nan,
            np.float64,
        )
    out = out.copy()
    out[~np.isfinite(out)] = np.nan
    return out


def user_numbers(col: Column, values: pd.Series | np.ndarray) -> np.ndarray:
    """Numbers a user wrote (sampling conditions, constraints): in the column's format, or plain.

    Public input, not data: ``1000``, ``"1000"`` and ``"$1,000"`` all name 1000 in a
    ``$`` column.
    """
    x = numbers(col, values)
    if col.format is not None:
        x = np.where(np.isnan(x), numbers(col.replace(format=None), values), x)
    return x


def _epoch_seconds(ts: pd.Series) -> np.ndarray:
    micros = ts.astype("datetime64[us]").to_numpy().view(np.int64).astype(np.float64)
    out = micros / 1e6
    out[ts.isna().to_numpy()] = np.nan
    return out


def category_index(col: Column, values: pd.Series | np.ndarray) -> np.ndarray:
    """Index of each value among the column's categories; -1 where it is not one of them."""
    s = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
    lookup = {category_key(c): i for i, c in enumerate(col.categories or ())}
    return _per_unique(text_values(s), lambda t: lookup.get(category_key(t), -1) if t is not None else -1, np.int64)
