import json

import pytest

from dpsynth.data.domain import Column, Domain
from dpsynth.errors import InvalidDataError, MetadataError

DOC = {
    "version": 1,
    "name": "toy",
    "description": "a toy table",
    "source": "nowhere",
    "target": "y",
    "ignore": ["row_id"],
    "missing_values": ["?"],
    "columns": [
        {"name": "age", "type": "numeric", "integer": True, "lower": 17, "upper": 90, "bins": 8},
        {"name": "w", "type": "numeric", "lower": 0.5},
        {"name": "q", "type": "numeric", "edges": [0, 1.5, 10], "missing_values": ["N", "NA"], "nullable": True},
        {"name": "when", "type": "datetime", "lower": "2020-01-01", "upper": "2020-12-31 23:59:59"},
        {"name": "edu", "type": "ordinal", "categories": ["low", "mid", "high"], "description": "education"},
        {"name": "code", "type": "categorical", "categories": [0, 1, 2], "nullable": True},
        {"name": "y", "type": "categorical", "categories": ["no", "yes"]},
        {"name": "free", "type": "categorical"},
    ],
}


def test_json_round_trip_dict_and_file(tmp_path):
    dom = Domain.from_json(DOC)
    assert dom.names == ("age", "w", "q", "when", "edu", "code", "y", "free")
    assert dom.target == "y" and dom.ignore == ("row_id",)
    assert dom["age"].integer and dom["age"].lower == 17.0 and dom["age"].bins == 8
    assert dom["w"].missing_values == ("?",)  # top-level default
    assert dom["q"].missing_values == ("N", "NA") and dom["q"].edges == (0.0, 1.5, 10.0)
    assert dom["when"].lower == 1577836800.0  # ISO → epoch seconds
    assert dom["code"].categories == (0, 1, 2)
    assert Domain.from_json(dom.to_json()) == dom
    path = tmp_path / "sub" / "meta.json"
    written = dom.to_json(path)
    assert json.loads(path.read_text()) == written
    assert Domain.from_json(path) == dom
    assert Domain.from_json(str(path)) == dom
    assert [p.name for p in path.parent.iterdir()] == ["meta.json"]  # no temp file left


def test_columns_as_mapping():
    doc = {"columns": {"a": {"type": "numeric", "lower": 0, "upper": 1}, "b": {"type": "categorical", "categories": ["x"]}}}
    dom = Domain.from_json(doc)
    assert dom.names == ("a", "b")


def test_needs_inference():
    dom = Domain.from_json(DOC)
    assert dom["w"].needs_inference  # upper unknown
    assert not dom["q"].needs_inference  # edges given
    assert dom["free"].needs_inference
    assert not dom["age"].needs_inference
    assert dom.needs_inference == ("w", "free")
    assert dom["age"].is_numeric and dom["when"].is_numeric and not dom["edu"].is_numeric


def test_container_protocol_and_project():
    dom = Domain.from_json(DOC)
    assert len(dom) == 8 and "age" in dom and "nope" not in dom
    assert [c.name for c in dom] == list(dom.names)
    assert dom[0] is dom["age"]
    with pytest.raises(KeyError, match="nope"):
        dom["nope"]
    sub = dom.project(["y", "age"])
    assert sub.names == ("y", "age") and sub.target == "y" and sub.ignore == ("row_id",)
    assert dom.project(["age"]).target is None
    with pytest.raises(KeyError):
        dom.project(["age", "nope"])


def test_replace_revalidates_and_keeps_fields():
    col = Column("x", kind="numeric", lower=0, upper=1)
    assert col.replace(upper=5).upper == 5.0
    with pytest.raises(MetadataError, match="lower"):
        col.replace(lower=10)
    dom = Domain.from_json(DOC)
    new = dom.with_columns([dom["w"].replace(upper=3.0)])
    assert new["w"].upper == 3.0 and new.ignore == dom.ignore and new.target == dom.target
    assert dom["w"].upper is None  # immutable


def test_every_metadata_problem_is_reported_at_once():
    doc = {
        "version": 1,
        "target": "nope",
        "ignore": ["a"],
        "extra": 1,
        "columns": [
            {"name": "a", "type": "numeric", "lower": 5, "upper": 1},
            {"name": "a", "type": "categorical", "categories": ["x"]},
            {"name": "b", "type": "continuous"},
            {"name": "c", "type": "categorical", "categories": []},
            {"name": "d", "type": "categorical", "categories": ["x", "y", "x"]},
            {"name": "e", "type": "numeric", "lower": 0, "upper": 1, "bins": 0},
            {"name": "f", "type": "numeric", "edges": [0, 2, 1]},
            {"name": "g", "type": "categorical", "categories": ["x"], "lower": 0, "nulable": True},
            {"type": "numeric"},
            {"name": "h", "type": "categorical", "categories": ["N", "Y"], "missing_values": ["N"]},
            {"name": "i", "type": "numeric", "lower": "zero", "upper": 1},
            {"name": "j", "type": "numeric", "integer": True, "lower": 0.2, "upper": 0.8},
        ],
    }
    with pytest.raises(MetadataError) as info:
        Domain.from_json(doc)
    err = info.value
    text = "\n".join(err.problems)
    expected = [
        "unknown top-level field(s) ['extra']",
        "lower (5) > upper (1)",
        "duplicate column name(s) ['a']",
        "unknown type 'continuous'",
        "'categories' is empty",
        "duplicate categories ['x']",
        "'bins' must be an integer >= 1",
        "'edges' must be strictly increasing",
        "'lower' applies to numeric/datetime columns",
        "unknown field(s) ['nulable']",
        "column #9: has no 'name'",
        "listed both as categories and as missing_values",
        "'lower' must be a finite number",
        "no whole number lies in",
        "target 'nope' is not one of the columns",
        "both described and listed in 'ignore'",
    ]
    for fragment in expected:
        assert fragment in text, fragment
    assert len(err.problems) >= len(expected)
    assert isinstance(err, InvalidDataError) and isinstance(err, ValueError)


def test_metadata_file_errors(tmp_path):
    with pytest.raises(MetadataError, match="not found"):
        Domain.from_json(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"columns": [', encoding="utf-8")
    with pytest.raises(MetadataError, match=r"not valid JSON.*line 1"):
        Domain.from_json(bad)
    with pytest.raises(MetadataError, match="no 'columns'"):
        Domain.from_json({"name": "x"})
    with pytest.raises(MetadataError, match="unsupported metadata version"):
        Domain.from_json({"version": 2, "columns": [{"name": "a", "type": "categorical"}]})


def test_direct_construction_errors():
    with pytest.raises(MetadataError, match="unknown type"):
        Column("x", kind="text")
    with pytest.raises(MetadataError, match="duplicate column"):
        Domain([Column("x"), Column("x")])
    with pytest.raises(MetadataError, match="target"):
        Domain([Column("x")], target="y")
    with pytest.raises(MetadataError, match="categories"):
        Column("x", kind="numeric", categories=("a",))
    # Categories 1 and "1" would match the same field.
    with pytest.raises(MetadataError, match="duplicate categories"):
        Column("x", categories=(1, "1"))
