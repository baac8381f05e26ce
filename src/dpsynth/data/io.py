"""Tables over DuckDB: reading, validating against metadata, marginal counts, writing.

A :class:`Table` is a relation inside a DuckDB connection, every column held as text
(VARCHAR): what a value *is* is decided by the public metadata, never by a type sniffer
looking at the private rows. DuckDB reads files larger than memory and answers the counts
marginal methods need with ``GROUP BY`` inside the engine, so big tables are never loaded
into pandas.

Reading a table, validating it and counting marginals read private rows. That is what the
data steward does on their own data; a synthesizer reaches these functions only through
:class:`~dpsynth.data.private.PrivateData`, which adds noise and charges the budget.
"""

from __future__ import annotations

import csv
import functools
import math
import os
import re
import shutil
import tempfile
import uuid
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pandas as pd

from dpsynth._files import atomic_open
from dpsynth.data._parse import (
    category_index,
    missing_mask,
    numbers,
    quote_ident,
    sql_as_text,
    sql_category_keys,
    sql_double,
    sql_missing,
    sql_number,
    sql_str,
    sql_text,
    text_values,
)
from dpsynth.data.domain import Column, Domain
from dpsynth.errors import InvalidDataError, InvalidParameterError

if TYPE_CHECKING:
    from dpsynth.data.discretize import Discretizer
    from dpsynth.data.spark import SparkTable

CSV_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": ","}
PARQUET_SUFFIXES = (".parquet", ".pq")
#: Offending values shown per problem in validation messages.
MAX_EXAMPLES = 5
#: CSV files larger than this are not loaded into memory: they are parsed once, streamed,
#: into a temporary Parquet file (columnar, compressed) that every query then reads in
#: place, as a Parquet input is. Smaller ones are parsed into an in-memory table.
CSV_IN_MEMORY_BYTES = 256 * 2**20


def _new_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


class Table:
    """A table inside a DuckDB connection, every column as text.

    Build one with :meth:`from_path`, :meth:`from_frame` or :meth:`from_duckdb` (or
    :meth:`coerce`). The connection is in-memory and owned by the table, except when
    :meth:`from_duckdb` is given a connection.

    Attributes:
        connection: The DuckDB connection holding the relation.
        relation_name: The relation's name, usable as is in SQL (``FROM {relation_name}``).
        columns: Column names, in the data's order.
        source: Where the rows came from (for messages).
    """

    #: The engine answering this table's queries (see :func:`open_table`).
    engine = "duckdb"

    def __init__(
        self,
        connection: duckdb.DuckDBPyConnection,
        relation_name: str,
        *,
        source: str = "table",
        owns_connection: bool = False,
        parent: Table | None = None,
    ) -> None:
        self.connection = connection
        self.relation_name = relation_name
        self.source = source
        self._owns = owns_connection
        self._parent = parent  # keeps an owning table (and its connection) alive
        self._encoded: dict[str, str] = {}
        self._spill: weakref.finalize | None = None  # removes a large CSV's temporary copy
        rows = connection.execute(f"DESCRIBE SELECT * FROM {relation_name}").fetchall()
        self.columns: tuple[str, ...] = tuple(r[0] for r in rows)

    # -- constructors ----------------------------------------------------------------------
    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> Table:
        """Read a CSV (``.csv``, ``.tsv``, ``.txt``) or Parquet (``.parquet``, ``.pq``) file.

        CSV files need a header line and UTF-8 text; every field is read as text, and the
        metadata decides types. The file is parsed once into the table's in-memory database.

        Raises:
            InvalidDataError: The file is absent, empty, not UTF-8, has ragged lines or an
                unterminated quote, or is not a readable Parquet file.
        """
        p = Path(path)
        if not p.exists():
            raise InvalidDataError(f"file {p} not found", hint="Check the path.")
        if p.is_dir():
            raise InvalidDataError(f"{p} is a folder, not a file", hint="Pass a CSV or Parquet file.")
        suffix = p.suffix.lower()
        if p.stat().st_size == 0:
            raise InvalidDataError(f"file {p} is empty", hint="A CSV file needs a header line and rows.")
        con = duckdb.connect(":memory:")
        spill: str | None = None
        try:
            if suffix in CSV_SUFFIXES and p.stat().st_size > CSV_IN_MEMORY_BYTES:
                spill = tempfile.mkdtemp(prefix="dpsynth-csv-")
                name = _stream_csv(con, p, CSV_SUFFIXES[suffix], Path(spill))
            elif suffix in CSV_SUFFIXES:
                name = _read_csv(con, p, CSV_SUFFIXES[suffix])
            elif suffix in PARQUET_SUFFIXES:
                name = _read_parquet(con, p)
            else:
                raise InvalidDataError(
                    f"file {p}: unsupported suffix {p.suffix!r}",
                    hint="Use .csv/.tsv (with a header line) or .parquet.",
                )
        except BaseException:
            con.close()
            if spill is not None:
                shutil.rmtree(spill, ignore_errors=True)
            raise
        table = cls(con, name, source=str(p), owns_connection=True)
        if spill is not None:
            # The temporary copy goes with the table (closed, or garbage-collected).
            table._spill = weakref.finalize(table, shutil.rmtree, spill, True)
        return table

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Table:
        """Copy a pandas DataFrame into a table (values written as text, as in a CSV).

        Raises:
            InvalidDataError: Duplicate or empty column names.
        """
        if not isinstance(frame, pd.DataFrame):
            raise InvalidParameterError(f"from_frame needs a pandas DataFrame. Got {type(frame).__name__}.")
        names = [str(c) for c in frame.columns]
        _check_names(names, "the DataFrame")
        text = pd.DataFrame(
            {n: pd.Series(text_values(frame.iloc[:, j]), dtype=object) for j, n in enumerate(names)},
            columns=names,
        )
        con = duckdb.connect(":memory:")
        view = _new_name("dpsynth_frame")
        name = _new_name("dpsynth_t")
        try:
            con.register(view, text)
            casts = ", ".join(f"CAST({quote_ident(n)} AS VARCHAR) AS {quote_ident(n)}" for n in names)
            con.execute(f"CREATE TABLE {name} AS SELECT {casts} FROM {view}")
            con.unregister(view)
        except BaseException:
            con.close()
            raise
        return cls(con, name, source="DataFrame", owns_connection=True)

    @classmethod
    def from_duckdb(cls, database: str | os.PathLike[str] | duckdb.DuckDBPyConnection, table_name: str) -> Table:
        """A table (or view) of a DuckDB database file or of an open connection.

        A database file is attached read-only to a fresh in-memory connection. With an open
        connection, the table works inside it (temporary views and tables only).

        Raises:
            InvalidDataError: The database file or the table does not exist.
        """
        parts = [quote_ident(p) for p in table_name.split(".")]
        if isinstance(database, duckdb.DuckDBPyConnection):
            con, owns, source, qualified = database, False, f"DuckDB table {table_name}", ".".join(parts)
        else:
            p = Path(database)
            if not p.exists():
                raise InvalidDataError(f"DuckDB database {p} not found", hint="Check the path.")
            con, owns, source = duckdb.connect(":memory:"), True, f"{p}:{table_name}"
            alias = _new_name("dpsynth_src")
            try:
                con.execute(f"ATTACH {sql_str(str(p))} AS {alias} (READ_ONLY)")
            except duckdb.Error as err:
                con.close()
                raise InvalidDataError(f"{p} is not a readable DuckDB database: {_first_line(err)}") from None
            qualified = ".".join([alias, *parts])
        try:
            desc = con.execute(f"DESCRIBE SELECT * FROM {qualified}").fetchall()
        except duckdb.Error:
            if owns:
                con.close()
            raise InvalidDataError(
                f"table {table_name!r} not found in {source}", hint="Check the table name."
            ) from None
        name = _new_name("dpsynth_t")
        casts = ", ".join(f"{sql_as_text(quote_ident(r[0]), r[1])} AS {quote_ident(r[0])}" for r in desc)
        con.execute(f"CREATE TEMP VIEW {name} AS SELECT {casts} FROM {qualified}")
        return cls(con, name, source=source, owns_connection=owns)

    @classmethod
    def coerce(cls, data: Any) -> Table:
        """A Table from a Table (itself), a DataFrame, or a CSV/Parquet path."""
        if isinstance(data, Table):
            return data
        if getattr(data, "engine", None) == "spark" or type(data).__module__.startswith("pyspark"):
            raise InvalidParameterError(
                "This is Spark data: pass engine='spark' (the DuckDB engine never collects a Spark DataFrame)."
            )
        if isinstance(data, pd.DataFrame):
            return cls.from_frame(data)
        if isinstance(data, str | os.PathLike):
            return cls.from_path(data)
        raise InvalidParameterError(
            f"Expected a Table, a pandas DataFrame or a path to a CSV/Parquet file. Got {type(data).__name__}."
        )

    def derive(self, sql: str, *, source: str | None = None) -> Table:
        """A view of this table defined by ``sql`` (a SELECT over :attr:`relation_name`).

        The view lives in the same connection; columns should be text, as in every Table.
        """
        name = _new_name("dpsynth_v")
        self.connection.execute(f"CREATE TEMP VIEW {name} AS {sql}")
        return Table(self.connection, name, source=source or self.source, parent=self)

    # -- reading -----------------------------------------------------------------------------
    def count_rows(self) -> int:
        """The number of rows: a private statistic, never to be released without noise."""
        row = self.connection.execute(f"SELECT count(*) FROM {self.relation_name}").fetchone()
        return int(row[0]) if row else 0

    def to_frame(self, domain: Domain | None = None) -> pd.DataFrame:
        """Load the table into pandas (for small tables: tests, evaluation).

        Args:
            domain: Without it, every column is text (object, None where null). With it, the
                domain's columns in its order, cast per column: numeric → float64 (Int64 if
                ``integer``), datetime → datetime64, categorical/ordinal → object holding the
                metadata's category values (other text kept as is); missing → NA/None.
                Unparseable numbers become NA (use :func:`validate` to find them).

        Raises:
            InvalidDataError: A domain column is absent from the table.
        """
        raw = self.connection.execute(f"SELECT * FROM {self.relation_name}").df()
        if domain is None:
            return raw.astype(object).where(raw.notna(), None)
        absent = [n for n in domain.names if n not in raw.columns]
        if absent:
            raise InvalidDataError(
                [f"column {n!r} is in the metadata but not in the data ({self.source})" for n in absent]
            )
        return pd.DataFrame({c.name: _cast_column(c, raw[c.name]) for c in domain}, columns=list(domain.names))

    def close(self) -> None:
        """Close the connection if this table owns it (and remove a large CSV's temporary copy)."""
        if self._owns:
            self.connection.close()
            if self._spill is not None:
                self._spill()

    def __enter__(self) -> Table:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        # Never show rows or their number.
        return f"Table({self.source!r}, {len(self.columns)} columns)"


# -- engines ---------------------------------------------------------------------------------
#: The engines a table's counting queries can run on.
ENGINES = ("duckdb", "spark")


def open_table(data: Any, *, engine: str | None = None) -> Table | SparkTable:
    """A table on an engine: ``"duckdb"`` (one machine, out of core) or ``"spark"``.

    Both engines answer the same counting queries (marginals, validation, the DP domain
    inference histograms, the counting workloads of :mod:`dpsynth.data.queries`) and return
    only aggregates. Without ``engine``, Spark data (a Spark DataFrame or a
    :class:`~dpsynth.data.spark.SparkTable`) goes to Spark and everything else to DuckDB.

    Args:
        data: A Table, a pandas DataFrame or a CSV/Parquet path (DuckDB); a SparkTable, a
            Spark DataFrame or a CSV/Parquet path or URI (Spark).
        engine: ``"duckdb"``, ``"spark"`` or None.

    Raises:
        InvalidParameterError: An unknown engine, or data the engine cannot read.
    """
    if engine is None:
        from dpsynth.data.spark import is_spark_frame

        engine = "spark" if getattr(data, "engine", None) == "spark" or is_spark_frame(data) else "duckdb"
    if engine not in ENGINES:
        raise InvalidParameterError(f"The 'engine' parameter must be one of {list(ENGINES)}. Got {engine!r}.")
    if engine == "spark":
        from dpsynth.data.spark import SparkTable

        return SparkTable.coerce(data)
    return Table.coerce(data)


# -- reading files -------------------------------------------------------------------------
def _first_line(err: BaseException) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def _check_names(names: Sequence[str], where: str) -> None:
    problems = []
    dups = sorted({n for n in names if list(names).count(n) > 1})
    if dups:
        problems.append(f"{where} has duplicate column name(s) {dups}")
    empty = [i + 1 for i, n in enumerate(names) if not n.strip()]
    if empty:
        problems.append(f"{where} has column(s) without a name at position(s) {empty}")
    if problems:
        raise InvalidDataError(problems, hint="Give every column a unique name in the header.")


#: Delimiters the header line is sniffed for, in order of preference on a tie.
SNIFF_DELIMITERS = (",", ";", "\t", "|")
_NUMBER_FIELD = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def sniff_header(path: Path, default_delim: str = ",") -> tuple[list[str], str, str]:
    """The column names, delimiter and quote character of a CSV file, from its first line only.

    Only the header line is read (it names the columns: public), so the choice never depends
    on the rows. The delimiter is the one among ``, ; TAB |`` that splits the header into the
    most fields (``default_delim`` on a tie); the quote character is ``'`` when the header's
    fields are wrapped in it, else ``"``.

    Raises:
        InvalidDataError: The file is not UTF-8, has no header line, the first line looks
            like data (every field a number), or the names are empty or duplicated.
    """
    with path.open("rb") as fh:
        first = fh.readline()
    try:
        line = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidDataError(
            f"file {path} is not UTF-8 text (line 1)", hint="Re-save the file as UTF-8 (e.g. with iconv)."
        ) from None
    line = line.rstrip("\r\n")
    if not line.strip():
        raise InvalidDataError(f"file {path} has no header line", hint="The first line must name the columns.")
    order = [default_delim, *(d for d in SNIFF_DELIMITERS if d != default_delim)]
    delim, names = default_delim, [line]
    for cand in order:  # the most fields wins; on a tie the earlier candidate
        fields = next(csv.reader([line], delimiter=cand, quotechar='"'))
        if len(fields) > len(names):
            delim, names = cand, fields
    quote = '"'
    if all(len(f) >= 2 and f.startswith("'") and f.endswith("'") for f in names):
        quote = "'"
        names = next(csv.reader([line], delimiter=delim, quotechar=quote))
    if names and all(_NUMBER_FIELD.fullmatch(n.strip()) for n in names):
        raise InvalidDataError(
            f"file {path}: the first line looks like data (every field is a number), not a header",
            hint="Add a header line naming the columns.",
        )
    _check_names(names, f"file {path}")
    return names, delim, quote


def _read_header(path: Path, delim: str) -> list[str]:
    return sniff_header(path, delim)[0]


_LINE_RE = re.compile(r"Line:\s*(\d+)")
_FIELDS_RE = re.compile(r"Expected Number of Columns:\s*(\d+)\s*Found:\s*(\d+)")


def _csv_error(path: Path, err: duckdb.Error) -> InvalidDataError:
    msg = str(err)
    m = _LINE_RE.search(msg)
    where = f"file {path}, line {m.group(1)}" if m else f"file {path}"
    if "unicode" in msg.lower() or "utf-8" in msg.lower() or "utf8" in msg.lower():
        return InvalidDataError(f"{where}: not UTF-8 text", hint="Re-save the file as UTF-8 (e.g. with iconv).")
    f = _FIELDS_RE.search(msg)
    if f:
        return InvalidDataError(
            f"{where}: {f.group(2)} fields, but the header has {f.group(1)} (ragged rows)",
            hint="Every line needs as many fields as the header; quote fields that contain the delimiter.",
        )
    if "unterminated quote" in msg.lower():
        return InvalidDataError(f"{where}: unterminated quote", hint='Close the quote ("…") or escape it ("").')
    return InvalidDataError(f"{where}: cannot be read as CSV ({_first_line(err)})",
                            hint="Check that it is a comma-separated file with a header line.")


def _csv_source(path: Path, delim: str) -> str:
    """The ``read_csv(...)`` call that parses ``path``: every field text, no ragged rows."""
    names, delim, quote = sniff_header(path, delim)
    cols = "{" + ", ".join(f"{sql_str(n)}: 'VARCHAR'" for n in names) + "}"
    # Only the header line is sniffed (delimiter, quote): every field is text, rows must not be ragged.
    options = (
        f"header = true, auto_detect = false, columns = {cols}, delim = {sql_str(delim)}, "
        f"quote = {sql_str(quote)}, escape = {sql_str(quote)}, strict_mode = true, null_padding = false, "
        "encoding = 'utf-8'"
    )
    return f"read_csv({sql_str(str(path))}, {options})"


def _read_csv(con: duckdb.DuckDBPyConnection, path: Path, delim: str) -> str:
    source = _csv_source(path, delim)
    name = _new_name("dpsynth_t")
    try:
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM {source}")
    except duckdb.Error as err:
        raise _csv_error(path, err) from None
    return name


def _stream_csv(con: duckdb.DuckDBPyConnection, path: Path, delim: str, folder: Path) -> str:
    """Parse a large CSV once into ``folder``/data.parquet, streamed; return a view over it.

    Same parsing (and same one-line errors) as :func:`_read_csv`; DuckDB writes the Parquet
    file row group by row group, so memory stays bounded whatever the file's size, and the
    queries that follow read the columnar copy in place instead of parsing the text again.
    """
    source = _csv_source(path, delim)
    out = folder / "data.parquet"
    con.execute(f"SET temp_directory = {sql_str(str(folder))}")
    try:
        con.execute(
            f"COPY (SELECT * FROM {source}) TO {sql_str(str(out))} "
            "(FORMAT parquet, COMPRESSION zstd)"
        )
    except duckdb.Error as err:
        raise _csv_error(path, err) from None
    name = _new_name("dpsynth_t")
    con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet({sql_str(str(out))})")
    return name


def _read_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> str:
    src = f"read_parquet({sql_str(str(path))})"
    try:
        desc = con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()
    except duckdb.Error as err:
        raise InvalidDataError(
            f"file {path} is not a readable Parquet file ({_first_line(err)})",
            hint="Check the file, or save it again with pandas.DataFrame.to_parquet.",
        ) from None
    _check_names([r[0] for r in desc], f"file {path}")
    name = _new_name("dpsynth_t")
    casts = ", ".join(f"{sql_as_text(quote_ident(r[0]), r[1])} AS {quote_ident(r[0])}" for r in desc)
    con.execute(f"CREATE VIEW {name} AS SELECT {casts} FROM {src}")
    return name


def _cast_column(col: Column, values: pd.Series) -> pd.Series:
    miss = missing_mask(col, values)
    if col.kind == "datetime":
        secs = numbers(col, values)
        ok = ~np.isnan(secs) & ~miss
        micros = np.where(ok, np.round(np.nan_to_num(secs) * 1e6), 0).astype(np.int64)
        out = pd.Series(micros.astype("datetime64[us]"))
        out[~ok] = pd.NaT
        return out
    if col.is_numeric:
        x = numbers(col, values)
        x[miss] = np.nan
        if col.integer:
            ok = ~np.isnan(x) & (x == np.floor(x)) & (np.abs(x) < 2**63)
            return pd.Series(pd.arrays.IntegerArray(np.where(ok, x, 0).astype(np.int64), ~ok))
        return pd.Series(x, dtype=np.float64)
    text = text_values(values)
    idx = category_index(col, values)
    cats = list(col.categories or ())
    out = np.array([cats[i] if i >= 0 else (t.strip(" ") if isinstance(t, str) else t)
                    for i, t in zip(idx, text, strict=True)], dtype=object)
    out[miss] = None
    return pd.Series(out, dtype=object)


# -- validation ------------------------------------------------------------------------------
def validate(table: Table, domain: Domain) -> None:
    """Check a table against its metadata; raise one error listing every problem.

    Reads the private table (the data steward runs this on their own data); it reports
    problems and never fills anything in from the data. Checks: the table has at least two
    rows; every data column is described (or ignored) and every described column exists;
    values are declared categories; numbers parse, are within the declared bounds and are
    whole numbers where ``integer``; no column is entirely missing; missing values only
    in nullable columns. Bounds and categories left unknown (for DP inference) are not checked.
    All counts are computed in DuckDB in one scan.

    A value beyond explicit ``edges`` on a side with no declared bound is not an error: the
    private rows are read through :func:`~dpsynth.data.discretize.clamped_view`, which holds
    every number to its column's range (declared bounds, else outer edges), so it counts as
    a value at the range's end. Every sensitivity is computed for that range.

    Raises:
        InvalidDataError: Listing every problem, each naming its column.
    """
    problems = column_problems(table.columns, domain)
    cols = set(table.columns)
    present = [c for c in domain if c.name in cols]
    # Each column's missing flag and parsed value are computed once, in a subquery; the
    # checks count over them. Each check keeps its condition on the raw text too, used only
    # to fetch examples for the checks that fail.
    checks: list[tuple[Column, str, str, str]] = []  # (column, check, raw condition, derived condition)
    derived: list[str] = []
    for i, c in enumerate(present):
        ident = quote_ident(c.name)
        missing = sql_missing(c, ident)
        derived.append(f"{missing} AS m{i}")
        checks.append((c, "missing", missing, f"m{i}"))
        if not c.is_numeric:
            if c.categories is not None:
                unknown = f"list_position({sql_category_keys(c)}, {sql_text(ident)}) IS NULL"
                derived.append(f"{unknown} AS u{i}")
                checks.append((c, "category", f"NOT {missing} AND {unknown}", f"NOT m{i} AND u{i}"))
            continue
        x = sql_number(c, ident)
        derived.append(f"{x} AS x{i}")
        checks.append((c, "parse", f"NOT {missing} AND ({x} IS NULL OR NOT isfinite({x}))",
                       f"NOT m{i} AND (x{i} IS NULL OR NOT isfinite(x{i}))"))
        valid = f"NOT {missing} AND {x} IS NOT NULL AND isfinite({x})"
        valid_d = f"NOT m{i} AND x{i} IS NOT NULL AND isfinite(x{i})"
        if c.lower is not None:
            lo = sql_double(c.lower)
            checks.append((c, "below", f"{valid} AND {x} < {lo}", f"{valid_d} AND x{i} < {lo}"))
        if c.upper is not None:
            hi = sql_double(c.upper)
            checks.append((c, "above", f"{valid} AND {x} > {hi}", f"{valid_d} AND x{i} > {hi}"))
        if c.integer:
            checks.append((c, "fraction", f"{valid} AND {x} <> floor({x})", f"{valid_d} AND x{i} <> floor(x{i})"))
    select = ", ".join(["count(*)", *(f"count(*) FILTER (WHERE {cond})" for *_, cond in checks)])
    inner = ", ".join(derived) if derived else "1 AS one"
    row = table.connection.execute(f"SELECT {select} FROM (SELECT {inner} FROM {table.relation_name})").fetchone()
    assert row is not None
    n_rows, counts = int(row[0]), [int(v) for v in row[1:]]
    problems[:0] = rows_problems(table.source, n_rows)
    if n_rows > 0:
        for (c, check, cond, _), k in zip(checks, counts, strict=True):
            msg = check_problem(c, check, k, n_rows, functools.partial(_examples, table, c, cond))
            if msg:
                problems.append(msg)
    if problems:
        raise InvalidDataError(problems, hint=VALIDATE_HINT)


#: The hint every validation error ends with (whatever the engine).
VALIDATE_HINT = "Fix the data or the metadata (the metadata must come from public documentation)."


def column_problems(columns: Sequence[str], domain: Domain) -> list[str]:
    """Data columns the metadata does not describe (or ignore), and described columns the data lacks."""
    problems: list[str] = []
    present = set(columns)
    ignored = set(domain.ignore)
    for name in columns:
        if name not in domain and name not in ignored:
            problems.append(
                f"column {name!r} is in the data but not in the metadata (unknown column){_did_you_mean(name, domain.names)}"
                "; describe it, or list it under \"ignore\""
            )
    for name in domain.names:
        if name not in present:
            problems.append(
                f"column {name!r} is in the metadata but missing from the data{_did_you_mean(name, columns)}"
            )
    return problems


def rows_problems(source: str, n_rows: int) -> list[str]:
    """The problem with a table of fewer than two rows, if any."""
    if n_rows == 0:
        return [f"the table ({source}) has no rows"]
    if n_rows == 1:
        return [f"the table ({source}) has a single row: DP synthesis from one row is meaningless"]
    return []


def _did_you_mean(name: str, candidates: Iterable[str]) -> str:
    for cand in candidates:
        if cand != name and cand.strip().lower() == name.strip().lower():
            return f" (did you mean {cand!r}?)"
    return ""


def _examples(table: Table, c: Column, cond: str) -> str:
    t = sql_text(quote_ident(c.name))
    rows = table.connection.execute(
        f"SELECT {t} AS v, count(*) AS k FROM {table.relation_name} WHERE {cond} "
        f"GROUP BY ALL ORDER BY k DESC, v LIMIT {MAX_EXAMPLES + 1}"
    ).fetchall()
    shown = ", ".join(repr(r[0]) for r in rows[:MAX_EXAMPLES])
    return f"e.g. {shown}{', …' if len(rows) > MAX_EXAMPLES else ''}"


def check_problem(c: Column, check: str, k: int, n_rows: int, examples: Callable[[], str]) -> str | None:
    """The message of one failed validation check (``k`` rows of ``n_rows``), or None if it passed.

    ``examples`` fetches the most frequent offending values (called only for a failed check).
    """
    name = repr(c.name)
    if check == "missing":
        if k == n_rows:
            return f"column {name} is entirely missing; drop it or list it under \"ignore\""
        if k and not c.nullable:
            tokens = f" (missing tokens: {list(c.missing_values)})" if c.missing_values else ""
            return (f"column {name} has {k} missing value(s) but is not nullable{tokens}; "
                    "set \"nullable\": true in the metadata, or fill them in")
        return None
    if not k:
        return None
    ex = examples()
    if check == "category":
        return (f"column {name} has {k} value(s) outside the declared categories ({ex}); "
                "add them to \"categories\" (or \"missing_values\"), or clean the data")
    if check == "parse":
        what = "an ISO date-time (YYYY-MM-DD[ HH:MM[:SS]])" if c.kind == "datetime" else "a finite number"
        if c.format is not None:
            what = f"in the column's format {c.format}"
        return (f"column {name} has {k} value(s) that are not {what} ({ex}); clean them, "
                "or list the token under \"missing_values\"")
    if check == "below":
        return f"column {name} has {k} value(s) below the lower bound {c.lower:g} ({ex})"
    if check == "above":
        return f"column {name} has {k} value(s) above the upper bound {c.upper:g} ({ex})"
    return f"column {name} is declared integer but has {k} non-whole value(s) ({ex})"


# -- marginals -------------------------------------------------------------------------------
def marginal_counts(table: Table | SparkTable, discretizer: Discretizer, attrs: Sequence[str]) -> np.ndarray:
    """Raw (non-private) counts of the marginal on ``attrs``, computed in DuckDB.

    Not differentially private: call it only from the privacy boundary
    (:class:`~dpsynth.data.private.PrivateData`, which adds noise and charges the budget) or
    from evaluation, which reads raw rows on purpose.

    Returns:
        A dense float64 array of shape ``(sizes[a] for a in attrs)``, axes in ``attrs`` order
        (a 0-d array holding the row count when ``attrs`` is empty).
    """
    key = tuple(attrs)
    return marginal_counts_many(table, discretizer, [key])[key]


#: Marginals answered per DuckDB query by :func:`marginal_counts_many`.
_BATCH = 50
#: Largest dense marginal (cells) :func:`marginal_counts_many` builds.
MAX_CELLS = 10**9


def marginal_counts_many(
    table: Table | SparkTable, discretizer: Discretizer, cliques: Iterable[Sequence[str]]
) -> dict[tuple[str, ...], np.ndarray]:
    """Raw (non-private) counts of several marginals, computed in DuckDB.

    Not differentially private: call it only from the privacy boundary
    (:class:`~dpsynth.data.private.PrivateData`) or from evaluation. The table is encoded
    once (cached in its connection); each marginal is then a ``GROUP BY`` over one
    small-integer key (the cell's flat index) of the encoded table, 50 marginals per query.
    400 two- and three-way marginals of a 40k-row table take under a second on 2 cores.
    On a :class:`~dpsynth.data.spark.SparkTable` the same plan runs as Spark aggregations.

    Returns:
        ``{clique: dense float64 array}`` with axes in each clique's order.
    """
    sizes = discretizer.sizes
    wanted = [tuple(c) for c in cliques]
    unknown = sorted({a for c in wanted for a in c if a not in sizes})
    if unknown:
        raise InvalidParameterError(f"Unknown column(s) {unknown} in a marginal; known: {list(sizes)}.")
    dup = [c for c in wanted if len(set(c)) != len(c)]
    if dup:
        raise InvalidParameterError(f"A marginal names a column twice: {dup[0]}.")
    big = [c for c in wanted if math.prod(sizes[a] for a in c) > MAX_CELLS]
    if big:
        raise InvalidParameterError(
            f"The marginal on {big[0]} has {math.prod(sizes[a] for a in big[0])} cells (> {MAX_CELLS}); "
            "measure smaller marginals or use fewer bins."
        )
    # Marginals over the same set of columns are counted once.
    by_set: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    for c in wanted:
        by_set.setdefault(tuple(sorted(c)), []).append(c)
    sets = list(by_set)
    if table.engine == "spark":
        from dpsynth.data.spark import count_marginals

        counted = count_marginals(table, discretizer, sets, sizes)  # type: ignore[arg-type]
    else:
        assert isinstance(table, Table)
        enc = discretizer.encode(table)
        counted = [counts for start in range(0, len(sets), _BATCH)
                   for counts in _count_batch(table.connection, enc, sets[start : start + _BATCH], sizes)]
    out: dict[tuple[str, ...], np.ndarray] = {}
    for key, counts in zip(sets, counted, strict=True):
        for c in by_set[key]:
            perm = [key.index(a) for a in c]
            out[c] = counts if perm == sorted(perm) else np.ascontiguousarray(np.transpose(counts, perm))
    return {c: out[c] for c in wanted}


def _count_batch(
    con: duckdb.DuckDBPyConnection, enc: str, sets: Sequence[tuple[str, ...]], sizes: Mapping[str, int]
) -> list[np.ndarray]:
    """One query: ``UNION ALL`` of one ``GROUP BY <flat cell index>`` per marginal."""
    parts = []
    for i, s in enumerate(sets):
        key = "0"
        for a in s:  # row-major flat index, as numpy's ravel_multi_index
            key = f"({key}) * {sizes[a]} + CAST({quote_ident(a)} AS BIGINT)"
        parts.append(f"SELECT {i} AS q, CAST({key} AS BIGINT) AS k, count(*) AS n FROM {enc} GROUP BY ALL")
    res = con.execute(" UNION ALL ".join(parts)).fetchnumpy()
    q = np.asarray(res["q"], dtype=np.int64)
    k = np.asarray(res["k"], dtype=np.int64)
    n = np.asarray(res["n"], dtype=np.float64)
    order = np.argsort(q, kind="stable")
    bounds = np.searchsorted(q[order], np.arange(len(sets) + 1))
    out = []
    for i, s in enumerate(sets):
        shape = tuple(sizes[a] for a in s)
        flat = np.zeros(math.prod(shape), dtype=np.float64)
        rows = order[bounds[i] : bounds[i + 1]]
        flat[k[rows]] = n[rows]
        out.append(flat.reshape(shape))
    return out


# -- writing ---------------------------------------------------------------------------------
def write_csv_atomic(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a frame as CSV (no index) via a temporary file in the same folder and a rename.

    A reader never sees a half-written file, and an interrupted write leaves the old file.

    Returns:
        The path written.
    """
    p = Path(path)
    with atomic_open(p, newline="") as fh:
        frame.to_csv(fh, index=False)
    return p
