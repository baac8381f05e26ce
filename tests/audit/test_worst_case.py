import json
import os
import stat

import numpy as np
import pytest
from scipy.stats import norm

from dpsynth.audit.worst_case import (
    TranscriptData,
    audit_worst_case,
    measurement_rho,
    mu_from_rates,
    mu_lower_bounds,
    worst_case_pair,
)
from dpsynth.data.private import PrivateData
from dpsynth.errors import InvalidParameterError
from dpsynth.privacy import PrivacyBudget
from dpsynth.synth import create
from tests.audit.controls import CategoryFromData, Make, UnderNoisedData

FAST = {"iters": 1}


def test_pair_is_neighbouring_and_worst_case():
    pair = worst_case_pair()
    assert len(pair.minus) == 10 and len(pair.plus) == 11
    assert (pair.minus.to_numpy() == 0).all() and tuple(pair.plus.iloc[-1]) == (1, 1, 1)
    assert pair.plus.iloc[:10].equals(pair.minus)


def test_transcript_scores_the_gaussian_likelihood_ratio():
    # The white-box statistic of the independent generator: three one-way marginals, the
    # target alone in cell 1 of each. Its information Σ‖Δ‖²/σ² is exactly μ² of the fit.
    pair = worst_case_pair()
    twins = (PrivateData(pair.minus, pair.domain), PrivateData(pair.plus, pair.domain))
    llrs = {0: [], 1: []}
    for side, frame in ((0, pair.minus), (1, pair.plus)):
        data = TranscriptData(frame, pair.domain, twins=twins)
        for seed in range(200):
            data.reset()
            model = create("independent", random_state=seed, **FAST).fit(data, PrivacyBudget(2.0, 1e-5))
            llrs[side].append(data.llr)
    mu = model.privacy_report.mu
    # The report's μ is the GDP summary of the exact discrete-Gaussian PLD (within ~1% of the
    # continuous figure the likelihood ratio is computed with).
    assert data.info == pytest.approx(mu**2, rel=2e-2)
    # LLR ~ N(∓μ²/2, μ²): means within 4 standard errors.
    for side, sign in ((0, -1), (1, 1)):
        x = np.array(llrs[side])
        assert abs(x.mean() - sign * mu**2 / 2) < 4 * mu / np.sqrt(len(x))
        assert 0.75 * mu < x.std() < 1.25 * mu


def test_mu_bounds():
    # Exact Gaussian rates at μ = 1: the point estimate is 1; the bounds are below it and
    # approach it with more runs; Clopper–Pearson is the more conservative.
    fpr = norm.cdf(-0.5)
    assert mu_from_rates(fpr, fpr) == pytest.approx(1.0)
    small = mu_lower_bounds(int(1000 * (1 - fpr)), int(1000 * fpr), int(1000 * fpr), int(1000 * (1 - fpr)))
    big = mu_lower_bounds(int(20000 * (1 - fpr)), int(20000 * fpr), int(20000 * fpr), int(20000 * (1 - fpr)))
    assert small[0] == pytest.approx(1.0, abs=0.01) and big[0] == pytest.approx(1.0, abs=0.01)
    assert small[1] < small[2] < 1.0 and big[1] < big[2] < 1.0
    assert small[2] < big[2] and big[2] > 0.95
    # A perfect attack stays finite.
    assert np.isfinite(mu_lower_bounds(100, 0, 0, 100)[1])


# μ ≈ 1.23 (ε = 6, σ ≈ 1.4): a 20% noise deficit is seen in ≈ 94% of audits with 1,000 runs
# per side (simulation of the two binomials), and σ is large enough for the discrete Gaussian
# to be as hard to tell apart as the continuous one its μ is stated for (at σ < 1 it is
# measurably easier: the honest bound then nears the stated μ).
WC = dict(epsilon=6.0, delta=1e-5, n_synth=5, params=FAST, n_jobs=1, random_state=4)


@pytest.mark.slow
def test_under_noised_copy_reads_violation():
    under = audit_worst_case("independent", runs=1000, data_class=UnderNoisedData, **WC)
    assert under.mu_claim == "gdp"
    assert under.white_box.mu_lb_cp > under.mu_claimed
    assert under.verdict == "violation"


def test_honest_generator_is_consistent_and_tight(tmp_path):
    honest = audit_worst_case("independent", runs=300, work_dir=tmp_path / "h", **WC)
    assert honest.verdict == "consistent"
    w = honest.white_box
    assert w.mu_lb_cp < w.mu_lb_bayes and w.mu_lb_cp < honest.mu_claimed
    assert w.tightness_bayes > 0.7 and honest.mu_measurements == pytest.approx(honest.mu_claimed, rel=2e-2)
    assert honest.black_box.mu_lb_bayes <= w.mu_hat + 0.3  # black-box sees no more than the transcript
    doc = json.loads(json.dumps(honest.to_dict()))
    assert doc["kind"] == "dpsynth-worst-case-audit" and doc["verdict"] == "consistent"
    assert len(doc["white_box"]["curve_fpr"]) == len(doc["white_box"]["curve_fnr"]) > 10


def test_measurement_claim_is_the_gaussian_part_of_the_ledger():
    # MST spends ρ/3 on one-way marginals, ρ/3 on the tree (exponential mechanism) and ρ/3 on
    # two-way marginals: the measurements the white-box attack reads claim √(2/3) of √(2ρ).
    mst = audit_worst_case("mst", epsilon=1.0, delta=1e-2, runs=20, n_jobs=1, random_state=0)
    assert mst.mu_claim == "zcdp"
    assert mst.mu_claimed_measurements == pytest.approx(mst.mu_claimed * np.sqrt(2 / 3), rel=1e-6)
    # Δ = sensitivity for every marginal on the pair: the transcript carries the whole claim.
    assert mst.mu_measurements == pytest.approx(mst.mu_claimed_measurements, rel=1e-9)
    # Its measurement tightness is from the measurements' ratio alone (selections left out).
    assert mst.settings["white_box_statistic"] == "measurements + selections"
    assert mst.tightness_measurements == pytest.approx(mst.mu_lb_measurements_bayes / mst.mu_claimed_measurements)
    assert np.isfinite(mst.mu_lb_measurements_cp) and mst.mu_lb_measurements_cp <= mst.mu_lb_measurements_bayes
    assert "claim μ = 0.371" in mst.summary() and mst.to_dict()["mu_claimed_measurements"] > 0
    pair = worst_case_pair()
    report = create("mst", random_state=0).fit(PrivateData(pair.plus, pair.domain), PrivacyBudget(1.0, 1e-2)).privacy_report
    selections = sum(e.rho for e in report.ledger if e.mechanism.startswith("exponential"))
    assert selections > 0 and measurement_rho(report) == pytest.approx(report.rho - selections, rel=1e-9)
    # All of independent's budget is Gaussian measurements: the two claims coincide.
    ind = create("independent", random_state=0, **FAST).fit(PrivateData(pair.plus, pair.domain), PrivacyBudget(1.0, 1e-2))
    assert measurement_rho(ind.privacy_report) == pytest.approx(ind.privacy_report.rho, rel=1e-9)


def test_category_read_from_data_reads_violation():
    res = audit_worst_case(
        Make(CategoryFromData, "category_from_data", iters=1), epsilon=1.0, delta=1e-5, runs=150,
        n_jobs=1, random_state=0,
    )
    assert res.generator == "category_from_data"
    assert res.black_box.fp == 0 and res.black_box.epsilon_lb_curve > 1.0
    assert res.verdict == "violation"


def test_resume_and_owner_only_files(tmp_path):
    work = tmp_path / "w"
    kw = dict(epsilon=1.0, delta=1e-5, params=FAST, n_jobs=1, random_state=2, work_dir=work)
    first = audit_worst_case("independent", runs=20, **kw)
    lines = (work / "runs.jsonl").read_text().splitlines()
    assert len(lines) == 40
    for p in (work, work / "runs.jsonl", work / "state.json"):
        assert stat.S_IMODE(os.stat(p).st_mode) & 0o077 == 0
    more = audit_worst_case("independent", runs=30, resume=True, **{**kw, "random_state": None})
    assert len((work / "runs.jsonl").read_text().splitlines()) == 60
    assert more.settings["random_state"] == 2 and first.runs == 20 and more.runs == 30
    # Same runs, same transcript: the first 20 runs' statistics are unchanged.
    again = audit_worst_case("independent", runs=20, **{**kw, "work_dir": None})
    assert again.white_box.tp == first.white_box.tp and again.white_box.fp == first.white_box.fp
    with pytest.raises(InvalidParameterError, match="different settings"):
        audit_worst_case("independent", runs=30, resume=True, **{**kw, "epsilon": 2.0})
    with pytest.raises(InvalidParameterError, match="different settings"):
        audit_worst_case("independent", runs=30, resume=True, **{**kw, "pair": "selection"})


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ({"generator": "tldm"}, "Dirac gradient canaries"),
        ({"generator": "nope"}, "No worst-case pair"),
        ({"epsilon": 0.0}, "epsilon"),
        ({"delta": 0.0}, "delta"),
        ({"runs": 5}, "runs"),
        ({"alpha": 1.5}, "alpha"),
        ({"pair": "ones"}, "Unknown pair"),
    ],
)
def test_bad_parameters(args, needle):
    kw = {"generator": "independent", "epsilon": 1.0, **args}
    gen = kw.pop("generator")
    with pytest.raises(InvalidParameterError, match=needle):
        audit_worst_case(gen, **kw)


def test_cli_worst_case(tmp_path):
    from typer.testing import CliRunner

    from dpsynth.cli import app

    runner = CliRunner()
    out = tmp_path / "wc.json"
    r = runner.invoke(app, ["audit", "--worst-case", "-g", "independent", "-e", "1", "-d", "1e-5", "--runs", "20",
                            "-p", "iters=1", "--out", str(out), "--random-state", "0"])
    assert r.exit_code == 0, r.output
    doc = json.loads(out.read_text())
    assert doc["kind"] == "dpsynth-worst-case-audit" and doc["runs"] == 20 and "tightness" in doc
    assert "Worst-case audit of independent" in r.output
    assert stat.S_IMODE(os.stat(tmp_path / "wc.json.runs").st_mode) & 0o077 == 0
    assert stat.S_IMODE(os.stat(out).st_mode) & 0o077 == 0
    sel = tmp_path / "sel.json"
    r = runner.invoke(app, ["audit", "--worst-case", "--pair", "selection", "-g", "independent", "-e", "1", "-d",
                            "1e-5", "--runs", "20", "-p", "iters=1", "--out", str(sel), "--random-state", "0"])
    assert r.exit_code == 0, r.output
    assert json.loads(sel.read_text())["settings"]["pair"] == "selection"
    r = runner.invoke(app, ["audit", "--worst-case", "--pair", "ones", "--out", str(tmp_path / "y.json")])
    assert r.exit_code == 2 and "Unknown pair 'ones'" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["audit", "--worst-case", "-g", "tldm", "--out", str(tmp_path / "x.json")])
    assert r.exit_code == 2 and "canaries" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["audit", "--out", str(tmp_path / "x.json")])
    assert r.exit_code == 2 and "DATA" in r.output and "Traceback" not in r.output


def test_report_draws_the_worst_case_audit():
    from dpsynth.report import build_report

    res = audit_worst_case("independent", epsilon=1.0, delta=1e-5, runs=20, params=FAST, n_jobs=1, random_state=0)
    pair = worst_case_pair()
    privacy = create("independent", random_state=0, **FAST).fit(
        PrivateData(pair.plus, pair.domain), PrivacyBudget(1.0, 1e-5)
    ).privacy_report
    page = build_report(privacy=privacy, audit=res, generated_at="now")
    section = page[page.index('<section id="audit">'):]
    section = section[: section.index("</section>")]
    assert "Tightness" in section and "white-box" in section and "black-box" in section
    assert res.verdict in section and section.count("<svg") == 1
    assert "Tightness (measurements)" not in section  # independent: nothing but measurements
    mst = audit_worst_case("mst", epsilon=1.0, delta=1e-2, runs=20, n_jobs=1, random_state=0)
    page = build_report(privacy=privacy, audit=mst, generated_at="now")
    assert "Tightness (measurements)" in page and "0.371" in page


def test_ties_at_the_threshold_are_split():
    # Discrete scores with a third of the runs exactly at the threshold on both sides: a
    # randomised test splits them, so the rates stay balanced (sending all ties to "member"
    # would give FPR ≈ 0.5 and FNR ≈ 0.17 for the same scores).
    from dpsynth.audit.worst_case import _bound

    scores = np.r_[np.repeat([-1.0, 0.0, 1.0], [400, 300, 300]), np.repeat([-1.0, 0.0, 1.0], [300, 300, 400])]
    members = np.r_[np.zeros(1000, bool), np.ones(1000, bool)]
    b = _bound("w", scores, members, 0.0, mu_claimed=1.0, delta=1e-5, alpha=0.05, seed=0)
    assert abs(b.fp / 1000 - 0.45) < 0.04 and abs(b.fn / 1000 - 0.45) < 0.04


def test_shared_cache_and_final_estimation_leave_the_transcript_unchanged():
    # The audit shares true counts across fits and the benchmark cuts MST's final estimation
    # (post-processing) to one iteration: the same seed must give the same transcript.
    pair = worst_case_pair()
    twins = (PrivateData(pair.minus, pair.domain), PrivateData(pair.plus, pair.domain))
    data = TranscriptData(pair.plus, pair.domain, twins=twins)
    llr = []
    for params in ({}, {}, {"iters": 1}):
        data.reset()
        create("mst", random_state=5, **params).fit(data, PrivacyBudget(1.0, 1e-2))
        llr.append(data.llr)
    fresh = TranscriptData(pair.plus, pair.domain, twins=twins)
    create("mst", random_state=5).fit(PrivateData(pair.plus, pair.domain), PrivacyBudget(1.0, 1e-2))
    create("mst", random_state=5).fit(fresh, PrivacyBudget(1.0, 1e-2))
    assert llr[0] == llr[1] == llr[2] == fresh.llr


def test_selection_likelihood_ratio_is_exact():
    # One selection between two candidates whose scores differ only on D⁺: the recorded ratio
    # is the exponential mechanism's log P(choice | D⁺) − log P(choice | D⁻), computed by hand.
    from scipy.special import logsumexp

    from dpsynth.privacy import Accountant
    from dpsynth.privacy.random import NoiseSource

    pair = worst_case_pair()
    twins = (PrivateData(pair.minus, pair.domain), PrivateData(pair.plus, pair.domain))
    data = TranscriptData(pair.plus, pair.domain, twins=twins)
    view = data.bind(Accountant(PrivacyBudget(1.0, 1e-2)), NoiseSource(random_state=0))
    est = {("a", "b"): np.array([10.0, 0, 0, 0]), ("a",): np.array([5.0, 5.0])}
    idx = view.select_marginal([("a", "b"), ("a",)], est, epsilon=0.8, step="t")
    # Scores ‖M − est‖₁: D⁻ (a×b: 0, a: 10); D⁺ (a×b: 1, a: 9), moved in opposite directions.
    lo, hi = 0.4 * np.array([0.0, 10.0]), 0.4 * np.array([1.0, 9.0])
    expect = (hi[idx] - logsumexp(hi)) - (lo[idx] - logsumexp(lo))
    assert expect != 0 and data.llr_select == pytest.approx(expect) and data.llr == 0.0


def test_selection_pair_moves_the_candidates_scores_apart():
    # D⁻: 80 rows, every value held by 40 (MST's compression keeps both codes); the target's
    # cell (1, 1) is over-full in a×b and under-full in a×c and b×c, so against the estimate
    # the one-way marginals imply (independence), adding it moves a×b's score ‖M − e‖₁ up by
    # one and the others' down by one: the exponential mechanism's worst case.
    pair = worst_case_pair(kind="selection")
    assert len(pair.minus) == 80 and (pair.minus.sum() == 40).all()
    assert pair.plus.iloc[:80].equals(pair.minus) and tuple(pair.plus.iloc[-1]) == (1, 1, 1)
    lo, hi = PrivateData(pair.minus, pair.domain), PrivateData(pair.plus, pair.domain)
    moves = []
    for c in (("a", "b"), ("a", "c"), ("b", "c")):
        est = np.full(4, 20.0)  # the independent estimate from D⁻'s one-way counts (40 / 40)
        (m_lo,), (m_hi,) = lo._true_marginals([c]), hi._true_marginals([c])
        moves.append(np.abs(m_hi.ravel() - est).sum() - np.abs(m_lo.ravel() - est).sum())
    assert moves == [1.0, -1.0, -1.0]
    # Scaled for small δ: same proportions, every value held by 200 rows, the same moves.
    big = worst_case_pair(400, kind="selection")
    assert len(big.minus) == 400 and (big.minus.sum() == 200).all()
    assert worst_case_pair(159, kind="selection").minus.equals(pair.minus)
    lo, hi = PrivateData(big.minus, big.domain), PrivateData(big.plus, big.domain)
    big_moves = []
    for c in (("a", "b"), ("a", "c"), ("b", "c")):
        est = np.full(4, 100.0)
        (m_lo,), (m_hi,) = lo._true_marginals([c]), hi._true_marginals([c])
        big_moves.append(np.abs(m_hi.ravel() - est).sum() - np.abs(m_lo.ravel() - est).sum())
    assert big_moves == [1.0, -1.0, -1.0]
    assert worst_case_pair(kind="zeros").minus.equals(worst_case_pair().minus)
    with pytest.raises(InvalidParameterError, match="Unknown pair"):
        worst_case_pair(kind="ones")


def test_selection_pair_exercises_msts_tree_selection():
    # On the zeros pair every candidate's score moves alike and MST's selections' likelihood
    # ratio is nearly constant (sd ≈ 0.08 at ε = 1); on the selection pair it spreads out
    # (sd ≈ 0.23, about the μ the tree's ρ/3 allows, √(2ρ/3) ≈ 0.26), while the measurements
    # keep their full information.
    sd = {}
    for kind in ("zeros", "selection"):
        res = audit_worst_case("mst", epsilon=1.0, delta=1e-2, runs=60, params=FAST, n_jobs=1, random_state=0,
                               pair=kind)
        assert res.mu_measurements == pytest.approx(res.mu_claimed_measurements, rel=1e-9)
        assert res.settings.get("pair", "zeros") == kind
        sd[kind] = res.selection_llr_sd
    assert sd["zeros"] < 0.12 < 0.17 < sd["selection"]
