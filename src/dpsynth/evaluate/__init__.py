"""dpsynth.evaluate: how close a synthetic table is to the real one, and how useful.

Fidelity (marginal TVD, per-column KS and Wasserstein, association matrices, range
queries), utility (train-synthetic-test-real), discriminability (detection AUC) and a
distance-to-closest-record heuristic, and SDMetrics' quality score when the optional
``sdmetrics`` package is installed. Each metric is a :class:`Metric` whose
``compute(real, synthetic, domain)`` returns a :class:`Result`; :func:`evaluate_all` runs
every metric that applies and :func:`summary_table` tabulates them.

Evaluation reads raw rows on purpose: it measures a release, it is not part of one, and
its figures carry no privacy guarantee (every result says so).
"""

from dpsynth.evaluate._base import RAW_ROWS_NOTE, Evaluation, Metric, Result
from dpsynth.evaluate.constraints import ConstraintViolations
from dpsynth.evaluate.dcr import DCRShare
from dpsynth.evaluate.detection import DetectionAUC
from dpsynth.evaluate.fidelity import (
    AssociationDifference,
    KSStatistic,
    RangeQueryError,
    WassersteinDistance,
    association_matrix,
)
from dpsynth.evaluate.marginals import MarginalTVD, all_cliques, marginal_tvd
from dpsynth.evaluate.quality import SDMetricsQuality, sdmetrics_available
from dpsynth.evaluate.suite import default_metrics, evaluate_all, summary_table
from dpsynth.evaluate.utility import TSTRClassification, TSTRRegression, utility_metric

__all__ = [
    "RAW_ROWS_NOTE",
    "AssociationDifference",
    "ConstraintViolations",
    "DCRShare",
    "DetectionAUC",
    "Evaluation",
    "KSStatistic",
    "MarginalTVD",
    "Metric",
    "RangeQueryError",
    "Result",
    "SDMetricsQuality",
    "TSTRClassification",
    "TSTRRegression",
    "WassersteinDistance",
    "all_cliques",
    "association_matrix",
    "default_metrics",
    "evaluate_all",
    "marginal_tvd",
    "sdmetrics_available",
    "summary_table",
    "utility_metric",
]
