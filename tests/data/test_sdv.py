"""SDV single-table metadata: read into a Domain, written back, and fitted through."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dpsynth import api
from dpsynth.data.domain import Domain
from dpsynth.data.sdv import domain_from_sdv, domain_to_sdv, is_sdv_metadata
from dpsynth.errors import MetadataError
from dpsynth.privacy import PrivacyBudget
from dpsynth.synth import create

SDV = {
    "METADATA_SPEC_VERSION": "SINGLE_TABLE_V1",
    "primary_key": "user_id",
    "columns": {
        "user_id": {"sdtype": "id", "regex_format": "U_[0-9]{3}"},
        "age": {"sdtype": "numerical", "computer_representation": "Int64"},
        "spend": {"sdtype": "numerical", "computer_representation": "Float"},
        "plan": {"sdtype": "categorical"},
        "active": {"sdtype": "boolean"},
        "joined": {"sdtype": "datetime", "datetime_format": "%d/%m/%Y"},
        "email": {"sdtype": "email", "pii": True},
    },
}


def test_maps_sdtypes_and_says_what_it_dropped():
    dom, notes = domain_from_sdv(SDV)
    assert dom.names == ("age", "spend", "plan", "active", "joined")
    assert dom["age"].kind == "numeric" and dom["age"].integer
    assert dom["spend"].kind == "numeric" and not dom["spend"].integer
    assert dom["plan"].kind == "categorical" and dom["active"].kind == "categorical"
    assert dom["joined"].kind == "datetime" and dom["joined"].format == "%d/%m/%Y"  # read in its format
    assert domain_to_sdv(dom)["columns"]["joined"] == {"sdtype": "datetime", "datetime_format": "%d/%m/%Y"}
    assert set(dom.ignore) == {"user_id", "email"}
    # SDV gives no categories or bounds: every column is left to DP inference, and said so.
    assert all(c.needs_inference for c in dom)
    text = " ".join(notes)
    for word in ("user_id", "email", "%d/%m/%Y", "boolean", "inferred with DP"):
        assert word in text


def test_from_json_recognises_sdv_files_and_warns_once(tmp_path):
    path = tmp_path / "sdv.json"
    path.write_text(json.dumps(SDV))
    with pytest.warns(UserWarning, match="email") as rec:
        dom = Domain.from_json(path)
    assert len(rec) == 1
    assert dom.names[0] == "age"
    assert is_sdv_metadata(SDV) and not is_sdv_metadata({"columns": [{"name": "a", "type": "numeric"}]})


def test_round_trip_of_the_bundled_metadata_keeps_types():
    dom = Domain.from_json("metadata/adult.json")
    doc = domain_to_sdv(dom)
    assert doc["METADATA_SPEC_VERSION"] == "SINGLE_TABLE_V1"
    back, _ = domain_from_sdv(json.loads(json.dumps(doc)))
    assert back.names == dom.names
    for a, b in zip(dom, back, strict=True):
        assert b.kind == ("categorical" if a.kind == "ordinal" else a.kind)
        assert a.integer == b.integer
    assert dom.to_sdv() == doc


def test_multi_table_files_need_one_table_named():
    multi = {"METADATA_SPEC_VERSION": "V1", "tables": {
        "users": {"primary_key": "id", "columns": {"id": {"sdtype": "id"}, "x": {"sdtype": "numerical"}}},
        "orders": {"columns": {"y": {"sdtype": "categorical"}}},
    }, "relationships": []}
    with pytest.raises(MetadataError, match="2 tables"):
        domain_from_sdv(multi)
    dom, _ = domain_from_sdv(multi, table="orders")
    assert dom.names == ("y",)
    with pytest.raises(MetadataError, match="no table 'nope'"):
        domain_from_sdv(multi, table="nope")


@pytest.mark.parametrize("bad, message", [
    ({"METADATA_SPEC_VERSION": "SINGLE_TABLE_V1", "columns": {"a": {"type": "numerical"}}}, "needs an 'sdtype'"),
    ({"METADATA_SPEC_VERSION": "SINGLE_TABLE_V1", "columns": {}}, "needs a 'columns'"),
    ({"METADATA_SPEC_VERSION": "SINGLE_TABLE_V1", "columns": {"a": {"sdtype": "id"}}}, "no column"),
    ({"METADATA_SPEC_VERSION": "V9", "columns": {"a": {"sdtype": "numerical"}}}, "unsupported"),
])
def test_bad_sdv_metadata_is_one_clear_error(bad, message):
    with pytest.raises(MetadataError, match=message) as err:
        domain_from_sdv(bad)
    assert str(err.value).startswith("SDV metadata")


def test_fit_through_sdv_metadata_charges_the_inference(tmp_path):
    rng = np.random.default_rng(0)
    n = 3000
    frame = pd.DataFrame({
        "user_id": [f"U_{i}" for i in range(n)],
        "age": rng.integers(18, 80, n),
        "spend": np.round(rng.gamma(2.0, 50.0, n), 2),
        "plan": rng.choice(["free", "pro", "team"], n, p=[0.6, 0.3, 0.1]),
        "active": rng.choice(["True", "False"], n),
        "joined": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D"),
        "email": [f"u{i}@example.org" for i in range(n)],
    })
    frame["joined"] = frame["joined"].dt.strftime("%Y-%m-%d")
    csv = tmp_path / "users.csv"
    frame.to_csv(csv, index=False)
    meta = dict(SDV)
    meta["columns"] = {**SDV["columns"], "joined": {"sdtype": "datetime", "datetime_format": "%Y-%m-%d"}}
    with pytest.warns(UserWarning):
        data = api.load_private(csv, Domain.from_sdv(meta))
    model = create("mst", random_state=0).fit(data, PrivacyBudget(epsilon=2.0, delta=1e-6))
    out = model.sample(500, random_state=1)
    assert list(out.columns) == ["age", "spend", "plan", "active", "joined"]
    # The categories were inferred with DP: "(other)" (the values not kept) may survive as a
    # category of its own when its noisy count clears one sd, even with no other value.
    assert {"free", "pro"} <= set(out["plan"].dropna()) <= {"free", "pro", "team", "(other)"}
    steps = {e.step for e in model.privacy_report.ledger}
    assert any("infer" in s for s in steps)  # categories and bounds were paid for
