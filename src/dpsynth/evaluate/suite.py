"""Run every metric that applies, and tabulate the results.

Evaluation reads raw rows on purpose: it measures a release, it is not part of one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from dpsynth.data.domain import Domain
from dpsynth.evaluate._base import Evaluation, Metric, Result, check_int_param, seed_from
from dpsynth.evaluate._prepare import prepare
from dpsynth.evaluate.constraints import ConstraintViolations
from dpsynth.evaluate.dcr import DCRShare
from dpsynth.evaluate.detection import DetectionAUC
from dpsynth.evaluate.fidelity import (
    AssociationDifference,
    KSStatistic,
    RangeQueryError,
    WassersteinDistance,
)
from dpsynth.evaluate.marginals import MarginalTVD
from dpsynth.evaluate.quality import SDMetricsQuality
from dpsynth.evaluate.utility import resolve_target, utility_metric
from dpsynth.privacy.random import RandomState, make_rng


def default_metrics(
    domain: Domain,
    *,
    target: str | None = None,
    with_holdout: bool = False,
    max_marginals: int | None = 1000,
    n_threads: int | None = 1,
    random_state: RandomState = 0,
) -> list[Metric]:
    """The metrics :func:`evaluate_all` runs on this domain, seeded from ``random_state``.

    Args:
        domain: The public domain.
        target: Target column for utility (default: the domain's; none: no utility metric).
        with_holdout: Whether a hold-out table will be given (distance to closest record).
        max_marginals: Most marginals compared per order (a seeded sample beyond it).
        n_threads: Threads for the learned metrics (None: the libraries' default, all cores).
        random_state: Seed or Generator; each metric gets its own seed drawn from it.
    """
    rng = make_rng(random_state)
    metrics: list[Metric] = [
        MarginalTVD(k, max_marginals=max_marginals, random_state=seed_from(rng)) for k in (1, 2, 3)
    ]
    metrics += [
        KSStatistic(),
        WassersteinDistance(),
        AssociationDifference(),
        RangeQueryError(random_state=seed_from(rng)),
        DetectionAUC(n_threads=n_threads, random_state=seed_from(rng)),
        SDMetricsQuality(),  # applies only when the optional sdmetrics package is installed
        ConstraintViolations(),  # applies only when the domain declares constraints
    ]
    name = target if target is not None else domain.target
    if name is not None:
        metrics.append(utility_metric(domain, name, n_threads=n_threads, random_state=seed_from(rng)))
    if with_holdout:
        metrics.append(DCRShare(n_threads=n_threads, random_state=seed_from(rng)))
    return [m for m in metrics if m.applies(domain)]


def evaluate_all(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    domain: Domain,
    *,
    target: str | None = None,
    holdout: pd.DataFrame | None = None,
    random_state: RandomState = 0,
    max_marginals: int | None = 1000,
    real_split: str | None = None,
    n_threads: int | None = 1,
    metrics: Sequence[Metric] | None = None,
) -> Evaluation:
    """Run every metric that applies to the domain and the tables given.

    Fidelity (1-, 2- and 3-way marginal TVD; KS and Wasserstein for numeric columns;
    association difference; range-query error) and detection AUC compare ``synthetic`` with
    ``real``. Utility (when there is a target) trains on ``synthetic`` and on ``real`` and
    tests on ``holdout`` if given, else on a seeded split of ``real``. Distance to closest
    record runs when ``holdout`` is given, with ``real`` as the training table.

    The tables are validated and encoded once and shared by all metrics. Evaluation reads
    raw rows; its output is not covered by the release's privacy guarantee.

    Args:
        real: Real rows (the generator's training split, or a hold-out).
        synthetic: Synthetic rows.
        domain: The public domain of both.
        target: Target column for utility (default: the domain's ``target``).
        holdout: Real rows the generator never saw, for utility testing and DCR.
        random_state: Seed or Generator; every metric's seed is drawn from it.
        max_marginals: Most k-way marginals compared per order (a seeded sample beyond it);
            None compares all.
        real_split: What ``real`` is (``"train"``, ``"holdout"``, ``"unspecified"``); default
            ``"train"`` when a hold-out is given, else ``"unspecified"``.
        n_threads: Threads for the learned metrics (gradient boosting, BLAS). The default,
            1, stays fast when cores are shared; None uses every core (faster on an idle
            machine, but OpenMP spin-waiting can make it a hundred times slower under load).
        metrics: Run these instead of :func:`default_metrics`.

    Returns:
        Metric name → :class:`Result`, in a fixed order (an :class:`Evaluation`: a dict that
        renders as a table in Jupyter).

    Raises:
        InvalidDataError: Empty tables or columns that do not match the domain (all listed).
        InvalidParameterError: An unknown target or bad parameter.
    """
    if real_split is None:
        real_split = "train" if holdout is not None else "unspecified"
    prep = prepare(real, synthetic, domain, holdout=holdout, real_split=real_split)
    check_int_param(max_marginals, "max_marginals", "evaluate_all", allow_none=True)
    if target is not None:
        resolve_target(domain, target)
    if metrics is None:
        metrics = default_metrics(domain, target=target, with_holdout=holdout is not None,
                                  max_marginals=max_marginals, n_threads=n_threads,
                                  random_state=random_state)
    return Evaluation({m.name: m.compute_prepared(prep) for m in metrics})


def summary_table(results: Mapping[str, Result] | Sequence[Result]) -> pd.DataFrame:
    """One row per result: value, confidence interval, reference, best value, goal and range.

    Args:
        results: The output of :func:`evaluate_all` (or a list of results).

    Returns:
        A DataFrame indexed by metric name.
    """
    items = list(results.values()) if isinstance(results, Mapping) else list(results)
    rows = [
        {
            "metric": r.metric,
            "value": r.value,
            "ci_low": r.ci[0] if r.ci is not None else float("nan"),
            "ci_high": r.ci[1] if r.ci is not None else float("nan"),
            "reference": r.reference if r.reference is not None else float("nan"),
            "best": r.best_value,
            "goal": r.goal,
            "min_value": r.min_value,
            "max_value": r.max_value,
            "real_split": r.real_split,
            "note": r.note,
        }
        for r in items
    ]
    cols = ["metric", "value", "ci_low", "ci_high", "reference", "best", "goal", "min_value", "max_value",
            "real_split", "note"]
    return pd.DataFrame(rows, columns=cols).set_index("metric")
