"""Chunked CSV/Parquet output of synthetic tables, and the CLI writing Parquet."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from dpsynth import api
from dpsynth.cli import app
from dpsynth.data.io import Table
from dpsynth.data.output import output_format, sample_chunks, write_chunks
from dpsynth.errors import InvalidParameterError
from tests.synth.conftest import SMALL_META, make_small_frame

runner = CliRunner()


@pytest.fixture(scope="module")
def model():
    return api.fit(make_small_frame(600), generator="independent", epsilon=2.0, delta=1e-6,
                   metadata=SMALL_META, random_state=0)


def test_chunks_of_a_seeded_sample_are_reproducible_and_equal_one_sample_when_small(model):
    one = model.sample(50, random_state=3)
    pd.testing.assert_frame_equal(pd.concat(list(sample_chunks(model, 50, random_state=3, chunk_rows=50))), one)
    chunks = list(sample_chunks(model, 103, random_state=3, chunk_rows=20))
    assert [len(c) for c in chunks] == [20] * 5 + [3]
    again = pd.concat(list(sample_chunks(model, 103, random_state=3, chunk_rows=20)), ignore_index=True)
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), again)
    with pytest.raises(InvalidParameterError, match="integer > 0"):
        next(sample_chunks(model, 0))


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_chunked_file_reads_back_as_the_same_table(model, tmp_path, suffix):
    chunks = list(sample_chunks(model, 95, random_state=1, chunk_rows=30))
    # A chunk whose nullable column is all missing must not change the Parquet schema.
    chunks[1] = chunks[1].copy()
    for name in chunks[1].columns:
        if model.domain_[name].nullable:
            chunks[1][name] = None
    path = tmp_path / f"s{suffix}"
    assert write_chunks(iter(chunks), path, domain=model.domain_) == 95
    with Table.from_path(path) as back:
        got = back.to_frame(model.domain_)
    want = pd.concat(chunks, ignore_index=True)
    with Table.from_frame(want) as t:
        want = t.to_frame(model.domain_)
    pd.testing.assert_frame_equal(got, want)
    assert not list(tmp_path.glob(".*tmp"))  # the temporary file was renamed


def test_bad_output_suffix_is_one_line_error(model, tmp_path):
    with pytest.raises(InvalidParameterError, match=r"\.parquet"):
        output_format(tmp_path / "s.xlsx")
    path = tmp_path / "m.dps"
    model.save(path)
    r = runner.invoke(app, ["sample", str(path), "-n", "10", "-o", str(tmp_path / "s.xlsx")])
    assert r.exit_code == 2 and "use a .csv/.tsv or .parquet" in r.output


def test_cli_fits_from_parquet_and_samples_to_parquet(tmp_path):
    data = tmp_path / "small.parquet"
    make_small_frame(500).to_parquet(data)
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps(SMALL_META))
    model = tmp_path / "m.dps"
    r = runner.invoke(app, ["fit", str(data), "-m", str(meta), "-g", "independent", "-e", "1", "-d", "1e-6",
                            "-o", str(model), "--random-state", "0", "--engine", "duckdb"])
    assert r.exit_code == 0, r.output
    out = tmp_path / "s.parquet"
    r = runner.invoke(app, ["sample", str(model), "-n", "77", "-o", str(out), "--random-state", "2"])
    assert r.exit_code == 0, r.output
    frame = pd.read_parquet(out)
    assert len(frame) == 77 and list(frame.columns) == [c["name"] for c in SMALL_META["columns"]]
    assert np.isin(frame.dropna().dtypes.astype(str), ["object", "float64", "Int64", "int64", "string"]).all()
    r = runner.invoke(app, ["fit", str(data), "-m", str(meta), "-o", str(model), "--engine", "flink"])
    assert r.exit_code == 2 and "engine" in r.output


def test_run_writes_parquet_when_asked(tmp_path):
    data = tmp_path / "small.csv"
    make_small_frame(400).to_csv(data, index=False)
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps(SMALL_META))
    r = runner.invoke(app, ["run", str(data), "-m", str(meta), "-g", "independent", "-e", "1", "-d", "1e-6",
                            "-n", "40", "--out-dir", str(tmp_path / "out"), "--random-state", "0", "--parquet"])
    assert r.exit_code == 0, r.output
    assert len(pd.read_parquet(tmp_path / "out" / "synthetic.parquet")) == 40
    assert not (tmp_path / "out" / "synthetic.csv").exists()
