"""SDMetrics' quality score, the figure users of SDV know, beside dpsynth's own metrics.

SDMetrics' ``QualityReport`` averages two properties: *Column Shapes* (per column, 1 − KS
statistic for numbers, 1 − TVD for categories) and *Column Pair Trends* (per pair, 1 − half
the difference of correlations for numbers, 1 − TVD of the 2-way table for categories). The
overall score is their mean, in [0, 1], higher is better. It needs the optional extra
``pip install 'dpsynth[quality]'`` (the ``sdmetrics`` package); without it the metric does not
apply and :func:`~dpsynth.evaluate.evaluate_all` leaves it out.

Evaluation reads raw rows on purpose: it measures a release, it is not part of one.
"""

from __future__ import annotations

import importlib.util
import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from dpsynth.data.domain import Domain
from dpsynth.evaluate._base import Metric, Result
from dpsynth.evaluate._prepare import EncodedTable, Prepared, is_categorical


def sdmetrics_available() -> bool:
    """Whether the optional ``sdmetrics`` package is installed."""
    return importlib.util.find_spec("sdmetrics") is not None


def _frame_for_sdmetrics(table: EncodedTable, domain: Domain) -> pd.DataFrame:
    """Numbers (datetimes as seconds) as floats, categories as text, missing as None.

    A value outside the declared categories becomes ``"(other)"``, so it counts against the
    synthetic table's column shape instead of vanishing.
    """
    out: dict[str, Any] = {}
    for col in domain:
        if is_categorical(col):
            cats = [str(c) for c in (col.categories or ())]
            labels = np.asarray([*cats, None, "(other)"], dtype=object)
            out[col.name] = labels[table.codes(col.name)]
        else:
            out[col.name] = table.values(col.name).astype(float)
    return pd.DataFrame(out)


def _sdmetrics_metadata(domain: Domain) -> dict[str, Any]:
    return {
        "columns": {
            c.name: {"sdtype": "categorical" if is_categorical(c) else "numerical"} for c in domain
        }
    }


class SDMetricsQuality(Metric):
    """SDMetrics' ``QualityReport`` overall score (Column Shapes and Column Pair Trends).

    ``details`` holds both property scores and the per-column and per-pair scores, so a
    report can show what pulls the score down. Numbers are compared on their values,
    categories on their labels; datetimes as seconds.
    """

    name = "sdmetrics_quality"
    goal = "maximize"
    min_value = 0.0
    max_value = 1.0

    def applies(self, domain: Domain) -> bool:
        """Needs the optional ``sdmetrics`` package."""
        return len(domain) >= 1 and sdmetrics_available()

    def _compute(self, prep: Prepared) -> Result:
        if not sdmetrics_available():
            return self._result(prep, math.nan, note="sdmetrics is not installed: pip install 'dpsynth[quality]'")
        with warnings.catch_warnings():
            # SDMetrics announces a multi-table successor; the single-table report is the
            # one whose scores SDV users know, and it is computed the same way.
            warnings.simplefilter("ignore", FutureWarning)
            from sdmetrics.reports.single_table import QualityReport

        real = _frame_for_sdmetrics(prep.real, prep.domain)
        synthetic = _frame_for_sdmetrics(prep.synthetic, prep.domain)
        report = QualityReport()
        report.generate(real, synthetic, _sdmetrics_metadata(prep.domain), verbose=False)
        props = report.get_properties()
        properties = {str(p): float(s) for p, s in zip(props["Property"], props["Score"], strict=True)}
        shapes = report.get_details("Column Shapes")
        pairs = report.get_details("Column Pair Trends")
        details: dict[str, Any] = {
            "properties": properties,
            "column_shapes": {
                str(c): {"metric": str(m), "score": float(s)}
                for c, m, s in zip(shapes["Column"], shapes["Metric"], shapes["Score"], strict=True)
            },
            "column_pair_trends": [
                {"columns": [str(a), str(b)], "metric": str(m), "score": float(s)}
                for a, b, m, s in zip(pairs["Column 1"], pairs["Column 2"], pairs["Metric"],
                                      pairs["Score"], strict=True)
            ],
            "sdmetrics_version": _version(),
        }
        return self._result(prep, float(report.get_score()), details=details)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sdmetrics")
    except PackageNotFoundError:  # pragma: no cover - applies() guards this
        return "unknown"
