"""`dpsynth evaluate`, `dpsynth report` and `dpsynth run --report` through typer's CliRunner."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from dpsynth.cli import app
from tests.synth.conftest import SMALL_META, make_small_frame

runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli_report")
    real, synth, hold = d / "real.csv", d / "synth.csv", d / "hold.csv"
    make_small_frame(500, seed=0).to_csv(real, index=False)
    make_small_frame(500, seed=1).to_csv(synth, index=False)
    make_small_frame(300, seed=2).to_csv(hold, index=False)
    meta = d / "meta.json"
    meta.write_text(json.dumps(SMALL_META))
    model = d / "model.dps"
    r = runner.invoke(app, ["fit", str(real), "-m", str(meta), "-g", "independent", "-e", "1", "-o", str(model),
                            "--random-state", "0", "--param", "iters=30"])
    assert r.exit_code == 0, r.output
    return {"dir": d, "real": real, "synth": synth, "hold": hold, "meta": meta, "model": model}


def test_evaluate_prints_table_and_writes_json(files, tmp_path):
    out = tmp_path / "eval.json"
    r = runner.invoke(app, ["evaluate", str(files["real"]), str(files["synth"]), "-m", str(files["meta"]),
                            "--target", "y", "--holdout", str(files["hold"]), "--json", str(out)])
    assert r.exit_code == 0, r.output
    assert "detection_auc" in r.stdout and "tstr_classification" in r.stdout
    assert "not part of the DP release" in r.stdout
    doc = json.loads(out.read_text())
    assert doc["reads_raw_rows"] is True
    assert {"marginal_tvd_2way", "detection_auc", "tstr_classification", "dcr_share"} <= set(doc["results"])
    assert doc["results"]["tstr_classification"]["details"]["target"] == "y"


def test_report_writes_html(files, tmp_path):
    out = tmp_path / "report.html"
    r = runner.invoke(app, ["report", str(files["model"]), "--real", str(files["real"]), "--synthetic",
                            str(files["synth"]), "--holdout", str(files["hold"]), "-o", str(out)])
    assert r.exit_code == 0, r.output
    page = out.read_text(encoding="utf-8")
    for sid in ("privacy", "fidelity", "utility", "discriminability", "dcr", "audit"):
        assert f'<section id="{sid}">' in page
    assert "NOT FOR RELEASE" in page  # the model was fitted with a seed


def test_report_reuses_evaluate_json(files, tmp_path):
    ev = tmp_path / "eval.json"
    r = runner.invoke(app, ["evaluate", str(files["real"]), str(files["synth"]), "-m", str(files["meta"]),
                            "--json", str(ev)])
    assert r.exit_code == 0, r.output
    out = tmp_path / "report.html"
    r = runner.invoke(app, ["report", str(files["model"]), "--real", str(files["real"]), "--synthetic",
                            str(files["synth"]), "--metadata", str(files["meta"]), "--results", str(ev), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "Evaluating" not in r.output
    assert '<section id="discriminability">' in out.read_text(encoding="utf-8")


def test_run_with_report(files, tmp_path):
    out = tmp_path / "out"
    r = runner.invoke(app, ["run", str(files["real"]), "-m", str(files["meta"]), "-g", "independent", "-e", "1",
                            "--out-dir", str(out), "--param", "iters=30", "--report"])
    assert r.exit_code == 0, r.output
    assert {p.name for p in out.iterdir()} == {"model.dps", "synthetic.csv", "privacy_report.json", "report.html"}
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "the input data of this run" in page
    assert "NOT FOR RELEASE" not in page


@pytest.mark.parametrize("command", ["evaluate", "report"])
@pytest.mark.parametrize(
    "problem, needle",
    [("missing_real", "not found"), ("unknown_target", "nope"), ("missing_synth", "not found")],
)
def test_bad_input_exits_2_with_one_line(files, tmp_path, command, problem, needle):
    real, synth = str(files["real"]), str(files["synth"])
    extra: list[str] = []
    if problem == "missing_real":
        real = str(tmp_path / "absent.csv")
    elif problem == "missing_synth":
        synth = str(tmp_path / "absent.csv")
    else:
        extra = ["--target", "nope"]
    out = tmp_path / "never.out"
    if command == "evaluate":
        args = ["evaluate", real, synth, "-m", str(files["meta"]), "--json", str(out), *extra]
    else:
        args = ["report", str(files["model"]), "--real", real, "--synthetic", synth, "-o", str(out), *extra]
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    assert needle in " ".join(r.output.split())  # rich wraps long lines at the runner's width
    assert "Traceback" not in r.output
    assert r.output.count("error:") == 1
    assert not out.exists()


def test_report_missing_model(files, tmp_path):
    r = runner.invoke(app, ["report", str(tmp_path / "none.dps"), "--real", str(files["real"]), "--synthetic",
                            str(files["synth"]), "-o", str(tmp_path / "r.html")])
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert not (tmp_path / "r.html").exists()


def test_bad_results_json(files, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    r = runner.invoke(app, ["report", str(files["model"]), "--real", str(files["real"]), "--synthetic",
                            str(files["synth"]), "--results", str(bad), "-o", str(tmp_path / "r.html")])
    assert r.exit_code == 2 and "dpsynth evaluate --json" in r.output
