"""Conditional sampling: exact for graphical models, by rejection elsewhere; never budget."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from dpsynth.data.domain import Column, Domain
from dpsynth.data.private import PrivateData
from dpsynth.errors import InvalidParameterError
from dpsynth.pgm import Domain as PGMDomain
from dpsynth.pgm import GraphicalModel
from dpsynth.pgm._condition import condition
from dpsynth.privacy import PrivacyBudget
from dpsynth.synth import create
from dpsynth.synth._conditions import parse_conditions, sample_by_rejection

DOMAIN = Domain([
    Column("sex", "categorical", categories=("F", "M")),
    Column("edu", "ordinal", categories=("low", "mid", "high")),
    Column("age", "numeric", lower=18, upper=90, integer=True, bins=8),
    Column("inc", "numeric", lower=0.0, upper=100.0, bins=10, nullable=True),
])


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sex = rng.choice(["F", "M"], n)
    edu = np.where(sex == "F", rng.choice(["low", "mid", "high"], n, p=[0.2, 0.3, 0.5]),
                   rng.choice(["low", "mid", "high"], n, p=[0.5, 0.3, 0.2]))
    age = rng.integers(18, 91, n)
    inc = np.clip(age * 0.8 + rng.normal(0, 10, n), 0, 100)
    inc[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame({"sex": sex, "edu": edu, "age": age, "inc": inc})


@pytest.fixture(scope="module")
def mst():
    data = PrivateData(_frame(4000, 0), DOMAIN)
    return create("mst", random_state=0).fit(data, PrivacyBudget(4.0, 1e-6))


def test_categorical_condition_follows_the_models_conditional(mst):
    n = 20_000
    spent = mst.privacy_report.rho
    out = mst.sample(n, random_state=1, conditions={"sex": "F"})
    assert len(out) == n and (out["sex"] == "F").all()
    # The other column's frequencies match the model's conditional P(edu | sex = F).
    joint = mst.model_.project(("sex", "edu"))
    expected = joint[0] / joint[0].sum() * n
    observed = out["edu"].value_counts().reindex(["low", "mid", "high"], fill_value=0).to_numpy()
    assert stats.chisquare(observed, expected).pvalue > 1e-3
    assert mst.privacy_report.rho == spent  # post-processing: nothing charged


def test_ranges_and_one_of_are_met_exactly(mst):
    out = mst.sample(3000, random_state=2, conditions={"age": (30, 40), "edu": ["mid", "high"]})
    assert out["age"].between(30, 40).all()
    assert out["edu"].isin(["mid", "high"]).all()
    open_end = mst.sample(500, random_state=3, conditions={"inc": (None, 20.5)})
    assert (open_end["inc"] <= 20.5).all() and open_end["inc"].notna().all()
    missing = mst.sample(200, random_state=4, conditions={"inc": None})
    assert missing["inc"].isna().all()


def test_exact_conditioning_matches_bayes_rule():
    dom = PGMDomain(("a", "b"), (2, 3))
    joint = np.array([[0.1, 0.2, 0.1], [0.3, 0.0001, 0.2999]])
    model = GraphicalModel(dom, {("a", "b"): np.log(joint)}, 1000.0)
    cond, p = condition(model, {"a": np.array([False, True])})
    assert p == pytest.approx(0.6, rel=1e-9)
    got = cond.project(("b",))
    assert got / got.sum() == pytest.approx(joint[1] / joint[1].sum(), rel=1e-6)
    _, p0 = condition(model, {"a": np.array([False, True]), "b": np.array([False, True, False])})
    assert p0 == pytest.approx(0.0001, rel=1e-6)


def test_near_impossible_conditions_get_a_clear_error(mst):
    never = lambda m: pd.DataFrame({"sex": ["M"] * m, "edu": ["low"] * m, "age": [50] * m, "inc": [1.0] * m})  # noqa: E731
    conds = parse_conditions(DOMAIN, {"sex": "F"})
    with pytest.raises(InvalidParameterError, match="probability"):
        sample_by_rejection(never, conds, 10)


@pytest.mark.parametrize("bad, message", [
    ({"nope": 1}, "no column 'nope'"),
    ({"sex": "X"}, "not one of its categories"),
    ({"sex": ("F", "M")}, "not a range"),
    ({"age": (50, 40)}, "low > high"),
    ({"age": (200, 300)}, "outside the column's bounds"),
    ({"age": "old"}, "not a valid numeric"),
    ({"sex": None}, "never missing"),
    ({"edu": []}, "empty list"),
])
def test_bad_conditions_are_one_line_errors(mst, bad, message):
    with pytest.raises(InvalidParameterError, match=message) as err:
        mst.sample(10, conditions=bad)
    assert "\n" not in str(err.value)


def test_generic_generators_sample_by_rejection():
    data = PrivateData(_frame(3000, 5), DOMAIN)
    model = create("independent", random_state=0).fit(data, PrivacyBudget(2.0, 1e-6))
    # The base-class path (rejection on the ordinary sampler), called directly.
    from dpsynth.synth.base import Synthesizer

    out = Synthesizer._sample_conditional(model, 1000, np.random.default_rng(0),
                                          parse_conditions(model.domain_, {"edu": "high", "age": (60, 90)}))
    assert len(out) == 1000 and (out["edu"] == "high").all() and out["age"].between(60, 90).all()


def test_cli_condition_strings():
    from dpsynth.synth._conditions import conditions_from_strings

    assert conditions_from_strings(["sex=F", "age=30..40", "inc=..20", "edu=mid|high"]) == {
        "sex": "F", "age": ("30", "40"), "inc": (None, "20"), "edu": ["mid", "high"]}
    with pytest.raises(InvalidParameterError, match="COLUMN=VALUE"):
        conditions_from_strings(["sex"])
    with pytest.raises(InvalidParameterError, match="twice"):
        conditions_from_strings(["sex=F", "sex=M"])


def test_cli_sample_with_conditions(mst, tmp_path):
    from typer.testing import CliRunner

    from dpsynth.cli import app

    path = tmp_path / "m.dps"
    mst.save(path)
    out = tmp_path / "s.csv"
    res = CliRunner().invoke(app, ["sample", str(path), "-o", str(out), "-n", "300", "--random-state", "1",
                                   "-c", "sex=F", "-c", "age=30..40"])
    assert res.exit_code == 0, res.output
    frame = pd.read_csv(out)
    assert len(frame) == 300 and (frame["sex"] == "F").all() and frame["age"].between(30, 40).all()
    bad = CliRunner().invoke(app, ["sample", str(path), "-o", str(tmp_path / "t.csv"), "-c", "sex=Q"])
    assert bad.exit_code == 2 and "not one of its categories" in bad.output
