"""The report's figures, drawn with matplotlib (Agg) and inlined as SVG.

Figures are bare :class:`~matplotlib.figure.Figure` objects rendered by the SVG backend
directly, so nothing here touches pyplot or the user's chosen backend. Every function returns an ``<svg>`` element as a string, ready to paste into the page:
no XML prolog, no DOCTYPE, no metadata block, no comments, and no fixed size (the page's
CSS scales it). Text is drawn as glyph paths, so the page renders the same everywhere and
no string from the data ever appears in the SVG as text. Element ids are salted per figure
so that several figures on one page never share an id.
"""

from __future__ import annotations

import io
import itertools
import math
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from dpsynth.data.domain import Column, category_key
from dpsynth.report._format import fmt_small, score_name

REAL = "#2563eb"
SYNTH = "#f97316"
PRIVACY = "#7c3aed"
GUESS = "#94a3b8"
INK = "#0f172a"
MUTED = "#64748b"
GOOD = "#16a34a"

_counter = itertools.count()

_RC: dict[str, Any] = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 9,
    "axes.edgecolor": "#cbd5e1",
    "axes.labelcolor": INK,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.titlecolor": INK,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e2e8f0",
    "grid.linewidth": 0.6,
    "xtick.color": MUTED,
    "ytick.color": MUTED,
    "legend.frameon": False,
    "svg.fonttype": "path",
    "figure.dpi": 100,
    "image.interpolation": "nearest",
}


def mpl_text(text: object, limit: int | None = 28, *, middle: bool = False) -> str:
    """A label safe for matplotlib: ``$`` cannot start mathtext, long labels are cut.

    ``middle`` cuts in the middle (``categ…ber 12``), which keeps labels that share a
    prefix apart.
    """
    s = str(text)
    if limit is not None and len(s) > limit:
        if middle:
            head = (limit - 1) // 2
            s = s[:head] + "…" + s[len(s) - (limit - 1 - head):]
        else:
            s = s[: limit - 1] + "…"
    return s.replace("$", r"\$")


def wrap_label(text: object, width: int = 14, max_lines: int = 3) -> str:
    """A label broken into lines at spaces, hyphens, underscores or slashes, never mid-word.

    Words are kept whole; only a label longer than ``max_lines`` lines loses its last
    words (shown as ``…``). ``$`` is escaped as in :func:`mpl_text`.
    """
    s = str(text)
    tokens = [t for t in re.split(r"(?<=[\s\-_/])", s) if t]
    lines: list[str] = []
    line = ""
    for tok in tokens:
        if line and len(line) + len(tok.rstrip()) > width:
            lines.append(line.rstrip())
            line = tok.lstrip()
        else:
            line += tok
    if line.strip():
        lines.append(line.rstrip())
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], lines[max_lines - 1] + " …"]
    return "\n".join(lines).replace("$", r"\$")


@contextmanager
def _figure(width: float, height: float, **kwargs: Any) -> Iterator[Figure]:
    """A figure under the report's style; closed afterwards whatever happens."""
    # A bare Figure (no pyplot): no global figure registry, no GUI backend, and the
    # user's own matplotlib backend is left alone.
    with mpl.rc_context(_RC):  # type: ignore[arg-type]
        yield Figure(figsize=(width, height), layout="constrained", **kwargs)


def to_svg(fig: Figure) -> str:
    """Serialise ``fig`` to an inline ``<svg>`` element (see the module docstring)."""
    buf = io.StringIO()
    n = next(_counter)
    # A fixed salt keeps the output reproducible.
    with mpl.rc_context({**_RC, "svg.hashsalt": "dpsynth"}):  # type: ignore[dict-item]
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    # Inline SVGs share the page's id space: prefix every id (glyphs, clip paths, markers)
    # and every reference to one, so that no two figures define the same id.
    ids = set(re.findall(r'\sid="([^"]+)"', text))

    def prefixed(m: re.Match[str]) -> str:
        return f"{m.group(1)}f{n}-{m.group(2)}{m.group(3)}" if m.group(2) in ids else m.group(0)

    text = re.sub(r'(\sid=")([^"]+)(")', prefixed, text)
    text = re.sub(r'(href="#)([^"]+)(")', prefixed, text)
    text = re.sub(r"(url\(#)([^)]+)(\))", prefixed, text)
    # Drop the fixed size; keep the viewBox so the page can scale the figure.
    head_end = text.index(">")
    head = re.sub(r'\s(width|height)="[^"]*"', "", text[:head_end])
    return head + ' preserveAspectRatio="xMidYMid meet" role="img"' + text[head_end:]


# -- privacy ---------------------------------------------------------------------------------
def eps_delta_tradeoff(alpha: np.ndarray, epsilon: float, delta: float) -> np.ndarray:
    """The (ε, δ)-DP trade-off curve f(α) = max(0, 1 − δ − e^ε α, e^{−ε}(1 − δ − α))."""
    e = math.exp(min(epsilon, 700.0))
    return np.maximum.reduce([
        np.zeros_like(alpha),
        1.0 - delta - e * alpha,
        (1.0 - delta - alpha) / e,
    ])


def tradeoff_plot(*, epsilon: float, delta: float, mu: float | None, kappa: float | None,
                  tradeoff: list[list[float]] | None = None) -> str:
    """The f-DP trade-off curve against the random-guessing line 1 − α.

    With ``tradeoff`` (the numerical curve of the exact privacy-loss distribution) that
    curve is drawn; else with μ the μ-GDP curve; else the piecewise-linear (ε, δ)-DP curve.
    The (ε, δ) bound is dotted beside the first two. The legend says which.
    """
    from scipy import stats

    alpha = np.linspace(0.0, 1.0, 801)
    with _figure(4.8, 5.4) as fig:
        ax = fig.add_subplot()
        ax.plot(alpha, 1 - alpha, ls="--", color=GUESS, lw=1.3, label="random guessing: 1 − α")
        exact = tradeoff is not None and len(tradeoff) > 1
        if exact:
            pts = np.asarray(tradeoff, dtype=np.float64)
            curve = np.interp(alpha, pts[:, 0], pts[:, 1])
            label = "f-DP curve of the exact privacy-loss distribution"
        elif mu is not None:
            curve = np.asarray(stats.norm.cdf(stats.norm.ppf(1.0 - alpha) - mu))
            label = f"μ-GDP curve, μ = {mu:.3g}"
        else:
            curve = eps_delta_tradeoff(alpha, epsilon, delta)
            label = f"(ε, δ)-DP curve, ε = {epsilon:.3g}, δ = {fmt_small(delta)}"
        ax.fill_between(alpha, curve, 1 - alpha, where=(1 - alpha) >= curve, color=PRIVACY,
                        alpha=0.12, lw=0, label="an attacker's best edge")
        ax.plot(alpha, curve, color=PRIVACY, lw=2.2, label=label)
        if exact or mu is not None:
            ax.plot(alpha, eps_delta_tradeoff(alpha, epsilon, delta), ls=":", color=PRIVACY, lw=1.2,
                    alpha=0.7, label=f"(ε, δ) = ({epsilon:.3g}, {fmt_small(delta)}) bound")
            if kappa is not None and mu is not None and not exact:
                a_star = float(stats.norm.cdf(-mu / 2.0))
                f_star = float(stats.norm.cdf(stats.norm.ppf(1.0 - a_star) - mu))
                t = (1.0 - a_star - f_star) / 2.0
                ax.annotate("", xy=(a_star + t, f_star + t), xytext=(a_star, f_star),
                            arrowprops={"arrowstyle": "<->", "color": INK, "lw": 1.0})
                ax.text(a_star + t + 0.02, f_star + t + 0.02, f"κ = {kappa:.3g}", color=INK, fontsize=9)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
        ax.set_xlabel("type I error α  (attacker's false alarms)")
        ax.set_ylabel("type II error β  (attacker's misses)")
        fig.legend(loc="outside lower center", fontsize=8, ncols=2)
        return to_svg(fig)


# -- fidelity ----------------------------------------------------------------------------------
def marginal_error_plot(tvds: dict[int, Sequence[float]]) -> str:
    """Distribution of total variation distance per marginal, one row per order k."""
    ks = sorted(tvds)
    rng = np.random.default_rng(0)  # jitter only: a fixed seed keeps the page reproducible
    with _figure(10.5, 0.9 + 0.9 * len(ks)) as fig:
        ax = fig.add_subplot()
        for row, k in enumerate(ks):
            v = np.asarray([x for x in tvds[k] if x is not None and math.isfinite(x)], dtype=float)
            if v.size == 0:
                continue
            y = row + rng.uniform(-0.22, 0.22, v.size)
            size = 26.0 if v.size < 30 else (14.0 if v.size < 300 else 8.0)
            ax.scatter(v, y, s=size, color=REAL, alpha=0.8 if v.size < 300 else 0.5, lw=0)
            ax.boxplot(v, positions=[row], orientation="horizontal", widths=0.6, showfliers=False,
                       patch_artist=True, medianprops={"color": INK, "lw": 1.5},
                       boxprops={"facecolor": "none", "edgecolor": INK, "lw": 1.0},
                       whiskerprops={"color": INK, "lw": 0.8}, capprops={"color": INK, "lw": 0.8})
            ax.plot([v.mean()], [row], marker="D", color=SYNTH, ms=6, zorder=5)
        ax.set_yticks(range(len(ks)), [f"{k}-way" for k in ks])
        ax.set_ylim(-0.6, len(ks) - 0.4)
        ax.invert_yaxis()
        ax.set_xlim(left=0)
        ax.set_xlabel("total variation distance per marginal (0 = identical)   ◆ mean")
        ax.grid(axis="y", visible=False)
        return to_svg(fig)


def _shares(values: pd.Series, keys: list[str]) -> tuple[np.ndarray, float]:
    """Share of each category key, and the share missing."""
    n = max(len(values), 1)
    missing = values.isna()
    counts = values[~missing].map(category_key).value_counts()
    return np.asarray([counts.get(k, 0) for k in keys], dtype=float) / n, float(missing.mean()) if len(values) else 0.0


def column_plot(col: Column, real: pd.Series, synth: pd.Series) -> str:
    """Real against synthetic distribution of one column (bars, steps or histograms)."""
    with _figure(3.6, 2.3) as fig:
        ax = fig.add_subplot()
        if col.is_numeric:
            _numeric_hist(ax, col, real, synth)
        else:
            _category_bars(ax, col, real, synth)
        return to_svg(fig)


def _category_bars(ax: Any, col: Column, real: pd.Series, synth: pd.Series) -> None:
    declared = [category_key(c) for c in (col.categories or ())]
    seen = set(real.dropna().map(category_key)) | set(synth.dropna().map(category_key))
    keys = declared + sorted(seen - set(declared))
    labels = [str(c) for c in (col.categories or ())] + sorted(seen - set(declared))
    r, r_miss = _shares(real, keys)
    s, s_miss = _shares(synth, keys)
    if r_miss > 0 or s_miss > 0:
        keys, labels = [*keys, "\0missing"], [*labels, "(missing)"]
        r, s = np.append(r, r_miss), np.append(s, s_miss)
    ordered = col.kind == "ordinal"
    if not ordered and len(keys) > 16:
        top = np.argsort(-(r + s), kind="stable")[:15]
        rest = np.setdiff1d(np.arange(len(keys)), top)
        labels = [labels[i] for i in top] + [f"other ({len(rest)})"]
        r = np.append(r[top], r[rest].sum())
        s = np.append(s[top], s[rest].sum())
    x = np.arange(len(labels))
    if ordered and len(labels) > 30:
        ax.fill_between(x, r, step="mid", color=REAL, alpha=0.18, lw=0)
        ax.step(x, r, where="mid", color=REAL, lw=1.4, label="real")
        ax.step(x, s, where="mid", color=SYNTH, lw=1.4, label="synthetic")
        step = max(1, len(labels) // 8)
        ax.set_xticks(x[::step], [mpl_text(labels[i], 10) for i in x[::step]])
    else:
        w = 0.4
        ax.bar(x - w / 2, r, w, color=REAL, label="real")
        ax.bar(x + w / 2, s, w, color=SYNTH, label="synthetic")
        if len(labels) > 8 and max(len(str(lbl)) for lbl in labels) > 3:
            # Many bars: one upright line per label (whole words, a long one ends in "…"); wrapped
            # labels at 45° are wider than a bar's slot and run into each other. The figure grows
            # by the longest label so the bars keep their height.
            shown = [wrap_label(lbl, 22, max_lines=1) for lbl in labels]
            ax.set_xticks(x, shown, rotation=90, ha="center", fontsize=7)
            longest = max(len(lbl) for lbl in shown)
            w, h = ax.figure.get_size_inches()
            ax.figure.set_size_inches(w, h + max(0.0, 0.06 * longest - 0.35))
        else:
            # Whole words on up to three lines ("Married-civ-" / "spouse"), never "Marrie…spouse".
            shown = [wrap_label(lbl, 14) for lbl in labels]
            widest = max((len(part) for lbl in shown for part in lbl.split("\n")), default=0)
            long = sum(len(lbl) for lbl in shown) > 30 or widest > 10
            ax.set_xticks(x, shown, rotation=45 if long else 0, rotation_mode="anchor" if long else "default",
                          ha="right" if long else "center", fontsize=7 if len(labels) > 12 else 8)
        ax.grid(axis="x", visible=False)
    ax.set_ylabel("share of rows")
    ax.set_ylim(bottom=0)


def _numeric_hist(ax: Any, col: Column, real: pd.Series, synth: pd.Series) -> None:
    def as_float(v: pd.Series) -> np.ndarray:
        v = v.dropna()
        if col.kind == "datetime" or pd.api.types.is_datetime64_any_dtype(v):
            # Epoch seconds whatever the resolution (the domain's datetime bounds are seconds).
            t = pd.to_datetime(v, errors="coerce")
            return np.asarray((t - pd.Timestamp(0)).dt.total_seconds(), dtype=float)
        return np.asarray(pd.to_numeric(v, errors="coerce"), dtype=float)

    a, b = as_float(real), as_float(synth)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if col.edges:
        edges = np.asarray(col.edges, dtype=float)
    else:
        both = np.concatenate([a, b]) if a.size + b.size else np.asarray([0.0, 1.0])
        lo = col.lower if col.lower is not None else float(both.min())
        hi = col.upper if col.upper is not None else float(both.max())
        if not hi > lo:
            hi = lo + 1.0
        n_bins = 30
        if col.integer and hi - lo + 1 <= 40:
            edges = np.arange(lo - 0.5, hi + 1.5)
        else:
            edges = np.linspace(lo, hi, n_bins + 1)
    n_a, n_b = max(len(real), 1), max(len(synth), 1)
    ha, _ = np.histogram(np.clip(a, edges[0], edges[-1]), bins=edges)
    hb, _ = np.histogram(np.clip(b, edges[0], edges[-1]), bins=edges)
    ra, rb = ha / n_a, hb / n_b
    widths = np.diff(edges)
    # Shares per bin over bins of unequal width make a wide bin look like a peak: draw
    # densities (share per unit of the column) instead, whose areas are the shares.
    unequal = widths.size > 1 and not np.allclose(widths, widths[0], rtol=1e-6)
    shares = (ra, rb)
    if unequal:
        ra, rb = ra / widths, rb / widths
    ax.stairs(ra, edges, fill=True, color=REAL, alpha=0.22)
    ax.stairs(ra, edges, color=REAL, lw=1.4, label="real")
    ax.stairs(rb, edges, color=SYNTH, lw=1.4, label="synthetic")
    if unequal:
        _clip_point_masses(ax, col, edges, (ra, rb), shares)
    if col.kind == "datetime":
        import matplotlib.dates as mdates

        ticks = np.linspace(edges[0], edges[-1], 4)
        ax.set_xticks(ticks, [mdates.num2date(t / 86400.0).strftime("%Y-%m-%d") for t in ticks])
    else:  # at most six ticks, large numbers short (200k, 1.5M), so labels never run together
        from matplotlib.ticker import FuncFormatter, MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: short_number(v)))
    ax.set_ylabel("density (share per unit)" if unequal else "share of rows")
    ax.set_ylim(bottom=0)


def short_number(v: float) -> str:
    """A tick label: ``250``, ``12.5k``, ``1.5M`` (no run-together six-digit labels)."""
    a = abs(v)
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e4, "k")):
        if a >= div:
            scale = div if suffix != "k" else 1e3
            return f"{v / scale:.3g}{suffix}"
    return f"{v:.4g}"


def _share(x: float) -> str:
    return f"{x:.0%}" if x >= 0.01 or x == 0 else f"{x:.2%}" if x >= 1e-4 else "<0.01%"


def _clip_point_masses(ax: Any, col: Column, edges: np.ndarray, density: tuple[np.ndarray, np.ndarray],
                       shares: tuple[np.ndarray, np.ndarray]) -> None:
    """Scale the y axis to the ordinary bins; mark the far narrower, taller ones and label their shares.

    A point mass (``capital-gain = 0`` for 92% of rows, in a bin of width 1 among bins thousands
    wide) has a density hundreds of times the rest; drawn to scale, it flattens the whole
    distribution onto the axis. Such bins are cut at the top of the axis, marked with ▲, and
    the two largest are labelled with their shares of real and synthetic rows.
    """
    widths = np.diff(edges)
    narrow = widths < 0.1 * float(np.median(widths))
    if not narrow.any() or narrow.all():
        return
    top = float(max(density[0][~narrow].max(), density[1][~narrow].max()))
    peak = np.maximum(density[0], density[1])
    ylim = 1.3 * top
    over = narrow & (peak > ylim)
    if not top > 0 or not over.any():
        return
    ax.set_ylim(0, ylim)
    idx = np.flatnonzero(over)
    idx = idx[np.argsort(-(shares[0][idx] + shares[1][idx]), kind="stable")]
    lo, hi = float(edges[0]), float(edges[-1])
    labelled = 0
    for i in idx:
        x = 0.5 * (edges[i] + edges[i + 1])
        ax.plot([x], [ylim], marker="^", ms=5, color=INK, clip_on=False, zorder=5)
        if labelled >= 2 or max(shares[0][i], shares[1][i]) < 0.01:
            continue
        rank, labelled = labelled, labelled + 1
        single = col.integer and widths[i] <= 1
        where = f"{edges[i]:,.10g}" if single else f"{edges[i]:,.6g}–{edges[i + 1]:,.6g}"
        left = (x - lo) <= 0.5 * (hi - lo)
        for line, (text, colour) in enumerate(((f"{where}: {_share(shares[0][i])} real", REAL),
                                               (f"{_share(shares[1][i])} synthetic", SYNTH))):
            ax.annotate(mpl_text(text, None), (x, 1.0), xycoords=ax.get_xaxis_transform(),
                        xytext=(6 if left else -6, -9 - 11 * (line + 2.4 * rank)), textcoords="offset points",
                        ha="left" if left else "right", va="center", fontsize=7.5, color=colour)


def association_heatmaps(columns: Sequence[str], real: Any, synth: Any, diff: Any) -> str:
    """The real and synthetic association matrices and their absolute difference, side by side."""
    r = np.asarray(real, dtype=float)
    s = np.asarray(synth, dtype=float)
    d = np.asarray(diff, dtype=float)
    n = len(columns)
    for m in (r, s, d):
        np.fill_diagonal(m, np.nan)
    signed = bool(np.nanmin(np.concatenate([r.ravel(), s.ravel(), [0.0]])) < 0)
    cmap, vmin = ("RdBu_r", -1.0) if signed else ("Blues", 0.0)
    show_labels = n <= 40
    side = 3.4
    with _figure(3 * side + 0.6, side + (0.9 if show_labels else 0.2)) as fig:
        axes = fig.subplots(1, 3, sharey=True)
        for ax, m, title, cm, lo, hi in (
            (axes[0], r, "real", cmap, vmin, 1.0),
            (axes[1], s, "synthetic", cmap, vmin, 1.0),
            (axes[2], d, "|real − synthetic|", "YlOrBr", 0.0, max(0.1, float(np.nanmax(d)) if n > 1 else 0.1)),
        ):
            im = ax.imshow(np.ma.masked_invalid(m), cmap=cm, vmin=lo, vmax=hi)
            ax.set_title(title)
            ax.grid(False)
            for spine in ax.spines.values():
                spine.set_visible(False)
            if show_labels:
                fs = 8 if n <= 16 else (7 if n <= 24 else 5)
                ax.set_xticks(range(n), [mpl_text(c, 16) for c in columns], rotation=90, fontsize=fs)
                ax.set_yticks(range(n), [mpl_text(c, 16) for c in columns], fontsize=fs)
            else:
                ax.set_xticks([])
                ax.set_yticks([])
            if title != "synthetic":
                fig.colorbar(im, ax=ax if title != "real" else list(axes[:2]), shrink=0.75, pad=0.02)
        return to_svg(fig)


def range_query_plot(real: Sequence[float], synth: Sequence[float]) -> str:
    """Fraction of rows each random range query selects: real against synthetic."""
    a = np.asarray([np.nan if v is None else v for v in real], dtype=float)
    b = np.asarray([np.nan if v is None else v for v in synth], dtype=float)
    with _figure(4.2, 4.0) as fig:
        ax = fig.add_subplot()
        ax.plot([0, 1], [0, 1], ls="--", color=GUESS, lw=1, label="perfect agreement")
        ax.scatter(a, b, s=10, color=SYNTH, alpha=0.55, lw=0, label="one range query")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
        ax.set_xlabel("fraction of real rows")
        ax.set_ylabel("fraction of synthetic rows")
        ax.legend(fontsize=7.5, loc="upper left")
        return to_svg(fig)


# -- utility -----------------------------------------------------------------------------------
def utility_plot(bars: Sequence[dict[str, Any]]) -> str:
    """TSTR against TRTR: one panel per score, one pair of bars per model."""
    scores = list(dict.fromkeys(b["score"] for b in bars))
    models = list(dict.fromkeys(b["model"] for b in bars))
    with _figure(3.0 * len(scores) + 0.4, 0.9 + 0.55 * len(models) + 0.4) as fig:
        axes = np.atleast_1d(fig.subplots(1, len(scores), sharey=True))
        for ax, score in zip(axes, scores, strict=True):
            vals = {b["model"]: b for b in bars if b["score"] == score}
            y = np.arange(len(models))
            h = 0.36
            trtr = np.asarray([_num(vals.get(m, {}).get("trtr")) for m in models])
            tstr = np.asarray([_num(vals.get(m, {}).get("tstr")) for m in models])
            ax.barh(y - h / 2, trtr, h, color=REAL, label="train real → test real (TRTR)")
            ax.barh(y + h / 2, tstr, h, color=SYNTH, label="train synthetic → test real (TSTR)")
            top = np.nanmax(np.abs(np.concatenate([trtr, tstr, [1e-9]])))
            for yy, v in itertools.chain(zip(y - h / 2, trtr, strict=True), zip(y + h / 2, tstr, strict=True)):
                if math.isfinite(v):
                    ax.text(v + 0.01 * top if v >= 0 else 0.01 * top, yy, f"{v:.3f}", va="center",
                            fontsize=7.5, color=INK)
            bounded = score in ("roc_auc", "accuracy", "f1_macro")
            ax.set_xlim(min(0.0, np.nanmin(np.concatenate([trtr, tstr, [0.0]])) * 1.15),
                        1.12 if bounded else top * 1.25)
            ax.set_yticks(y, [mpl_text(m, 14) for m in models])
            ax.invert_yaxis()
            ax.set_title(mpl_text(score_name(score)))
            ax.grid(axis="y", visible=False)
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=8)
        return to_svg(fig)


def _num(v: Any) -> float:
    return float("nan") if v is None else float(v)


# -- discriminability and DCR -----------------------------------------------------------------
def gauge_plot(
    value: float,
    ci: tuple[float, float] | None,
    *,
    ideal: float,
    xlim: tuple[float, float],
    label: str,
    points: Sequence[float] = (),
    zones: Sequence[tuple[float, float, str]] = (),
) -> str:
    """A value with its confidence interval on a line, against its ideal (e.g. AUC 0.5)."""
    with _figure(9.0, 1.9) as fig:
        ax = fig.add_subplot()
        for lo, hi, color in zones:
            ax.axvspan(lo, hi, color=color, alpha=0.13, lw=0)
        ax.axvline(ideal, color=GOOD, ls="--", lw=1.4)
        ax.text(ideal - 0.008 * (xlim[1] - xlim[0]), 1.25, f"ideal {ideal:g}", color=GOOD, ha="right",
                va="center", fontsize=8.5)
        if points:
            ax.scatter(points, np.full(len(points), 0.55), s=14, color=MUTED, alpha=0.7, lw=0,
                       label="per fold")
        if ci is not None and all(math.isfinite(c) for c in ci):
            ax.errorbar([value], [0], xerr=[[value - ci[0]], [ci[1] - value]], fmt="none",
                        ecolor=INK, elinewidth=1.6, capsize=5)
        if math.isfinite(value):
            ax.plot([value], [0], marker="o", ms=10, color=SYNTH, mec=INK, mew=1)
            ax.text(value, -0.62, f"{value:.3f}", ha="center", va="top", fontsize=9, fontweight="bold")
        ax.set_xlim(*xlim)
        ax.set_ylim(-1.25, 1.6)
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        ax.grid(axis="y", visible=False)
        ax.set_xlabel(mpl_text(label, None))
        return to_svg(fig)


def roc_plot(fpr: Sequence[float], tpr: Sequence[float]) -> str:
    """The detection classifier's ROC curve against the chance diagonal."""
    with _figure(4.2, 4.0) as fig:
        ax = fig.add_subplot()
        ax.plot([0, 1], [0, 1], ls="--", color=GOOD, lw=1.2, label="cannot tell apart (AUC 0.5)")
        x = np.asarray([_num(v) for v in fpr])
        y = np.asarray([_num(v) for v in tpr])
        ax.fill_between(x, y, x, color=SYNTH, alpha=0.12, lw=0)
        ax.plot(x, y, color=SYNTH, lw=2, label="detector")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
        ax.legend(fontsize=7.5, loc="lower right")
        return to_svg(fig)


def dcr_plot(quantiles: Sequence[str], series: dict[str, Sequence[float]]) -> str:
    """Quantiles of the distance to the closest record, one line per comparison."""
    q = [float(x) for x in quantiles]
    # Lines often coincide (discrete data): thick solid under dashed under dotted keeps all visible.
    styles: dict[str, dict[str, Any]] = {
        "synthetic → train": {"color": SYNTH, "lw": 4.0, "ls": "-", "alpha": 0.55},
        "synthetic → hold-out": {"color": REAL, "lw": 1.8, "ls": "--"},
        "hold-out → train": {"color": INK, "lw": 1.4, "ls": ":"},
    }
    with _figure(4.8, 3.6) as fig:
        ax = fig.add_subplot()
        for name, vals in series.items():
            ax.plot(q, [_num(v) for v in vals], marker="o", ms=3.5, label=name,
                    **styles.get(name, {"color": INK}))
        ax.set_xlabel("quantile")
        ax.set_ylabel("distance to closest record")
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=7.5)
        return to_svg(fig)


# -- audit -------------------------------------------------------------------------------------
_ATTACK_COLORS = ("#f97316", "#2563eb", "#16a34a", "#db2777", "#0891b2", "#78350f", "#64748b", "#0f172a")


def audit_roc_plot(curves: dict[str, tuple[Sequence[float], Sequence[float]]], *, epsilon: float,
                   delta: float) -> str:
    """Empirical ROC curves of the attacks under the ceiling the claimed guarantee allows.

    An (ε, δ)-DP release bounds every attack's TPR at false-positive rate α by 1 − f(α),
    f the (ε, δ) trade-off curve; a curve above the purple line contradicts the claim. The
    right panel shows the same on log–log axes, where the low-FPR regime lives.
    """
    alpha_lin = np.linspace(0.0, 1.0, 801)
    alpha_log = np.logspace(-4, 0, 400)
    with _figure(9.6, 4.6) as fig:
        axes = fig.subplots(1, 2)
        for ax, alpha, log in ((axes[0], alpha_lin, False), (axes[1], alpha_log, True)):
            ceiling = 1.0 - eps_delta_tradeoff(alpha, epsilon, delta)
            ax.fill_between(alpha, ceiling, 1.0, color="#fee2e2", lw=0,
                            label="beyond the claim (a violation)")
            ax.plot(alpha, ceiling, color=PRIVACY, lw=2.0,
                    label=f"claimed ceiling 1 − f(α), ε = {epsilon:.3g}, δ = {fmt_small(delta)}")
            ax.plot(alpha, alpha, ls="--", color=GUESS, lw=1.2, label="random guessing")
            for i, (name, (fpr, tpr)) in enumerate(curves.items()):
                x = np.asarray([_num(v) for v in fpr])
                y = np.asarray([_num(v) for v in tpr])
                if log:
                    keep = x > 0
                    x, y = x[keep], np.maximum(y[keep], 1e-4)
                ax.step(x, y, where="post", color=_ATTACK_COLORS[i % len(_ATTACK_COLORS)], lw=1.6,
                        label=mpl_text(name, 24))
            if log:
                ax.set_xscale("log")
                ax.set_yscale("log")
                ax.set_xlim(1e-4, 1)
                ax.set_ylim(1e-4, 1.02)
                ax.set_title("low false-positive rates (log–log)")
            else:
                ax.set_xlim(0, 1)
                ax.set_ylim(0, 1.02)
                ax.set_aspect("equal")
                ax.set_title("ROC")
            ax.set_xlabel("false positive rate α")
            ax.set_ylabel("true positive rate")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=7.5)
        return to_svg(fig)


def reconstruction_plot(sizes: Sequence[int], series: dict[str, Sequence[tuple[float, float, float]]]) -> str:
    """Accuracy (with its interval) of each inference method against the synthetic-data size."""
    with _figure(5.2, 3.6) as fig:
        ax = fig.add_subplot()
        ax.axhline(0.5, color=GOOD, ls="--", lw=1.3, label="random guessing (50%)")
        x = np.asarray(sizes, dtype=float)
        for i, (name, points) in enumerate(series.items()):
            acc = np.asarray([p[0] for p in points])
            lo = np.asarray([p[1] for p in points])
            hi = np.asarray([p[2] for p in points])
            color = _ATTACK_COLORS[i % len(_ATTACK_COLORS)]
            ax.fill_between(x, lo, hi, color=color, alpha=0.12, lw=0)
            ax.plot(x, acc, marker="o", ms=4, color=color, lw=1.8, label=mpl_text(name.replace("_", " "), 24))
        if len(x) > 1 and x.min() > 0:
            ax.set_xscale("log")
        ax.set_xticks(x, [f"{int(v):,}" for v in x])
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("synthetic rows")
        ax.set_ylabel("accuracy on the targets' secret")
        ax.legend(fontsize=7.5, loc="lower right")
        return to_svg(fig)
