import json
import re

import numpy as np
import pandas as pd
import pytest

from dpsynth.audit import AuditReport, run_audit
from dpsynth.data.domain import Domain
from dpsynth.errors import InvalidDataError, InvalidParameterError
from tests.synth.conftest import SMALL_META, make_small_frame


@pytest.fixture(scope="module")
def population():
    return make_small_frame(400, seed=2)


def verbatim(train, domain, n_synth, seed):
    """A non-private 'generator': releases its training rows."""
    return train.copy()


@pytest.fixture(scope="module")
def caught(population):
    return run_audit(
        population, SMALL_META, generator=verbatim, epsilon=1.0, delta=1e-6,
        mia_attacks=["closest_distance", "domias"], games=60, m=40, recon_games=2, recon_rows=150,
        recon_sizes=[150], random_state=0,
    )


def test_positive_control_full_audit(caught):
    assert caught.verdict == "violation"
    assert caught.membership is not None and caught.reconstruction is not None
    cd = caught.membership.results["closest_distance"]
    assert cd.epsilon_lb > 1.0 and cd.verdict == "violation"
    # Two attacks: each bound at alpha / 2 (Bonferroni), recorded in the result.
    assert cd.alpha == pytest.approx(0.025)
    assert caught.reconstruction.headline.accuracy > 0.8
    assert "violation" in caught.summary()


def test_json_round_trip(caught, tmp_path):
    path = caught.save(tmp_path / "audit.json")
    doc = json.loads(path.read_text())
    assert doc["kind"] == "dpsynth-audit" and doc["reads_raw_rows"] is True
    again = AuditReport.load(path)
    assert again.summary() == caught.summary()
    assert again.membership.results["domias"].roc_tpr == caught.membership.results["domias"].roc_tpr
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"results": {}}))
    with pytest.raises(InvalidDataError, match="not an audit"):
        AuditReport.load(bad)
    bad.write_text("{nope")
    with pytest.raises(InvalidDataError, match="not JSON"):
        AuditReport.load(bad)


def test_report_draws_the_audit(caught):
    from dpsynth.data.private import PrivateData
    from dpsynth.privacy import PrivacyBudget
    from dpsynth.report import build_report
    from dpsynth.synth import create

    domain = Domain.from_json(SMALL_META)
    model = create("independent", iters=20, random_state=0).fit(
        PrivateData(make_small_frame(300), domain), PrivacyBudget(1.0, 1e-6)
    )
    page = build_report(privacy=model.privacy_report, audit=caught, generated_at="now")
    section = page[page.index('<section id="audit">'):]
    section = section[: section.index("</section>")]
    assert "violation" in section and "closest_distance" in section
    assert "Reconstruction accuracy" in section and "Bonferroni" in section
    assert section.count("<svg") == 2  # the ROC figure and the reconstruction figure
    assert "reads raw rows" in section
    assert not re.search(r"(?:src|href)\s*=\s*[\"']?https?://", page)
    # Without an audit the slot says so.
    assert "Not run" in build_report(privacy=model.privacy_report, generated_at="now")


def test_inconclusive_when_games_too_few(population):
    # 12 games cannot show a violation of eps = 1 even with a perfect attack.
    res = run_audit(
        population, SMALL_META, generator=verbatim, epsilon=1.0, attacks=["mia"],
        mia_attacks=["closest_distance"], games=12, m=30, random_state=1,
    )
    r = res.membership.results["closest_distance"]
    assert r.epsilon_lb_max <= 1.0 and r.verdict == "inconclusive"
    assert res.reconstruction is None


def test_resume_and_settings_check(population, tmp_path):
    calls = []

    def counting(train, domain, n_synth, seed):
        calls.append(seed)
        return train.copy()

    kw = dict(generator=counting, epsilon=1.0, attacks=["mia"], mia_attacks=["closest_distance"],
              m=30, work_dir=tmp_path / "w")
    run_audit(population, SMALL_META, games=6, random_state=5, **kw)
    assert len(calls) == 6
    res = run_audit(population, SMALL_META, games=10, resume=True, **kw)
    assert len(calls) == 10 and res.settings["random_state"] == 5
    with pytest.raises(InvalidParameterError, match="different settings"):
        run_audit(population, SMALL_META, games=10, resume=True, **{**kw, "m": 31})
    # Without resume the folder starts afresh.
    run_audit(population, SMALL_META, games=8, random_state=7, **kw)
    assert len(calls) == 18
    # Resuming on other rows (one value changed) is refused: the games were played on the old ones.
    changed = population.copy()
    changed.loc[3, "age"] = 80 if changed.loc[3, "age"] != 80 else 18
    with pytest.raises(InvalidParameterError, match="data_fingerprint"):
        run_audit(changed, SMALL_META, games=10, resume=True, **kw)


# -- what an audit audited: the data fingerprint ---------------------------------------------
def test_data_fingerprint_depends_on_the_rows_only(population, tmp_path):
    from dpsynth.audit.runner import data_fingerprint
    from dpsynth.data.io import Table

    dom = Domain.from_json(SMALL_META)
    fp = data_fingerprint(population, dom)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", fp)
    # The same rows: again, in another order, with extra columns, or re-read from a CSV as
    # text or typed by the metadata.
    assert data_fingerprint(population.copy(), dom) == fp
    assert data_fingerprint(population.sample(frac=1.0, random_state=1), dom) == fp
    assert data_fingerprint(population.assign(extra=1), dom) == fp
    path = tmp_path / "p.csv"
    population.to_csv(path, index=False)
    with Table.from_path(path) as table:
        assert data_fingerprint(table.to_frame(None), dom) == fp
        assert data_fingerprint(table.to_frame(dom), dom) == fp
    # One changed value, one row fewer, one duplicated row, a value made missing: another table.
    changed = population.copy()
    changed.loc[7, "color"] = "blue" if changed.loc[7, "color"] != "blue" else "red"
    nudged = population.copy()
    nudged.loc[7, "score"] = float(nudged.loc[7, "score"]) + 1e-9 if nudged["score"].notna()[7] else 0.5
    missing = population.copy()
    missing.loc[7, "score"] = np.nan if missing["score"].notna()[7] else 0.5
    others = [changed, nudged, missing, population.iloc[1:], pd.concat([population, population.iloc[:1]])]
    prints = [data_fingerprint(f, dom) for f in others]
    assert fp not in prints and len(set(prints)) == len(prints)
    # A value swapped between two rows changes the rows, not the columns' contents.
    swapped = population.copy()
    i, j = population.index[population["color"] != population.loc[0, "color"]][0], 0
    swapped.loc[[i, j], "color"] = swapped.loc[[j, i], "color"].to_numpy()
    assert data_fingerprint(swapped, dom) != fp
    with pytest.raises(InvalidDataError, match="size"):
        data_fingerprint(population.drop(columns="size"), dom)


def test_audit_records_generator_parameters_and_data(population, tmp_path):
    from dpsynth.audit.runner import data_fingerprint

    res = run_audit(population, SMALL_META, generator="independent", epsilon=1.0, params={"iters": 20},
                    attacks=["mia"], mia_attacks=["closest_distance"], games=4, m=30, control=False,
                    random_state=0, work_dir=tmp_path / "w")
    assert res.settings["generator"] == "independent" and res.settings["params"] == {"iters": 20}
    assert res.settings["data_fingerprint"] == data_fingerprint(population, Domain.from_json(SMALL_META))
    doc = json.loads(res.save(tmp_path / "a.json").read_text())
    assert doc["settings"]["data_fingerprint"] == res.settings["data_fingerprint"]
    # A private artefact, like the rest of the audit: owner-only files, and not shown on the page.
    assert (tmp_path / "a.json").stat().st_mode & 0o077 == 0
    assert json.loads((tmp_path / "w" / "state.json").read_text())["settings"]["data_fingerprint"]
    from dpsynth.report import build_report
    from tests.report.conftest import gaussian_report

    page = build_report(privacy=gaussian_report(), audit=res, generated_at="now")
    assert res.settings["data_fingerprint"].split(":")[1][:16] not in page
    assert "audited rows" in page


@pytest.mark.parametrize(
    ("kwargs", "error", "needle"),
    [
        ({"epsilon": 0.0}, InvalidParameterError, "epsilon"),
        ({"epsilon": -1.0}, InvalidParameterError, "epsilon"),
        ({"epsilon": "1"}, InvalidParameterError, "epsilon"),
        ({"delta": 1.0}, InvalidParameterError, "delta"),
        ({"attacks": ["mia", "nope"]}, InvalidParameterError, "attacks"),
        ({"mia_attacks": ["nope"]}, InvalidParameterError, "Unknown attack"),
        ({"generator": "nope"}, InvalidParameterError, "Unknown generator"),
        ({"targets": "nope"}, InvalidParameterError, "targets"),
        ({"games": 1}, InvalidParameterError, "games"),
    ],
)
def test_bad_parameters(population, kwargs, error, needle):
    args = {"generator": "resample", "epsilon": 1.0, **kwargs}
    with pytest.raises(error, match=needle):
        run_audit(population, SMALL_META, **args)


def test_bad_data(population):
    with pytest.raises(InvalidParameterError, match="metadata"):
        run_audit(population, None, generator="resample", epsilon=1.0)
    with pytest.raises(InvalidDataError, match="rows"):
        run_audit(population.iloc[:0], SMALL_META, generator="resample", epsilon=1.0)
    bad = population.copy()
    bad.loc[3, "color"] = "purple"
    with pytest.raises(InvalidDataError, match="color"):
        run_audit(bad, SMALL_META, generator="resample", epsilon=1.0)
    nan = population.copy()
    nan["age"] = nan["age"].astype(float)
    nan.loc[5, "age"] = np.nan
    with pytest.raises(InvalidDataError, match="age"):
        run_audit(nan, SMALL_META, generator="resample", epsilon=1.0)
    with pytest.raises(InvalidDataError, match="lacks"):
        run_audit(population.drop(columns="size"), SMALL_META, generator="resample", epsilon=1.0)
    incomplete = json.loads(json.dumps(SMALL_META))
    incomplete["columns"][0]["categories"] = None
    # Metadata with unknown categories or bounds: the audit (which reads raw rows on purpose)
    # completes them from the audited rows, so every game shares one domain.
    from dpsynth.audit.runner import _load

    _frame, dom = _load(population, incomplete)
    name = incomplete["columns"][0]["name"]
    assert not dom.needs_inference
    assert set(dom[name].categories) == {str(v).strip() for v in population[name].dropna()}
    assert isinstance(population, pd.DataFrame)


def uniform_rows(train, domain, n_synth, seed):
    """A perfectly private 'generator': rows drawn from the population, ignoring the training set."""
    pop = make_small_frame(400, seed=2)
    idx = np.random.default_rng(seed).integers(0, len(pop), size=n_synth)
    return pop.iloc[idx].reset_index(drop=True)


def test_weak_attack_on_a_non_private_release_is_not_consistent(population):
    # Two synthetic rows of forty: resampling copies the target too rarely for the attack
    # to see it. Without a positive control this non-private release read "consistent".
    res = run_audit(
        population, SMALL_META, generator="resample", epsilon=1.0, attacks=["mia"],
        mia_attacks=["closest_distance"], games=200, m=40, n_synth=2, random_state=0,
    )
    r = res.membership.results["closest_distance"]
    assert r.verdict == "consistent"  # the attack alone cannot tell
    assert res.verdict == "inconclusive"
    assert res.control is not None and res.control_flagged_by == []
    doc = res.to_dict()
    assert doc["control"]["generator"] == "resample" and doc["control"]["flagged_by"] == []
    assert "no attack flagged it" in res.summary()


def test_consistent_needs_a_control_the_attack_flags(population, tmp_path):
    kw = dict(generator=uniform_rows, epsilon=1.0, attacks=["mia"], mia_attacks=["closest_distance"],
              games=200, m=40, random_state=3)
    res = run_audit(population, SMALL_META, work_dir=tmp_path / "w", **kw)
    assert res.membership.results["closest_distance"].verdict == "consistent"
    assert res.control_flagged_by == ["closest_distance"]
    assert res.verdict == "consistent"
    assert res.control.results["closest_distance"].epsilon_lb > 1.0
    again = AuditReport.load(res.save(tmp_path / "a.json"))
    assert again.control_flagged_by == ["closest_distance"] and again.verdict == "consistent"
    assert (tmp_path / "w" / "control" / "membership_games.jsonl").exists()
    # Without the control nothing shows the attack had power: never consistent.
    res = run_audit(population, SMALL_META, control=False, **kw)
    assert res.control is None and res.verdict == "inconclusive"
    assert "No positive control" in res.summary()


def test_audit_files_are_owner_only(population, tmp_path):
    import os
    import stat

    work = tmp_path / "out.json.games"
    res = run_audit(
        population, SMALL_META, generator="resample", epsilon=1.0, mia_attacks=["closest_distance"],
        games=6, m=30, recon_games=1, recon_rows=100, recon_sizes=[100], random_state=1, work_dir=work,
    )
    res.save(tmp_path / "out.json")
    paths = [tmp_path / "out.json", *work.rglob("*")]
    assert len(paths) >= 4
    for p in paths:
        mode = stat.S_IMODE(os.stat(p).st_mode)
        assert mode & 0o077 == 0, f"{p} is readable by others ({oct(mode)})"
    # A folder left readable by an older run is tightened when the audit resumes in it.
    os.chmod(work, 0o755)
    os.chmod(work / "membership_games.jsonl", 0o644)
    run_audit(
        population, SMALL_META, generator="resample", epsilon=1.0, mia_attacks=["closest_distance"],
        games=8, m=30, recon_games=1, recon_rows=100, recon_sizes=[100], work_dir=work, resume=True,
    )
    assert stat.S_IMODE(os.stat(work).st_mode) & 0o077 == 0
    assert stat.S_IMODE(os.stat(work / "membership_games.jsonl").st_mode) & 0o077 == 0


def test_report_shows_the_positive_control(caught):
    import dataclasses

    from dpsynth.data.private import PrivateData
    from dpsynth.privacy import PrivacyBudget
    from dpsynth.report import build_report
    from dpsynth.synth import create

    privacy = create("independent", iters=20, random_state=0).fit(
        PrivateData(make_small_frame(300), Domain.from_json(SMALL_META)), PrivacyBudget(1.0, 1e-6)
    ).privacy_report

    def section_of(audit):
        page = build_report(privacy=privacy, audit=audit, generated_at="now")
        sec = page[page.index('<section id="audit">'):]
        return sec[: sec.index("</section>")]

    # 60 games are too few for resampling to be flagged at this claim: the card says so.
    assert caught.control is not None and caught.control_flagged_by == []
    section = section_of(caught)
    assert "Positive control" in section and "not caught" in section and "lack the power" in section
    # A control the attacks catch (here: the verbatim release's own games).
    strong = dataclasses.replace(caught, control=caught.membership)
    assert set(strong.control_flagged_by) == {"closest_distance", "domias"}
    section = section_of(strong)
    assert ">caught<" in section and "flagged by closest_distance, domias" in section
    doc = caught.to_dict()
    doc["control"] = None
    assert "not run" in section_of(doc)


def test_resumed_audit_reports_the_time_of_every_call(population, tmp_path):
    import time as _time

    calls: list[int] = []
    interrupt_at: list[int] = []  # the call count at which a game raises Ctrl-C (none: never)

    def slow(train, domain, n_synth, seed):
        calls.append(seed)
        _time.sleep(0.05)
        if len(calls) in interrupt_at:
            raise KeyboardInterrupt
        return train.copy()

    kw = dict(epsilon=1.0, attacks=["mia"], mia_attacks=["closest_distance"], m=30, work_dir=tmp_path / "w")
    first = run_audit(population, SMALL_META, generator=slow, games=6, random_state=5, **kw)
    assert first.wall_seconds >= 6 * 0.05
    # An interrupted call still adds its time; the finished audit reports every call's.
    interrupt_at.append(len(calls) + 3)
    with pytest.raises(KeyboardInterrupt):
        run_audit(population, SMALL_META, generator=slow, games=12, resume=True, **kw)
    state = json.loads((tmp_path / "w" / "state.json").read_text())
    assert state["wall_seconds"] >= first.wall_seconds + 3 * 0.05
    last = run_audit(population, SMALL_META, generator=slow, games=12, resume=True, **kw)
    assert last.wall_seconds >= state["wall_seconds"] + 0.05
    assert AuditReport.from_dict(last.to_dict()).wall_seconds == pytest.approx(last.wall_seconds)
