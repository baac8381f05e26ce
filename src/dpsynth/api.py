"""One-call entry points shared by the CLI and Python users."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dpsynth.data.domain import Domain
from dpsynth.data.io import Table
from dpsynth.data.private import PrivateData
from dpsynth.privacy import PrivacyBudget
from dpsynth.synth.base import Synthesizer
from dpsynth.synth.registry import create


def load_private(
    data: str | os.PathLike[str] | Any,
    metadata: str | os.PathLike[str] | Domain | dict[str, Any] | None = None,
    *,
    inference_share: float = 0.05,
) -> PrivateData:
    """Wrap a file or DataFrame and its public metadata into a :class:`PrivateData`.

    Args:
        data: A CSV/Parquet path, a DuckDB ``Table`` or a pandas DataFrame.
        metadata: The public metadata (JSON path, dict or Domain). Without it, column types
            are taken from the file's schema and categories/bounds are inferred with DP at
            ``inference_share`` of the budget (the privacy report says so).
        inference_share: Budget share for DP domain inference, where needed.
    """
    table = Table.from_path(data) if isinstance(data, str | os.PathLike) else Table.coerce(data)
    if metadata is None:
        from dpsynth.data.infer import schema_domain

        domain = schema_domain(table)
    elif isinstance(metadata, Domain):
        domain = metadata
    else:
        domain = Domain.from_json(metadata if isinstance(metadata, dict) else Path(metadata))
    private = PrivateData(table, domain, inference_share=inference_share)
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
    **params: Any,
) -> Synthesizer:
    """Fit generator ``generator`` on ``data`` with budget (``epsilon``, ``delta``).

    Returns:
        The fitted synthesizer; ``.privacy_report`` says what was spent.
    """
    private = load_private(data, metadata)
    model = create(generator, random_state=random_state, **params)
    return model.fit(private, PrivacyBudget(epsilon, delta))
