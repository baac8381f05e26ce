import json

import pytest
from typer.testing import CliRunner

from dpsynth.cli import app
from tests.synth.conftest import SMALL_META, make_small_frame

runner = CliRunner()


@pytest.fixture()
def files(tmp_path):
    data = tmp_path / "small.csv"
    make_small_frame(800).to_csv(data, index=False)
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps(SMALL_META))
    return data, meta


def test_fit_sample_info_round_trip(files, tmp_path):
    data, meta = files
    model = tmp_path / "m.dps"
    r = runner.invoke(app, ["fit", str(data), "-m", str(meta), "-g", "mst", "-e", "1", "-d", "1e-6",
                            "--param", "iters=50", "-o", str(model), "--random-state", "0"])
    assert r.exit_code == 0, r.output
    assert model.exists()
    out = tmp_path / "s.csv"
    r = runner.invoke(app, ["sample", str(model), "-n", "123", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert len(out.read_text().strip().splitlines()) == 124
    r = runner.invoke(app, ["info", str(model), "--json"])
    assert r.exit_code == 0
    report = json.loads(r.stdout)
    assert report["epsilon"] <= 1.0 + 1e-6 and report["ledger"]


def test_run_writes_everything(files, tmp_path):
    data, meta = files
    out = tmp_path / "out"
    r = runner.invoke(app, ["run", str(data), "-m", str(meta), "-g", "independent", "-e", "1",
                            "--out-dir", str(out), "--random-state", "0"])
    assert r.exit_code == 0, r.output
    assert {p.name for p in out.iterdir()} == {"model.dps", "synthetic.csv", "privacy_report.json"}
    assert "NOT FOR RELEASE" in r.stdout


@pytest.mark.parametrize(
    "args, needle",
    [
        (["-e", "0"], "epsilon"),
        (["-e", "-1"], "epsilon"),
        (["-d", "1.5"], "delta"),
        (["-g", "nope"], "Unknown generator"),
        (["--param", "bogus"], "KEY=VALUE"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(files, tmp_path, args, needle):
    data, meta = files
    out = tmp_path / "never"
    r = runner.invoke(app, ["run", str(data), "-m", str(meta), "--out-dir", str(out), *args])
    assert r.exit_code == 2
    assert needle in r.output
    assert "Traceback" not in r.output
    assert not out.exists()


def test_bad_data_names_the_column(tmp_path, files):
    _, meta = files
    bad = tmp_path / "bad.csv"
    df = make_small_frame(50)
    df.loc[3, "color"] = "purple"
    df.to_csv(bad, index=False)
    r = runner.invoke(app, ["run", str(bad), "-m", str(meta), "--out-dir", str(tmp_path / "o")])
    assert r.exit_code == 2
    assert "color" in r.output and "purple" in r.output


def test_missing_files(tmp_path, files):
    _, meta = files
    r = runner.invoke(app, ["run", str(tmp_path / "none.csv"), "-m", str(meta)])
    assert r.exit_code == 2 and "Traceback" not in r.output
    r = runner.invoke(app, ["info", str(tmp_path / "none.dps")])
    assert r.exit_code == 2


def test_generators_lists_all():
    r = runner.invoke(app, ["generators"])
    assert r.exit_code == 0
    for name in ("independent", "mst", "aim"):
        assert name in r.stdout


# -- audit ------------------------------------------------------------------------------------
def test_audit_writes_json_and_report_draws_it(files, tmp_path):
    data, meta = files
    audit_json = tmp_path / "a" / "audit.json"
    r = runner.invoke(app, ["audit", str(data), "-m", str(meta), "-g", "independent", "-e", "1", "-d", "1e-6",
                            "--attacks", "closest_distance,domias,recon", "--games", "12", "--rows", "40",
                            "--recon-games", "1", "--out", str(audit_json), "--random-state", "0",
                            "-p", "iters=20"])
    assert r.exit_code == 0, r.output
    doc = json.loads(audit_json.read_text())
    assert doc["kind"] == "dpsynth-audit" and doc["verdict"] in ("consistent", "inconclusive")
    assert set(doc["membership"]["results"]) == {"closest_distance", "domias"}
    assert doc["reconstruction"]["secret"] == "y"
    assert "Verdict" in r.stdout and "not for release" in r.stdout
    assert (tmp_path / "a" / "audit.json.games" / "membership_games.jsonl").exists()
    # --resume with more games plays only the new ones and keeps the seed.
    r = runner.invoke(app, ["audit", str(data), "-m", str(meta), "-g", "independent", "-e", "1", "-d", "1e-6",
                            "--attacks", "closest_distance,domias,recon", "--games", "14", "--rows", "40",
                            "--recon-games", "1", "--out", str(audit_json), "--resume", "-p", "iters=20"])
    assert r.exit_code == 0, r.output
    assert json.loads(audit_json.read_text())["settings"]["random_state"] == 0
    assert len((tmp_path / "a" / "audit.json.games" / "membership_games.jsonl").read_text().splitlines()) == 14

    model = tmp_path / "m.dps"
    synth = tmp_path / "s.csv"
    assert runner.invoke(app, ["fit", str(data), "-m", str(meta), "-g", "independent", "-o", str(model),
                               "-p", "iters=20", "--random-state", "0"]).exit_code == 0
    assert runner.invoke(app, ["sample", str(model), "-n", "200", "-o", str(synth)]).exit_code == 0
    html = tmp_path / "r.html"
    results = tmp_path / "eval.json"
    results.write_text(json.dumps({"results": {}}))
    r = runner.invoke(app, ["report", str(model), "--real", str(data), "--synthetic", str(synth), "-o", str(html),
                            "--results", str(results), "--audit", str(audit_json)])
    assert r.exit_code == 0, r.output
    page = html.read_text()
    section = page[page.index('<section id="audit">'):]
    assert "closest_distance" in section[: section.index("</section>")]
    # A file that is not an audit: one line, exit 2, no page.
    bad = tmp_path / "bad.html"
    r = runner.invoke(app, ["report", str(model), "--real", str(data), "--synthetic", str(synth), "-o", str(bad),
                            "--results", str(results), "--audit", str(results)])
    assert r.exit_code == 2 and "not an audit" in r.output and "Traceback" not in r.output
    assert not bad.exists()


@pytest.mark.parametrize(
    "args, needle",
    [
        (["-e", "0"], "epsilon"),
        (["-e", "-1"], "epsilon"),
        (["--targets", "nope"], "outliers"),
        (["--attacks", "nope"], "Unknown attack"),
        (["-g", "nope"], "Unknown generator"),
        (["--games", "1"], "games"),
    ],
)
def test_audit_bad_input_is_one_line_and_exit_2(files, tmp_path, args, needle):
    data, meta = files
    r = runner.invoke(app, ["audit", str(data), "-m", str(meta), "--out", str(tmp_path / "a.json"), *args])
    assert r.exit_code == 2, r.output
    assert needle in r.output and "Traceback" not in r.output
    assert not (tmp_path / "a.json").exists()


def test_audit_needs_metadata_and_data(files, tmp_path):
    data, _ = files
    r = runner.invoke(app, ["audit", str(data), "--out", str(tmp_path / "a.json")])
    assert r.exit_code == 2 and "metadata" in r.output
    r = runner.invoke(app, ["audit", str(tmp_path / "none.csv"), "-m", str(files[1])])
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_info_prints_a_ledger_with_pld_composed_dp_sgd_steps(files, tmp_path):
    # DP-SGD charges (Poisson-subsampled Gaussian, q < 1) have no zCDP bound: the ledger
    # table must show them as PLD-composed rather than crash on ρ = None.
    data, meta = files
    model = tmp_path / "gan.dps"
    r = runner.invoke(app, ["fit", str(data), "-m", str(meta), "-g", "ctabgan", "-e", "1", "-d", "1e-6",
                            "--param", "steps=5", "--param", "batch_size=64", "--param", "auxiliary_steps=5",
                            "-o", str(model), "--random-state", "0"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["info", str(model)])
    assert r.exit_code == 0, r.output  # before the fix: TypeError adding ρ = None
    assert "Ledger" in r.stdout
