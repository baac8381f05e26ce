"""Assemble the report: one self-contained HTML page (inline CSS, inline SVG figures).

Every string that reaches the page (column names, categories, ledger descriptions, notes,
titles) goes through :func:`e` (``html.escape``); figures carry no text nodes at all (see
:mod:`dpsynth.report._plots`). The page references nothing outside itself.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from dpsynth.data.domain import Domain
from dpsynth.evaluate import RAW_ROWS_NOTE, Result
from dpsynth.evaluate._base import to_jsonable
from dpsynth.privacy import PrivacyReport
from dpsynth.progress import track
from dpsynth.report import _plots as plots
from dpsynth.report._format import fmt, fmt3, fmt_small, measure_name, score_name

#: Most per-column charts drawn; a note says how many were left out.
MAX_COLUMN_PLOTS = 40

_STEP_COLORS = ("#7c3aed", "#2563eb", "#0891b2", "#16a34a", "#ca8a04", "#ea580c", "#db2777", "#64748b")

_SPLIT_WORDS = {
    "train": "the training table (the rows the generator was fitted on)",
    "holdout": "a hold-out table (real rows the generator never saw)",
    "train+holdout": "the training table and a hold-out table",
    "unspecified": "a real table (its role was not stated)",
}


def e(value: object) -> str:
    """HTML-escape anything (quotes included): the only way text reaches the page."""
    return html.escape(str(value), quote=True)


def _details(r: Result) -> dict[str, Any]:
    d = to_jsonable(r.details)
    return d if isinstance(d, dict) else {}


# -- page skeleton ------------------------------------------------------------------------------
def build_page(
    *,
    privacy: PrivacyReport,
    results: Mapping[str, Result] | None,
    real: pd.DataFrame | None,
    synthetic: pd.DataFrame | None,
    domain: Domain | None,
    title: str,
    subtitle: str | None,
    real_label: str | None,
    audit: Any,
    generated_at: str | None,
    audit_mismatches_: Sequence[str] = (),
) -> str:
    """The whole page (see :func:`dpsynth.report.build_report`)."""
    from dpsynth import __version__

    res = dict(results or {})
    when = generated_at or datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    evaluated = bool(res) or (real is not None and synthetic is not None and domain is not None)
    sections: list[tuple[str, str, Callable[[], str]]] = [
        ("glance", "At a glance", lambda: _glance(privacy, res)),
        ("privacy", "Privacy guarantee", lambda: _privacy_section(privacy)),
        ("fidelity", "Fidelity", lambda: _fidelity_section(res, real, synthetic, domain)),
        ("utility", "Utility", lambda: _utility_section(res)),
        ("discriminability", "Discriminability", lambda: _detection_section(res)),
        ("dcr", "Distance to closest record", lambda: _dcr_section(res)),
        ("audit", "Privacy audit", lambda: _audit_section(audit, audit_mismatches_)),
    ]
    nav = "".join(f'<a href="#{sid}">{e(name)}</a>' for sid, name, _ in sections)
    body: list[str] = []
    with track("Drawing the report", total=len(sections)) as update:
        for i, (sid, name, render) in enumerate(sections):
            if sid == "fidelity":
                body.append(_raw_rows_callout(res, real_label, evaluated))
            body.append(f'<section id="{sid}"><h2>{e(name)}</h2>{render()}</section>')
            update(i + 1)
    banner = ""
    if privacy.seeded:
        banner = (
            '<div class="banner" role="alert"><strong>NOT FOR RELEASE</strong>'
            "<span>The noise of this fit came from a seed: anyone with the seed can reproduce it, "
            "so the guarantee below does not hold. Use seeded fits for research only; refit "
            "without a seed before releasing anything.</span></div>"
        )
    sub = f'<p class="subtitle">{e(subtitle)}</p>' if subtitle else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="dpsynth {e(__version__)}">
<title>{e(title)}</title>
<style>{CSS}</style>
</head>
<body>
{banner}
<header class="hero">
  <div class="wrap">
    <p class="kicker">dpsynth · differentially private synthetic data</p>
    <h1>{e(title)}</h1>
    {sub}
    <p class="meta">Generated {e(when)} · dpsynth {e(__version__)}</p>
  </div>
</header>
<nav class="toc"><div class="wrap">{nav}</div></nav>
<main class="wrap">
{"".join(body)}
</main>
<footer class="wrap">
  <p>Only the privacy section describes the release: the model and the synthetic table are
  (ε, δ)-differentially private as stated there. Every other section was computed from raw
  real rows for the data steward's eyes; publishing it would disclose facts about those rows.</p>
</footer>
</body>
</html>
"""


def _raw_rows_callout(res: Mapping[str, Result], real_label: str | None, evaluated: bool) -> str:
    splits = {r.real_split for r in res.values()}
    if real_label:
        what = e(real_label)
    elif splits & {"train", "train+holdout"} and splits & {"holdout", "train+holdout"}:
        what = e(_SPLIT_WORDS["train"] + " and " + _SPLIT_WORDS["holdout"])
    elif len(splits) == 1:
        (split,) = splits
        what = e(_SPLIT_WORDS.get(split, split))
    else:
        what = "the real table"
    if not evaluated:
        return (
            '<div class="callout info"><strong>No evaluation in this report.</strong> '
            "The sections below are empty: pass the real and synthetic tables to evaluate the release.</div>"
        )
    return (
        '<div class="callout raw"><strong>The sections below read the real data and are not part of '
        f"the DP release.</strong> They compare the synthetic table with {what}. "
        f"{e(RAW_ROWS_NOTE)}</div>"
    )


def _card(label: str, value: str, sub: str = "", *, tone: str = "", href: str = "") -> str:
    """A big-number card; ``label``/``sub`` are HTML already escaped by the caller."""
    inner = (f'<div class="card-label">{label}</div><div class="card-value">{value}</div>'
             f'<div class="card-sub">{sub}</div>')
    cls = f"card {tone}".strip()
    if href:
        return f'<a class="{cls}" href="#{e(href)}">{inner}</a>'
    return f'<div class="{cls}">{inner}</div>'


def _scale(value: float, lo: float, hi: float, *, best: float, tone: str = "") -> str:
    """A small horizontal scale from ``lo`` to ``hi`` with the value and the best value marked."""
    if not (math.isfinite(value) and math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        return ""
    pos = min(max((value - lo) / (hi - lo), 0.0), 1.0) * 100
    bpos = min(max((best - lo) / (hi - lo), 0.0), 1.0) * 100
    return (f'<div class="scale {tone}"><span class="best" style="left:{bpos:.1f}%"></span>'
            f'<span class="dot" style="left:{pos:.1f}%"></span></div>'
            f'<div class="scale-ends"><span>{fmt(lo)}</span><span>{fmt(hi)}</span></div>')


# -- at a glance -------------------------------------------------------------------------------
def _glance(p: PrivacyReport, res: Mapping[str, Result]) -> str:
    cards = [
        _card("Privacy", f"ε = {e(fmt(p.epsilon))}",
              f"at δ = {e(fmt_small(p.delta))}"
              + (f" · μ = {e(fmt(p.mu))}" if p.mu is not None else "")
              + (" · <b>seeded: not for release</b>" if p.seeded else ""),
              tone="privacy" + (" alert" if p.seeded else ""), href="privacy"),
    ]
    tvd = res.get("marginal_tvd_2way") or res.get("marginal_tvd_1way")
    if tvd is not None:
        k = _details(tvd).get("k", "")
        cards.append(_card("Fidelity", e(fmt3(tvd.value)),
                           f"mean TVD of {e(k)}-way marginals (0 is identical)"
                           + _scale(tvd.value, 0.0, 1.0, best=0.0), href="fidelity"))
    util = _utility_result(res)
    if util is not None:
        score = _details(util).get("headline_score", "score")
        cards.append(_card("Utility", f"{e(fmt3(util.value))} <small>vs {e(fmt3(util.reference))}</small>",
                           f"{e(score_name(score))}: trained on synthetic vs on real",
                           href="utility"))
    det = res.get("detection_auc")
    if det is not None:
        cards.append(_card("Discriminability", e(fmt3(det.value)),
                           "detection AUC (0.5: indistinguishable)"
                           + _scale(det.value, 0.0, 1.0, best=0.5), href="discriminability"))
    dcr = res.get("dcr_share")
    if dcr is not None:
        cards.append(_card("Closest records", e(fmt3(dcr.value)),
                           "share closer to train than hold-out (0.5 ideal; a heuristic)"
                           + _scale(dcr.value, 0.0, 1.0, best=0.5), href="dcr"))
    if not res:
        cards.append(_card("Evaluation", "not run", "no real/synthetic comparison in this report"))
    return f'<div class="cards">{"".join(cards)}</div>'


# -- privacy -----------------------------------------------------------------------------------
def _privacy_section(p: PrivacyReport) -> str:
    used = p.epsilon / p.budget_epsilon if p.budget_epsilon else float("nan")
    mu_txt = e(fmt(p.mu)) if p.mu is not None else "—"
    kappa_txt = e(fmt(p.kappa)) if p.kappa is not None else "—"
    gdp_note = ("every release is Gaussian, so the composition is exactly μ-GDP"
                if p.mu is not None else
                "not defined: some releases are not Gaussian (e.g. the exponential mechanism)")
    cards = [
        _card("ε at δ", e(fmt(p.epsilon, 4)), f"δ = {e(fmt_small(p.delta))} · budget ε = {e(fmt(p.budget_epsilon, 4))}",
              tone="privacy"),
        _card("zCDP ρ", e(fmt(p.rho, 4)),
              "zero-concentrated DP; adds up over releases" if p.rho is not None else
              "not defined: some releases have no zCDP bound (ε comes from privacy-loss distributions)"),
        _card("Gaussian DP μ", mu_txt, e(gdp_note)),
        _card("Separation κ", kappa_txt,
              "largest gap between the trade-off curve and random guessing (0 is perfect)"
              if p.kappa is not None else "defined where μ is"),
    ]
    if p.epsilon_gdp is not None:
        cards.append(_card("ε at δ, exact PLD", e(fmt(p.epsilon_gdp, 4)),
                           "ε(δ) of the exact privacy-loss distribution of the releases"))
    budget_bar = ""
    if math.isfinite(used):
        pct = min(used, 1.0) * 100
        budget_bar = (
            f'<div class="budget"><div class="budget-label">Budget used: <b>{e(fmt(used * 100, 3))}%</b> '
            f"of ε = {e(fmt(p.budget_epsilon, 4))}</div>"
            f'<div class="budget-track"><span style="width:{pct:.1f}%"></span></div></div>'
        )
    curve = plots.tradeoff_plot(epsilon=p.epsilon, delta=p.delta, mu=p.mu, kappa=p.kappa, tradeoff=p.tradeoff)
    which = ("the numerical curve of the exact privacy-loss distribution of every release (the dotted "
             "line is the weaker (ε, δ) bound)" if p.tradeoff else
             f"the μ-GDP curve with μ = {e(fmt(p.mu))} (the dotted line is the weaker (ε, δ) bound it implies)"
             if p.mu is not None else
             f"the (ε, δ)-DP curve with ε = {e(fmt(p.epsilon))}, δ = {e(fmt_small(p.delta))}, "
             "because μ is not defined for this fit")
    explain = f"""
<div class="two">
  <figure class="fig square">{curve}<figcaption>f-DP trade-off curve: {which}.</figcaption></figure>
  <div class="prose">
    <h3>What the guarantee means</h3>
    <p>Picture an attacker who sees the synthetic data (or the model) and tries to decide whether one
    particular person's row was in the input. Whatever test they use, if it raises a false alarm with
    probability α it must miss with probability at least f(α), the purple curve.</p>
    <p>The dashed grey line, 1 − α, is what guessing at random achieves. The closer the curve hugs that
    line, the less the release reveals about anyone; the shaded area is the most an attacker can gain.</p>
    <p>The guarantee holds for add/remove-one-row neighbouring and for every person at once, whatever
    the attacker knows about the others. It covers the model and everything sampled from it; it does
    not cover the evaluation sections below.</p>
    {budget_bar}
  </div>
</div>"""
    n_steps = len({x.step for x in p.ledger})
    n_releases = sum(x.count for x in p.ledger)
    return (f'<p class="lead">The fit is <b>(ε = {e(fmt(p.epsilon, 4))}, δ = {e(fmt_small(p.delta))})'
            "-differentially private</b> under add/remove-one-row neighbouring. It consumed "
            f"{n_releases} noisy answer{'s' if n_releases != 1 else ''} in {n_steps} "
            f"step{'s' if n_steps != 1 else ''}, all charged to one accountant.</p>"
            f'<div class="cards">{"".join(cards)}</div>{explain}'
            f"<h3>Ledger: every noisy answer the fit consumed</h3>{_ledger(p)}{_notes(p)}")


def _ledger(p: PrivacyReport) -> str:
    if not p.ledger:
        return '<p class="muted">The ledger is empty: nothing was released.</p>'
    steps: dict[str, list[Any]] = {}
    for entry in p.ledger:
        steps.setdefault(entry.step, []).append(entry)
    # Shares of ρ only mean something when every release has a zCDP cost; releases without
    # one (Poisson-subsampled Gaussian steps) are composed with privacy-loss distributions.
    by_rho = all(entry.rho is not None for entry in p.ledger)
    total = math.fsum(float(entry.rho or 0.0) for entry in p.ledger) or 1.0
    stack = []
    rows = []
    for i, (step, entries) in enumerate(steps.items()):
        color = _STEP_COLORS[i % len(_STEP_COLORS)]
        step_rhos = [entry.rho for entry in entries]
        step_by_rho = all(r is not None for r in step_rhos)
        rho = math.fsum(float(r) for r in step_rhos if r is not None)
        share = rho / total
        releases = sum(x.count for x in entries)
        mechs = ", ".join(dict.fromkeys(x.mechanism.split(",")[0] for x in entries))
        if by_rho:
            stack.append(f'<span style="width:{share * 100:.2f}%;background:{color}" title="{e(step)}"></span>')
            share_html = (f'<span class="share"><span class="share-track"><span style="width:{share * 100:.1f}%;'
                          f'background:{color}"></span></span>{share:.0%}</span>')
        else:
            share_html = '<span class="share muted">PLD-accounted</span>' if not step_by_rho else '<span></span>'
        rho_html = f"ρ = {e(fmt(rho, 3))}" if step_by_rho else "no zCDP bound"
        detail_rows = "".join(
            f"<tr><td>{e(x.description) or '—'}</td><td>{e(x.mechanism)}</td><td class='num'>{e(fmt(x.noise_scale, 4))}</td>"
            f"<td class='num'>{x.count}</td><td class='num'>{e(fmt(x.rho, 4))}</td>"
            f"<td class='num'>{e(fmt(x.mu, 4)) if x.mu is not None else '—'}</td>"
            f"<td class='num'>{e(fmt_small(x.delta)) if x.delta else '0'}</td></tr>"
            for x in entries
        )
        rows.append(f"""
<details class="step">
  <summary>
    <span class="swatch" style="background:{color}"></span>
    <span class="step-name">{e(step)}</span>
    <span class="step-mech">{e(mechs)}</span>
    <span class="num">{len(entries)} charge{'s' if len(entries) != 1 else ''}</span>
    <span class="num">{releases} release{'s' if releases != 1 else ''}</span>
    <span class="num">{rho_html}</span>
    {share_html}
  </summary>
  <div class="table-wrap"><table>
    <thead><tr><th>what was measured</th><th>mechanism</th><th class="num">noise scale</th><th class="num">releases</th>
    <th class="num">ρ</th><th class="num">μ</th><th class="num">δ₀</th></tr></thead>
    <tbody>{detail_rows}</tbody>
  </table></div>
</details>""")
    if by_rho:
        head = (f'<div class="stack" aria-label="share of ρ by step">{"".join(stack)}</div>'
                '<p class="muted small">Share of the spent ρ by step. Open a step to see each charge.</p>')
    else:
        head = ('<p class="muted small">Some releases have no zCDP bound; the accountant composed them with '
                "privacy-loss distributions, so the budget is not split into shares of ρ. Open a step to see "
                "each charge.</p>")
    return f'{head}<div class="ledger">{"".join(rows)}</div>'


def _notes(p: PrivacyReport) -> str:
    if not p.notes:
        return ""
    items = "".join(f"<li>{e(n)}</li>" for n in p.notes)
    return f'<h3>Notes</h3><ul class="notes">{items}</ul>'


# -- fidelity ----------------------------------------------------------------------------------
def _metric_row(r: Result, label: str) -> str:
    ci = f"[{fmt3(r.ci[0])}, {fmt3(r.ci[1])}]" if r.ci is not None else ""
    lo = r.min_value if math.isfinite(r.min_value) else 0.0
    hi = r.max_value if math.isfinite(r.max_value) else max(1.0, r.value if math.isfinite(r.value) else 1.0)
    note = f'<div class="muted small">{e(r.note)}</div>' if r.note else ""
    return (f"<tr><td><b>{e(label)}</b>{note}</td><td class='num big'>{e(fmt3(r.value))}</td>"
            f"<td class='num'>{e(ci)}</td><td class='num'>{e(fmt3(r.best_value))}</td>"
            f"<td>{e('lower is better' if r.goal == 'minimize' else 'higher is better')}</td>"
            f"<td class='scale-cell'>{_scale(r.value, lo, hi, best=r.best_value)}</td></tr>")


_FIDELITY_LABELS = {
    "marginal_tvd_1way": "1-way marginals: mean TVD",
    "marginal_tvd_2way": "2-way marginals: mean TVD",
    "marginal_tvd_3way": "3-way marginals: mean TVD",
    "ks_statistic": "Kolmogorov–Smirnov (numeric columns)",
    "wasserstein": "Wasserstein, range-normalised (numeric columns)",
    "association_difference": "Association matrix: mean |difference|",
    "range_query_error": "Range queries: mean |difference| of fractions",
}


def _fidelity_section(
    res: Mapping[str, Result], real: pd.DataFrame | None, synthetic: pd.DataFrame | None, domain: Domain | None
) -> str:
    parts: list[str] = []
    rows = [_metric_row(res[k], lbl) for k, lbl in _FIDELITY_LABELS.items() if k in res]
    if rows:
        parts.append('<div class="table-wrap"><table class="metrics"><thead><tr><th>metric</th><th class="num">value</th>'
                     '<th class="num">95% CI</th><th class="num">best</th><th>goal</th><th>on its range</th></tr></thead>'
                     f'<tbody>{"".join(rows)}</tbody></table></div>')
    tvds = {int(_details(r).get("k", 0)): _details(r).get("tvd", []) for name, r in res.items()
            if name.startswith("marginal_tvd_") and _details(r).get("tvd")}
    if tvds:
        parts.append("<h3>Marginal errors</h3>")
        parts.append(f'<figure class="fig wide">{plots.marginal_error_plot(tvds)}<figcaption>Total variation '
                     "distance between the real and synthetic distribution of every marginal (each dot is one "
                     "set of columns). Larger sets are harder to get right.</figcaption></figure>")
        parts.append(_worst_marginals(res))
    parts.append(_per_column_section(res, real, synthetic, domain))
    assoc = res.get("association_difference")
    if assoc is not None and _details(assoc).get("columns"):
        d = _details(assoc)
        measures = sorted({m for row in d.get("measure", []) for m in row if m})
        parts.append("<h3>Associations between columns</h3>")
        parts.append(f'<figure class="fig wide">{plots.association_heatmaps(d["columns"], d["real"], d["synthetic"], d["abs_difference"])}'
                     f"<figcaption>Association of every pair of columns ({e(', '.join(measure_name(m) for m in measures))}) "
                     "in the real and synthetic tables, and their absolute difference.</figcaption></figure>")
        worst = d.get("worst_pairs") or []
        if worst:
            trs = "".join(
                f"<tr><td>{e(w['pair'][0])} × {e(w['pair'][1])}</td><td>{e(measure_name(w.get('measure', '')))}</td>"
                f"<td class='num'>{e(fmt3(w.get('real')))}</td><td class='num'>{e(fmt3(w.get('synthetic')))}</td></tr>"
                for w in worst[:8]
            )
            parts.append('<details class="more"><summary>Pairs with the largest difference</summary><div class="table-wrap">'
                         '<table><thead><tr><th>pair</th><th>measure</th><th class="num">real</th><th class="num">synthetic</th>'
                         f"</tr></thead><tbody>{trs}</tbody></table></div></details>")
    rq = res.get("range_query_error")
    if rq is not None and _details(rq).get("real"):
        d = _details(rq)
        parts.append("<h3>Range queries</h3>")
        parts.append(f'<div class="two narrow-left"><figure class="fig">{plots.range_query_plot(d["real"], d["synthetic"])}</figure>'
                     '<div class="prose"><p>Random 1- to 3-column range queries (“age between 30 and 45 and '
                     "income &gt; 50K”): the fraction of rows each selects in the real table against the synthetic "
                     f"one. Mean absolute difference: <b>{e(fmt3(rq.value))}</b>.</p></div></div>")
    if not parts or all(not p for p in parts):
        return '<p class="muted">Not evaluated.</p>'
    return "".join(parts)


def _worst_marginals(res: Mapping[str, Result]) -> str:
    trs = []
    for name in ("marginal_tvd_1way", "marginal_tvd_2way", "marginal_tvd_3way"):
        r = res.get(name)
        if r is None:
            continue
        for w in (_details(r).get("worst") or [])[:5]:
            cols = " × ".join(e(c) for c in w.get("marginal", []))
            trs.append(f"<tr><td>{cols}</td><td class='num'>{e(fmt3(w.get('tvd')))}</td></tr>")
    if not trs:
        return ""
    return ('<details class="more"><summary>Marginals with the largest error</summary><div class="table-wrap"><table>'
            f'<thead><tr><th>columns</th><th class="num">TVD</th></tr></thead><tbody>{"".join(trs)}</tbody>'
            "</table></div></details>")


def _per_column_section(
    res: Mapping[str, Result], real: pd.DataFrame | None, synthetic: pd.DataFrame | None, domain: Domain | None
) -> str:
    if real is None or synthetic is None or domain is None:
        return ""
    one_way: dict[str, float] = {}
    r1 = res.get("marginal_tvd_1way")
    if r1 is not None:
        d = _details(r1)
        for cols, v in zip(d.get("marginals", []), d.get("tvd", []), strict=False):
            if cols and v is not None:
                one_way[str(cols[0])] = float(v)
    per_col: dict[str, dict[str, Any]] = {}
    for key in ("ks_statistic", "wasserstein"):
        r = res.get(key)
        if r is not None:
            for c, v in (_details(r).get("per_column") or {}).items():
                per_col.setdefault(c, {})[key] = v.get("value") if isinstance(v, dict) else v
    cols = [c for c in domain if c.name in real.columns and c.name in synthetic.columns]
    shown = cols[:MAX_COLUMN_PLOTS]
    tiles = []
    for c in shown:
        badges = []
        if c.name in one_way:
            badges.append(f'<span class="badge">TVD {e(fmt3(one_way[c.name]))}</span>')
        if "ks_statistic" in per_col.get(c.name, {}):
            badges.append(f'<span class="badge">KS {e(fmt3(per_col[c.name]["ks_statistic"]))}</span>')
        if "wasserstein" in per_col.get(c.name, {}):
            badges.append(f'<span class="badge">W₁ {e(fmt3(per_col[c.name]["wasserstein"]))}</span>')
        miss_r, miss_s = float(real[c.name].isna().mean()), float(synthetic[c.name].isna().mean())
        if miss_r > 0 or miss_s > 0:
            badges.append(f'<span class="badge miss" title="share of missing values, real / synthetic">'
                          f"missing {miss_r:.1%} / {miss_s:.1%}</span>")
        tiles.append(
            f'<figure class="tile"><figcaption><span class="col-name" title="{e(c.name)}">{e(c.name)}</span>'
            f'<span class="kind">{e(c.kind)}</span>{"".join(badges)}</figcaption>'
            f"{plots.column_plot(c, real[c.name], synthetic[c.name])}</figure>"
        )
    more = ""
    if len(cols) > len(shown):
        more = f'<p class="muted small">{len(cols) - len(shown)} more columns not drawn.</p>'
    return ("<h3>Column by column</h3>"
            '<p class="muted small">Share of rows in each category or bin: '
            '<span class="key real"></span> real · <span class="key synth"></span> synthetic. '
            "Bins follow the public domain; where numeric bins differ in width the plot shows densities "
            "(share per unit, so areas are shares), and a point mass far taller than the rest is cut at "
            "the top (▲) and labelled with its shares.</p>"
            f'<div class="tiles">{"".join(tiles)}</div>{more}')


# -- utility -----------------------------------------------------------------------------------
def _utility_result(res: Mapping[str, Result]) -> Result | None:
    return res.get("tstr_classification") or res.get("tstr_regression")


def _utility_section(res: Mapping[str, Result]) -> str:
    r = _utility_result(res)
    if r is None:
        return ('<p class="muted">Not evaluated: utility needs a target column (declare <code>target</code> in the '
                "metadata or pass <code>--target</code>).</p>")
    d = _details(r)
    score = score_name(d.get("headline_score", "score"))
    # ROC AUC starts at 0.5 (chance): compare the lift over chance, not the raw scores.
    floor = 0.5 if d.get("headline_score") == "roc_auc" else 0.0
    ratio = float("nan")
    if r.reference is not None and math.isfinite(r.value) and math.isfinite(r.reference) and r.reference > floor:
        ratio = (r.value - floor) / (r.reference - floor)
    test = {"holdout": "a hold-out table", "real": "a held-back part of the real table"}.get(
        str(d.get("test_table")), str(d.get("test_table", "real rows")))
    warn = "".join(f'<div class="callout warn">{e(w)}</div>' for w in d.get("warnings", []) or [])
    fig = plots.utility_plot(d["bars"]) if d.get("bars") else ""
    cards = [
        _card(f"TSTR {e(score)}", e(fmt3(r.value)), "train on synthetic, test on real", tone="synth"),
        _card(f"TRTR {e(score)}", e(fmt3(r.reference)), "train on real, test on real", tone="real"),
    ]
    if math.isfinite(ratio):
        kept = "of the real data's lift over chance (AUC 0.5) kept" if floor else "of the real data's score kept"
        cards.append(_card("Synthetic vs real", f"{ratio:.0%}", kept))
    return (f'<p class="lead">Can a model trained on the synthetic table predict <b>{e(d.get("target", ""))}</b> '
            f"on real rows as well as one trained on real rows? Both are tested on {e(test)}.</p>"
            f'<div class="cards">{"".join(cards)}</div>{warn}'
            f'<figure class="fig wide">{fig}<figcaption>Scores per model ({e(", ".join(d.get("models", {}) or {}))}): '
            "blue trained on real rows, orange on synthetic rows.</figcaption></figure>")


# -- discriminability ------------------------------------------------------------------------
def _detection_section(res: Mapping[str, Result]) -> str:
    r = res.get("detection_auc")
    if r is None:
        return '<p class="muted">Not evaluated.</p>'
    d = _details(r)
    ci = r.ci
    ci_txt = f" (95% CI {fmt3(ci[0])}–{fmt3(ci[1])})" if ci is not None else ""
    gauge = plots.gauge_plot(
        r.value, ci, ideal=0.5, xlim=(0.0, 1.0), label="detection ROC AUC",
        points=[float(x) for x in d.get("fold_auc", []) if x is not None],
        zones=((0.5, 0.6, "#16a34a"), (0.6, 0.8, "#ca8a04"), (0.8, 1.0, "#dc2626")),
    )
    roc = d.get("roc_curve") or {}
    roc_fig = plots.roc_plot(roc["fpr"], roc["tpr"]) if roc.get("fpr") else ""
    note = f'<p class="muted small">{e(r.note)}</p>' if r.note else ""
    return (f'<p class="lead">A classifier ({e(d.get("classifier", "gradient boosting"))}, '
            f"{e(d.get('n_splits', ''))}-fold cross-validation) is trained to tell real rows from synthetic ones. "
            f"Its ROC AUC is <b>{e(fmt3(r.value))}</b>{e(ci_txt)}: 0.5 means it cannot tell them apart, 1 means "
            "it always can.</p>"
            f'<figure class="fig wide gauge">{gauge}<figcaption>Detection AUC with its 95% confidence interval; grey '
            "dots are the cross-validation folds; the green line is 0.5.</figcaption></figure>"
            f'<div class="two narrow-left"><figure class="fig">{roc_fig}</figure><div class="prose">'
            "<p>The ROC curve of the detector: the further it bows above the diagonal, the more easily a "
            "synthetic row gives itself away. Columns the generator models poorly are usually the reason; "
            "the fidelity section shows which.</p>"
            f"{note}</div></div>")


# -- distance to closest record -------------------------------------------------------------
def _dcr_section(res: Mapping[str, Result]) -> str:
    r = res.get("dcr_share")
    if r is None:
        return ('<p class="muted">Not evaluated: distance to closest record needs a hold-out table '
                "(real rows the generator never saw).</p>")
    d = _details(r)
    gauge = plots.gauge_plot(r.value, r.ci, ideal=0.5, xlim=(0.0, 1.0),
                             label="share of synthetic rows closer to the training table than to the hold-out")
    series = {
        "synthetic → train": d.get("dcr_synthetic_to_train") or [],
        "synthetic → hold-out": d.get("dcr_synthetic_to_holdout") or [],
        "hold-out → train": d.get("dcr_holdout_to_train") or [],
    }
    quantile_fig = plots.dcr_plot(d.get("quantiles") or [], series) if d.get("quantiles") else ""
    copies = d.get("exact_copies_of_train")
    base = d.get("holdout_exact_matches_in_train")
    return (
        '<div class="callout heuristic"><strong>A heuristic, not a privacy guarantee.</strong> '
        "Distance to closest record can miss real leakage and can flag none where there is some; the "
        "guarantee is the DP statement in the privacy section.</div>"
        f'<p class="lead">Share of synthetic rows that lie closer to a training row than to any hold-out row: '
        f"<b>{e(fmt3(r.value))}</b>. About 0.5 is what a generator that never saw the training rows would "
        "give; well above 0.5 suggests it copies them.</p>"
        f'<figure class="fig wide gauge">{gauge}</figure>'
        f'<div class="two narrow-left"><figure class="fig">{quantile_fig}</figure><div class="prose">'
        f"<p>Exact copies of a training row: <b>{e(fmt3(copies))}</b> of synthetic rows, against "
        f"<b>{e(fmt3(base))}</b> of hold-out rows that happen to equal a training row (the rate at which "
        "real people share a row by chance).</p>"
        f'<p class="muted small">{e(r.note)}</p></div></div>'
    )


# -- audit -------------------------------------------------------------------------------------
def _audit_section(audit: Any, mismatches: Sequence[str] = ()) -> str:
    if audit is None:
        return ('<div class="slot"><div class="slot-title">Not run</div>'
                "<p>No empirical privacy audit (membership-inference attacks, an empirical lower bound on ε) "
                "was run for this report. The guarantee in the privacy section does not depend on one; an "
                "audit checks the implementation against it.</p></div>")
    summary = ""
    if hasattr(audit, "summary") and callable(audit.summary):
        summary = f'<p class="lead">{e(audit.summary())}</p>'
    doc: Any = audit.to_dict() if hasattr(audit, "to_dict") and callable(audit.to_dict) else audit
    if isinstance(doc, Mapping) and doc.get("kind") == "dpsynth-audit":
        return _audit_report(doc, mismatches)
    if isinstance(doc, Mapping) and doc.get("kind") == "dpsynth-worst-case-audit":
        return _worst_case_report(doc)
    if isinstance(doc, Mapping):
        rows = "".join(
            f"<tr><th>{e(k)}</th><td>{_audit_value(v)}</td></tr>" for k, v in doc.items()
        )
        return f'{summary}<div class="table-wrap"><table class="kv"><tbody>{rows}</tbody></table></div>'
    return f"{summary}<p>{e(doc)}</p>" if not summary else summary


_VERDICT_TONE = {"violation": "bad", "consistent": "good", "inconclusive": "warn"}
_VERDICT_WORDS = {
    "violation": "an attack did better than the claimed guarantee allows: the claim is false "
                 "(a bug in the generator or its accounting), with the audit's confidence",
    "consistent": "no attack came near the claimed guarantee, the games were enough to tell, and the same "
                  "attacks caught a non-private release (the positive control)",
    "inconclusive": "no attack beat the claim, but too few games were played to call the claim confirmed",
}


def _num(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def _ident(name: object) -> str:
    """An identifier (``groundhog_histogram``) that wraps after underscores, never mid-word."""
    return "_<wbr>".join(e(part) for part in str(name).split("_"))


_SETTING_WORDS = {
    "generator": "generator audited", "params": "its parameters", "epsilon": "claimed ε", "delta": "claimed δ",
    "attacks": "audits run", "mia_attacks": "membership attacks", "games": "membership games per target",
    "targets": "target choice", "n_targets": "target records", "m": "training rows per game",
    "n_synth": "synthetic rows per game", "n_shadows": "shadow fits per target", "recon_games": "reconstruction games",
    "recon_rows": "training rows per reconstruction game", "recon_sizes": "synthetic rows (reconstruction)",
    "secret": "secret column", "quasi_identifiers": "quasi-identifiers", "alpha": "significance level",
    "population_rows": "population rows", "random_state": "seed of the games",
    "data_fingerprint": "audited rows", "control": "positive control (non-private resample)",
    "completed_from_rows": "categories or bounds completed from the audited rows",
}

#: Settings whose value is private and never shown: they are described instead.
_HIDDEN_SETTINGS = {
    "data_fingerprint": "identified by a SHA-256 fingerprint kept in the audit file (not shown: it "
                        "identifies the table exactly)",
}


def _setting_value(v: Any) -> str:
    if v is None:
        return '<span class="muted">default</span>'
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int | float):
        return e(fmt(v, 4)) if isinstance(v, float) else e(f"{v:,}")
    if isinstance(v, list | tuple):
        return ", ".join(_setting_value(x) for x in v) or '<span class="muted">none</span>'
    if isinstance(v, Mapping):
        return ", ".join(f"{_ident(k)} = {_setting_value(x)}" for k, x in v.items()) or '<span class="muted">defaults</span>'
    return _ident(v)


def _audit_settings(settings: Mapping[str, Any], seconds: float) -> str:
    """The audit's settings as a readable two-column table (not raw JSON)."""
    rows = [f"<tr><th>{e(_SETTING_WORDS.get(str(k), str(k)))}</th>"
            f"<td>{e(_HIDDEN_SETTINGS[str(k)]) if str(k) in _HIDDEN_SETTINGS else _setting_value(v)}</td></tr>"
            for k, v in settings.items()]
    if math.isfinite(seconds) and seconds > 0:
        rows.append(f"<tr><th>wall time (all runs of this audit)</th><td>{e(fmt(seconds, 3))} s</td></tr>")
    if not rows:
        return ""
    return ('<details class="settings"><summary>Settings of the audit</summary><div class="table-wrap">'
            f'<table class="kv"><tbody>{"".join(rows)}</tbody></table></div></details>')


def audit_mismatches(audit: Any, *, generator: str, params: Mapping[str, Any], epsilon: float,
                     delta: float, data: pd.DataFrame | None = None, domain: Domain | None = None) -> list[str]:
    """What differs between an audit and the model a report describes (empty: it audited this setting).

    Compares the audited generator, its parameters and the claimed (ε, δ) with the model's,
    and, given ``data`` and ``domain``, the audited rows with ``data`` (the report's real
    table) through the audit's private fingerprint
    (:func:`dpsynth.audit.runner.data_fingerprint`). The fingerprint itself never appears in
    a message or on the page.

    Args:
        audit: An audit report or its JSON form.
        generator: The model's generator name.
        params: The model's full parameters (``get_params()``).
        epsilon: The model's ε.
        delta: The model's δ.
        data: The report's real rows (None: the data is not compared).
        domain: How ``data`` is read (needed with ``data``).

    Returns:
        One short clause per difference; an audit of another generator comes first.
    """
    doc: Any = audit.to_dict() if hasattr(audit, "to_dict") and callable(audit.to_dict) else audit
    if not isinstance(doc, Mapping):
        return []
    settings = doc.get("settings") or {}
    out = []
    audited = doc.get("generator", settings.get("generator"))
    other_generator = audited is not None and str(audited) != generator
    if other_generator:
        out.append(f"the audit audited generator {audited!r}, this model is {generator!r}")
    a_eps, a_delta = _num(doc.get("epsilon_claimed", settings.get("epsilon"))), _num(doc.get("delta", settings.get("delta")))
    if math.isfinite(a_eps) and not math.isclose(a_eps, epsilon, rel_tol=1e-6):
        out.append(f"the audit claimed ε = {a_eps:g}, this model ε = {epsilon:g}")
    if math.isfinite(a_delta) and not math.isclose(a_delta, delta, rel_tol=1e-6):
        out.append(f"the audit claimed δ = {a_delta:g}, this model δ = {delta:g}")
    a_params = settings.get("params")
    if isinstance(a_params, Mapping) and not other_generator:
        from dpsynth.synth.registry import create

        try:  # the audited generator's full parameters, defaults included
            full = create(generator, **dict(a_params)).get_params()
        except Exception:  # an unreadable record is itself a mismatch, reported below
            full = dict(a_params)
        differ = sorted(k for k in set(full) | set(params)
                        if k != "random_state" and to_jsonable(full.get(k)) != to_jsonable(params.get(k)))
        if differ:
            out.append(f"the audit ran with other parameters ({', '.join(differ)}) than this model")
    if data is not None and domain is not None:
        out.extend(audit_data_mismatch(doc, data, domain))
    return out


def audit_data_mismatch(audit: Any, data: pd.DataFrame, domain: Domain) -> list[str]:
    """One clause when the audit's rows are not ``data`` (compared by fingerprint), else nothing.

    Args:
        audit: An audit report or its JSON form.
        data: The rows a report describes.
        domain: How ``data`` is read.
    """
    doc: Any = audit.to_dict() if hasattr(audit, "to_dict") and callable(audit.to_dict) else audit
    if not isinstance(doc, Mapping) or doc.get("kind") != "dpsynth-audit":
        return []
    recorded = (doc.get("settings") or {}).get("data_fingerprint")
    if not recorded:
        return ["the audit does not record which rows it was played on (written before audits kept a data "
                "fingerprint), so it cannot be matched to this report's data; rerun the audit to check"]
    from dpsynth.audit.runner import data_fingerprint
    from dpsynth.errors import DpsynthError

    try:
        same = data_fingerprint(data, domain) == str(recorded)
    except DpsynthError:  # the data lacks a column of the domain: not the audited table either
        same = False
    return [] if same else ["the audit was played on other rows than this report's real data "
                            "(their fingerprints differ)"]


def _audit_report(doc: Mapping[str, Any], mismatches: Sequence[str] = ()) -> str:
    """The audit section for a :class:`dpsynth.audit.AuditReport` (or its JSON form)."""
    eps = _num(doc.get("epsilon_claimed"))
    delta = _num(doc.get("delta"))
    verdict = str(doc.get("verdict"))
    mem = doc.get("membership") or None
    rec = doc.get("reconstruction") or None
    settings = doc.get("settings") or {}
    tone = _VERDICT_TONE.get(verdict, "warn")
    cards = [_card("Verdict", f'<span class="verdict {tone}">{e(verdict)}</span>',
                   e(_VERDICT_WORDS.get(verdict, "")), tone="alert" if verdict == "violation" else "")]
    body: list[str] = []
    if mem:
        cards.append(_control_card(doc.get("control")))
        results = dict(mem.get("results") or {})
        if results:
            strongest = max(results.values(), key=lambda r: (_num(r.get("epsilon_lb")), _num(r.get("auc"))))
            cards.append(_card("Empirical ε (lower bound)",
                               f"{e(fmt(_num(strongest.get('epsilon_lb')), 3))} <small>vs ε = {e(fmt(eps, 3))}</small>",
                               f"{e(strongest.get('attack'))}, 95% Clopper–Pearson; above the claim means a violation",
                               tone="privacy"))
            best_auc = max(results.values(), key=lambda r: _num(r.get("auc")))
            cards.append(_card("Strongest membership attack",
                               f"AUC {e(fmt3(_num(best_auc.get('auc'))))}",
                               f"{e(best_auc.get('attack'))}; TPR at 1% FPR {e(fmt3(_num(best_auc.get('tpr_at_1pct_fpr'))))}"
                               + _scale(_num(best_auc.get("auc")), 0.0, 1.0, best=0.5)))
        rows = []
        for r in results.values():
            lo, hi = (r.get("auc_ci") or [None, None])[:2]
            v = str(r.get("verdict"))
            rows.append(
                f"<tr><td>{_ident(r.get('attack'))}</td><td class='num'>{e(fmt3(_num(r.get('auc'))))}</td>"
                f"<td class='num'>{e(fmt3(_num(lo)))}–{e(fmt3(_num(hi)))}</td>"
                f"<td class='num'>{e(fmt3(_num(r.get('tpr_at_1pct_fpr'))))}</td>"
                f"<td class='num'>{e(fmt3(_num(r.get('tpr_at_01pct_fpr'))))}</td>"
                f"<td class='num'>{e(fmt3(_num(r.get('advantage'))))}</td>"
                f"<td class='num'>{e(fmt(_num(r.get('epsilon_lb')), 3))}</td>"
                f"<td class='num'>{e(fmt(_num(r.get('epsilon_lb_bayes')), 3))}</td>"
                f"<td><span class='verdict {_VERDICT_TONE.get(v, 'warn')}'>{e(v)}</span></td></tr>"
            )
        n_games = max((int(_num(r.get("n_games"))) for r in results.values()), default=0)
        k = max(len(results), 1)
        level = 1.0 - _num(next(iter(results.values())).get("alpha")) if results else float("nan")
        curves = {str(r.get("attack")): (r.get("roc_fpr") or [], r.get("roc_tpr") or []) for r in results.values()}
        fig = plots.audit_roc_plot(curves, epsilon=eps, delta=delta) if curves else ""
        body.append(
            "<h3>Membership inference</h3>"
            f"<p>{n_games} games over {len(mem.get('targets') or [])} target record(s) "
            f"({e(settings.get('targets', 'outliers'))}); in each game the generator was refitted on a "
            "training set with or without the target (a fair coin) and the attacks saw only its synthetic output. "
            f"Each attack's intervals and bounds are at {e(fmt(level * 100, 4))}% confidence "
            f"(95% split over {k} attack{'s' if k != 1 else ''}, Bonferroni), so the verdict keeps 95% "
            "whichever attack triggers it.</p>"
            '<div class="table-wrap"><table class="metrics"><thead><tr><th>attack</th><th class="num">AUC</th>'
            '<th class="num">AUC CI</th><th class="num">TPR @ 1% FPR</th><th class="num">TPR @ 0.1% FPR</th>'
            '<th class="num">advantage</th><th class="num">ε ≥ (Clopper–Pearson)</th><th class="num">ε ≥ (Bayes)</th>'
            f"<th>verdict</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
            f'<figure class="fig wide">{fig}<figcaption>Empirical ROC curves of the attacks under the ceiling '
            f"1 − f(α) that the claimed (ε = {e(fmt(eps, 3))}, δ = {e(fmt_small(delta))})-DP guarantee allows "
            "(f: its trade-off curve, as in the privacy section). A curve entering the red region would contradict "
            "the claim; sampling noise alone can push a short curve there, which is why the verdict uses the "
            "confidence bounds in the table, not the curves.</figcaption></figure>"
        )
    if rec:
        by_size = rec.get("by_size") or {}
        sizes = sorted(int(x) for x in by_size)
        methods = list(next(iter(by_size.values())).keys()) if by_size else []
        rows = []
        for size in sizes:
            for name in methods:
                sc = by_size[str(size)][name]
                lo, hi = sc.get("accuracy_ci") or [None, None]
                rows.append(
                    f"<tr><td class='num'>{size:,}</td><td>{e(name.replace('_', ' '))}</td>"
                    f"<td class='num'>{e(fmt(100 * _num(sc.get('accuracy')), 3))}%</td>"
                    f"<td class='num'>{e(fmt(100 * _num(lo), 3))}–{e(fmt(100 * _num(hi), 3))}%</td>"
                    f"<td class='num'>{e(fmt3(_num(sc.get('auc'))))}</td><td class='num'>{int(_num(sc.get('n')))}</td></tr>"
                )
        series: dict[str, Any] = {
            str(name): [(_num(by_size[str(z)][name].get("accuracy")), _num((by_size[str(z)][name].get("accuracy_ci") or [0, 0])[0]),
                    _num((by_size[str(z)][name].get("accuracy_ci") or [0, 0])[1])) for z in sizes]
            for name in methods
        }
        fig = plots.reconstruction_plot(sizes, series) if sizes else ""
        if sizes and "reconstruction" in methods:
            head = by_size[str(sizes[-1])]["reconstruction"]
            cards.append(_card("Reconstruction accuracy", e(f"{100 * _num(head.get('accuracy')):.1f}%"),
                               f"secret '{e(rec.get('secret'))}' of targets with unique quasi-identifiers; 50% is guessing"
                               + _scale(_num(head.get("accuracy")), 0.0, 1.0, best=0.5)))
        qis = ", ".join(str(q) for q in rec.get("quasi_identifiers") or [])
        body.append(
            "<h3>Attribute inference by linear reconstruction</h3>"
            f"<p>The adversary knows every training record's quasi-identifiers ({e(qis)}) and wants the binary "
            f"secret <code>{e(rec.get('secret'))} = {e(rec.get('secret_value'))}</code>. Targets are records with "
            "unique quasi-identifiers whose secret was redrawn at random before the fit, so guessing gets 50%. "
            "The attack estimates every query \u201ctwo quasi-identifier values and secret = 1\u201d from the synthetic data "
            "and solves a linear programme for all secrets at once (Annamalai, Gadotti, Rocher 2024); a random forest "
            "trained on the synthetic rows and the closest synthetic record are the baselines. "
            f"{int(_num(rec.get('games')))} games of {int(_num(rec.get('n_rows')))} training rows, "
            f"{int(_num(rec.get('targets')))} targets in all; intervals are exact binomial (Clopper–Pearson).</p>"
            f'<div class="two narrow-left"><figure class="fig">{fig}</figure>'
            '<div class="table-wrap"><table class="metrics"><thead><tr><th class="num">synthetic rows</th><th>method</th>'
            '<th class="num">accuracy</th><th class="num">95% CI</th><th class="num">AUC</th><th class="num">targets</th>'
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div></div>"
        )
    gen = e(doc.get("generator"))
    lead = (f'<p class="lead">The generator <b>{gen}</b> claims (ε = {e(fmt(eps, 4))}, δ = {e(fmt_small(delta))})-DP '
            "per fit. The audit attacks it many times over and asks whether any attack did better than that "
            "claim allows.</p>")
    note = (f'<div class="callout raw">{e(doc.get("note") or "The audit reads raw rows on purpose.")} '
            "An audit can show a claim false; it cannot prove one true: a consistent verdict means these "
            "attacks found nothing, not that nothing can be found.</div>")
    seconds = _num(doc.get("wall_seconds"))
    foot = _audit_settings(settings, seconds)
    warn = "".join(f'<div class="callout warn" role="alert"><b>Mismatch:</b> {e(m)}</div>' for m in mismatches)
    return f'{warn}{lead}<div class="cards">{"".join(cards)}</div>{note}{"".join(body)}{foot}'


def _worst_case_report(doc: Mapping[str, Any]) -> str:
    """The audit section for a worst-case audit (:class:`dpsynth.audit.WorstCaseAudit`)."""
    eps, delta, mu = _num(doc.get("epsilon_claimed")), _num(doc.get("delta")), _num(doc.get("mu_claimed"))
    verdict = str(doc.get("verdict"))
    tone = _VERDICT_TONE.get(verdict, "warn")
    sets = {k: doc.get(k) or {} for k in ("white_box", "black_box")}
    w = sets["white_box"]
    claim = ("a μ-GDP guarantee of the fit" if doc.get("mu_claim") == "gdp"
             else "√(2ρ): the μ of Gaussian mechanisms costing the fit's ρ, a reference (zCDP accounting)")
    cards = [
        _card("Verdict", f'<span class="verdict {tone}">{e(verdict)}</span>', "worst-case pair, white- and black-box",
              tone="alert" if verdict == "violation" else ""),
        _card("Audited μ (white-box)", f"{e(fmt(_num(w.get('mu_lb_bayes')), 3))} <small>vs μ = {e(fmt(mu, 3))}</small>",
              f"Bayesian lower bound; Clopper–Pearson {e(fmt(_num(w.get('mu_lb_cp')), 3))}; claimed: {e(claim)}",
              tone="privacy"),
        _card("Tightness", e(fmt(_num(w.get("tightness_bayes")), 3)),
              f"μ_lb / μ_claimed; black-box {e(fmt(_num(sets['black_box'].get('tightness_bayes')), 3))}"),
    ]
    mu_meas = _num(doc.get("mu_claimed_measurements"))
    if mu_meas > 0 and abs(mu_meas - mu) > 1e-3 * mu:
        cards.append(_card(
            "Tightness (measurements)", e(fmt(_num(doc.get("tightness_measurements")), 3)),
            f"μ_lb / μ = {e(fmt(mu_meas, 3))}, the μ of the Gaussian measurements the white-box attack reads "
            "(the rest of ρ buys selections); a figure of merit, not a verdict",
        ))
    rows: list[str] = []
    curves: dict[str, tuple[Sequence[float], Sequence[float]]] = {}
    for name, b in sets.items():
        label = name.replace("_", "-")
        rows.append(
            f"<tr><td>{e(label)}</td><td class='num'>{e(fmt(_num(b.get('mu_hat')), 3))}</td>"
            f"<td class='num'>{e(fmt(_num(b.get('mu_lb_cp')), 3))}</td><td class='num'>{e(fmt(_num(b.get('mu_lb_bayes')), 3))}</td>"
            f"<td class='num'>{e(fmt(_num(b.get('tightness_bayes')), 3))}</td>"
            f"<td class='num'>{e(fmt(_num(b.get('epsilon_lb_curve')), 3))}</td><td class='num'>{int(_num(b.get('runs')))}</td></tr>"
        )
        fpr = [float(x) for x in b.get("curve_fpr") or []]
        curves[label] = (fpr, [1.0 - float(x) for x in b.get("curve_fnr") or []])
    fig = plots.audit_roc_plot(curves, epsilon=eps, delta=delta) if any(c[0] for c in curves.values()) else ""
    body = (
        f'<p class="lead">The generator <b>{e(doc.get("generator"))}</b> claims (ε = {e(fmt(eps, 4))}, '
        f"δ = {e(fmt_small(delta))})-DP. It was fitted {int(_num(doc.get('runs')))} times on each of two neighbouring "
        "datasets chosen to be hardest to hide: ten rows of zeros over three binary columns, and the same plus one row of "
        "ones. The white-box attack reads every noisy answer the fit released; the black-box one reads only synthetic "
        "rows. Lower bounds are at 95% confidence (split over the two).</p>"
        f'<div class="cards">{"".join(cards)}</div>'
        '<div class="table-wrap"><table class="metrics"><thead><tr><th>features</th><th class="num">μ (estimate)</th>'
        '<th class="num">μ ≥ (Clopper–Pearson)</th><th class="num">μ ≥ (Bayes)</th><th class="num">tightness</th>'
        '<th class="num">ε ≥ (all thresholds)</th><th class="num">runs</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
        f'<figure class="fig wide">{fig}<figcaption>Empirical trade-off of the worst-case attacks (as ROC curves: '
        "1 − type II error against type I error) under the ceiling the claimed (ε, δ) allows.</figcaption></figure>"
        '<div class="callout raw">A worst-case audit shows a claim false when a bound exceeds it; otherwise it shows '
        "how much of the claim these attacks can reach on this pair (tightness), not that no other pair or attack "
        "leaks more.</div>"
    )
    return body


def _control_card(control: Any) -> str:
    """The positive control: the same games against the non-private baseline (resample)."""
    if not isinstance(control, Mapping):
        return _card("Positive control", '<span class="verdict warn">not run</span>',
                     "nothing shows these attacks could find a leak on this data, so the audit cannot read consistent")
    flagged = [str(a) for a in control.get("flagged_by") or []]
    results = dict((control.get("membership") or {}).get("results") or {})
    best: Mapping[str, Any] = max(results.values(), key=lambda r: _num(r.get("epsilon_lb")), default={})
    value = (f'<span class="verdict {"good" if flagged else "warn"}">{"caught" if flagged else "not caught"}</span>'
             f" <small>ε ≥ {e(fmt(_num(best.get('epsilon_lb')), 3))}</small>")
    words = ("the same attacks and games against a non-private release (resampled training rows); "
             + (f"flagged by {e(', '.join(flagged))}, so they had the power to find a leak"
                if flagged else "no attack flagged it: they lack the power to find a leak on this data"))
    return _card("Positive control", value, words, tone="" if flagged else "alert")


def _audit_value(v: Any) -> str:
    if isinstance(v, int | float) and not isinstance(v, bool):
        return e(fmt(v, 4))
    if isinstance(v, str | bool) or v is None:
        return e(v)
    return f"<pre>{e(json.dumps(to_jsonable(v), indent=2))}</pre>"


CSS = """
:root{--ink:#0f172a;--muted:#64748b;--line:#e2e8f0;--bg:#f8fafc;--card:#fff;--privacy:#7c3aed;
--real:#2563eb;--synth:#f97316;--good:#16a34a;--warn:#ca8a04;--bad:#dc2626}
*{box-sizing:border-box}
html{scroll-behavior:smooth}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.55 system-ui,-apple-system,"Segoe UI",
Roboto,"Helvetica Neue",Arial,"DejaVu Sans",sans-serif}
.wrap{max-width:1180px;margin:0 auto;padding:0 28px}
.hero{background:linear-gradient(120deg,#1e1b4b 0%,#4c1d95 55%,#7c3aed 100%);color:#fff;padding:34px 0 30px}
.hero h1{margin:4px 0 6px;font-size:32px;letter-spacing:-.01em;overflow-wrap:anywhere}
.kicker{margin:0;text-transform:uppercase;letter-spacing:.14em;font-size:12px;opacity:.75}
.subtitle{margin:0 0 4px;font-size:17px;opacity:.92;overflow-wrap:anywhere}
.meta{margin:0;font-size:13px;opacity:.7}
.banner{background:repeating-linear-gradient(135deg,#b91c1c 0 22px,#991b1b 22px 44px);color:#fff;
padding:14px 28px;display:flex;gap:18px;align-items:center;justify-content:center;font-size:15px}
.banner strong{font-size:20px;letter-spacing:.12em;white-space:nowrap;border:2px solid #fff;padding:4px 12px;border-radius:6px}
.toc{position:sticky;top:0;z-index:5;background:rgba(255,255,255,.94);backdrop-filter:blur(6px);
border-bottom:1px solid var(--line)}
.toc .wrap{display:flex;gap:4px;flex-wrap:wrap;padding-top:8px;padding-bottom:8px}
.toc a{color:var(--ink);text-decoration:none;font-size:13.5px;padding:5px 11px;border-radius:999px}
.toc a:hover{background:#ede9fe;color:#5b21b6}
section{background:var(--card);border:1px solid var(--line);border-radius:14px;padding:22px 26px 24px;
margin:22px 0;box-shadow:0 1px 2px rgba(15,23,42,.04)}
section>h2{margin:0 0 12px;font-size:22px;letter-spacing:-.01em}
h3{margin:26px 0 10px;font-size:16.5px}
.lead{font-size:15.5px;margin:0 0 14px}
.muted{color:var(--muted)}.small{font-size:13px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(190px,1fr));gap:14px;margin:8px 0 6px}
.card{display:block;background:#fff;border:1px solid var(--line);border-radius:12px;padding:14px 16px;
color:inherit;text-decoration:none;border-top:4px solid #cbd5e1}
a.card:hover{box-shadow:0 4px 14px rgba(15,23,42,.08)}
.card.privacy{border-top-color:var(--privacy)}.card.alert{background:#fef2f2}
.card.real{border-top-color:var(--real)}.card.synth{border-top-color:var(--synth)}
.card-label{font-size:13px;letter-spacing:.02em;color:var(--muted);font-weight:600}
.card-value{font-size:28px;font-weight:700;margin:2px 0 2px;font-variant-numeric:tabular-nums}
.card-value small{font-size:15px;font-weight:500;color:var(--muted)}
.card-sub{font-size:12.5px;color:var(--muted)}
.scale{position:relative;height:8px;border-radius:4px;margin:9px 0 2px;
background:linear-gradient(90deg,#e2e8f0,#cbd5e1)}
.scale .dot{position:absolute;top:50%;width:13px;height:13px;margin:-6.5px 0 0 -6.5px;border-radius:50%;
background:var(--synth);border:2px solid #fff;box-shadow:0 0 0 1px var(--ink)}
.scale .best{position:absolute;top:-3px;bottom:-3px;width:2px;margin-left:-1px;background:var(--good)}
.scale-ends{display:flex;justify-content:space-between;font-size:10.5px;color:var(--muted)}
.two{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:28px;align-items:start;margin-top:14px}
.two.narrow-left{grid-template-columns:minmax(0,2fr) minmax(0,3fr)}
.prose p{margin:0 0 10px}
.fig{margin:10px 0;text-align:center}
.fig svg{width:100%;height:auto;display:block}
.fig.square svg{max-width:470px;margin:0 auto}
.fig.gauge svg{max-width:900px;margin:0 auto}
figcaption{font-size:13px;color:var(--muted);margin-top:6px;text-align:left}
.budget{margin-top:14px}.budget-label{font-size:13.5px;margin-bottom:5px}
.budget-track{height:12px;border-radius:6px;background:#ede9fe;overflow:hidden}
.budget-track span{display:block;height:100%;background:var(--privacy)}
.stack{display:flex;height:16px;border-radius:8px;overflow:hidden;background:#f1f5f9;margin:6px 0 4px}
.stack span{display:block;height:100%}
.ledger{border:1px solid var(--line);border-radius:10px;overflow:hidden}
details.step{border-top:1px solid var(--line)}details.step:first-child{border-top:none}
details.step summary{display:grid;grid-template-columns:14px minmax(140px,1.3fr) minmax(140px,1.4fr) 90px 100px 110px 150px;
gap:12px;align-items:center;padding:10px 14px;cursor:pointer;list-style:none;font-size:14px}
details.step summary::-webkit-details-marker{display:none}
details.step summary:hover{background:#faf5ff}
details.step[open] summary{background:#f5f3ff}
details.step summary .step-name{font-weight:600;font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:13px;overflow-wrap:anywhere}
details.step summary .step-mech{color:var(--muted)}
details.step .table-wrap{padding:4px 14px 12px}
.swatch{width:12px;height:12px;border-radius:3px;display:inline-block}
.share{display:flex;align-items:center;gap:8px;font-variant-numeric:tabular-nums}
.share-track{flex:1;height:8px;background:#f1f5f9;border-radius:4px;overflow:hidden}
.share-track span{display:block;height:100%}
.table-wrap{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:13.5px}
th,td{padding:7px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top;overflow-wrap:break-word}
thead th{font-size:12.5px;letter-spacing:.02em;color:var(--muted);font-weight:600}
td.num,th.num,.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap;overflow-wrap:normal}
td.big{font-size:16px;font-weight:700}
table.metrics td.scale-cell{width:190px;vertical-align:middle}
table.kv th{width:30%;text-transform:none;font-size:13.5px;color:var(--ink)}
pre{margin:0;white-space:pre-wrap;font-size:12px}
details.settings{margin-top:14px}details.settings summary{cursor:pointer;color:var(--muted)}ul.notes{margin:0;padding-left:20px}ul.notes li{margin:4px 0}
.callout{border-radius:12px;padding:14px 18px;margin:22px 0;font-size:14.5px;border:1px solid}
.callout.raw{background:#fff7ed;border-color:#fdba74;color:#7c2d12}
.callout.info{background:#f1f5f9;border-color:#cbd5e1}
.callout.warn{background:#fefce8;border-color:#fde047;margin:10px 0}
.callout.heuristic{background:#fefce8;border-color:#facc15;color:#713f12;margin-top:0}
details.more{margin:8px 0 4px;border:1px solid var(--line);border-radius:10px;padding:8px 14px}
details.more summary{cursor:pointer;font-weight:600;font-size:14px}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:14px}
.tile{margin:0;border:1px solid var(--line);border-radius:10px;padding:10px 10px 4px;background:#fff}
.tile figcaption{margin:0 0 2px;display:flex;gap:6px;align-items:baseline;flex-wrap:wrap;color:var(--ink)}
.tile svg{width:100%;height:auto;display:block}
.col-name{font-weight:700;font-size:14px;overflow-wrap:anywhere}
.kind{font-size:11px;color:var(--muted);text-transform:uppercase;letter-spacing:.06em}
.badge{font-size:11px;background:#f1f5f9;border-radius:999px;padding:1px 8px;color:#334155;margin-left:auto}
.badge+.badge{margin-left:0}
.badge.miss{background:#fef3c7;color:#92400e}
.key{display:inline-block;width:10px;height:10px;border-radius:2px;vertical-align:middle}
.key.real{background:var(--real)}.key.synth{background:var(--synth)}
.slot{border:2px dashed #cbd5e1;border-radius:12px;padding:18px 22px;background:#f8fafc}
.slot-title{font-size:20px;font-weight:700;color:var(--muted);margin-bottom:4px}
.verdict{display:inline-block;border-radius:999px;padding:1px 10px;font-weight:700;font-size:.8em;white-space:nowrap}
.verdict.bad{background:#fee2e2;color:#991b1b}.verdict.good{background:#dcfce7;color:#166534}
.verdict.warn{background:#fef9c3;color:#854d0e}
.fig.wide svg{max-width:1000px;margin:0 auto}
code{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:.92em;background:#f1f5f9;padding:1px 5px;border-radius:4px}
footer{color:var(--muted);font-size:13px;padding-bottom:40px}
@media (max-width:860px){.two,.two.narrow-left{grid-template-columns:1fr}
details.step summary{grid-template-columns:14px 1fr 1fr;}}
@media print{.toc{display:none}section{break-inside:avoid}}
"""
