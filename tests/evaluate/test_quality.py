"""SDMetrics' quality score: brackets its range and agrees with SDMetrics on plain frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dpsynth.evaluate import SDMetricsQuality, default_metrics, evaluate_all
from tests.evaluate.conftest import draw, make_domain, shuffle_columns

pytest.importorskip("sdmetrics")  # a dev dependency: make test installs it


def test_identical_tables_score_one_and_shuffled_columns_lose_pair_trends():
    domain = make_domain()
    real = draw(1500, 0)
    same = SDMetricsQuality().compute(real, real.copy(), domain)
    assert same.value == pytest.approx(1.0, abs=1e-9)
    shuffled = SDMetricsQuality().compute(real, shuffle_columns(real, 1), domain)
    props = shuffled.details["properties"]
    # Shuffling keeps every column's shape but breaks every dependency.
    assert props["Column Shapes"] == pytest.approx(1.0, abs=1e-9)
    assert props["Column Pair Trends"] < 0.9
    assert shuffled.value < same.value
    assert set(shuffled.details["column_shapes"]) == set(domain.names)
    assert len(shuffled.details["column_pair_trends"]) == len(domain) * (len(domain) - 1) // 2


def test_disjoint_categories_score_worst_on_that_column():
    domain = make_domain()
    real = draw(1000, 2)
    syn = real.copy()
    syn["a"] = "not-a-category"  # every synthetic value is outside the declared categories
    res = SDMetricsQuality().compute(real, syn, domain)
    assert res.details["column_shapes"]["a"]["score"] == pytest.approx(0.0, abs=1e-6)


def test_matches_sdmetrics_on_the_raw_frame():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        from sdmetrics.reports.single_table import QualityReport

    domain = make_domain()
    real, syn = draw(800, 3), draw(800, 4)
    ours = SDMetricsQuality().compute(real, syn, domain).value
    meta = {"columns": {c.name: {"sdtype": "numerical" if c.is_numeric else "categorical"}
                        for c in domain}}
    ref = QualityReport()
    ref.generate(real, syn, meta, verbose=False)
    assert ours == pytest.approx(ref.get_score(), abs=1e-9)


def test_part_of_evaluate_all_when_installed():
    domain = make_domain()
    assert any(isinstance(m, SDMetricsQuality) for m in default_metrics(domain))
    real = draw(600, 5)
    res = evaluate_all(real, real.sample(frac=1.0, random_state=0), domain, target=None,
                       metrics=[SDMetricsQuality()])
    assert 0.95 <= res["sdmetrics_quality"].value <= 1.0
    assert res["sdmetrics_quality"].reads_raw_rows
    scores = pd.Series([r["score"] for r in res["sdmetrics_quality"].details["column_pair_trends"]])
    # SDMetrics leaves a pair unscored (NaN) when its real association is below its threshold.
    assert scores.notna().sum() >= len(scores) // 2
    assert np.all((scores.dropna() >= 0) & (scores.dropna() <= 1))
