"""The bundled metadata files load, round-trip, and describe the bundled datasets."""

import json
from pathlib import Path

import pytest

from dpsynth.data.discretize import Discretizer
from dpsynth.data.domain import Domain
from dpsynth.data.io import Table, validate

ROOT = Path(__file__).resolve().parents[2]
METADATA = ROOT / "metadata"
DATASETS = ROOT.parent / "shared" / "datasets"

FILES = {
    "adult": ["adult/adult_train.csv", "adult/adult_val.csv", "adult/adult_test.csv"],
    "adult_pgm": ["adult_pgm/adult.csv", "adult_pgm/train.csv", "adult_pgm/test.csv"],
    "acs_national2019": ["acs_national2019/national2019.csv"],
    "credit": ["credit/credit.csv"],
    "beijing": ["beijing/beijing.csv"],
}


def test_every_metadata_file_is_listed():
    assert sorted(p.stem for p in METADATA.glob("*.json")) == sorted(FILES)


@pytest.mark.parametrize("name", sorted(FILES))
def test_metadata_loads_and_round_trips(name):
    path = METADATA / f"{name}.json"
    dom = Domain.from_json(path)
    assert dom.name == name and len(dom) > 0
    assert Domain.from_json(dom.to_json()) == dom
    assert Domain.from_json(json.loads(path.read_text(encoding="utf-8"))) == dom
    # Complete columns discretise without touching data.
    complete = dom.project([c.name for c in dom if not c.needs_inference])
    assert all(s >= 1 for s in Discretizer(complete).sizes.values())


def test_metadata_details():
    adult = Domain.from_json(METADATA / "adult.json")
    assert adult.target == "income" and adult["education"].kind == "ordinal"
    assert adult.needs_inference == ("fnlwgt",)
    assert {c.name for c in adult if c.nullable} == {"workclass", "occupation", "native-country"}
    pgm = Domain.from_json(METADATA / "adult_pgm.json")
    assert pgm.target == "income>50K" and pgm["age"].categories == tuple(range(85))
    assert Domain.from_json(METADATA / "credit.json").ignore == ("ID",)
    beijing = Domain.from_json(METADATA / "beijing.json")
    assert beijing.ignore == ("No",) and beijing["cbwd"].kind == "categorical" and "No" not in beijing
    acs = Domain.from_json(METADATA / "acs_national2019.json")
    assert acs["MSP"].nullable and acs["MSP"].missing_values == ("N",)


@pytest.mark.skipif(not DATASETS.exists(), reason="shared datasets not available")
@pytest.mark.parametrize(("name", "file"), [(n, f) for n, fs in FILES.items() for f in fs])
def test_bundled_data_pass_validation(name, file):
    dom = Domain.from_json(METADATA / f"{name}.json")
    with Table.from_path(DATASETS / file) as table:
        validate(table, dom)
        complete = dom.project([c.name for c in dom if not c.needs_inference])
        Discretizer(complete).encode(table)  # every value codes
