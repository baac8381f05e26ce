"""Every bad input the foundations issue lists gets a clear, named error at the API."""

import json

import numpy as np
import pandas as pd
import pytest

from dpsynth import api
from dpsynth.errors import DpsynthError, InvalidDataError, InvalidParameterError
from dpsynth.synth import available
from tests.synth.conftest import FAST_PARAMS, SMALL_META, make_small_frame


def fit(frame_or_path, meta=SMALL_META, generator="mst", **kw):
    return api.fit(frame_or_path, generator=generator, epsilon=kw.pop("epsilon", 1.0), delta=1e-6,
                   metadata=meta, random_state=0, **FAST_PARAMS.get(generator, {}), **kw)


@pytest.mark.parametrize("generator", available())
def test_empty_table(generator):
    with pytest.raises(InvalidDataError, match=r"empty|no rows|0 rows"):
        fit(make_small_frame().iloc[:0], generator=generator)


def test_single_row():
    with pytest.raises(InvalidDataError, match=r"1 row|one row|single"):
        fit(make_small_frame().iloc[:1])


def test_column_missing_from_metadata():
    df = make_small_frame().assign(extra=1)
    with pytest.raises(InvalidDataError, match="extra"):
        fit(df)


def test_value_outside_categories_and_bounds_are_all_reported():
    df = make_small_frame()
    df.loc[0, "color"] = "purple"
    df["age"] = df["age"].astype(float)
    df.loc[1, "age"] = 150
    with pytest.raises(InvalidDataError) as err:
        fit(df)
    assert "color" in str(err.value) and "age" in str(err.value)


def test_all_nan_column():
    df = make_small_frame()
    df["score"] = np.nan
    with pytest.raises(InvalidDataError, match="score"):
        fit(df)


@pytest.mark.parametrize("generator", available())
@pytest.mark.parametrize("epsilon", [0.0, -1.0])
def test_non_positive_epsilon(generator, epsilon):
    with pytest.raises(InvalidParameterError, match="epsilon"):
        fit(make_small_frame(), generator=generator, epsilon=epsilon)


def test_ten_thousand_categories():
    cats = [f"c{i}" for i in range(10_000)]
    meta = {"columns": [{"name": "k", "type": "categorical", "categories": cats},
                        {"name": "y", "type": "categorical", "categories": ["a", "b"]}]}
    df = pd.DataFrame({"k": cats[:200] * 5, "y": ["a", "b"] * 500})
    with pytest.raises(InvalidDataError, match="'k'"):
        fit(df, meta=meta)


def test_non_utf8_and_ragged_csv(tmp_path):
    bad = tmp_path / "latin1.csv"
    bad.write_bytes("color,size,age,score,y\nr\xe9d,S,20,0.5,no\n".encode("latin-1"))
    with pytest.raises(InvalidDataError, match=r"UTF-8|utf-8|encoding"):
        fit(bad)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("color,size,age,score,y\nred,S,20,0.5,no\nred,S,20\n")
    with pytest.raises(InvalidDataError, match=r"ragged|fields"):
        fit(ragged)


def test_malformed_metadata(tmp_path):
    meta = tmp_path / "m.json"
    meta.write_text(json.dumps({"columns": [{"name": "a", "type": "numeric", "lower": 5, "upper": 1}]}))
    with pytest.raises(DpsynthError, match="lower"):
        fit(make_small_frame(), meta=str(meta))


def _edited_model(tmp_path, edit):
    """A saved model whose model.json was changed by ``edit(doc)``."""
    import zipfile

    path = fit(make_small_frame(), generator="independent").save(tmp_path / "m.dps")
    with zipfile.ZipFile(path) as zf:
        doc, arrays = json.loads(zf.read("model.json")), zf.read("arrays.npz")
    edit(doc)
    bad = tmp_path / "edited.dps"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("model.json", json.dumps(doc))
        zf.writestr("arrays.npz", arrays)
    return bad


@pytest.mark.parametrize(
    "edit, needle",
    [
        (lambda d: d["params"].update(bogus=1), "bogus"),
        (lambda d: d.update(params=[1, 2]), "parameters"),
        (lambda d: d.update(generator="nope"), "nope"),
        (lambda d: d.pop("state"), "state"),
        (lambda d: d.update(state={"model": 3}), "independent"),
    ],
)
def test_model_file_with_unknown_parameters_or_state_is_one_line(tmp_path, edit, needle):
    from typer.testing import CliRunner

    from dpsynth.cli import app
    from dpsynth.errors import SerializationError
    from dpsynth.synth import Synthesizer

    bad = _edited_model(tmp_path, edit)
    with pytest.raises(SerializationError, match=needle):
        Synthesizer.load(bad)
    for args in (["info", str(bad)], ["sample", str(bad), "-n", "5", "-o", str(tmp_path / "s.csv")]):
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 2, r.output
        assert "Traceback" not in r.output and needle in r.output
        assert len(r.output.strip().splitlines()) == 1
