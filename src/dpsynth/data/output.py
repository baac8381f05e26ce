"""Writing synthetic tables of any length: CSV or Parquet, chunk by chunk, atomically.

A synthetic table of ten million rows does not fit comfortably in pandas; :func:`write_chunks`
writes an iterable of frames one after the other into a temporary file next to the
destination (CSV: one header, then rows; Parquet: one row group per chunk) and renames it
when the last chunk is written, so memory is bounded by one chunk and a reader never sees a
half-written file. :func:`sample_chunks` draws the chunks from a fitted synthesizer.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dpsynth._files import atomic_open
from dpsynth.data._parse import format_values, text_values
from dpsynth.errors import InvalidParameterError

if TYPE_CHECKING:
    import pyarrow as pa

    from dpsynth.data.domain import Domain

CSV_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": ","}
PARQUET_SUFFIXES = (".parquet", ".pq")
#: Rows per chunk when sampling large tables.
CHUNK_ROWS = 500_000


def output_format(path: str | os.PathLike[str]) -> str:
    """``"csv"`` or ``"parquet"`` from the file's suffix.

    Raises:
        InvalidParameterError: Any other suffix.
    """
    suffix = Path(path).suffix.lower()
    if suffix in CSV_SUFFIXES:
        return "csv"
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    raise InvalidParameterError(
        f"Cannot write {Path(path).name}: use a .csv/.tsv or .parquet file name."
    )


def sample_chunks(model: Any, n: int, *, random_state: Any = None, chunk_rows: int = CHUNK_ROWS,
                  conditions: Mapping[str, Any] | None = None) -> Iterator[pd.DataFrame]:
    """Draw ``n`` rows from a fitted synthesizer in chunks of at most ``chunk_rows``.

    ``conditions`` (as for ``Synthesizer.sample``) hold in every chunk.

    One random generator feeds every chunk, so with a seed the output is reproducible; with
    ``n <= chunk_rows`` it equals ``model.sample(n, random_state=random_state)``.
    """
    from dpsynth.privacy.random import make_rng

    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n <= 0:
        raise InvalidParameterError(f"The number of rows to sample must be an integer > 0. Got {n!r}.")
    if chunk_rows < 1:
        raise InvalidParameterError(f"chunk_rows must be >= 1. Got {chunk_rows!r}.")
    rng = make_rng(random_state)
    left = int(n)
    while left > 0:
        k = min(left, chunk_rows)
        if conditions:
            yield model.sample(k, random_state=rng, conditions=conditions)
        else:
            yield model.sample(k, random_state=rng)
        left -= k


def check_delimiter(sep: str, name: str = "A CSV delimiter") -> None:
    """Refuse a CSV delimiter that is not one character other than a quote or a line break."""
    if len(sep) != 1 or sep in "\"\r\n":
        raise InvalidParameterError(f"{name} is one character other than a quote or a line break. Got {sep!r}.")


def write_chunks(
    chunks: Iterable[pd.DataFrame], path: str | os.PathLike[str], *, domain: Domain | None = None,
    sep: str | None = None,
) -> int:
    """Write frames (same columns) to one CSV or Parquet file, chosen by the suffix.

    Args:
        chunks: The frames, in order.
        path: Destination (``.csv``, ``.tsv``, ``.txt``, ``.parquet``, ``.pq``).
        domain: The columns' public description: gives Parquet its schema (categories as
            text, integer columns as int64, numbers as float64, datetimes as timestamps),
            so that every chunk has the same types even if one is all missing; in a CSV,
            columns with a ``format`` are written in it (``$1,234.50``, ``12/31/2020``).
        sep: A CSV's delimiter (default: by the suffix, ``,`` or a tab for ``.tsv``); a
            file read with ``;`` (decimal commas) can be written back with it.

    Returns:
        The number of rows written.
    """
    fmt = output_format(path)
    rows = 0
    if fmt == "csv":
        if sep is None:
            sep = CSV_SUFFIXES[Path(path).suffix.lower()]
        check_delimiter(sep)
        with atomic_open(path, newline="") as fh:
            for i, chunk in enumerate(chunks):
                if domain is not None:
                    chunk = formatted_frame(chunk, domain)
                chunk.to_csv(fh, index=False, header=i == 0, sep=sep)
                rows += len(chunk)
        return rows
    import pyarrow as pa
    import pyarrow.parquet as pq

    with atomic_open(path, "wb") as fh:
        writer: pq.ParquetWriter | None = None
        schema: pa.Schema | None = None
        try:
            for chunk in chunks:
                if schema is None:
                    schema = _schema(chunk, domain)
                    writer = pq.ParquetWriter(fh, schema)
                assert writer is not None
                writer.write_table(pa.Table.from_pandas(_for_arrow(chunk, schema), schema=schema, preserve_index=False))
                rows += len(chunk)
        finally:
            if writer is not None:
                writer.close()
    return rows


def formatted_frame(frame: pd.DataFrame, domain: Domain) -> pd.DataFrame:
    """The frame with every column that has a ``format`` written as text in it (others unchanged).

    Numbers are written with the decimals of the column's ``step`` (none for integer
    columns; the shortest digits without one); datetimes in their pattern. Missing stays
    missing. Post-processing of synthetic values: reads nothing private.
    """
    cols = [c for c in domain if c.format is not None and c.name in frame.columns]
    if not cols:
        return frame
    out = frame.copy()
    for col in cols:
        out[col.name] = format_values(col, frame[col.name])
    return out


def _schema(frame: pd.DataFrame, domain: Domain | None) -> pa.Schema:
    import pyarrow as pa

    fields = []
    for name in frame.columns:
        col = domain[name] if domain is not None and name in domain else None
        if col is None:
            s = frame[name]
            if pd.api.types.is_datetime64_any_dtype(s.dtype):
                t = pa.timestamp("us")
            elif pd.api.types.is_integer_dtype(s.dtype):
                t = pa.int64()
            elif pd.api.types.is_float_dtype(s.dtype):
                t = pa.float64()
            else:
                t = pa.string()
        elif col.kind == "datetime":
            t = pa.timestamp("us")
        elif col.is_numeric:
            t = pa.int64() if col.integer else pa.float64()
        else:
            t = pa.string()
        fields.append(pa.field(str(name), t, nullable=True))
    return pa.schema(fields)


def _for_arrow(frame: pd.DataFrame, schema: pa.Schema) -> pd.DataFrame:
    """Object columns as the text dpsynth reads them back (None where missing)."""
    import pyarrow as pa

    out = {}
    for f in schema:
        s = frame[f.name]
        if f.type == pa.string():
            out[f.name] = pd.Series(text_values(s), dtype=object)
        elif f.type == pa.int64():
            out[f.name] = s.astype("Int64")
        else:
            out[f.name] = s
    return pd.DataFrame(out, columns=[f.name for f in schema])
