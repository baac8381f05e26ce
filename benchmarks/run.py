"""Benchmark harness: every generator on every bundled dataset (issue 3, "Benchmark harness").

Runs generators × datasets × ε × seeds. Each run fits on a training split and is evaluated
against the hold-out split with dpsynth's own metrics (``dpsynth.evaluate.evaluate_all``),
whichever library produced the synthetic table:

- dpsynth generators (``independent``, ``mst``, ``aim``, any registered name) are fitted in a
  fresh process (multiprocessing spawn) through ``dpsynth.api.fit``; the process's peak RSS
  after fitting and sampling is the run's peak memory;
- peers (``smartnoise-mst``, ``smartnoise-aim``, ``smartnoise-dpctgan``,
  ``smartnoise-patectgan``) run as a subprocess of the separate peers venv
  (``.venv-peers/bin/python benchmarks/peers/smartnoise_run.py``), which writes a synthetic
  CSV; its peak RSS and fit time are the peer process's own.

Splits: ``adult_pgm`` (train.csv / test.csv) and ``adult`` (adult_train.csv / adult_test.csv;
adult_val.csv is unused) have published splits. ``acs_national2019``, ``credit`` and
``beijing`` have none: the harness makes a seeded 80/20 split (``--split-seed``, default 0;
stratified by the target for a categorical target) and writes it to
``benchmarks/results/tmp/splits/`` so that every generator, dpsynth's or a peer's, reads the
same rows.

Evaluation: every generator of a dataset is scored on one fixed evaluation domain: the
dataset's metadata, with any bound the metadata leaves unknown (e.g. adult's ``fnlwgt``
upper bound) set to the observed extreme of the real train + hold-out rows. Evaluation reads
raw rows on purpose and is not part of any release; the generators themselves never see
these bounds (dpsynth infers them with DP, smartnoise with its own DP bounds).

Each finished run is appended to the CSV at once (a killed harness loses only the run in
flight); failed and timed-out runs get a row too, with the reason in ``error``. A fit that
runs past ``--timeout`` seconds is killed and recorded as ``timeout``.

Usage:
    .venv/bin/python benchmarks/run.py --datasets adult_pgm adult \\
        --generators independent mst aim smartnoise-mst smartnoise-aim \\
        --epsilons 1 10 --seeds 0 --markdown --plots
    .venv/bin/python benchmarks/run.py --report-only --markdown --plots   # tables/plots from the CSV
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import multiprocessing as mp
import os
import queue
import resource
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATASETS_DIR = ROOT.parent / "shared" / "datasets"
METADATA_DIR = ROOT / "metadata"
RESULTS = ROOT / "benchmarks" / "results"
TMP = RESULTS / "tmp"  # git-ignored: splits and peers' synthetic CSVs
PEER_SCRIPT = ROOT / "benchmarks" / "peers" / "smartnoise_run.py"
PEER_PREFIX = "smartnoise-"
PEERS = ("smartnoise-mst", "smartnoise-aim", "smartnoise-dpctgan", "smartnoise-patectgan")
# Peers sampled through mbi 1.1.0: each run also reports "<name>-iid", the same fitted model
# sampled i.i.d. (mbi 1.1.0's default rounding correlates sibling columns; see the peer runner).
MBI_PEERS = ("smartnoise-mst", "smartnoise-aim")
IID_SUFFIX = "-iid"


@dataclass(frozen=True)
class Dataset:
    """Where a dataset's rows are, and how it is split."""

    name: str
    train: str  # file under DATASETS_DIR/name
    holdout: str | None  # None: seeded 80/20 split of ``train``
    target: str | None  # None: the metadata's target


DATASETS = {
    "adult_pgm": Dataset("adult_pgm", "train.csv", "test.csv", None),
    "adult": Dataset("adult", "adult_train.csv", "adult_test.csv", None),
    # No target in its metadata; the datasets README names PINCP (income) first.
    "acs_national2019": Dataset("acs_national2019", "national2019.csv", None, "PINCP"),
    "credit": Dataset("credit", "credit.csv", None, None),
    "beijing": Dataset("beijing", "beijing.csv", None, None),
}

FIELDS = [
    "dataset", "generator", "library", "epsilon", "delta", "seed", "status", "error",
    "train_rows", "holdout_rows", "synthetic_rows",
    "tvd1", "tvd2", "tvd3", "tvd3_holdout", "n_3way", "n_3way_total",
    "ks", "wasserstein", "association_diff", "range_query_error",
    "utility_metric", "target", "tstr", "trtr", "tstr_hgb", "trtr_hgb",
    "detection_auc", "dcr_share",
    "fit_s", "sample_s", "eval_s", "peak_mb", "epsilon_spent", "notes",
    "split", "timestamp",
]


# --------------------------------------------------------------------------------------------
# Data: splits and the evaluation domain
# --------------------------------------------------------------------------------------------
def _read(path: Path) -> Any:
    import pandas as pd

    return pd.read_csv(path, dtype=str, keep_default_na=False)


def split_paths(ds: Dataset, split_seed: int) -> tuple[Path, Path, str]:
    """(train CSV, hold-out CSV, description), writing a seeded 80/20 split where needed."""
    src = DATASETS_DIR / ds.name
    if ds.holdout is not None:
        return src / ds.train, src / ds.holdout, f"published: {ds.train} / {ds.holdout}"
    out = TMP / "splits"
    train_p = out / f"{ds.name}_seed{split_seed}_train.csv"
    hold_p = out / f"{ds.name}_seed{split_seed}_holdout.csv"
    desc = f"harness 80/20 of {ds.train}, split seed {split_seed}"
    if train_p.exists() and hold_p.exists():
        return train_p, hold_p, desc
    import numpy as np

    df = _read(src / ds.train)
    meta = json.loads((METADATA_DIR / f"{ds.name}.json").read_text())
    target = ds.target or meta.get("target")
    spec = _columns(meta).get(target) if target else None
    rng = np.random.default_rng(split_seed)
    if spec is not None and spec.get("type") != "numeric":
        groups = [np.flatnonzero((df[target] == v).to_numpy()) for v in sorted(df[target].unique())]
        desc += f", stratified by {target}"
    else:
        groups = [np.arange(len(df))]
    hold = np.concatenate([rng.permutation(g)[: round(0.2 * len(g))] for g in groups])
    mask = np.zeros(len(df), dtype=bool)
    mask[hold] = True
    out.mkdir(parents=True, exist_ok=True)
    df[~mask].to_csv(train_p, index=False)
    df[mask].to_csv(hold_p, index=False)
    return train_p, hold_p, desc


def _columns(meta: dict[str, Any]) -> dict[str, dict[str, Any]]:
    cols = meta["columns"]
    return dict(cols) if isinstance(cols, dict) else {c["name"]: c for c in cols}


def evaluation_metadata(meta: dict[str, Any], frames: list[Any]) -> dict[str, Any]:
    """The metadata with unknown numeric bounds set to the real rows' observed extremes.

    For evaluation only (fixed per dataset so every generator is scored on one
    discretisation); no generator sees it.
    """
    import pandas as pd

    doc = json.loads(json.dumps(meta))
    cols = doc["columns"]
    items = cols.items() if isinstance(cols, dict) else [(c["name"], c) for c in cols]
    tokens = {str(t).strip() for t in meta.get("missing_values") or []} | {""}
    filled = []
    for name, spec in items:
        if spec.get("type") != "numeric" or (spec.get("lower") is not None and spec.get("upper") is not None):
            continue
        col_tokens = tokens | {str(t).strip() for t in spec.get("missing_values") or []}
        vals = pd.concat([f[name].str.strip() for f in frames])
        vals = pd.to_numeric(vals[~vals.isin(col_tokens)], errors="coerce").dropna()
        for key, v in (("lower", vals.min()), ("upper", vals.max())):
            if spec.get(key) is None:
                spec[key] = int(v) if spec.get("integer") else float(v)
                filled.append(f"{name}.{key}")
    doc["description"] = (doc.get("description", "") + " [harness evaluation domain: observed "
                          f"real extremes for {', '.join(filled) or 'nothing'}]")
    return doc


# --------------------------------------------------------------------------------------------
# Workers (each in a fresh spawned process)
# --------------------------------------------------------------------------------------------
def _evaluate(job: dict[str, Any], synth: Any) -> dict[str, Any]:
    """dpsynth's metrics: fidelity and detection vs the training split, utility and DCR vs hold-out."""
    from dpsynth.data.domain import Domain
    from dpsynth.evaluate import MarginalTVD, evaluate_all

    t0 = time.perf_counter()
    train = _read(Path(job["train"]))
    hold = _read(Path(job["holdout"]))
    domain = Domain.from_json(job["eval_meta"])
    synth = synth[list(domain.names)]
    res = evaluate_all(train, synth, domain, target=job["target"], holdout=hold,
                       random_state=job["seed"], max_marginals=job["max_marginals"], n_threads=1)
    tvd3_hold = evaluate_all(hold, synth, domain, random_state=job["seed"], real_split="holdout",
                             metrics=[MarginalTVD(3, max_marginals=job["max_marginals"],
                                                  random_state=job["seed"])])
    row: dict[str, Any] = {
        "tvd1": res["marginal_tvd_1way"].value,
        "tvd2": res["marginal_tvd_2way"].value,
        "tvd3": res["marginal_tvd_3way"].value,
        "tvd3_holdout": tvd3_hold["marginal_tvd_3way"].value,
        "n_3way": res["marginal_tvd_3way"].details.get("n_marginals"),
        "n_3way_total": res["marginal_tvd_3way"].details.get("n_marginals_total"),
        "detection_auc": res["detection_auc"].value,
    }
    for key, name in (("ks", "ks_statistic"), ("wasserstein", "wasserstein"),
                      ("association_diff", "association_difference"),
                      ("range_query_error", "range_query_error"), ("dcr_share", "dcr_share")):
        row[key] = res[name].value if name in res else math.nan
    util = res.get("tstr_classification") or res.get("tstr_regression")
    if util is not None:
        d = util.details or {}
        score = d.get("headline_score", "")
        row.update(utility_metric=score, target=d.get("target"), tstr=util.value, trtr=util.reference)
        hgb = (d.get("models") or {}).get("hgb")
        if hgb:
            row.update(tstr_hgb=hgb["tstr"].get(score), trtr_hgb=hgb["trtr"].get(score))
    row["eval_s"] = time.perf_counter() - t0
    return row


def _dpsynth_worker(job: dict[str, Any], q: Any) -> None:
    try:
        from dpsynth import api

        t0 = time.perf_counter()
        model = api.fit(job["train"], generator=job["generator"], epsilon=job["epsilon"],
                        delta=job["delta"], metadata=job["metadata"], random_state=job["seed"],
                        **job["params"])
        fit_s = time.perf_counter() - t0
        q.put({"stage": "fitted"})
        n = int(getattr(model, "estimated_rows", 0) or job["train_rows"])
        t1 = time.perf_counter()
        synth = model.sample(n, random_state=job["seed"])
        sample_s = time.perf_counter() - t1
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        row = {"fit_s": fit_s, "sample_s": sample_s, "peak_mb": peak_mb, "synthetic_rows": len(synth),
               "epsilon_spent": model.privacy_report.epsilon}
        row.update(_evaluate(job, synth))
        q.put({"stage": "done", "row": row})
    except Exception as exc:
        q.put({"stage": "error", "error": _one_line(exc), "traceback": traceback.format_exc()})


def _eval_worker(job: dict[str, Any], q: Any) -> None:
    try:
        synth = _read(Path(job["synthetic"]))
        q.put({"stage": "done", "row": _evaluate(job, synth)})
    except Exception as exc:
        q.put({"stage": "error", "error": _one_line(exc), "traceback": traceback.format_exc()})


def _one_line(exc: BaseException) -> str:
    return (f"{type(exc).__name__}: {exc}".splitlines() or [""])[0][:300]


def _wait(p: Any, q: Any, stage: str, timeout: float | None) -> dict[str, Any] | None:
    """The next message from worker ``p``; None if it did not come within ``timeout`` seconds."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            return q.get(timeout=2.0)  # type: ignore[no-any-return]
        except queue.Empty:
            pass
        if not p.is_alive():
            try:
                return q.get(timeout=1.0)  # type: ignore[no-any-return]
            except queue.Empty:
                return {"stage": "error", "error": f"worker died during {stage} (exit code {p.exitcode})"}
        if deadline is not None and time.monotonic() > deadline:
            return None


def _spawn(target: Any, job: dict[str, Any]) -> tuple[Any, Any]:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=target, args=(job, q))
    p.start()
    return p, q


def _stop(p: Any) -> None:
    if p.is_alive():
        p.kill()
    p.join()


# --------------------------------------------------------------------------------------------
# One run
# --------------------------------------------------------------------------------------------
def run_dpsynth(job: dict[str, Any], timeout: float, eval_timeout: float) -> dict[str, Any]:
    t0 = time.perf_counter()
    p, q = _spawn(_dpsynth_worker, job)
    try:
        msg = _wait(p, q, "fit", timeout)
        if msg is None:
            return {"status": "timeout", "fit_s": time.perf_counter() - t0,
                    "error": f"fit still running after {timeout:.0f} s; killed"}
        if msg["stage"] == "fitted":
            msg = _wait(p, q, "sampling/evaluation", eval_timeout)
            if msg is None:
                return {"status": "error", "error": f"sampling + evaluation exceeded {eval_timeout:.0f} s; killed"}
        if msg["stage"] == "error":
            print(msg.get("traceback", ""), file=sys.stderr)
            return {"status": "error", "error": msg["error"]}
        return {"status": "ok", **msg["row"]}
    finally:
        _stop(p)


def run_peer(job: dict[str, Any], timeout: float, eval_timeout: float, peers_python: Path,
             peer_epochs: int | None) -> dict[str, Any]:
    if not peers_python.exists():
        return {"status": "not installed", "error": f"{peers_python} not found (see BENCHMARKS.md)"}
    out_dir = TMP / "peers"
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{job['dataset']}_{job['generator']}_eps{job['epsilon']:g}_seed{job['seed']}"
    synth_p, info_p = out_dir / f"{stem}.csv", out_dir / f"{stem}.json"
    for f in (synth_p, info_p):
        f.unlink(missing_ok=True)
    iid_p = out_dir / f"{stem}_iid.csv"
    cmd = [str(peers_python), str(PEER_SCRIPT), "--synth", job["generator"][len(PEER_PREFIX):],
           "--train", job["train"], "--metadata", job["metadata"], "--epsilon", repr(job["epsilon"]),
           "--delta", repr(job["delta"]), "--rows", str(job["train_rows"]), "--seed", str(job["seed"]),
           "--out", str(synth_p), "--info", str(info_p)]
    if peer_epochs is not None:
        cmd += ["--epochs", str(peer_epochs)]
    if job["generator"] in MBI_PEERS:
        cmd += ["--iid-out", str(iid_p)]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "fit_s": time.perf_counter() - t0,
                "error": f"fit still running after {timeout:.0f} s; killed"}
    if not info_p.exists():
        tail = (proc.stderr or proc.stdout or "").strip().splitlines()
        return {"status": "error", "error": (tail[-1] if tail else f"exit code {proc.returncode}")[:300]}
    info = json.loads(info_p.read_text())
    base = {"fit_s": info.get("fit_s"), "sample_s": info.get("sample_s"), "peak_mb": info.get("peak_mb"),
            "notes": "; ".join(info.get("notes", []))}
    if info.get("status") != "ok":
        print(info.get("traceback", ""), file=sys.stderr)
        return {"status": "error", "error": info.get("error", "unknown error"), **base}
    base.update(synthetic_rows=info.get("rows"), epsilon_spent=info.get("epsilon_spent_reported"))
    out = _evaluate_file(job, synth_p, base, eval_timeout)
    if job["generator"] in MBI_PEERS and iid_p.exists():
        out["iid"] = _evaluate_file(job, iid_p, {**base, "sample_s": info.get("iid_sample_s")}, eval_timeout)
    return out


def _evaluate_file(job: dict[str, Any], synth_p: Path, base: dict[str, Any], eval_timeout: float) -> dict[str, Any]:
    p, q = _spawn(_eval_worker, {**job, "synthetic": str(synth_p)})
    try:
        msg = _wait(p, q, "evaluation", eval_timeout)
        if msg is None:
            return {"status": "error", "error": f"evaluation exceeded {eval_timeout:.0f} s; killed", **base}
        if msg["stage"] == "error":
            print(msg.get("traceback", ""), file=sys.stderr)
            return {"status": "error", "error": msg["error"], **base}
        return {"status": "ok", **base, **msg["row"]}
    finally:
        _stop(p)


# --------------------------------------------------------------------------------------------
# Output: CSV, Markdown, plots
# --------------------------------------------------------------------------------------------
def append_row(path: Path, row: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists() or path.stat().st_size == 0
    if not new:
        with path.open(newline="") as fh:
            header = next(csv.reader(fh), [])
        if header != FIELDS:
            raise SystemExit(f"{path} has a different header; write to another --out (or move it away)")
    with path.open("a", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=FIELDS, extrasaction="ignore")
        if new:
            w.writeheader()
        w.writerow({k: _fmt(row.get(k)) for k in FIELDS})
        fh.flush()
        os.fsync(fh.fileno())


def _fmt(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.6g}"
    return v


def _num(x: Any, digits: int = 3) -> str:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return "–"
    if math.isnan(f):
        return "–"
    return f"{f:.{digits}f}" if digits else f"{f:.0f}"


def _latest(df: Any) -> Any:
    """The last row of each (dataset, generator, ε, δ, seed), ordered by dataset, generator, ε."""
    df = df.drop_duplicates(["dataset", "generator", "epsilon", "delta", "seed"], keep="last")
    ds_rank = {d: i for i, d in enumerate(DATASETS)}
    gens = list(dict.fromkeys(df["generator"]))
    gen_rank = {g: (g.startswith(PEER_PREFIX), i) for i, g in enumerate(gens)}
    key = [(ds_rank.get(d, len(ds_rank)), gen_rank[g], e)
           for d, g, e in zip(df["dataset"], df["generator"], df["epsilon"], strict=True)]
    order = sorted(range(len(df)), key=lambda i: key[i])
    return df.iloc[order]


def markdown_table(csv_path: Path) -> str:
    """Mean over seeds of each (dataset, generator, ε); failures listed with their reason."""
    import pandas as pd

    df = _latest(pd.read_csv(csv_path, keep_default_na=False, na_values=[""]))
    lines = []
    ok = df[df["status"] == "ok"]
    num = ["tvd1", "tvd2", "tvd3", "tvd3_holdout", "tstr", "trtr", "detection_auc", "fit_s", "peak_mb",
           "epsilon_spent"]
    if len(ok):
        g = ok.groupby(["dataset", "generator", "epsilon"], sort=False)
        agg = g[num].mean()
        agg["seeds"] = g.size()
        agg["utility_metric"] = g["utility_metric"].first()
        lines.append("| dataset | generator | ε | seeds | 1-way TVD | 2-way TVD | 3-way TVD (train) "
                     "| 3-way TVD (hold-out) | TSTR | TRTR | detection AUC | fit s | peak MB | ε spent |")
        lines.append("|" + "---|" * 14)
        for (ds, gen, eps), r in agg.iterrows():
            metric = {"roc_auc": "AUC", "r2": "R²"}.get(str(r["utility_metric"]), str(r["utility_metric"]))
            lines.append(
                f"| {ds} | {gen} | {eps:g} | {int(r['seeds'])} | {_num(r['tvd1'])} | {_num(r['tvd2'])} "
                f"| {_num(r['tvd3'])} | {_num(r['tvd3_holdout'])} | {_num(r['tstr'])} {metric} "
                f"| {_num(r['trtr'])} | {_num(r['detection_auc'])} | {_num(r['fit_s'], 0)} "
                f"| {_num(r['peak_mb'], 0)} | {_num(r['epsilon_spent'], 2)} |")
    bad = df[df["status"] != "ok"]
    if len(bad):
        lines.append("")
        lines.append("| dataset | generator | ε | seed | status | after s | reason |")
        lines.append("|---|---|---|---|---|---|---|")
        for _, r in bad.iterrows():
            reason = str(r["error"]).replace("|", "\\|")
            lines.append(f"| {r['dataset']} | {r['generator']} | {r['epsilon']:g} | {r['seed']} "
                         f"| {r['status']} | {_num(r['fit_s'], 0)} | {reason} |")
    return "\n".join(lines) + "\n"


def plots(csv_path: Path, out_dir: Path, prefix: str = "harness") -> list[Path]:
    """Quality vs ε and quality vs fit time, one panel row per dataset (PNG, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    df = _latest(pd.read_csv(csv_path, keep_default_na=False, na_values=[""]))
    df = df[df["status"] == "ok"]
    if df.empty:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    datasets = list(dict.fromkeys(df["dataset"]))
    gens = list(dict.fromkeys(df["generator"]))
    style = {g: (f"C{i % 10}", "o" if not g.startswith(PEER_PREFIX) else "s",
                 "-" if not g.startswith(PEER_PREFIX) else "--") for i, g in enumerate(gens)}
    metrics = [("tvd3", "3-way TVD vs train (lower is better)"),
               ("tstr", "TSTR (AUC or R²; higher is better)"),
               ("detection_auc", "detection AUC (0.5 is best)")]
    written = []

    fig, axes = plt.subplots(len(datasets), len(metrics), figsize=(5 * len(metrics), 3.6 * len(datasets)),
                             squeeze=False)
    for i, ds in enumerate(datasets):
        d = df[df["dataset"] == ds]
        for j, (m, label) in enumerate(metrics):
            ax = axes[i][j]
            for gen in gens:
                s = d[d["generator"] == gen].groupby("epsilon")[m].mean().dropna()
                if len(s):
                    c, mk, ls = style[gen]
                    ax.plot(s.index, s.values, marker=mk, linestyle=ls, color=c, label=gen)
            if m == "tstr":
                ref = d.groupby("epsilon")["trtr"].mean().dropna()
                if len(ref):
                    ax.axhline(float(ref.mean()), color="grey", linestyle=":", label="TRTR (real)")
            if m == "detection_auc":
                ax.axhline(0.5, color="grey", linestyle=":")
            ax.set_xscale("log")
            ax.set_xlabel("ε")
            ax.set_title(f"{ds}: {label}", fontsize=9)
            ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="best")
    fig.tight_layout()
    p = out_dir / f"{prefix}_quality_vs_epsilon.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    written.append(p)

    fig, axes = plt.subplots(1, len(datasets), figsize=(5.5 * len(datasets), 4.2), squeeze=False)
    for i, ds in enumerate(datasets):
        ax = axes[0][i]
        d = df[df["dataset"] == ds]
        for gen in gens:
            s = d[d["generator"] == gen].groupby("epsilon")[["fit_s", "tvd3"]].mean().dropna()
            if len(s):
                c, mk, _ = style[gen]
                ax.scatter(s["fit_s"], s["tvd3"], color=c, marker=mk, label=gen)
                for eps, r in s.iterrows():
                    ax.annotate(f"ε={eps:g}", (r["fit_s"], r["tvd3"]), fontsize=6, xytext=(3, 3),
                                textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel("fit wall time, s (2 shared cores)")
        ax.set_ylabel("3-way TVD vs train")
        ax.set_title(ds, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="best")
    fig.tight_layout()
    p = out_dir / f"{prefix}_quality_vs_time.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    written.append(p)
    return written


# --------------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    ap.add_argument("--generators", nargs="+", default=["independent", "mst", "aim", *PEERS],
                    help=f"dpsynth registry names and/or peers {', '.join(PEERS)}")
    ap.add_argument("--epsilons", nargs="+", type=float, default=[0.3, 1.0, 3.0, 10.0])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--delta", type=float, default=1e-5)
    ap.add_argument("--params", default="{}", help="JSON hyper-parameters for every dpsynth generator")
    ap.add_argument("--split-seed", type=int, default=0, help="seed of the 80/20 split where none is published")
    ap.add_argument("--max-marginals", type=int, default=1000,
                    help="most k-way marginals compared per order (a seeded sample beyond it)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds a fit may run before it is killed")
    ap.add_argument("--eval-timeout", type=float, default=1200.0, help="seconds sampling + evaluation may run")
    ap.add_argument("--peers-python", type=Path, default=ROOT / ".venv-peers" / "bin" / "python")
    ap.add_argument("--peer-epochs", type=int, default=None, help="epochs for the GAN peers (their default: 300)")
    ap.add_argument("--out", type=Path, default=RESULTS / "harness.csv")
    ap.add_argument("--markdown", nargs="?", const=True, default=None, metavar="PATH",
                    help="write the Markdown table (default: the CSV's path with .md) and print it")
    ap.add_argument("--plots", nargs="?", const=True, default=None, metavar="DIR",
                    help="write the PNG plots (default: the CSV's folder)")
    ap.add_argument("--report-only", action="store_true", help="only rebuild the table and plots from --out")
    args = ap.parse_args()

    if not args.report_only:
        params = json.loads(args.params)
        for name in args.datasets:
            ds = DATASETS[name]
            meta_path = METADATA_DIR / f"{name}.json"
            meta = json.loads(meta_path.read_text())
            train_p, hold_p, split_desc = split_paths(ds, args.split_seed)
            train_rows = sum(1 for _ in train_p.open()) - 1
            holdout_rows = sum(1 for _ in hold_p.open()) - 1
            eval_meta = evaluation_metadata(meta, [_read(train_p), _read(hold_p)])
            target = ds.target or meta.get("target")
            for gen in args.generators:
                for eps in args.epsilons:
                    for seed in args.seeds:
                        job = {"dataset": name, "generator": gen, "epsilon": eps, "delta": args.delta,
                               "seed": seed, "train": str(train_p), "holdout": str(hold_p),
                               "metadata": str(meta_path), "eval_meta": eval_meta, "target": target,
                               "train_rows": train_rows, "max_marginals": args.max_marginals,
                               "params": params}
                        t0 = time.perf_counter()
                        if gen.startswith(PEER_PREFIX):
                            res = run_peer(job, args.timeout, args.eval_timeout, args.peers_python,
                                           args.peer_epochs)
                            library = "smartnoise-synth"
                        else:
                            res = run_dpsynth(job, args.timeout, args.eval_timeout)
                            library = "dpsynth"
                        row = {**{k: job[k] for k in ("dataset", "generator", "epsilon", "delta", "seed")},
                               "library": library, "train_rows": train_rows, "holdout_rows": holdout_rows,
                               "split": split_desc, "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S"),
                               "target": target, **res}
                        iid = row.pop("iid", None)
                        rows = [row]
                        if iid is not None:
                            meta_keys = ("dataset", "epsilon", "delta", "seed", "library", "train_rows",
                                         "holdout_rows", "split", "timestamp", "target")
                            rows.append({**{k: row[k] for k in meta_keys}, **iid, "generator": gen + IID_SUFFIX,
                                         "notes": "same fitted model as " + gen + ", sampled i.i.d. "
                                         "(mbi method='sample'); " + str(iid.get("notes") or "")})
                        for r in rows:
                            append_row(args.out, r)
                            summary = {k: r.get(k) for k in ("dataset", "generator", "epsilon", "seed",
                                                              "status", "tvd3", "tstr", "detection_auc",
                                                              "fit_s", "peak_mb", "error")}
                            summary["run_s"] = time.perf_counter() - t0
                            print(json.dumps(summary, default=str), flush=True)

    if args.markdown is not None:
        md_path = args.out.with_suffix(".md") if args.markdown is True else Path(args.markdown)
        table = markdown_table(args.out)
        md_path.write_text(table)
        print(table)
    if args.plots is not None:
        out_dir = args.out.parent if args.plots is True else Path(args.plots)
        for p in plots(args.out, out_dir, prefix=args.out.stem):
            print(f"wrote {p}")


if __name__ == "__main__":
    main()
