"""One-call entry points shared by the CLI and Python users."""

from __future__ import annotations

import os
from collections.abc import Callable
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
    inference_share: float | None = None,
    drop_ids: bool = True,
    engine: str | None = None,
) -> PrivateData:
    """Wrap a file or DataFrame and its public metadata into a :class:`PrivateData`.

    Args:
        data: A CSV/Parquet path, a DuckDB ``Table`` or a pandas DataFrame. A CSV file's
            delimiter and quote character are sniffed from its header line only. With
            ``engine="spark"``, a Spark DataFrame or a path/URI Spark reads.
        metadata: The public metadata (JSON path, dict or Domain). Columns it leaves
            ``null`` are inferred with DP at fit time. Without metadata, only the header is
            taken as public: every column's type, missingness, categories or bounds are
            inferred with DP (see :mod:`dpsynth.data.infer`), and columns named like row ids
            (``id``, ``ID``, ``*_id``) are dropped when ``drop_ids`` is set. The Spark
            engine needs every column's type and nullability in the metadata.
        inference_share: Budget share for DP domain inference, where needed (default: 25%
            when column types are inferred too, else from 5% when only bin edges are placed
            up to 25% as more columns lack bounds or categories; see
            :func:`dpsynth.data.infer.default_inference_share`).
        drop_ids: Drop columns named like row ids when there is no metadata.
        engine: ``"duckdb"`` (one machine, out of core) or ``"spark"`` (every private
            query runs as Spark aggregations; only counts come back). None: Spark for Spark
            data, DuckDB otherwise.
    """
    from dpsynth.data.infer import load_metadata, pending_of, schema_domain

    table = open_table(data, engine=engine)
    if metadata is None:
        domain: Domain = schema_domain(table, drop_ids=drop_ids)
    elif isinstance(metadata, Domain):
        domain = metadata
    else:
        domain = load_metadata(metadata if isinstance(metadata, dict) else Path(metadata))
    untyped, _ = pending_of(domain)
    private = PrivateData(table, domain, inference_share=inference_share, engine=table.engine)
    if untyped:
        private.notes.append(
            f"{'no metadata given' if metadata is None else 'the metadata leaves column types unknown'}: "
            f"the types of {len(untyped)} column(s) and their missing values, categories, bounds and bins "
            "were inferred with DP, charged to the budget (each 'inferred with DP' note below names one)"
        )
    if domain.ignore and metadata is None:
        private.notes.append(f"column(s) {list(domain.ignore)} look like row ids (by their names): dropped")
    return private


def inference_plan_lines(private: PrivateData, budget: PrivacyBudget | None = None) -> list[str]:
    """What a fit on ``private`` will infer with DP, one line per column, before spending anything.

    Reads no rows: the plan depends on the metadata (or the header) and the budget only.
    """
    from dpsynth.data.infer import describe_plan, inference_plan

    items = inference_plan(private.domain, share=private.inference_share, quantile_bins=private.quantile_bins)
    lines = []
    if items:
        total = f"{private.inference_share:.0%} of the budget"
        if budget is not None:
            total += f" (ρ = {private.inference_share * budget.rho:.3g} of {budget.rho:.3g} at ε = {budget.epsilon:g})"
        lines.append(f"DP inference of what the metadata leaves unknown: {len(items)} column(s), {total}, "
                     "split equally; the rest goes to the generator.")
    return lines + describe_plan(items, ignored=private.domain.ignore)


def fit(
    data: str | os.PathLike[str] | Any,
    *,
    generator: str = "aim",
    epsilon: float = 1.0,
    delta: float = 1e-9,
    metadata: str | os.PathLike[str] | Domain | dict[str, Any] | None = None,
    random_state: int | None = None,
    on_plan: Callable[[PrivateData, PrivacyBudget], None] | None = None,
    engine: str | None = None,
    **params: Any,
) -> Synthesizer:
    """Fit generator ``generator`` on ``data`` with budget (``epsilon``, ``delta``).

    Args:
        data: As for :func:`load_private`.
        generator: Registry name of the generator.
        epsilon: Privacy budget ε.
        delta: Privacy budget δ.
        metadata: As for :func:`load_private`.
        random_state: Seed (research only: the report then says the output is not for release).
        on_plan: Called with the loaded data and the budget before anything is spent (e.g.
            to show what will be inferred with DP: :func:`inference_plan_lines`).
        engine: As for :func:`load_private`.
        **params: Hyper-parameters of the generator.

    Returns:
        The fitted synthesizer; ``.privacy_report`` says what was spent.
    """
    private = load_private(data, metadata, engine=engine)
    model = create(generator, random_state=random_state, **params)
    budget = PrivacyBudget(epsilon, delta)
    if on_plan is not None:
        on_plan(private, budget)
    return model.fit(private, budget)
