"""The report does not mislead: densities over unequal bins, whole-word labels, readable audit settings,
and an audit of another setting is flagged."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from dpsynth.data.domain import Domain
from dpsynth.report import audit_mismatches, build_report
from dpsynth.report._plots import _category_bars, _figure, _numeric_hist, wrap_label
from tests.report.conftest import gaussian_report


def _heights(ax):
    from matplotlib.patches import StepPatch

    steps = [p for p in ax.patches if isinstance(p, StepPatch)]
    return [np.asarray(p.get_data().values) for p in steps]


def _column(spec):
    return Domain.from_json({"columns": [spec]})[spec["name"]]


def test_unequal_bins_are_drawn_as_densities():
    # fnlwgt-like: uniform values, one bin much wider than the others. Shares per bin would show
    # a false peak in the wide bin (0.8 against 0.1); densities are flat.
    col = _column({"name": "x", "type": "numeric", "lower": 0, "upper": 100, "edges": [0, 10, 20, 100]})
    values = pd.Series(np.linspace(0.05, 99.95, 1000))
    with _figure(3, 2) as fig:
        ax = fig.add_subplot()
        _numeric_hist(ax, col, values, values)
        real = _heights(ax)[0]
        assert np.allclose(real, 0.01, rtol=0.02)  # share per unit: 0.1 / 10 = 0.8 / 80
        assert "density" in ax.get_ylabel()
        # The areas under the curve are still the shares.
        assert np.isclose(float((real * np.diff([0, 10, 20, 100])).sum()), 1.0)


def test_equal_bins_keep_shares_per_bin():
    col = _column({"name": "x", "type": "numeric", "lower": 0, "upper": 30, "bins": 3})
    values = pd.Series(np.linspace(0.5, 29.5, 300))
    with _figure(3, 2) as fig:
        ax = fig.add_subplot()
        _numeric_hist(ax, col, values, values)
        assert ax.get_ylabel() == "share of rows"
        assert np.isclose(float(_heights(ax)[0].sum()), 1.0)


@pytest.mark.parametrize("label", ["Married-civ-spouse", "groundhog_histogram", "Never-married",
                                   "a label with quite a few words in it", "Holand-Netherlands"])
def test_labels_are_wrapped_at_word_boundaries_never_cut_mid_word(label):
    import re

    shown = wrap_label(label, 14)
    assert "…" not in shown or len(shown.split("\n")) == 3
    words = [w for w in re.split(r"[\s\-_/]+", label) if w]
    pieces = [w for w in re.split(r"[\s\-_/…]+", shown.replace("\n", " ")) if w]
    assert all(p in words for p in pieces), shown  # every piece is a whole word of the label


def test_category_tick_labels_keep_whole_words():
    col = _column({"name": "m", "type": "categorical", "categories": ["Married-civ-spouse", "Never-married", "Divorced"]})
    s = pd.Series(["Married-civ-spouse", "Never-married", "Divorced"] * 10)
    with _figure(3, 2) as fig:
        ax = fig.add_subplot()
        _category_bars(ax, col, s, s)
        ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks[0] == "Married-civ-\nspouse" and "…" not in "".join(ticks)


AUDIT = {
    "kind": "dpsynth-audit", "version": 1, "generator": "mst", "epsilon_claimed": 1.0, "delta": 1e-9,
    "verdict": "inconclusive", "wall_seconds": 140.0, "membership": None, "reconstruction": None,
    "settings": {"generator": "mst", "params": {"iters": 50}, "epsilon": 1.0, "delta": 1e-9,
                 "attacks": ["mia"], "mia_attacks": ["groundhog_histogram"], "games": 200, "targets": "outliers",
                 "random_state": 7},
}


def _audit_html(**kw):
    page = build_report(privacy=gaussian_report(), results=None, audit=AUDIT, **kw)
    return page.split('<section id="audit">', 1)[1].split("</section>", 1)[0]


def test_audit_settings_are_a_readable_table():
    section = _audit_html()
    assert '{"generator"' not in section and "&quot;generator&quot;" not in section  # no raw JSON
    assert "<th>membership games per target</th><td>200</td>" in section
    assert "<th>generator audited</th><td>mst</td>" in section
    assert "groundhog_<wbr>histogram" in section  # breaks after the underscore, not mid-word
    assert "140 s" in section


def test_audit_of_another_setting_is_flagged():
    from dpsynth.synth import create

    params = create("mst", iters=50).get_params()
    assert audit_mismatches(AUDIT, generator="mst", params=params, epsilon=1.0, delta=1e-9) == []
    other = audit_mismatches(AUDIT, generator="aim", params={}, epsilon=1.0, delta=1e-9)
    assert other and "'mst'" in other[0] and "'aim'" in other[0]
    found = audit_mismatches(AUDIT, generator="mst", params=create("mst").get_params(), epsilon=3.0, delta=1e-9)
    assert any("ε = 3" in m for m in found) and any("iters" in m for m in found)
    section = _audit_html(audit_mismatches=found)
    assert section.count("Mismatch:") == len(found)


def test_audit_played_on_other_rows_is_flagged():
    from dpsynth.audit.runner import data_fingerprint
    from dpsynth.synth import create
    from tests.synth.conftest import SMALL_META, make_small_frame

    dom = Domain.from_json(SMALL_META)
    rows = make_small_frame(300)
    audit = {**AUDIT, "settings": {**AUDIT["settings"], "data_fingerprint": data_fingerprint(rows, dom)}}
    kw = dict(generator="mst", params=create("mst", iters=50).get_params(), epsilon=1.0, delta=1e-9, domain=dom)
    # The same rows (in another order): nothing to flag.
    assert audit_mismatches(audit, data=rows.iloc[::-1], **kw) == []
    # One changed row: one clause, one line, that names no fingerprint.
    changed = rows.copy()
    changed.loc[0, "y"] = "yes" if changed.loc[0, "y"] == "no" else "no"
    found = audit_mismatches(audit, data=changed, **kw)
    assert len(found) == 1 and "other rows" in found[0] and "\n" not in found[0]
    assert "sha256" not in found[0] and audit["settings"]["data_fingerprint"][7:19] not in found[0]
    # Data that lacks a column of the domain is not the audited table either.
    assert len(audit_mismatches(audit, data=rows.drop(columns="y"), **kw)) == 1
    # An audit that does not record its rows cannot be matched: said so, not passed silently.
    old = audit_mismatches(AUDIT, data=rows, **kw)
    assert len(old) == 1 and "does not record" in old[0]
    # Without data, the rows are not compared.
    assert audit_mismatches(audit, **{**kw, "domain": None}) == []
    page = build_report(privacy=gaussian_report(), results=None, audit=audit, audit_mismatches=found)
    section = page.split('<section id="audit">', 1)[1].split("</section>", 1)[0]
    assert section.count("Mismatch:") == 1 and "other rows" in section
    assert "<th>audited rows</th>" in section and audit["settings"]["data_fingerprint"][7:19] not in page


def test_a_point_mass_does_not_flatten_the_density():
    # capital-gain-like: 92% of rows at 0, in a bin of width 1 among bins thousands wide.
    col = _column({"name": "g", "type": "numeric", "lower": 0, "upper": 99999, "integer": True,
                   "edges": [0, 1, 3, 2605, 6689, 15175, 53924, 99999]})
    rng = np.random.default_rng(0)
    values = pd.Series(np.where(rng.random(2000) < 0.92, 0, rng.integers(3, 99999, 2000)))
    with _figure(3, 2) as fig:
        ax = fig.add_subplot()
        _numeric_hist(ax, col, values, values)
        real = _heights(ax)[0]
        assert real[0] == pytest.approx((values == 0).mean())  # still densities: the atom's share per unit
        bulk = real[3:].max()
        assert bulk < ax.get_ylim()[1] < 2 * bulk  # the axis shows the rest of the distribution
        texts = [t.get_text() for t in ax.texts]
        share = f"{(values == 0).mean():.0%}"
        assert texts == [f"0: {share} real", f"{share} synthetic"]
    # Bins of comparable widths: drawn to scale, nothing cut or labelled.
    col = _column({"name": "x", "type": "numeric", "lower": 0, "upper": 100, "edges": [0, 10, 20, 100]})
    with _figure(3, 2) as fig:
        ax = fig.add_subplot()
        _numeric_hist(ax, col, values.clip(0, 100), values.clip(0, 100))
        assert not ax.texts and ax.get_ylim()[1] >= _heights(ax)[0].max()


def test_numeric_tick_labels_are_short_and_few():
    # fnlwgt-like: six-digit ticks ran together ("100000200000300000") in a narrow tile.
    col = _column({"name": "w", "type": "numeric", "lower": 0, "upper": 600000, "integer": True,
                   "edges": [0, 1, 18, 9793, 35595, 100000, 200000, 400000, 600000]})
    values = pd.Series(np.linspace(12285, 590000, 500).round())
    with _figure(3, 2) as fig:
        ax = fig.add_subplot()
        _numeric_hist(ax, col, values, values.where(np.arange(500) > 0, 0))  # one synthetic row at 0
        fig.canvas.draw()
        ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
        assert 2 <= len(ticks) <= 7 and all(len(t) <= 5 for t in ticks), ticks
        assert "300k" in ticks
        # The synthetic row at 0 sits in a bin of width 1: cut and marked, too small to label.
        assert ax.get_ylim()[1] < 1 / 500 and not ax.texts


def _overlaps(fig, labels):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in labels if t.get_text()]
    return [(i, i + 1) for i in range(len(boxes) - 1) if boxes[i].overlaps(boxes[i + 1])]


@pytest.mark.parametrize("n", [9, 12, 15])
def test_many_category_labels_never_run_into_each_other(n):
    # occupation-like: long hyphenated names ("Machine-op-inspct", "Handlers-cleaners").
    names = ["Tech-support", "Craft-repair", "Other-service", "Sales", "Exec-managerial", "Prof-specialty",
             "Handlers-cleaners", "Machine-op-inspct", "Adm-clerical", "Farming-fishing", "Transport-moving",
             "Priv-house-serv", "Protective-serv", "Armed-Forces", "a label with quite a few words in it"][:n]
    col = _column({"name": "o", "type": "categorical", "categories": names})
    s = pd.Series(names * 5)
    with _figure(3.6, 2.3) as fig:
        ax = fig.add_subplot()
        _category_bars(ax, col, s, s)
        labels = ax.get_xticklabels()
        assert _overlaps(fig, labels) == []
        for shown, name in zip((t.get_text() for t in labels), names, strict=True):
            pieces = [w for w in re.split(r"[\s\-_/…]+", shown.replace("\n", " ")) if w]
            assert all(p in re.split(r"[\s\-_/]+", name) for p in pieces), shown  # whole words only
        assert fig.get_size_inches()[1] >= 2.3


def test_many_short_codes_stay_horizontal():
    codes = [str(i) for i in range(15)]
    col = _column({"name": "c", "type": "categorical", "categories": codes})
    s = pd.Series(codes * 3)
    with _figure(3.6, 2.3) as fig:
        ax = fig.add_subplot()
        _category_bars(ax, col, s, s)
        labels = ax.get_xticklabels()
        assert [t.get_text() for t in labels] == codes and {t.get_rotation() for t in labels} == {0.0}
        assert _overlaps(fig, labels) == []
