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
    # Attack names may break after underscores (<wbr>); the name itself is there.
    assert "closest_distance" in section[: section.index("</section>")].replace("<wbr>", "")
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


# -- checks before spending, one-line warnings, version ----------------------------------------
@pytest.fixture()
def no_fit(monkeypatch):
    """Fail the test if a fit starts: the checks must come before any budget is spent."""
    import dpsynth.api

    def refuse(*args, **kwargs):
        raise AssertionError("the fit started before the bad input was caught")

    monkeypatch.setattr(dpsynth.api, "fit", refuse)


def _one_line_error(r, *needles):
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and ".tmp" not in r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), r.output
    for needle in needles:
        assert needle in r.output, r.output


def test_run_refuses_an_unwritable_out_dir_before_the_fit(files, no_fit):
    data, meta = files
    r = runner.invoke(app, ["run", str(data), "-m", str(meta), "-g", "independent", "--out-dir", "/proc/x"])
    _one_line_error(r, "/proc/x", "--out-dir")


def test_run_refuses_an_out_dir_that_is_a_file(files, tmp_path, no_fit):
    data, meta = files
    target = tmp_path / "taken"
    target.write_text("mine")
    r = runner.invoke(app, ["run", str(data), "-m", str(meta), "--out-dir", str(target)])
    _one_line_error(r, str(target), "existing file")
    assert target.read_text() == "mine"
    r = runner.invoke(app, ["run", str(data), "-m", str(meta), "--out-dir", str(target / "sub")])
    _one_line_error(r, str(target), "not a folder")


def test_run_checks_rows_params_and_metadata_before_the_fit(files, tmp_path, no_fit):
    data, meta = files
    out = tmp_path / "o"
    r = runner.invoke(app, ["run", str(data), "-m", str(meta), "-n", "0", "--out-dir", str(out)])
    _one_line_error(r, "--rows")
    r = runner.invoke(app, ["run", str(data), "-m", str(meta), "-g", "mst", "-p", "iters=-3", "--out-dir", str(out)])
    _one_line_error(r, "iters")
    r = runner.invoke(app, ["run", str(data), "-m", str(meta), "-g", "mst", "-p", "bogus=1", "--out-dir", str(out)])
    _one_line_error(r, "bogus")
    bad_meta = tmp_path / "bad.json"
    bad_meta.write_text(json.dumps({"columns": [{"name": "a", "type": "numeric", "lower": 5, "upper": 1}]}))
    r = runner.invoke(app, ["run", str(data), "-m", str(bad_meta), "--out-dir", str(out)])
    assert r.exit_code == 2 and "lower" in r.output and "Traceback" not in r.output
    assert not out.exists()


def test_fit_into_an_existing_folder_names_the_users_path(files, tmp_path, no_fit):
    data, meta = files
    folder = tmp_path / "models"
    folder.mkdir()
    r = runner.invoke(app, ["fit", str(data), "-m", str(meta), "-o", str(folder)])
    _one_line_error(r, str(folder), "folder")


def test_report_and_sample_check_their_output_before_working(files, tmp_path, monkeypatch):
    data, meta = files
    model = tmp_path / "m.dps"
    assert runner.invoke(app, ["fit", str(data), "-m", str(meta), "-g", "independent", "-o", str(model),
                               "-p", "iters=20", "--random-state", "0"]).exit_code == 0
    import dpsynth.cli

    def refuse(*args, **kwargs):
        raise AssertionError("evaluation started before the output path was checked")

    monkeypatch.setattr(dpsynth.cli, "_evaluate", refuse)
    r = runner.invoke(app, ["report", str(model), "--real", str(data), "--synthetic", str(data),
                            "-o", "/proc/x/r.html"])
    _one_line_error(r, "/proc/x/r.html")
    r = runner.invoke(app, ["sample", str(model), "-o", str(tmp_path)])
    _one_line_error(r, str(tmp_path))
    r = runner.invoke(app, ["evaluate", str(data), str(data), "-m", str(meta), "--json", "/proc/x/e.json"])
    _one_line_error(r, "/proc/x/e.json")


@pytest.mark.parametrize("generator, params", [("pe", ["rounds=2", "population_size=100"]),
                                               ("gsd", ["synthetic_rows=100", "rounds=1", "generations=20"])])
def test_run_without_rows_releases_the_dp_row_estimate(files, tmp_path, generator, params):
    # Before: "'PE' object has no attribute 'estimated_rows'" after the budget was spent.
    data, meta = files
    out = tmp_path / "o"
    p = [x for kv in params for x in ("-p", kv)]
    r = runner.invoke(app, ["run", str(data), "-m", str(meta), "-g", generator, "-e", "1", "-d", "1e-6",
                            "--out-dir", str(out), "--random-state", "0", *p])
    assert r.exit_code == 0, r.output
    n = len((out / "synthetic.csv").read_text().strip().splitlines()) - 1
    assert 400 < n < 1600  # a DP estimate of the 800 input rows
    assert f"({n} rows)" in r.stdout


def test_warnings_print_one_line_like_errors(files, tmp_path):
    data, meta = files
    r = runner.invoke(app, ["fit", str(data), "-m", str(meta), "-g", "independent", "-d", "0.01", "-p", "iters=20",
                            "-o", str(tmp_path / "m.dps"), "--random-state", "0"])
    assert r.exit_code == 0, r.output
    warning = [line for line in r.output.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and warning[0].startswith("warning: delta=0.01"), r.output
    assert "UserWarning" not in r.output and ".py" not in r.output


def test_version():
    from dpsynth import __version__

    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.stdout.strip() == f"dpsynth {__version__}"


def test_tables_to_a_pipe_are_not_cut(files, tmp_path):
    data, meta = files
    model = tmp_path / "m.dps"
    assert runner.invoke(app, ["fit", str(data), "-m", str(meta), "-g", "mst", "-o", str(model),
                               "-p", "iters=20", "--random-state", "0"]).exit_code == 0
    r = runner.invoke(app, ["info", str(model)])
    assert r.exit_code == 0, r.output
    # Off a terminal rich would cut cells and titles at 80 columns ("…").
    assert "…" not in r.output
    assert "mst.select" in r.output or "mst.measure" in r.output
    summary = [line for line in r.output.splitlines() if line.startswith("Privacy:")]
    assert len(summary) == 1 and "NOT FOR RELEASE" in summary[0]


# -- signs of life and Ctrl-C (a fake slow generator in a real subprocess) ---------------------
SLOW_CLI = """
import sys, time
from dpsynth.progress import track
from dpsynth.synth.independent import Independent
from dpsynth.synth.registry import register

STEPS, DELAY = int(sys.argv[1]), float(sys.argv[2])


@register("slow")
class Slow(Independent):
    '''Independent, after a slow loop that reports its progress.'''

    def _fit(self, data):
        with track("slow rounds", total=STEPS) as update:
            for i in range(STEPS):
                time.sleep(DELAY)
                update(i + 1)
        super()._fit(data)

from dpsynth.cli import main
sys.argv = ["dpsynth", *sys.argv[3:]]
main()
"""


def _slow_cli(tmp_path, steps, delay, *args, interval="0.25"):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": f"{root / 'src'}{os.pathsep}{root}", "DPSYNTH_PROGRESS_INTERVAL": interval,
           "PYTHONUNBUFFERED": "1"}
    import signal

    # A shell that starts jobs in the background (`cmd &`) has them ignore SIGINT, and the child
    # would inherit that: give it the default disposition, as a terminal would.
    return subprocess.Popen([sys.executable, "-c", SLOW_CLI, str(steps), str(delay), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                            cwd=tmp_path, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def test_progress_off_a_terminal_prints_plain_lines_with_eta(files, tmp_path):
    import re

    data, meta = files
    proc = _slow_cli(tmp_path, 12, 0.15, "fit", str(data), "-m", str(meta), "-g", "slow", "-p", "iters=20",
                     "-o", str(tmp_path / "m.dps"))
    stdout, stderr = proc.communicate(timeout=240)
    assert proc.returncode == 0, stderr
    lines = re.findall(r"dpsynth: slow rounds: step (\d+)/12 \((\d+)%\), elapsed \d+:\d\d:\d\d, ETA \d+:\d\d:\d\d",
                       stderr)
    assert len(lines) >= 2, stderr  # ≈ 1.8 s of steps at one line every 0.25 s
    steps = [int(s) for s, _ in lines]
    assert steps == sorted(steps) and all(int(p) == round(100 * int(s) / 12) for s, p in lines)
    assert "dpsynth: slow rounds: started" in stderr and "dpsynth: slow rounds: done in" in stderr
    assert "━" not in stderr and "\x1b[" not in stderr  # no rich bar, no escape codes in a log file
    assert "Model written to" in stdout


def test_ctrl_c_during_the_fit_prints_one_line_and_exits_130(files, tmp_path):
    import signal

    data, meta = files
    out = tmp_path / "o"
    proc = _slow_cli(tmp_path, 400, 0.1, "run", str(data), "-m", str(meta), "-g", "slow", "-p", "iters=20",
                     "--out-dir", str(out))
    seen = []
    for line in proc.stderr:  # wait until the fit is under way
        seen.append(line)
        if "slow rounds: started" in line:
            break
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=60)
    stderr = "".join(seen) + rest
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    last = [ln for ln in stderr.splitlines() if ln.startswith("interrupted:")]
    assert len(last) == 1, stderr
    assert "nothing was written" in last[0] and "no privacy budget was spent on an output" in last[0]
    assert not out.exists()


def test_interrupt_while_loading_or_writing_says_what_was_written(files, tmp_path, monkeypatch):
    import dpsynth.api
    import dpsynth.data.output

    data, meta = files
    # DuckDB turns Ctrl-C during a query into "RuntimeError: Query interrupted".
    monkeypatch.setattr(dpsynth.api, "load_private", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("Query interrupted")))
    r = runner.invoke(app, ["run", str(data), "-m", str(meta), "-g", "independent", "--out-dir", str(tmp_path / "a")])
    assert r.exit_code == 130, r.output
    assert r.output.strip().splitlines()[-1:] == [
        "interrupted: nothing was written; the fit was stopped before it released anything: no privacy budget "
        "was spent on an output (the noisy measurements taken so far were discarded)."
    ]
    monkeypatch.undo()

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(dpsynth.data.output, "write_chunks", stop)
    out = tmp_path / "b"
    r = runner.invoke(app, ["run", str(data), "-m", str(meta), "-g", "independent", "-p", "iters=20",
                            "--out-dir", str(out)])
    assert r.exit_code == 130, r.output
    line = r.output.strip().splitlines()[-1]
    assert line.startswith("interrupted: only these were written: ") and "model.dps" in line
    assert "the budget was spent on the fitted model" in line and "not saved" not in line
    assert (out / "model.dps").exists() and not (out / "synthetic.csv").exists()


def test_report_refuses_an_audit_of_another_generator_before_evaluating(files, tmp_path, monkeypatch):
    data, meta = files
    model = tmp_path / "m.dps"
    assert runner.invoke(app, ["fit", str(data), "-m", str(meta), "-g", "independent", "-o", str(model),
                               "-p", "iters=20", "--random-state", "0"]).exit_code == 0
    audit = {"kind": "dpsynth-audit", "version": 1, "generator": "mst", "epsilon_claimed": 1.0, "delta": 1e-9,
             "verdict": "inconclusive", "membership": None, "reconstruction": None,
             "settings": {"generator": "mst", "params": {}}}
    audit_json = tmp_path / "a.json"
    audit_json.write_text(json.dumps(audit))
    import dpsynth.cli

    monkeypatch.setattr(dpsynth.cli, "_evaluate", lambda *a, **k: (_ for _ in ()).throw(AssertionError("evaluated")))
    html = tmp_path / "r.html"
    r = runner.invoke(app, ["report", str(model), "--real", str(data), "--synthetic", str(data), "-o", str(html),
                            "--audit", str(audit_json)])
    _one_line_error(r, "'mst'", "'independent'")
    assert not html.exists()
    # The same generator at another ε: a one-line warning, and the page says so beside the audit.
    from dpsynth.audit.runner import data_fingerprint
    from dpsynth.data.domain import Domain

    fingerprint = data_fingerprint(make_small_frame(800), Domain.from_json(SMALL_META))  # the rows of `data`
    audit.update(generator="independent", epsilon_claimed=3.0,
                 settings={"generator": "independent", "params": {"iters": 20}, "data_fingerprint": fingerprint})
    audit_json.write_text(json.dumps(audit))
    results = tmp_path / "eval.json"
    results.write_text(json.dumps({"results": {}}))
    r = runner.invoke(app, ["report", str(model), "--real", str(data), "--synthetic", str(data), "-o", str(html),
                            "--audit", str(audit_json), "--results", str(results)])
    assert r.exit_code == 0, r.output
    assert [ln for ln in r.output.splitlines() if ln.startswith("warning:")] == [
        "warning: --audit: the audit claimed ε = 3, this model ε = 1; the report shows it beside the audit."]
    assert "Mismatch:" in html.read_text()
    # The same setting, but the audit was played on a table that differs in one row: one line
    # (that shows no fingerprint), and the page says so.
    audit.update(epsilon_claimed=1.0, delta=model_delta(model))
    audit_json.write_text(json.dumps(audit))
    other = tmp_path / "other.csv"
    rows = make_small_frame(800)
    rows.loc[5, "color"] = "blue" if rows.loc[5, "color"] != "blue" else "red"
    rows.to_csv(other, index=False)
    r = runner.invoke(app, ["report", str(model), "--real", str(other), "--synthetic", str(data), "-o", str(html),
                            "--audit", str(audit_json), "--results", str(results)])
    assert r.exit_code == 0, r.output
    assert [ln for ln in r.output.splitlines() if ln.startswith("warning:")] == [
        "warning: --audit: the audit was played on other rows than this report's real data (their fingerprints "
        "differ); the report shows it beside the audit."]
    assert fingerprint[7:19] not in r.output and fingerprint[7:19] not in html.read_text()
    assert html.read_text().count("Mismatch:") == 1
    # On the audited rows themselves: no warning at all.
    r = runner.invoke(app, ["report", str(model), "--real", str(data), "--synthetic", str(data), "-o", str(html),
                            "--audit", str(audit_json), "--results", str(results)])
    assert r.exit_code == 0 and "warning:" not in r.output, r.output


def model_delta(path):
    from dpsynth.synth.base import Synthesizer

    return Synthesizer.load(path).privacy_report.delta


def test_run_report_flags_an_audit_of_other_rows(files, tmp_path):
    data, meta = files
    audit = {"kind": "dpsynth-audit", "version": 1, "generator": "independent", "epsilon_claimed": 1.0,
             "delta": 1e-9, "verdict": "inconclusive", "membership": None, "reconstruction": None,
             "settings": {"generator": "independent", "params": {}, "data_fingerprint": "sha256:" + "0" * 64}}
    audit_json = tmp_path / "a.json"
    audit_json.write_text(json.dumps(audit))
    out = tmp_path / "out"
    r = runner.invoke(app, ["run", str(data), "-m", str(meta), "-g", "independent", "-e", "1", "-d", "1e-9",
                            "--random-state", "0", "--out-dir", str(out), "--report", "--audit", str(audit_json)])
    assert r.exit_code == 0, r.output
    warned = [ln for ln in r.output.splitlines() if ln.startswith("warning:")]
    assert len(warned) == 1 and "other rows than this report's real data" in warned[0]
    assert (out / "report.html").read_text().count("Mismatch:") == 1


def test_run_streams_its_rows_and_reports_on_a_bounded_sample(files, tmp_path, monkeypatch):
    # `run` writes the synthetic table chunk by chunk (same rows as one draw for a seed) and
    # its report evaluates at most REPORT_ROWS rows of each side, saying so on the page.
    import pandas as pd

    import dpsynth.cli as cli
    import dpsynth.data.output as output

    data, meta = files
    monkeypatch.setattr(cli, "REPORT_ROWS", 300)
    monkeypatch.setattr(output, "CHUNK_ROWS", 250)
    seen: list[int] = []
    real_sample = output.sample_chunks

    def spy(model, n, *, random_state=None, chunk_rows=250, conditions=None):
        for chunk in real_sample(model, n, random_state=random_state, chunk_rows=250, conditions=conditions):
            seen.append(len(chunk))
            yield chunk

    monkeypatch.setattr(output, "sample_chunks", spy)
    out = tmp_path / "out"
    r = runner.invoke(app, ["run", str(data), "-m", str(meta), "-g", "independent", "-e", "1", "-n", "700",
                            "--out-dir", str(out), "--random-state", "0", "--report"])
    assert r.exit_code == 0, r.output
    assert seen == [250, 250, 200]
    assert len(pd.read_csv(out / "synthetic.csv")) == 700
    page = (out / "report.html").read_text()
    assert "a fixed-seed sample of 300 of them" in page and "the first 300 of 700 rows" in page


def test_run_writes_a_semicolon_file_back_with_semicolons(files, tmp_path):
    # A file with decimal commas is semicolon-delimited: synthetic.csv keeps that delimiter,
    # so its decimal commas need no quotes; `sample --delimiter` does the same for a model.
    frame = make_small_frame(800)
    data = tmp_path / "semi.csv"
    frame.to_csv(data, index=False, sep=";", decimal=",")
    meta = json.loads(json.dumps(SMALL_META))
    meta["columns"][3]["format"] = {"decimal": ",", "thousands": "."}
    meta_path = tmp_path / "meta_semi.json"
    meta_path.write_text(json.dumps(meta))
    out = tmp_path / "out"
    r = runner.invoke(app, ["run", str(data), "-m", str(meta_path), "-g", "independent", "-e", "1", "-d", "1e-6",
                            "--out-dir", str(out), "--random-state", "0", "-n", "200"])
    assert r.exit_code == 0, r.output
    text = (out / "synthetic.csv").read_text()
    assert text.splitlines()[0] == "color;size;age;score;y"
    assert '"' not in text
    import pandas as pd

    back = pd.read_csv(out / "synthetic.csv", sep=";", decimal=",")
    assert list(back.columns) == ["color", "size", "age", "score", "y"] and len(back) == 200
    assert back["score"].dropna().between(0, 1).all() and back["score"].notna().any()
    s = tmp_path / "s.csv"
    r = runner.invoke(app, ["sample", str(out / "model.dps"), "-n", "50", "-o", str(s), "--delimiter", ";"])
    assert r.exit_code == 0, r.output
    assert s.read_text().splitlines()[0] == "color;size;age;score;y"
    for bad, target in (('"', "t.csv"), (";;", "t.csv"), (";", "t.parquet")):
        r = runner.invoke(app, ["sample", str(out / "model.dps"), "-o", str(tmp_path / target), "--delimiter", bad])
        assert r.exit_code == 2 and "--delimiter" in r.output and "Traceback" not in r.output, r.output
    # A comma file still comes back with commas.
    plain, plain_meta = files
    out2 = tmp_path / "out2"
    r = runner.invoke(app, ["run", str(plain), "-m", str(plain_meta), "-g", "independent", "-e", "1", "-d", "1e-6",
                            "--out-dir", str(out2), "--random-state", "0", "-n", "20"])
    assert r.exit_code == 0, r.output
    assert (out2 / "synthetic.csv").read_text().splitlines()[0] == "color,size,age,score,y"
