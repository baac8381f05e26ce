"""Run the evaluation suite with a progress bar (for the CLI and the report).

The same metrics, seeds and defaults as :func:`dpsynth.evaluate.evaluate_all`; the tables
are validated and encoded once, then each metric ticks the bar. Evaluation reads raw rows:
its figures are not part of the DP release.
"""

from __future__ import annotations

import pandas as pd

from dpsynth.data.domain import Domain
from dpsynth.evaluate import Result, default_metrics
from dpsynth.evaluate._prepare import prepare
from dpsynth.evaluate.utility import resolve_target
from dpsynth.privacy.random import RandomState
from dpsynth.progress import track


def evaluate_with_progress(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    domain: Domain,
    *,
    target: str | None = None,
    holdout: pd.DataFrame | None = None,
    real_split: str | None = None,
    random_state: RandomState = 0,
    n_threads: int | None = 1,
) -> dict[str, Result]:
    """:func:`~dpsynth.evaluate.evaluate_all` with one progress tick per metric.

    Progress shows metric names only, never a statistic of the data.

    Raises:
        InvalidDataError: Empty tables or columns that do not match the domain.
        InvalidParameterError: An unknown target.
    """
    if real_split is None:
        real_split = "train" if holdout is not None else "unspecified"
    prep = prepare(real, synthetic, domain, holdout=holdout, real_split=real_split)
    if target is not None:
        resolve_target(domain, target)
    metrics = default_metrics(domain, target=target, with_holdout=holdout is not None,
                              n_threads=n_threads, random_state=random_state)
    results: dict[str, Result] = {}
    with track("Evaluating (reads real rows)", total=len(metrics)) as update:
        for i, metric in enumerate(metrics):
            results[metric.name] = metric.compute_prepared(prep)
            update(i + 1)
    return results
