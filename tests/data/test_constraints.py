"""Public constraints: parsed from metadata, enforced at sampling, reported by evaluation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dpsynth.data.constraints import FixedCombinations, IfThen, Inequality, Range, parse_constraints
from dpsynth.data.domain import Domain
from dpsynth.data.private import PrivateData
from dpsynth.errors import InvalidParameterError, MetadataError
from dpsynth.evaluate import ConstraintViolations, evaluate_all
from dpsynth.privacy import PrivacyBudget
from dpsynth.synth import create

META = {
    "columns": [
        {"name": "city", "type": "categorical", "categories": ["Paris", "Lyon", "Rome", "Milan"]},
        {"name": "country", "type": "categorical", "categories": ["France", "Italy"]},
        {"name": "start", "type": "numeric", "lower": 0, "upper": 100, "bins": 10},
        {"name": "end", "type": "numeric", "lower": 0, "upper": 100, "bins": 10},
        {"name": "gain", "type": "numeric", "lower": 0, "upper": 1000, "integer": True, "bins": 8},
        {"name": "loss", "type": "numeric", "lower": 0, "upper": 500, "integer": True, "bins": 8},
    ],
    "constraints": [
        {"type": "fixed_combinations", "columns": ["city", "country"],
         "combinations": [["Paris", "France"], ["Lyon", "France"], ["Rome", "Italy"], ["Milan", "Italy"]]},
        {"type": "inequality", "low": "start", "high": "end"},
        {"type": "if_then", "if": [["gain", ">", 0]], "then": [["loss", "=", 0]]},
    ],
}


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    city = rng.choice(["Paris", "Lyon", "Rome", "Milan"], n)
    country = np.where(np.isin(city, ["Paris", "Lyon"]), "France", "Italy")
    start = rng.uniform(0, 80, n)
    end = np.minimum(start + rng.exponential(10, n), 100)
    gain = np.where(rng.random(n) < 0.3, rng.integers(1, 1000, n), 0)
    loss = np.where(gain > 0, 0, np.where(rng.random(n) < 0.3, rng.integers(1, 500, n), 0))
    return pd.DataFrame({"city": city, "country": country, "start": start, "end": end,
                         "gain": gain, "loss": loss})


def test_metadata_round_trip_and_rules():
    dom = Domain.from_json(META)
    assert len(dom.constraints) == 3
    assert isinstance(dom.constraints[0], FixedCombinations) and isinstance(dom.constraints[1], Inequality)
    assert Domain.from_json(dom.to_json()) == dom
    frame = pd.DataFrame({"city": ["Paris", "Rome", "Paris"], "country": ["France", "France", None],
                          "start": [1.0, 5.0, 9.0], "end": [2.0, 4.0, None],
                          "gain": [0, 10, 10], "loss": [5, 0, 3]})
    assert dom.constraints[0].holds(frame, dom).tolist() == [True, False, True]  # missing: nothing to compare
    assert dom.constraints[1].holds(frame, dom).tolist() == [True, False, True]
    assert dom.constraints[2].holds(frame, dom).tolist() == [True, True, False]
    assert Range("start", "end", "end").holds(frame, dom).tolist() == [True, False, True]
    # Projection keeps only the rules whose columns survive.
    assert len(dom.project(["city", "country"]).constraints) == 1


@pytest.mark.parametrize("rule, message", [
    ({"type": "inequality", "low": "city", "high": "end"}, "two numeric or two datetime"),
    ({"type": "inequality", "low": "start", "high": "nope"}, "'nope' is not in the metadata"),
    ({"type": "fixed_combinations", "columns": ["city", "country"], "combinations": [["Oslo", "France"]]}, "not among its categories"),
    ({"type": "if_then", "if": [["gain", "~", 0]], "then": [["loss", "=", 0]]}, "unknown operator"),
    ({"type": "if_then", "if": [["city", ">", 0]], "then": [["loss", "=", 0]]}, "needs a numeric"),
    ({"type": "sometimes"}, "unknown constraint type"),
])
def test_bad_rules_are_listed_in_one_metadata_error(rule, message):
    doc = {**META, "constraints": [rule]}
    with pytest.raises(MetadataError, match=message):
        Domain.from_json(doc)


@pytest.mark.parametrize("generator", ["mst", "aim", "independent"])
def test_every_synthetic_row_satisfies_the_constraints(generator):
    dom = Domain.from_json(META)
    params = {"final_iters": 300} if generator == "aim" else {}
    model = create(generator, random_state=0, **params).fit(PrivateData(_frame(3000, 0), dom),
                                                            PrivacyBudget(1.0, 1e-6))
    out = model.sample(2000, random_state=1)
    res = ConstraintViolations().compute(_frame(2000, 9), out, dom)
    assert res.value == 0.0
    assert all(r["synthetic"] == 0.0 for r in res.details["per_rule"])
    assert any("constraints" in note for note in model.privacy_report.notes)
    # Conditions and constraints together.
    sub = model.sample(300, random_state=2, conditions={"city": "Rome"})
    assert (sub["country"] == "Italy").all()


def test_independent_output_would_break_them_without_enforcement():
    # The check can fail: an unconstrained independent model mixes cities and countries.
    dom = Domain.from_json(META)
    free = dom.replace(constraints=[])
    model = create("independent", random_state=0).fit(PrivateData(_frame(3000, 0), free), PrivacyBudget(1.0, 1e-6))
    out = model.sample(2000, random_state=1)
    res = ConstraintViolations().compute(_frame(2000, 9), out, dom)
    assert res.value > 0.3


def test_evaluate_all_reports_real_and_synthetic_shares():
    dom = Domain.from_json(META)
    real = _frame(500, 3)
    broken = real.copy()
    broken.loc[:99, "country"] = np.where(broken.loc[:99, "country"] == "France", "Italy", "France")
    res = evaluate_all(real, broken, dom, metrics=[ConstraintViolations()])["constraint_violations"]
    assert res.value == pytest.approx(0.2)
    assert res.details["per_rule"][0]["real"] == 0.0


def test_impossible_rules_are_a_clear_error():
    doc = {**META, "constraints": [{"type": "if_then", "if": [["city", "in", ["Paris", "Lyon", "Rome", "Milan"]]],
                                    "then": [["start", ">", 200]]}]}
    dom = Domain.from_json(doc)
    model = create("independent", random_state=0).fit(PrivateData(_frame(2000, 0), dom), PrivacyBudget(1.0, 1e-6))
    with pytest.raises(InvalidParameterError, match="probability"):
        model.sample(10, random_state=0)


def test_parse_reports_every_problem():
    rules, problems = parse_constraints([{"type": "inequality"}, {"type": "if_then", "if": [], "then": []}, "x"])
    assert rules == [] and len(problems) == 3
    assert IfThen.__name__ == "IfThen"


def test_saved_models_keep_and_enforce_their_constraints(tmp_path):
    dom = Domain.from_json(META)
    model = create("mst", random_state=0).fit(PrivateData(_frame(2000, 0), dom), PrivacyBudget(1.0, 1e-6))
    path = tmp_path / "m.dps"
    model.save(path)
    back = type(model).load(path)
    assert back.domain_.constraints == dom.constraints
    out = back.sample(1000, random_state=3)
    assert ConstraintViolations().compute(_frame(500, 1), out, dom).value == 0.0
