"""One-call entry points shared by the CLI and Python users."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dpsynth.data.domain import Domain
from dpsynth.data.io import open_table
from dpsynth.data.private import PrivateData
from dpsynth.privacy import PrivacyBudget
from dpsynth.synth.base import Synthesizer
from dpsynth.synth.registry import create


def load_private(
    data: str | os.PathLike[str] | Any,
    metadata: str | os.PathLike[str] | Domain | dict[str, Any] | None = None,
    *,
    inference_share: float = 0.05,
    engine: str | None = None,
) -> PrivateData:
    """Wrap a file or DataFrame and its public metadata into a :class:`PrivateData`.

    Args:
        data: A CSV/Parquet path, a DuckDB ``Table`` or a pandas DataFrame; with
            ``engine="spark"``, a Spark DataFrame or a path/URI Spark reads.
        metadata: The public metadata (JSON path, dict or Domain). Without it, column types
            are taken from the file's schema and categories/bounds are inferred with DP at
            ``inference_share`` of the budget (the privacy report says so).
        inference_share: Budget share for DP domain inference, where needed.
        engine: ``"duckdb"`` (one machine, out of core) or ``"spark"`` (every private
            query runs as Spark aggregations; only counts come back). None: Spark for Spark
            data, DuckDB otherwise.
    """
    table = open_table(data, engine=engine)
    if metadata is None:
        from dpsynth.data.infer import schema_domain

        domain = schema_domain(table)
    elif isinstance(metadata, Domain):
        domain = metadata
    else:
        domain = Domain.from_json(metadata if isinstance(metadata, dict) else Path(metadata))
    private = PrivateData(table, domain, inference_share=inference_share, engine=table.engine)
    if metadata is None:
        private.notes.append(
            "no metadata given: column types were read from the data (numeric if every value parses "
            "as a number), outside the DP budget; categories, bounds and bins were inferred with DP"
        )
    return private


def fit(
    data: str | os.PathLike[str] | Any,
    *,
    generator: str = "aim",
    epsilon: float = 1.0,
    delta: float = 1e-9,
    metadata: str | os.PathLike[str] | Domain | dict[str, Any] | None = None,
    random_state: int | None = None,
    engine: str | None = None,
    **params: Any,
) -> Synthesizer:
    """Fit generator ``generator`` on ``data`` with budget (``epsilon``, ``delta``).

    ``engine`` is passed to :func:`load_private`.

    Returns:
        The fitted synthesizer; ``.privacy_report`` says what was spent.
    """
    private = load_private(data, metadata, engine=engine)
    model = create(generator, random_state=random_state, **params)
    return model.fit(private, PrivacyBudget(epsilon, delta))
