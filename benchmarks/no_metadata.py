"""Fits without metadata beside the same fits with the bundled public metadata.

For each dataset: fit a generator at (ε, δ) with ``metadata/<name>.json`` and without any
metadata (types, missingness, support, categories and bounds inferred with DP), sample as
many rows as the real table, and report on the real rows (evaluation reads raw rows: not
part of any release):

* 1-way TVD of both outputs, on the discretisation of the with-metadata fit's domain;
* per low-cardinality column named on the command line: synthetic values outside the real
  support;
* numeric columns: synthetic values outside the real range by more than the inferred bin
  width at that end; missing values introduced in columns the real table has none.

Usage:
    PYTHONPATH=src python benchmarks/no_metadata.py credit --generator mst --epsilon 1 --seed 0 1 2
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from dpsynth import api
from dpsynth.data.io import Table
from dpsynth.evaluate.marginals import MarginalTVD
from dpsynth.privacy import PrivacyBudget
from dpsynth.synth import create

ROOT = Path(__file__).resolve().parents[1]
DATA = Path("/work/shared/datasets") if Path("/work/shared/datasets").exists() else ROOT.parent / "shared" / "datasets"
SETS = {
    "credit": (DATA / "credit" / "credit.csv", ROOT / "metadata" / "credit.json", ["Y", "X2", "X3", "X4"]),
    "adult": (DATA / "adult" / "adult_train.csv", ROOT / "metadata" / "adult.json", ["educational-num"]),
    "acs_national2019": (DATA / "acs_national2019" / "national2019.csv", ROOT / "metadata" / "acs_national2019.json",
                         ["SEX", "MSP", "HISP", "RAC1P", "OWN_RENT", "HOUSING_TYPE", "DEYE"]),
}


def _fit(path: Path, meta: Path | None, gen: str, eps: float, delta: float, seed: int, params: dict) -> tuple:
    t = time.process_time()  # CPU seconds of this process (the machine is shared)
    data = api.load_private(path, meta)
    model = create(gen, random_state=seed, **params).fit(data, PrivacyBudget(eps, delta))
    secs = time.process_time() - t
    return model, secs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset", choices=sorted(SETS))
    ap.add_argument("--generator", default="mst")
    ap.add_argument("--epsilon", type=float, default=1.0)
    ap.add_argument("--delta", type=float, default=1e-5)
    ap.add_argument("--seed", type=int, nargs="+", default=[0],
                    help="one run per seed (fit noise and sampling); the summary gives each and the mean")
    ap.add_argument("--params", default="{}")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    docs = [run(a, seed) for seed in a.seed]
    keys = ("tvd_1way_with_metadata", "tvd_1way_without_metadata", "tvd_1way_real_quantile_bins_with",
            "tvd_1way_real_quantile_bins_without", "tvd_2way_real_quantile_bins_with",
            "tvd_2way_real_quantile_bins_without", "fit_cpu_seconds_with", "fit_cpu_seconds_without")
    mean = {k: float(np.mean([d[k] for d in docs])) for k in keys}
    mean["ratio"] = mean["tvd_1way_without_metadata"] / mean["tvd_1way_with_metadata"]
    mean["ratio_real_quantile_bins"] = (mean["tvd_1way_real_quantile_bins_without"]
                                        / mean["tvd_1way_real_quantile_bins_with"])
    mean["ratio_2way_real_quantile_bins"] = (mean["tvd_2way_real_quantile_bins_without"]
                                             / mean["tvd_2way_real_quantile_bins_with"])
    summary = {"dataset": a.dataset, "generator": a.generator, "seeds": a.seed,
               "ratio_real_quantile_bins_per_seed": [round(d["ratio_real_quantile_bins"], 3) for d in docs],
               "mean": mean}
    if a.out:
        a.out.write_text(json.dumps({"summary": summary, "runs": docs}, indent=1, default=str))
    print(json.dumps(summary, default=str))


def run(a: argparse.Namespace, seed: int) -> dict:
    """One fit with and one without metadata at ``seed``; the evaluation document."""
    path, meta, support_cols = SETS[a.dataset]
    params = json.loads(a.params)
    a = argparse.Namespace(**{**vars(a), "seed": seed})
    with_model, t_with = _fit(path, meta, a.generator, a.epsilon, a.delta, a.seed, params)
    without_model, t_without = _fit(path, None, a.generator, a.epsilon, a.delta, a.seed, params)
    dom = with_model.domain_
    with Table.from_path(path) as table:
        real = table.to_frame(dom)
        raw = table.to_frame()
    n = len(real)
    synth_with = with_model.sample(n, random_state=a.seed)
    synth_without = without_model.sample(n, random_state=a.seed)
    # Cast the no-metadata output by the evaluation domain, as a user re-reading its CSV would.
    cast_without = Table.from_frame(synth_without.reindex(columns=list(dom.names))).to_frame(dom)
    tvd = MarginalTVD(k=1)
    res_with = tvd.compute(real, synth_with, dom)
    res_without = tvd.compute(real, cast_without, dom)
    r_with, r_without = res_with.value, res_without.value
    per_column = {
        m[0]: [round(float(a), 4), round(float(b), 4)]
        for m, a, b in zip(res_with.details["marginals"], res_with.details["tvd"], res_without.details["tvd"],
                           strict=True)
    }
    inferred = without_model.domain_
    # A third, neutral discretisation: numeric columns on 20 quantile bins of the real rows
    # (evaluation reads raw rows by design), categorical columns as in the metadata.
    neutral_cols = []
    for c in dom:
        if c.is_numeric:
            v = pd.to_numeric(real[c.name], errors="coerce").dropna().to_numpy(dtype=float)
            e = np.unique(np.quantile(v, np.linspace(0, 1, 21)))
            e[-1] = max(e[-1], c.upper if c.upper is not None else e[-1]) + 1
            e[0] = min(e[0], c.lower if c.lower is not None else e[0])
            neutral_cols.append(c.replace(edges=tuple(float(x) for x in e)))
        else:
            neutral_cols.append(c)
    neutral = dom.with_columns(neutral_cols)
    neutral_with = tvd.compute(real, synth_with, neutral)
    neutral_without = tvd.compute(real, cast_without, neutral)
    n_with, n_without = neutral_with.value, neutral_without.value
    # 2-way TVD on the same neutral bins (the domain matters beyond 1-way marginals too).
    tvd2 = MarginalTVD(k=2, max_marginals=200, random_state=0)
    n2_with = tvd2.compute(real, synth_with, neutral).value
    n2_without = tvd2.compute(real, cast_without, neutral).value
    per_column_neutral = {
        m[0]: [round(float(a), 4), round(float(b), 4)]
        for m, a, b in zip(neutral_with.details["marginals"], neutral_with.details["tvd"],
                           neutral_without.details["tvd"], strict=True)
    }
    support = {}
    for c in support_cols:
        real_vals = set(raw[c].dropna().astype(str).str.strip())
        out_vals = set(synth_without[c].dropna().astype(str))
        support[c] = {"real": sorted(real_vals), "synthetic": sorted(out_vals), "outside": sorted(out_vals - real_vals)}
    outside = {}
    introduced = []
    for col in inferred:
        real_col = pd.to_numeric(raw[col.name], errors="coerce")
        s = synth_without[col.name]
        if s.isna().any() and not raw[col.name].isna().any() and not raw[col.name].astype(str).str.strip().isin(
                ["", "NA", "N/A", "n/a", "na", "NaN", "nan", "NULL", "null", "None", "?", "N"]).any():
            introduced.append(col.name)
        if not col.is_numeric or col.edges is None:
            continue
        x = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
        e = np.asarray(col.edges)
        lo_w, hi_w = e[1] - e[0], e[-1] - e[-2]
        bad = np.sum(x < real_col.min() - lo_w) + np.sum(x > real_col.max() + hi_w)
        outside[col.name] = int(bad)
    doc = {
        "dataset": a.dataset, "generator": a.generator, "epsilon": a.epsilon, "delta": a.delta, "seed": a.seed,
        "params": params, "rows": n,
        "tvd_1way_with_metadata": r_with, "tvd_1way_without_metadata": r_without,
        "ratio": r_without / r_with, "tvd_1way_per_column_with_without": per_column,
        "tvd_1way_real_quantile_bins_with": n_with, "tvd_1way_real_quantile_bins_without": n_without,
        "ratio_real_quantile_bins": n_without / n_with,
        "tvd_2way_real_quantile_bins_with": n2_with, "tvd_2way_real_quantile_bins_without": n2_without,
        "tvd_1way_real_quantile_bins_per_column_with_without": per_column_neutral, "fit_cpu_seconds_with": t_with, "fit_cpu_seconds_without": t_without,
        "support": support, "values_outside_range_by_more_than_a_bin": outside,
        "missing_introduced_in": introduced,
        "inferred_domain": [{k: v for k, v in c.to_dict().items() if k not in ("edges", "missing_values", "density")}
                            for c in inferred],
        "ignored": list(inferred.ignore),
    }
    print(json.dumps({k: doc[k] for k in ("dataset", "generator", "tvd_1way_with_metadata", "tvd_1way_without_metadata",
                                          "ratio", "tvd_1way_real_quantile_bins_with",
                                          "tvd_1way_real_quantile_bins_without", "ratio_real_quantile_bins", "fit_cpu_seconds_with", "fit_cpu_seconds_without",
                                          "missing_introduced_in", "values_outside_range_by_more_than_a_bin")},
                     default=str))
    print(json.dumps(support))
    print(json.dumps(per_column))
    print(json.dumps(per_column_neutral))
    return doc


if __name__ == "__main__":
    main()
