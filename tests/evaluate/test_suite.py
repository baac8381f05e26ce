from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dpsynth.data.domain import Column, Domain
from dpsynth.errors import InvalidDataError, InvalidParameterError
from dpsynth.evaluate import RAW_ROWS_NOTE, Result, evaluate_all, summary_table

ALL = {
    "marginal_tvd_1way", "marginal_tvd_2way", "marginal_tvd_3way", "ks_statistic", "wasserstein",
    "association_difference", "range_query_error", "detection_auc", "tstr_classification", "dcr_share",
    "sdmetrics_quality",
}


@pytest.fixture(scope="module")
def results(domain, real, shuffled, holdout):
    return evaluate_all(real, shuffled, domain, holdout=holdout, random_state=0)


def test_runs_everything_that_applies(results):
    assert set(results) == ALL
    for r in results.values():
        assert r.reads_raw_rows and r.privacy_note == RAW_ROWS_NOTE
        assert r.goal in ("maximize", "minimize")
        assert r.min_value <= r.value <= r.max_value


def test_real_split_is_recorded(results, domain, real, shuffled):
    assert results["marginal_tvd_2way"].real_split == "train"
    assert results["dcr_share"].real_split == "train+holdout"
    assert results["tstr_classification"].real_split == "train+holdout"
    alone = evaluate_all(real.iloc[:400], shuffled.iloc[:400], domain, real_split="holdout")
    assert "dcr_share" not in alone
    assert alone["ks_statistic"].real_split == "holdout"


def test_json_round_trip(results):
    doc = {k: r.to_dict() for k, r in results.items()}
    text = json.dumps(doc, allow_nan=False)
    back = {k: Result.from_dict(v) for k, v in json.loads(text).items()}
    for k, r in results.items():
        assert back[k].value == pytest.approx(r.value)
        assert back[k].metric == r.metric and back[k].best_value == r.best_value
    assert back["marginal_tvd_2way"].details["tvd"] == pytest.approx(list(results["marginal_tvd_2way"].details["tvd"]))


def test_summary_table(results):
    table = summary_table(results)
    assert list(table.index) == list(results)
    assert {"value", "ci_low", "ci_high", "reference", "best", "goal"} <= set(table.columns)
    assert table.loc["dcr_share", "best"] == 0.5 and table.loc["detection_auc", "best"] == 0.5
    assert table.loc["tstr_classification", "reference"] > 0.85


def test_deterministic_with_a_seed(domain, real, shuffled, holdout):
    r, s, h = real.iloc[:500], shuffled.iloc[:500], holdout.iloc[:500]
    a = evaluate_all(r, s, domain, holdout=h, random_state=3, max_marginals=5)
    b = evaluate_all(r, s, domain, holdout=h, random_state=3, max_marginals=5)
    assert {k: r.value for k, r in a.items()} == {k: r.value for k, r in b.items()}
    assert a["marginal_tvd_3way"].details["n_marginals"] == 5


def test_no_target_no_utility(domain, real, fresh):
    real, fresh = real.iloc[:400], fresh.iloc[:400]
    res = evaluate_all(real, fresh, Domain(list(domain), target=None))
    assert not any(k.startswith("tstr") for k in res)
    res = evaluate_all(real, fresh, Domain(list(domain), target=None), target="y")
    assert "tstr_regression" in res


def test_errors_name_the_table_and_column(domain, real):
    with pytest.raises(InvalidDataError, match="synthetic table has no rows"):
        evaluate_all(real, real.iloc[:0], domain)
    with pytest.raises(InvalidDataError) as err:
        evaluate_all(real, real.drop(columns=["a"]).assign(extra=1), domain)
    msg = str(err.value)
    assert "column 'a' is in the domain but missing from the synthetic table" in msg
    assert "column 'extra' of the synthetic table is not in the domain" in msg
    with pytest.raises(InvalidParameterError, match="'income'"):
        evaluate_all(real, real, domain, target="income")
    with pytest.raises(InvalidParameterError, match="DataFrame"):
        evaluate_all(real.to_numpy(), real, domain)
    with pytest.raises(InvalidParameterError, match="real_split"):
        evaluate_all(real, real, domain, real_split="test")
    incomplete = Domain([Column("a"), Column("x", "numeric", lower=0.0, upper=1.0)])
    with pytest.raises(InvalidDataError, match="'a' has no declared categories"):
        evaluate_all(real[["a", "x"]], real[["a", "x"]], incomplete)


def test_ignored_columns_are_dropped(domain, real, fresh):
    dom = domain.replace(ignore=["row_id"])
    real, fresh = real.iloc[:400], fresh.iloc[:400]
    res = evaluate_all(real.assign(row_id=np.arange(len(real))), fresh, dom, max_marginals=3)
    assert res["marginal_tvd_1way"].details["n_marginals"] == 3


def test_missing_values_datetimes_and_text(real):
    dom = Domain([
        Column("when", "datetime", lower="2020-01-01", upper="2021-01-01", nullable=True),
        Column("v", "numeric", lower=0.0, upper=1.0, nullable=True, missing_values=("?",)),
        Column("c", categories=("p", "q"), nullable=True, missing_values=("?",)),
    ])
    rng = np.random.default_rng(0)
    n = 400

    def draw(shift: float) -> pd.DataFrame:
        days = rng.uniform(0, 300, n) + shift
        when = pd.Timestamp("2020-01-01") + pd.to_timedelta(days, unit="D")
        df = pd.DataFrame({
            "when": when.strftime("%Y-%m-%d %H:%M:%S").astype(object),
            "v": rng.uniform(0, 1, n).round(3).astype(str).astype(object),
            "c": rng.choice(["p", "q", "?", ""], n).astype(object),
        })
        df.loc[:20, "when"] = None
        df.loc[30:60, "v"] = "?"
        return df

    res = evaluate_all(draw(0), draw(0), dom)
    assert res["ks_statistic"].value < 0.15
    entry = res["ks_statistic"].details["per_column"]["v"]
    assert entry["missing_real"] == pytest.approx(31 / n)
    far = evaluate_all(draw(0), draw(60), dom)
    assert far["ks_statistic"].details["per_column"]["when"]["value"] > 0.15
    assert json.dumps({k: r.to_dict() for k, r in far.items()}, allow_nan=False)
