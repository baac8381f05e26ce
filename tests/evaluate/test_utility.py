from __future__ import annotations

import numpy as np
import pytest

from dpsynth.data.domain import Column, Domain
from dpsynth.errors import InvalidDataError, InvalidParameterError
from dpsynth.evaluate import TSTRClassification, TSTRRegression, utility_metric


def test_tstr_equals_trtr_when_synthetic_is_the_training_table(domain, real, holdout):
    res = TSTRClassification().compute(real, real, domain, holdout=holdout)
    assert res.value == pytest.approx(res.reference)
    assert res.value > 0.85  # the task is learnable
    for model in ("hgb", "linear"):
        scores = res.details["models"][model]
        assert scores["tstr"] == pytest.approx(scores["trtr"])
        assert set(scores["tstr"]) == {"roc_auc", "accuracy", "f1_macro"}
    assert res.real_split == "train+holdout" and res.details["test_table"] == "holdout"


def test_tstr_close_to_trtr_for_a_sample_of_the_same_distribution(domain, real, fresh, holdout):
    res = TSTRClassification().compute(real, fresh, domain, holdout=holdout)
    # Two training sets of 2000 rows: AUCs differ by sampling noise only (a few 0.01).
    assert abs(res.value - res.reference) < 0.03


def test_without_holdout_real_is_split(domain, real):
    res = TSTRClassification(test_size=0.25).compute(real, real, domain)
    assert res.details["n_test"] == pytest.approx(0.25 * len(real), abs=2)
    assert res.details["n_train_real"] + res.details["n_test"] == len(real)
    assert "no hold-out given" in res.note


def test_broken_relation_is_clearly_worse(domain, real, holdout):
    flipped = real.copy()
    flipped["label"] = np.where(real["label"] == "yes", "no", "yes")
    res = TSTRClassification().compute(real, flipped, domain, holdout=holdout)
    assert res.value < 0.2 < 0.85 < res.reference


def test_single_class_synthetic_target_gives_a_clear_result(domain, real, holdout):
    one = real.copy()
    one["label"] = "no"
    res = TSTRClassification().compute(real, one, domain, holdout=holdout)
    assert res.value == pytest.approx(0.5)
    assert "single target class" in res.note and "'no'" in res.note
    assert res.details["models"]["hgb"]["tstr"]["accuracy"] == pytest.approx((holdout["label"] == "no").mean())


def test_multiclass_uses_macro_one_vs_rest(domain, real, holdout):
    res = TSTRClassification("a").compute(real, real, domain, holdout=holdout)
    assert 0.5 < res.value <= 1.0
    assert res.details["classes"] == ["a0", "a1", "a2", "a3"]


def test_regression(domain, real, fresh, holdout):
    same = TSTRRegression("y").compute(real, real, domain, holdout=holdout)
    assert same.value == pytest.approx(same.reference) and same.value > 0.8
    assert set(same.details["models"]["hgb"]["tstr"]) == {"r2", "rmse"}
    near = TSTRRegression("y").compute(real, fresh, domain, holdout=holdout)
    assert abs(near.value - near.reference) < 0.05
    noise = fresh.copy()
    noise["y"] = np.random.default_rng(0).uniform(-5, 15, len(fresh))
    assert TSTRRegression("y").compute(real, noise, domain, holdout=holdout).value < 0.2


def test_categories_come_from_the_domain_not_the_data(real, holdout):
    # A category no row holds still gets its own one-hot column and code.
    dom = Domain([
        Column("x", "numeric", lower=0.0, upper=10.0),
        Column("a", categories=("a0", "a1", "a2", "a3", "unused")),
        Column("label", categories=("no", "yes")),
    ])
    cols = ["x", "a", "label"]
    res = TSTRClassification("label").compute(real[cols], real[cols], dom, holdout=holdout[cols])
    assert res.value == pytest.approx(res.reference)


def test_utility_metric_picks_the_task(domain):
    assert isinstance(utility_metric(domain), TSTRClassification)
    assert isinstance(utility_metric(domain, "y"), TSTRRegression)


def test_target_errors(domain, real):
    with pytest.raises(InvalidParameterError, match="'nope'"):
        TSTRClassification("nope").compute(real, real, domain)
    with pytest.raises(InvalidParameterError, match="'y' is numeric"):
        TSTRClassification("y").compute(real, real, domain)
    with pytest.raises(InvalidParameterError, match="'models'"):
        TSTRClassification(models=["svm"]).compute(real, real, domain)
    no_target = Domain(list(domain), target=None)
    with pytest.raises(InvalidParameterError, match="target"):
        TSTRClassification().compute(real, real, no_target)
    missing = real.copy()
    missing["label"] = "maybe"  # not a category: no usable target
    with pytest.raises(InvalidDataError, match="'label'"):
        TSTRClassification().compute(real, missing, domain)


def test_string_typed_tables_as_read_from_csv(domain, real, holdout):
    as_text = real.astype(str)
    res = TSTRClassification().compute(as_text, as_text, domain, holdout=holdout.astype(str))
    assert res.value == pytest.approx(res.reference) and res.value > 0.85
