"""The HTML report: self-contained, complete, escaped, and honest about seeding and evaluation."""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

import pytest

from dpsynth.errors import InvalidParameterError
from dpsynth.evaluate import evaluate_all
from dpsynth.privacy import LedgerEntry, PrivacyReport
from dpsynth.report import build_report, write_report
from dpsynth.report._format import fmt, fmt_small
from tests.report.conftest import EVIL, EVIL_CAT, gaussian_report, mixed_report

# Any attribute or CSS reference that would make the browser fetch something.
EXTERNAL = re.compile(r"""(?:\b(?:src|href|xlink:href|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//)"""
                      r"""|url\(\s*["']?\s*(?:https?:)?//|@import""", re.I)
SECTIONS = ("glance", "privacy", "fidelity", "utility", "discriminability", "dcr", "audit")


@pytest.fixture(scope="module")
def full_page(results, frames, domain):
    real, synth, _ = frames
    return build_report(privacy=gaussian_report(), results=results, real=real, synthetic=synth, domain=domain,
                        title="Test report")


def test_page_is_self_contained(full_page):
    assert full_page.startswith("<!DOCTYPE html>")
    assert not EXTERNAL.search(full_page), EXTERNAL.search(full_page)
    assert "<script" not in full_page.lower()  # no code at all, inline or fetched
    assert "<link" not in full_page.lower()
    # Every figure is inline SVG, stripped of its XML prolog and metadata.
    assert full_page.count("<svg") >= 10
    assert "<?xml" not in full_page and "<metadata" not in full_page and "<!--" not in full_page


def test_page_has_every_section(full_page):
    for sid in SECTIONS:
        assert f'<section id="{sid}">' in full_page
        assert f'href="#{sid}"' in full_page
    assert "not part of the DP release" in full_page
    assert "heuristic, not a privacy guarantee" in full_page
    assert "Column by column" in full_page and "Associations between columns" in full_page
    assert "TSTR" in full_page and "TRTR" in full_page


def test_svg_ids_are_unique_across_figures(full_page):
    ids = re.findall(r'\sid="([^"]+)"', full_page)
    dupes = {i for i in ids if ids.count(i) > 1}
    assert not dupes


def test_privacy_figures_shown(full_page):
    p = gaussian_report()
    assert p.mu is not None and p.kappa is not None
    text = html.unescape(re.sub(r"<[^>]+>", " ", full_page))
    assert fmt(p.epsilon, 4) in text
    assert fmt(p.rho, 4) in text
    assert fmt(p.mu) in text
    assert fmt(p.kappa) in text
    assert f"δ = {fmt_small(p.delta)}" in text
    assert "exact privacy-loss distribution" in text  # the curve drawn is the exact PLD's
    for step in ("demo.measure_1way", "demo.measure_2way"):
        assert step in text
    assert "bounds of 'age' inferred with DP" in text  # notes
    assert "<details" in full_page  # ledger toggles


def test_eps_delta_curve_when_mu_undefined():
    p = mixed_report()
    assert p.mu is None
    page = build_report(privacy=p, results=None)
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    assert "(ε, δ)-DP curve" in text
    assert "μ is not defined" in text
    assert "mst.select" in text and "exponential mechanism" in text


def test_not_for_release_banner_only_when_seeded():
    seeded = build_report(privacy=gaussian_report(seeded=True), results=None)
    assert 'class="banner"' in seeded and "NOT FOR RELEASE" in seeded
    unseeded = build_report(privacy=gaussian_report(seeded=False), results=None)
    assert 'class="banner"' not in unseeded and "NOT FOR RELEASE" not in unseeded


def test_audit_slot_not_run_by_default():
    page = build_report(privacy=gaussian_report(), results=None)
    audit = page.split('<section id="audit">', 1)[1].split("</section>", 1)[0]
    assert "Not run" in audit


def test_audit_result_is_rendered_escaped():
    class FakeAudit:
        def summary(self) -> str:
            return "strongest attack <b>x</b>: ε ≥ 0.1"

        def to_dict(self) -> dict:
            return {"verdict": "consistent", "epsilon_claimed": 1.0, "results": {"closest": {"auc": 0.51}}}

    page = build_report(privacy=gaussian_report(), results=None, audit=FakeAudit())
    audit = page.split('<section id="audit">', 1)[1].split("</section>", 1)[0]
    assert "Not run" not in audit
    assert "consistent" in audit and "0.51" in audit
    assert "<b>x</b>" not in audit and "&lt;b&gt;x&lt;/b&gt;" in audit


def test_without_results_sections_say_not_evaluated():
    page = build_report(privacy=gaussian_report(), results=None)
    for sid in ("fidelity", "utility", "discriminability", "dcr"):
        body = page.split(f'<section id="{sid}">', 1)[1].split("</section>", 1)[0]
        assert "Not evaluated" in body
    assert "No evaluation in this report" in page


def test_malicious_strings_are_escaped(evil_domain, evil_frames):
    real, synth = evil_frames
    results = evaluate_all(real, synth, evil_domain, random_state=0)
    p = gaussian_report()
    p.notes.append(EVIL)
    p.ledger.append(LedgerEntry(step=EVIL, description=EVIL_CAT, mechanism=EVIL, noise_scale=1.0, count=1,
                                rho=1e-4, mu=None, time=0.0))
    page = build_report(privacy=p, results=results, real=real, synthetic=synth, domain=evil_domain,
                        title=EVIL, subtitle=EVIL_CAT, real_label=EVIL)
    assert EVIL not in page and EVIL_CAT not in page
    assert "<script" not in page.lower()
    assert "<img" not in page.lower()
    assert html.escape(EVIL) in page
    assert html.escape(EVIL_CAT) in page
    assert "x &amp; y" in page


def test_pld_ledger_without_rho():
    p = PrivacyReport(
        epsilon=2.0, delta=1e-6, rho=None, mu=None, epsilon_gdp=None, kappa=None, budget_epsilon=3.0, seeded=False,
        ledger=[LedgerEntry(step="dpsgd.step", description="1000 steps", mechanism="Poisson-subsampled Gaussian",
                            noise_scale=1.1, count=1000, rho=None, mu=None, time=0.0)],
    )
    page = build_report(privacy=p, results=None)
    assert "no zCDP bound" in page
    assert "66.7%" in page  # budget used: 2 of ε = 3


def test_bad_arguments():
    with pytest.raises(InvalidParameterError, match="PrivacyReport"):
        build_report(privacy={"epsilon": 1.0}, results=None)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="mapping"):
        build_report(privacy=gaussian_report(), results=[1, 2])  # type: ignore[arg-type]


def test_write_report_is_atomic(tmp_path):
    path = tmp_path / "sub" / "report.html"
    write_report(path, privacy=gaussian_report(), results=None)
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]
    with pytest.raises(InvalidParameterError):
        write_report(tmp_path / "never.html", privacy=None)  # type: ignore[arg-type]
    assert not (tmp_path / "never.html").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["sub"]


@pytest.mark.parametrize(
    "value, text",
    [(1e-9, "10⁻⁹"), (1e-6, "10⁻⁶"), (2.5e-7, "2.5 × 10⁻⁷"), (9.9999999e-10, "10⁻⁹"), (0.05, "0.05")],
)
def test_small_numbers(value, text):
    assert fmt_small(value) == text


def test_column_charts_cover_every_kind():
    import numpy as np
    import pandas as pd

    from dpsynth.data.domain import Column, Domain

    n = 300
    cats = [f"category number {i}" for i in range(30)]
    domain = Domain([
        Column("when", "datetime", lower=0.0, upper=86400.0 * 365, nullable=True),
        Column("amount $", "numeric"),  # no bounds: the chart's range comes from the rows
        Column("many", "categorical", categories=cats, nullable=True),
        Column("level", "ordinal", categories=list(range(60))),
    ])

    def frame(seed: int) -> pd.DataFrame:
        r = np.random.default_rng(seed)
        when = pd.to_datetime(r.integers(0, 86400 * 365, n), unit="s").to_series().reset_index(drop=True)
        when[r.random(n) < 0.1] = pd.NaT
        many = pd.Series(r.choice(cats, n), dtype=object)
        many[r.random(n) < 0.1] = None
        return pd.DataFrame({"when": when, "amount $": r.gamma(2.0, 50.0, n), "many": many,
                             "level": r.integers(0, 60, n)})

    real, synth = frame(1), frame(2)
    page = build_report(privacy=gaussian_report(), results=None, real=real, synthetic=synth, domain=domain)
    if os.environ.get("DPSYNTH_REPORT_KEEP"):  # to look at the charts: DPSYNTH_REPORT_KEEP=path.html
        Path(os.environ["DPSYNTH_REPORT_KEEP"]).write_text(page, encoding="utf-8")
    assert page.count('<figure class="tile">') == 4
    assert "amount $" in page and 'class="badge miss"' in page
