"""Utility: train on synthetic, test on real (TSTR), against train on real, test on real (TRTR).

Both kinds of model are tested on the same real rows: the hold-out when one is given
(TRTR then trains on ``real``), otherwise a seeded split of ``real`` (TRTR trains on the
rest). Features are encoded from the domain alone, identically for every table:
categorical columns as domain codes for gradient boosting and one-hot over the declared
categories for the linear models, numeric columns on their scale (trees) or scaled by
their declared range (linear models). Nothing about the encoding is learned from the data.

Evaluation reads raw rows on purpose: it measures a release, it is not part of one.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, f1_score, mean_squared_error, r2_score, roc_auc_score

from dpsynth.data.domain import Domain
from dpsynth.errors import InvalidDataError, InvalidParameterError
from dpsynth.evaluate._base import (
    Metric,
    Result,
    check_fraction,
    check_int_param,
    rng_of,
    seed_from,
)
from dpsynth.evaluate._prepare import Prepared, is_categorical
from dpsynth.privacy.random import RandomState

MODELS = ("hgb", "linear")


def resolve_target(domain: Domain, target: str | None) -> str:
    """The target column: ``target`` if given, else the domain's.

    Raises:
        InvalidParameterError: If there is none, or it is not a column of the domain.
    """
    name = target if target is not None else domain.target
    if name is None:
        raise InvalidParameterError(
            "Utility needs a target column: pass target=<column name> or declare 'target' in the metadata."
        )
    if name not in domain:
        raise InvalidParameterError(
            f"The target column {name!r} is not in the domain; columns: {list(domain.names)}."
        )
    return name


class _TSTR(Metric):
    """Shared machinery of the classification and regression utility metrics."""

    task: ClassVar[str]
    headline: ClassVar[str]

    def __init__(
        self,
        target: str | None = None,
        *,
        models: Sequence[str] = MODELS,
        test_size: float = 0.3,
        max_train_rows: int | None = None,
        n_threads: int | None = 1,
        random_state: RandomState = 0,
    ) -> None:
        self.target = target
        self.models = models
        self.test_size = test_size
        self.max_train_rows = max_train_rows
        self.n_threads = n_threads
        self.random_state = random_state

    def _validate_params(self) -> None:
        owner = type(self).__name__
        if isinstance(self.models, str) or not self.models or any(m not in MODELS for m in self.models):
            raise InvalidParameterError(
                f"The 'models' parameter of {owner} must be a non-empty list drawn from {MODELS}. "
                f"Got {self.models!r} instead."
            )
        check_fraction(self.test_size, "test_size", owner)
        check_int_param(self.max_train_rows, "max_train_rows", owner, minimum=2, allow_none=True)

    def applies(self, domain: Domain) -> bool:
        """Needs a target of the right kind and at least one feature."""
        name = self.target if self.target is not None else domain.target
        if name is None or name not in domain or len(domain) < 2:
            return False
        return is_categorical(domain[name]) == (self.task == "classification")

    # -- helpers subclasses provide -------------------------------------------------------
    def _labels(self, prep: Prepared, role: str, target: str) -> tuple[np.ndarray, np.ndarray]:
        """(y, usable-row mask) of a table."""
        raise NotImplementedError

    def _scores(self, model: str, x_tree: tuple[np.ndarray, np.ndarray], x_lin: tuple[np.ndarray, np.ndarray],
                y_train: np.ndarray, y_test: np.ndarray, mask: np.ndarray, seed: int,
                ctx: dict[str, Any]) -> dict[str, float]:
        raise NotImplementedError

    def _compute(self, prep: Prepared) -> Result:
        target = resolve_target(prep.domain, self.target)
        col = prep.domain[target]
        if is_categorical(col) != (self.task == "classification"):
            kind = "categorical" if is_categorical(col) else "numeric"
            other = "TSTRRegression" if is_categorical(col) else "TSTRClassification"
            raise InvalidParameterError(
                f"The target column {target!r} is {kind}; use {other} (or utility_metric()) for it."
            )
        rng = rng_of(self.random_state)
        features = [n for n in prep.names if n != target]
        if not features:
            return self._result(prep, math.nan, note="no feature column besides the target")
        notes: list[str] = []

        y_syn, ok_syn = self._labels(prep, "synthetic", target)
        if prep.holdout is not None:
            y_tr, ok_tr = self._labels(prep, "real", target)
            y_te, ok_te = self._labels(prep, "holdout", target)
            train_rows = np.flatnonzero(ok_tr)
            test_rows = np.flatnonzero(ok_te)
            test_role, real_split = "holdout", "train+holdout"
        else:
            y_re, ok_re = self._labels(prep, "real", target)
            y_tr = y_te = y_re
            rows = np.flatnonzero(ok_re)
            train_rows, test_rows = self._split(rows, y_re[rows], rng)
            test_role, real_split = "real", prep.real_split
            notes.append(
                f"no hold-out given: {1 - self.test_size:.0%} of the real rows train TRTR and the other "
                f"{self.test_size:.0%} test both; if the generator was fitted on all of them, TSTR is optimistic"
            )
        syn_rows = np.flatnonzero(ok_syn)
        for label, rows in (("synthetic", syn_rows), ("real training", train_rows), ("real test", test_rows)):
            if len(rows) == 0:
                raise InvalidDataError(
                    f"the {label} rows have no usable value in the target column {target!r}",
                    hint="Every row's target is missing or outside the domain.",
                )
        if self.max_train_rows is not None:
            if len(syn_rows) > self.max_train_rows:
                syn_rows = np.sort(rng.choice(syn_rows, self.max_train_rows, replace=False))
            if len(train_rows) > self.max_train_rows:
                train_rows = np.sort(rng.choice(train_rows, self.max_train_rows, replace=False))
            notes.append(f"training sets subsampled to at most {self.max_train_rows} rows")

        def feats(role: str, rows: np.ndarray) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
            xt, mask = prep.tree_features(role, features)
            return (xt[rows], mask), prep.onehot_features(role, features)[rows]

        (xt_syn, mask), xl_syn = feats("synthetic", syn_rows)
        (xt_tr, _), xl_tr = feats("real", train_rows)
        (xt_te, _), xl_te = feats(test_role, test_rows)
        yt_syn, yt_tr, yt_te = y_syn[syn_rows], y_tr[train_rows], y_te[test_rows]

        ctx: dict[str, Any] = {"warnings": [], "classes": list(col.categories or ())}
        per_model: dict[str, dict[str, dict[str, float]]] = {}
        for model in self.models:
            seed = seed_from(rng)
            per_model[model] = {
                "tstr": self._scores(model, (xt_syn, xt_te), (xl_syn, xl_te), yt_syn, yt_te, mask, seed,
                                     {**ctx, "who": "synthetic"}),
                "trtr": self._scores(model, (xt_tr, xt_te), (xl_tr, xl_te), yt_tr, yt_te, mask, seed,
                                     {**ctx, "who": "real"}),
            }
        tstr = [per_model[m]["tstr"][self.headline] for m in self.models]
        trtr = [per_model[m]["trtr"][self.headline] for m in self.models]
        bars = [
            {"model": m, "score": s, "tstr": per_model[m]["tstr"][s], "trtr": per_model[m]["trtr"][s]}
            for m in self.models for s in per_model[m]["tstr"]
        ]
        notes.extend(ctx["warnings"])
        details: dict[str, Any] = {
            "target": target,
            "task": self.task,
            "headline_score": self.headline,
            "models": per_model,
            "bars": bars,
            "n_train_synthetic": len(syn_rows),
            "n_train_real": len(train_rows),
            "n_test": len(test_rows),
            "test_table": test_role,
            "warnings": list(ctx["warnings"]),
        }
        if self.task == "classification":
            details["classes"] = ctx["classes"]
        return self._result(
            prep,
            float(np.nanmean(tstr)) if not np.all(np.isnan(tstr)) else math.nan,
            reference=float(np.nanmean(trtr)) if not np.all(np.isnan(trtr)) else math.nan,
            details=details,
            real_split=real_split,
            note="; ".join(notes),
        )

    def _split(self, rows: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Seeded train/test split of real rows (stratified by class for classification)."""
        if len(rows) < 2:
            raise InvalidDataError(
                "the real table needs at least 2 rows with a target value to split into train and test",
                hint="Pass a hold-out table, or more real rows.",
            )
        test_parts, train_parts = [], []
        groups = [np.arange(len(rows))] if self.task != "classification" else [
            np.flatnonzero(y == c) for c in np.unique(y)
        ]
        for g in groups:
            g = rng.permutation(g)
            n_test = round(len(g) * self.test_size) if len(g) > 1 else 0
            test_parts.append(g[:n_test])
            train_parts.append(g[n_test:])
        test = np.sort(np.concatenate(test_parts))
        train = np.sort(np.concatenate(train_parts))
        if len(test) == 0 or len(train) == 0:
            perm = rng.permutation(len(rows))
            cut = max(1, min(len(rows) - 1, round(len(rows) * self.test_size)))
            test, train = np.sort(perm[:cut]), np.sort(perm[cut:])
        return rows[train], rows[test]


class TSTRClassification(_TSTR):
    """Train-synthetic-test-real against train-real-test-real for a categorical target.

    Models: HistGradientBoosting (``"hgb"``) and logistic regression (``"linear"``). Scores:
    ROC AUC (binary; macro one-vs-rest for more classes, over the classes present in the test
    rows), accuracy and macro F1. The value is the TSTR ROC AUC averaged over the models;
    ``reference`` is the same for TRTR. Rows whose target is missing or outside the domain
    are left out. A synthetic table whose target has a single class cannot train a
    classifier: TSTR then predicts that class for every row (ROC AUC 0.5) and the result
    says so in ``note`` and ``details["warnings"]``.

    Args:
        target: The target column (default: the domain's ``target``).
        models: Which models to fit, from ``("hgb", "linear")``.
        test_size: Share of the real rows held out for testing when no hold-out is given.
        max_train_rows: Subsample training sets to at most this many rows (None: all).
        n_threads: Threads for the models (OpenMP/BLAS); None uses the libraries' default
            (every core), fast on an idle machine but far slower when cores are shared.
        random_state: Seed or Generator for the split, subsamples and models.
    """

    name = "tstr_classification"
    goal = "maximize"
    min_value = 0.0
    max_value = 1.0
    task = "classification"
    headline = "roc_auc"

    def _labels(self, prep: Prepared, role: str, target: str) -> tuple[np.ndarray, np.ndarray]:
        codes = prep.tables[role].codes(target)
        return codes, codes < len(prep.domain[target].categories or ())

    def _scores(self, model: str, x_tree: tuple[np.ndarray, np.ndarray], x_lin: tuple[np.ndarray, np.ndarray],
                y_train: np.ndarray, y_test: np.ndarray, mask: np.ndarray, seed: int,
                ctx: dict[str, Any]) -> dict[str, float]:
        x_train, x_test = x_tree if model == "hgb" else x_lin
        classes = np.unique(y_train)
        proba = np.zeros((len(y_test), len(ctx["classes"])))
        if len(classes) == 1:
            proba[:, classes[0]] = 1.0
            msg = (f"the {ctx['who']} training rows have a single target class "
                   f"({ctx['classes'][classes[0]]!r}); its model predicts that class for every row, "
                   "so its ROC AUC is 0.5")
            if msg not in ctx["warnings"]:
                ctx["warnings"].append(msg)
        else:
            if model == "hgb":
                est: Any = HistGradientBoostingClassifier(categorical_features=mask, random_state=seed)
            else:
                est = LogisticRegression(max_iter=300)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                est.fit(x_train, y_train)
                proba[:, est.classes_] = est.predict_proba(x_test)
            for w in caught:
                msg = f"{model} on {ctx['who']} rows: {w.message}"
                if msg not in ctx["warnings"]:
                    ctx["warnings"].append(msg)
        pred = proba.argmax(axis=1)
        return {
            "roc_auc": macro_auc(y_test, proba),
            "accuracy": float(accuracy_score(y_test, pred)),
            "f1_macro": float(f1_score(y_test, pred, average="macro", zero_division=0)),
        }


def macro_auc(y: np.ndarray, proba: np.ndarray) -> float:
    """ROC AUC: binary, or macro one-vs-rest over the classes present in ``y`` (NaN if only one)."""
    present = np.unique(y)
    if len(present) < 2:
        return math.nan
    if len(present) == 2:
        pos = present[1]
        return float(roc_auc_score(y == pos, proba[:, pos]))
    return float(np.mean([roc_auc_score(y == c, proba[:, c]) for c in present]))


class TSTRRegression(_TSTR):
    """Train-synthetic-test-real against train-real-test-real for a numeric target.

    Models: HistGradientBoosting (``"hgb"``) and ridge-regularised linear regression
    (``"linear"``). Scores: R² and RMSE (in the target's units). The value is the TSTR R²
    averaged over the models (at most 1, unbounded below); ``reference`` is the same for
    TRTR. Rows whose target is missing are left out.

    Args:
        target: The target column (default: the domain's ``target``).
        models: Which models to fit, from ``("hgb", "linear")``.
        test_size: Share of the real rows held out for testing when no hold-out is given.
        max_train_rows: Subsample training sets to at most this many rows (None: all).
        n_threads: Threads for the models (OpenMP/BLAS); None uses the libraries' default
            (every core), fast on an idle machine but far slower when cores are shared.
        random_state: Seed or Generator for the split, subsamples and models.
    """

    name = "tstr_regression"
    goal = "maximize"
    min_value = -math.inf
    max_value = 1.0
    task = "regression"
    headline = "r2"

    def _labels(self, prep: Prepared, role: str, target: str) -> tuple[np.ndarray, np.ndarray]:
        y = prep.tables[role].values(target)
        return y, ~np.isnan(y)

    def _scores(self, model: str, x_tree: tuple[np.ndarray, np.ndarray], x_lin: tuple[np.ndarray, np.ndarray],
                y_train: np.ndarray, y_test: np.ndarray, mask: np.ndarray, seed: int,
                ctx: dict[str, Any]) -> dict[str, float]:
        x_train, x_test = x_tree if model == "hgb" else x_lin
        if len(y_train) < 2 or np.ptp(y_train) == 0:
            pred = np.full(len(y_test), float(y_train.mean()))
            msg = f"the {ctx['who']} training target is constant; its model predicts that constant"
            if msg not in ctx["warnings"]:
                ctx["warnings"].append(msg)
        else:
            est: Any = (HistGradientBoostingRegressor(categorical_features=mask, random_state=seed)
                        if model == "hgb" else Ridge(alpha=1.0))
            pred = est.fit(x_train, y_train).predict(x_test)
        r2 = float(r2_score(y_test, pred)) if len(y_test) > 1 and np.ptp(y_test) > 0 else math.nan
        return {"r2": r2, "rmse": float(math.sqrt(mean_squared_error(y_test, pred)))}


def utility_metric(domain: Domain, target: str | None = None, **kwargs: Any) -> _TSTR:
    """The utility metric that fits the target's type (classification or regression).

    Args:
        domain: The public domain.
        target: The target column (default: the domain's ``target``).
        **kwargs: Passed to :class:`TSTRClassification` or :class:`TSTRRegression`.

    Raises:
        InvalidParameterError: If there is no target, or it is not in the domain.
    """
    name = resolve_target(domain, target)
    cls = TSTRClassification if is_categorical(domain[name]) else TSTRRegression
    return cls(name, **kwargs)
