"""SDV single-table metadata in and out.

People coming from SDV (the Synthetic Data Vault) already have a metadata JSON for their
table. :func:`domain_from_sdv` reads it — the single-table format
(``"METADATA_SPEC_VERSION": "SINGLE_TABLE_V1"``) or a multi-table file with one table named —
and :func:`domain_to_sdv` writes a dpsynth domain in that format.

SDV metadata says what *kind* each column is, not its categories or bounds, so the domain
read from it leaves those unknown: they are inferred with DP at the fit's
``inference_share`` of the budget and the privacy report lists them. What cannot be mapped
is said, never silently kept: keys (``id``, the primary and alternate keys) are dropped, and
so are PII columns (``email``, ``phone_number``, ``address``… or ``"pii": true``), since
dpsynth synthesises no fake identities; the notes name each such column.

Type mapping:

==================  ============================================================
SDV ``sdtype``      dpsynth column
==================  ============================================================
``numerical``       ``numeric``; ``integer`` when ``computer_representation`` is
                    an ``Int``/``UInt`` type
``categorical``     ``categorical`` (categories inferred with DP)
``boolean``         ``categorical`` (the two labels inferred with DP: SDV does not
                    say how they are written)
``datetime``        ``datetime``; a ``datetime_format`` of
                    ``DATETIME_FORMATS`` becomes its ``format``, another
                    non-ISO one is reported
``id``, keys        dropped (``ignore``)
anything else       dropped (``ignore``), with a note
==================  ============================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dpsynth.data.domain import DATETIME_FORMATS, Column, Domain
from dpsynth.errors import MetadataError

#: The single-table format version SDV writes.
SINGLE_TABLE_SPEC = "SINGLE_TABLE_V1"
_ISO_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
                "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S.%f")


def is_sdv_metadata(doc: object) -> bool:
    """Whether a parsed JSON document is SDV metadata rather than dpsynth's own format."""
    if not isinstance(doc, Mapping):
        return False
    if "METADATA_SPEC_VERSION" in doc:
        return True
    cols = doc.get("columns")
    return isinstance(cols, Mapping) and any(
        isinstance(spec, Mapping) and "sdtype" in spec for spec in cols.values()
    )


def _single_table(doc: Mapping[str, Any], table: str | None, where: str) -> tuple[str, Mapping[str, Any]]:
    tables = doc.get("tables")
    if tables is None:
        return str(doc.get("name", "")), doc
    if not isinstance(tables, Mapping) or not tables:
        raise MetadataError(f"{where}: SDV metadata has no table under 'tables'")
    if table is None:
        if len(tables) > 1:
            raise MetadataError(
                f"{where}: SDV metadata describes {len(tables)} tables ({', '.join(map(str, tables))})",
                hint="dpsynth synthesises one table at a time: name it (table=...).",
            )
        table = next(iter(tables))
    if table not in tables:
        raise MetadataError(f"{where}: SDV metadata has no table {table!r}; it has {', '.join(map(str, tables))}")
    spec = tables[table]
    if not isinstance(spec, Mapping):
        raise MetadataError(f"{where}: table {table!r} must be a JSON object with 'columns'")
    return str(table), spec


def domain_from_sdv(
    doc: Mapping[str, Any], *, table: str | None = None, where: str = "SDV metadata"
) -> tuple[Domain, list[str]]:
    """A dpsynth :class:`Domain` from SDV metadata, and notes on what could not be mapped.

    Args:
        doc: Parsed SDV metadata (single-table, or multi-table with ``table`` chosen).
        table: The table to read from multi-table metadata (default: the only one).
        where: How to name the source in messages.

    Returns:
        ``(domain, notes)``: categories and bounds are unknown (inferred with DP at fit
        time); ``notes`` says, per column, what was dropped or approximated.

    Raises:
        MetadataError: Not SDV metadata, no usable column, or an ambiguous table (all
            problems listed at once).
    """
    name, spec = _single_table(doc, table, where)
    version = doc.get("METADATA_SPEC_VERSION")
    if version not in (None, SINGLE_TABLE_SPEC, "V1"):
        raise MetadataError(f"{where}: unsupported METADATA_SPEC_VERSION {version!r}")
    cols = spec.get("columns")
    if not isinstance(cols, Mapping) or not cols:
        raise MetadataError(f"{where}: SDV metadata needs a 'columns' object mapping names to sdtypes")
    keys: set[str] = set()
    for key in ("primary_key", "sequence_key"):
        if isinstance(spec.get(key), str):
            keys.add(spec[key])
    alternate = spec.get("alternate_keys") or []
    keys.update(k for k in alternate if isinstance(k, str))

    columns: list[Column] = []
    ignore: list[str] = []
    notes: list[str] = []
    problems: list[str] = []
    for col_name, col_spec in cols.items():
        if not isinstance(col_spec, Mapping) or not isinstance(col_spec.get("sdtype"), str):
            problems.append(f"column {col_name!r}: needs an 'sdtype'")
            continue
        sdtype = col_spec["sdtype"]
        if col_name in keys or sdtype == "id":
            ignore.append(col_name)
            notes.append(f"{col_name}: a key (sdtype {sdtype!r}), dropped: row ids are not synthesised")
            continue
        if col_spec.get("pii") is True or sdtype not in ("numerical", "categorical", "boolean", "datetime"):
            ignore.append(col_name)
            notes.append(f"{col_name}: sdtype {sdtype!r} has no dpsynth type (dpsynth synthesises no "
                         "fake identities), dropped")
            continue
        if sdtype == "numerical":
            rep = str(col_spec.get("computer_representation", "Float"))
            columns.append(Column(col_name, "numeric", integer=rep.lower().startswith(("int", "uint")),
                                  nullable=True))
        elif sdtype == "datetime":
            fmt = col_spec.get("datetime_format")
            if isinstance(fmt, str) and fmt in DATETIME_FORMATS:
                notes.append(f"{col_name}: datetime_format {fmt!r} is read as the column's format")
                columns.append(Column(col_name, "datetime", nullable=True, format=fmt))
                continue
            if isinstance(fmt, str) and fmt not in _ISO_FORMATS:
                notes.append(f"{col_name}: datetime_format {fmt!r} is not ISO 8601 nor one of dpsynth's "
                             "date formats; dpsynth reads YYYY-MM-DD[ HH:MM[:SS]] and will list other values "
                             "as invalid")
            columns.append(Column(col_name, "datetime", nullable=True))
        else:
            columns.append(Column(col_name, "categorical", nullable=True))
            if sdtype == "boolean":
                notes.append(f"{col_name}: boolean, read as a categorical column whose two labels "
                             "are inferred with DP")
    if problems:
        raise MetadataError([f"{where}: {p}" for p in problems],
                            hint="Fix the SDV metadata, or write dpsynth metadata (dpsynth.data.domain).")
    if not columns:
        raise MetadataError(f"{where}: no column of the SDV metadata can be synthesised",
                            hint="Every column was a key or PII; see the notes.")
    unknown = [c.name for c in columns]
    if unknown:
        notes.append("SDV metadata gives no categories or bounds: they are inferred with DP at the "
                     f"fit's inference share for {', '.join(unknown)}")
    domain = Domain(columns, ignore=ignore, name=name,
                    description="Read from SDV metadata.")
    return domain, notes


def domain_to_sdv(domain: Domain) -> dict[str, Any]:
    """The domain as SDV single-table metadata (``SINGLE_TABLE_V1``).

    SDV's format has no place for categories, bounds, bin edges, a target or missing-value
    tokens; those stay in dpsynth's metadata. Ordinal columns become ``categorical``.
    Ignored columns are left out.
    """
    columns: dict[str, Any] = {}
    for col in domain:
        if col.kind == "numeric":
            columns[col.name] = {"sdtype": "numerical",
                                 "computer_representation": "Int64" if col.integer else "Float"}
        elif col.kind == "datetime":
            columns[col.name] = {"sdtype": "datetime"}
            if isinstance(col.format, str):
                columns[col.name]["datetime_format"] = col.format
        else:
            columns[col.name] = {"sdtype": "categorical"}
    return {"METADATA_SPEC_VERSION": SINGLE_TABLE_SPEC, "columns": columns}
