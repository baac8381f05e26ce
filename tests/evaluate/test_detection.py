from __future__ import annotations

import math

import numpy as np
import pytest

from dpsynth.evaluate import DetectionAUC
from dpsynth.evaluate.detection import auc_confidence_interval, grouped_stratified_folds


def _null_se(n: int) -> float:
    # Standard error of an AUC under H0 (no separation), n rows per class.
    return math.sqrt((2 * n + 1) / (12 * n * n))


def test_identical_tables_are_indistinguishable(domain, real):
    res = DetectionAUC().compute(real, real, domain)
    assert res.value == pytest.approx(0.5, abs=4 * _null_se(len(real)))
    assert res.best_value == 0.5


def test_same_distribution_is_near_one_half(domain, real, fresh):
    res = DetectionAUC().compute(real, fresh, domain)
    assert abs(res.value - 0.5) < 4 * _null_se(len(real))
    assert res.ci is not None and res.ci[0] < 0.5 < res.ci[1]


def test_shuffled_columns_are_detected(domain, real, shuffled):
    res = DetectionAUC().compute(real, shuffled, domain)
    assert res.value > 0.9 and res.ci is not None and res.ci[0] > 0.5 + 4 * _null_se(len(real))
    assert len(res.details["fold_auc"]) == 5
    assert len(res.details["roc_curve"]["fpr"]) == len(res.details["roc_curve"]["tpr"])


def test_disjoint_tables_are_perfectly_separated(domain, disjoint_pair):
    r, s = disjoint_pair
    assert DetectionAUC().compute(r, s, domain).value == pytest.approx(1.0)


def test_balanced_by_subsampling(domain, real, fresh):
    res = DetectionAUC(max_rows=200).compute(real.iloc[:500], fresh.iloc[:300], domain)
    assert res.details["n_per_class"] == 200
    res = DetectionAUC().compute(real.iloc[:500], fresh.iloc[:300], domain)
    assert res.details["n_per_class"] == 300 and "subsampling" in res.note


def test_folds_keep_twins_together_and_stratify():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 30, (1000, 2)).astype(float)
    x = np.vstack([x, x[:500]])
    y = np.r_[np.ones(1000), np.zeros(500)]
    folds, grouped = grouped_stratified_folds(x, y, 5, rng)
    assert grouped
    assert sorted(np.concatenate(folds).tolist()) == list(range(1500))
    fold_of = np.empty(1500, dtype=int)
    for k, f in enumerate(folds):
        fold_of[f] = k
        assert abs(y[f].mean() - y.mean()) < 0.05
    _, inv = np.unique(x, axis=0, return_inverse=True)
    for g in np.unique(inv):
        assert len(set(fold_of[inv.ravel() == g])) == 1


def test_auc_interval_under_the_null_matches_the_known_variance():
    lo, hi = auc_confidence_interval(0.5, 1000, 1000)
    assert (hi - lo) / 2 == pytest.approx(1.96 * _null_se(1000), rel=1e-3)
