"""Discriminability: can a classifier tell real rows from synthetic ones?

The classifier two-sample test (Lopez-Paz & Oquab 2017), as used to evaluate TabSyn and
DP-TLDM: label real rows 1 and synthetic rows 0, and measure the out-of-fold ROC AUC of a
classifier trained to separate them. 0.5 means indistinguishable, 1 perfectly separable.

Evaluation reads raw rows on purpose: it measures a release, it is not part of one.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score, roc_curve

from dpsynth.evaluate._base import Metric, Result, check_int_param, rng_of, seed_from
from dpsynth.evaluate._prepare import Prepared
from dpsynth.privacy.random import RandomState


def auc_confidence_interval(auc: float, n_pos: int, n_neg: int, z: float = 1.96) -> tuple[float, float]:
    """Normal-approximation confidence interval of an ROC AUC (Hanley & McNeil 1982, eq. 2)."""
    q1 = auc / (2.0 - auc)
    q2 = 2.0 * auc * auc / (1.0 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc) + (n_neg - 1) * (q2 - auc * auc)) / (n_pos * n_neg)
    se = math.sqrt(max(var, 0.0))
    return (max(0.0, auc - z * se), min(1.0, auc + z * se))


def grouped_stratified_folds(
    x: np.ndarray, y: np.ndarray, n_splits: int, rng: np.random.Generator
) -> tuple[list[np.ndarray], bool]:
    """Test indices of k folds that keep identical rows together and balance the labels.

    Identical feature vectors form one group, and a group never straddles training and
    test. Otherwise a synthetic copy of a real row would be scored by a model that saw its
    twin, with the opposite label, in training, and the AUC of a perfect copy would fall
    far *below* 0.5. Groups are dealt round-robin to the folds, in a random order within
    each kind (only label 1, only label 0, both), so the folds are stratified.

    When a label has fewer distinct rows than folds, grouping is impossible and plain
    stratified folds are returned.

    Returns:
        The folds' test indices, and whether they are grouped.
    """
    keyed = np.where(np.isnan(x), -np.inf, x)
    group = np.unique(keyed, axis=0, return_inverse=True)[1].ravel()
    n_groups = int(group.max()) + 1
    pos = np.bincount(group, weights=y, minlength=n_groups)
    size = np.bincount(group, minlength=n_groups)
    kind = np.where(pos == size, 0, np.where(pos == 0, 1, 2))
    grouped = int(np.sum(kind != 1)) >= n_splits and int(np.sum(kind != 0)) >= n_splits
    if not grouped:  # each row its own group
        group = np.arange(len(y))
        n_groups = len(y)
        kind = np.asarray(y, dtype=np.int64)
    order = np.lexsort((rng.random(n_groups), kind))
    # Position of each group in that order; round-robin within each kind, each kind
    # starting at a random fold.
    rank = np.empty(n_groups, dtype=np.int64)
    rank[order] = np.arange(n_groups)
    starts = np.full(3, n_groups, dtype=np.int64)
    np.minimum.at(starts, kind, rank)
    offset = rng.integers(0, n_splits, size=3)
    fold = ((rank - starts[kind] + offset[kind]) % n_splits)[group]
    return [np.flatnonzero(fold == k) for k in range(n_splits)], grouped


class DetectionAUC(Metric):
    """Out-of-fold ROC AUC of a HistGradientBoosting classifier separating real from synthetic rows.

    The larger table is subsampled (seeded) to the size of the smaller, so the classes are
    balanced; ``max_rows`` caps each side further. Features are the domain's encoding
    (categorical columns as native categories, missing values as their own category or NaN).
    Predictions come from stratified ``n_splits``-fold cross-validation in which identical
    rows always share a fold (see :func:`grouped_stratified_folds`), and the AUC is taken over
    all out-of-fold predictions, with a 95% Hanley–McNeil confidence interval.

    0.5 is the best value (indistinguishable; ``ideal_value``), 1 the worst. An out-of-fold
    AUC a little below 0.5 is chance, not better than indistinguishable. ``details`` holds the per-fold AUCs and the
    ROC curve for plotting.

    Args:
        n_splits: Number of cross-validation folds.
        max_rows: Most rows per side (None: the smaller table's size).
        n_threads: Threads for the classifier (OpenMP/BLAS); None uses the libraries'
            default (every core), which is fast on an idle machine but can be a hundred
            times slower when the cores are shared.
        random_state: Seed or Generator for the subsamples, folds and classifier.
    """

    name = "detection_auc"
    goal = "minimize"
    min_value = 0.0
    max_value = 1.0
    ideal_value = 0.5

    def __init__(self, *, n_splits: int = 5, max_rows: int | None = None, n_threads: int | None = 1,
                 random_state: RandomState = 0) -> None:
        self.n_splits = n_splits
        self.max_rows = max_rows
        self.n_threads = n_threads
        self.random_state = random_state

    def _validate_params(self) -> None:
        check_int_param(self.n_splits, "n_splits", type(self).__name__, minimum=2)
        check_int_param(self.max_rows, "max_rows", type(self).__name__, allow_none=True)

    def _compute(self, prep: Prepared) -> Result:
        rng = rng_of(self.random_state)
        n = min(prep.real.n, prep.synthetic.n)
        if self.max_rows is not None:
            n = min(n, self.max_rows)
        if n < self.n_splits:
            return self._result(prep, math.nan, note=f"too few rows ({n}) for {self.n_splits}-fold cross-validation")
        names = list(prep.names)
        xr, mask = prep.tree_features("real", names)
        xs, _ = prep.tree_features("synthetic", names)
        ir = np.sort(rng.choice(prep.real.n, n, replace=False)) if prep.real.n > n else np.arange(n)
        is_ = np.sort(rng.choice(prep.synthetic.n, n, replace=False)) if prep.synthetic.n > n else np.arange(n)
        x = np.vstack([xr[ir], xs[is_]])
        y = np.concatenate([np.ones(n, dtype=np.int64), np.zeros(n, dtype=np.int64)])
        oof = np.empty(len(y))
        fold_auc = []
        seed = seed_from(rng)
        folds, grouped = grouped_stratified_folds(x, y, self.n_splits, rng)
        for test in folds:
            train = np.setdiff1d(np.arange(len(y)), test, assume_unique=True)
            clf = HistGradientBoostingClassifier(categorical_features=mask, random_state=seed)
            clf.fit(x[train], y[train])
            oof[test] = clf.predict_proba(x[test])[:, 1]
            if len(np.unique(y[test])) == 2:
                fold_auc.append(float(roc_auc_score(y[test], oof[test])))
        auc = float(roc_auc_score(y, oof))
        fpr, tpr, _ = roc_curve(y, oof)
        grid = np.linspace(0.0, 1.0, 51)
        details = {
            "fold_auc": fold_auc,
            "n_per_class": n,
            "n_splits": self.n_splits,
            "roc_curve": {"fpr": grid, "tpr": np.interp(grid, fpr, tpr)},
            "classifier": "HistGradientBoostingClassifier",
            "folds_grouped_by_identical_rows": grouped,
        }
        notes = []
        if n < max(prep.real.n, prep.synthetic.n):
            notes.append(f"balanced by subsampling to {n} rows per side")
        if not grouped:
            notes.append("too few distinct rows to keep identical rows in one fold; plain stratified folds")
        note = "; ".join(notes)
        return self._result(prep, auc, ci=auc_confidence_interval(auc, n, n), details=details, note=note)
