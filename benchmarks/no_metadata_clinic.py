"""Generated tables without metadata: does each generator's output land where the rows are?

The bundled tables are large (27k–30k rows); a steward's own table is often a few thousand
rows with skewed numbers (costs with exact zeros and a long tail, lengths of stay, lab values
far above 0), where DP inference of bounds and bins has little signal. This benchmark builds
such a table with a fixed seed (4,000 rows: age, sex, blood pressures, cholesterol, admission
date, length of stay, cost, diagnosis, smoker, BMI with 8% missing, a row id), fits each
generator on it without metadata at ε = 1, δ = 1e-5, and reports per numeric column the 1-way
TVD between real and synthetic values on 20 real-quantile bins, plus the share of synthetic
costs strictly between 0 and 50 (no real cost lies there but the exact zeros' neighbours).

``--table sessions`` fits a generated web-shop table instead (12,330 rows, 18 columns: page
counts, zero-heavy durations and page values, bounce and exit rates in [0, 0.2] written with 8
decimals, a special-day closeness on {0, 0.2, …, 1}, codes and flags; see
``tests/data/_tables.py``). It reports the same TVD for its numeric columns (zeros in a bin of
their own), the mean absolute error of the zero shares, and the share of synthetic special-day
values off the real support.

``--table zips`` fits a table of 6,000 five-digit ZIP codes (9.5% written with a leading zero)
beside a count, and reports per generator the share of fits that chose the zero-padded
format, and the shares of synthetic ZIP codes that are missing, that are not 5-digit strings,
and that lie below 10000 (real: 0, 0 and 0.095).

``--table transactions`` (8,000 card transactions: 4-digit merchant codes, amounts with 4%
refunds, balances either side of 0), ``--table survey`` (3,000 answers written with ``;``:
1–5 scales with skipped answers, ages with blanks, incomes with "Prefer not to say",
completion dates), ``--table staff`` (5,000 staff records: names and e-mails, salaries,
zero-heavy bonuses, hire dates over 19 years, ratings on {1, 1.5, …, 5}, ids) and
``--table housing`` (5,000 dwellings: years built, owners' birth years, rents) and ``--table
payroll`` (3,000 pay records: salaries written "$51,549.21", raises written "2.4%") report the same
TVD for a few numeric columns and the shares of synthetic values where the real table has
none (negative amounts against the real 4.1%, merchant codes not in the real set, answers off
1–5, hire dates outside the real years, dates written with a time of day, years outside the
real range).

Usage:
    PYTHONPATH=src python benchmarks/no_metadata_clinic.py --generators mst aim --seeds 0 1 2 3
    PYTHONPATH=src python benchmarks/no_metadata_clinic.py --table sessions --generators mst aim independent --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the table lives in tests/data/_tables.py
from tests.data._tables import (
    clinic,
    housing,
    payroll,
    sessions,
    staff,
    survey,
    transactions,
    zip_codes,
)

COLUMNS = ("age", "sbp", "dbp", "cholesterol", "cost", "bmi", "length_of_stay")
SESSION_COLUMNS = ("Administrative", "Administrative_Duration", "Informational_Duration", "ProductRelated",
                   "ProductRelated_Duration", "BounceRates", "ExitRates", "PageValues", "SpecialDay")
ZERO_HEAVY = ("Administrative_Duration", "Informational_Duration", "BounceRates", "PageValues", "SpecialDay")


def fit_and_sample(gen: str, seed: int, path: Path, epsilon: float, rows: int, delta: float = 1e-5):
    """One seeded fit without metadata and its sample; with the fit's CPU seconds and model."""
    from dpsynth import api
    from dpsynth.privacy import PrivacyBudget
    from dpsynth.synth import create

    t = time.process_time()
    model = create(gen, random_state=seed).fit(api.load_private(path), PrivacyBudget(epsilon, delta))
    cpu = time.process_time() - t
    return model.sample(rows, random_state=seed), cpu, model


def quantile_edges(values: pd.Series) -> np.ndarray:
    """20 real-quantile bins; exact zeros (when the column has them) in a bin of their own."""
    v = values.dropna().to_numpy(dtype=np.float64)
    edges = np.quantile(v, np.linspace(0, 1, 21))
    pos = v[v > 0]
    if (v == 0).any() and pos.size:
        edges = np.r_[edges, pos.min() / 2.0]
    return np.unique(edges)


def tvd(real: pd.Series, synth: pd.Series, edges: np.ndarray) -> float:
    lo, hi = edges[0], edges[-1]
    bins = np.r_[edges[:-1], hi + 1e-9]
    a = np.histogram(real.dropna().clip(lo, hi), bins)[0]
    b = np.histogram(pd.to_numeric(synth, errors="coerce").astype(np.float64).dropna().clip(lo, hi), bins)[0]
    return 0.5 * float(np.abs(a / max(1, a.sum()) - b / max(1, b.sum())).sum())


def main() -> None:

    ap = argparse.ArgumentParser()
    ap.add_argument("--generators", nargs="+", default=["mst", "aim", "gsd", "pe", "independent"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--epsilon", type=float, default=1.0)
    ap.add_argument("--delta", type=float, default=1e-5, help="δ (the generated steward tables)")
    ap.add_argument("--table", choices=("clinic", "sessions", "zips", "transactions", "survey", "staff", "housing",
                                        "payroll"), default="clinic")
    args = ap.parse_args()
    if args.table in ("transactions", "survey", "staff", "housing", "payroll"):
        run_generic(args)
        return
    if args.table == "sessions":
        run_sessions(args)
        return
    if args.table == "zips":
        run_zips(args)
        return
    real = clinic()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clinic.csv"
        real.to_csv(path, index=False)
        edges = {c: np.unique(np.quantile(real[c].dropna(), np.linspace(0, 1, 21))) for c in COLUMNS}
        for gen in args.generators:
            rows, between, cpu = [], [], 0.0
            for seed in args.seeds:
                synth, spent, _ = fit_and_sample(gen, seed, path, args.epsilon, len(real))
                cpu += spent
                rows.append([tvd(real[c], synth[c], edges[c]) for c in COLUMNS])
                cost = pd.to_numeric(synth["cost"], errors="coerce")
                between.append(float(((cost > 0) & (cost < 50)).mean()))
            mean = np.mean(rows, axis=0)
            cols = " ".join(f"{c} {v:.3f}" for c, v in zip(COLUMNS, mean, strict=True))
            print(f"{gen}: mean 1-way TVD {mean.mean():.4f} | {cols} | costs in (0, 50) {np.mean(between):.3f} "
                  f"| fit CPU s per seed {cpu / len(args.seeds):.1f}", flush=True)


def run_sessions(args: argparse.Namespace) -> None:

    real = sessions()
    support = set(real["SpecialDay"].unique().tolist())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sessions.csv"
        real.to_csv(path, index=False)
        edges = {c: quantile_edges(real[c]) for c in SESSION_COLUMNS}
        for gen in args.generators:
            rows, zeros, off, cpu = [], [], [], 0.0
            for seed in args.seeds:
                synth, spent, _ = fit_and_sample(gen, seed, path, args.epsilon, len(real))
                cpu += spent
                rows.append([tvd(real[c], synth[c], edges[c]) for c in SESSION_COLUMNS])
                zeros.append(np.mean([abs(float((pd.to_numeric(synth[c], errors="coerce") == 0).mean())
                                          - float((real[c] == 0).mean())) for c in ZERO_HEAVY]))
                special = pd.to_numeric(synth["SpecialDay"], errors="coerce").dropna()
                off.append(float((~special.round(9).isin(support)).mean()))
            mean = np.mean(rows, axis=0)
            cols = " ".join(f"{c} {v:.3f}" for c, v in zip(SESSION_COLUMNS, mean, strict=True))
            print(f"{gen}: mean 1-way TVD {mean.mean():.4f} | {cols} | zero-share error {np.mean(zeros):.4f} "
                  f"| special days off the support {np.mean(off):.3f} | fit CPU s per seed {cpu / len(args.seeds):.1f}",
                  flush=True)


def run_zips(args: argparse.Namespace) -> None:
    from dpsynth.data.output import write_chunks

    real = zip_codes()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "zips.csv"
        real.to_csv(path, index=False)
        for gen in args.generators:
            padded, missing, malformed, below = [], [], [], []
            for seed in args.seeds:
                synth, _, model = fit_and_sample(gen, seed, path, args.epsilon, len(real))
                fmt = model.domain_["zip"].format
                padded.append(bool(getattr(fmt, "width", 0) == 5))
                out = Path(tmp) / "synthetic.csv"
                write_chunks([synth], out, domain=model.domain_)
                back = pd.read_csv(out, dtype=str, keep_default_na=False)["zip"]
                present = back[back != ""]
                missing.append(float((back == "").mean()))
                malformed.append(float((~present.str.fullmatch(r"[0-9]{5}")).mean()))
                below.append(float((pd.to_numeric(present, errors="coerce") < 10_000).mean()))
            print(f"{gen}: zero-padded format chosen in {sum(padded)} of {len(padded)} fits | missing "
                  f"{np.mean(missing):.3f} | not 5 digits {np.mean(malformed):.3f} | below 10000 {np.mean(below):.3f} "
                  f"(real 0.095)", flush=True)



def _num(x: pd.Series) -> pd.Series:
    if x.dtype == object:  # amounts written "$51,549.21" or "2.4%"
        x = x.astype(str).str.replace(r"[$,%]", "", regex=True)
    return pd.to_numeric(x, errors="coerce")


def _code_tvd(real: pd.Series, synth: pd.Series) -> float:
    """TVD of two columns read as codes (each distinct value a cell)."""
    p = real.value_counts(normalize=True)
    q = synth.dropna().astype(np.int64).value_counts(normalize=True)
    return 0.5 * float(p.sub(q, fill_value=0.0).abs().sum())


def run_generic(args: argparse.Namespace) -> None:
    """Transactions or survey: 1-way TVD of the numeric columns on 20 real-quantile bins,
    and the share of synthetic values where the real table has none."""
    if args.table == "transactions":
        real, sep, cols = transactions(), ",", ("mcc", "amount", "balance_after")
        codes = set(real["mcc"].tolist())
        extras = {
            "negative amounts (real 0.041)": lambda s: float((_num(s["amount"]) < 0).mean()),
            f"amounts in [0, 1) (real {((real['amount'] >= 0) & (real['amount'] < 1)).mean():.4f})": lambda s: float(
                ((_num(s["amount"]) >= 0) & (_num(s["amount"]) < 1)).mean()),
            "merchant codes not in the real set": lambda s: float((~_num(s["mcc"]).isin(codes)).mean()),
            "TVD of merchant codes": lambda s: _code_tvd(real["mcc"], _num(s["mcc"])),
        }
    elif args.table == "staff":
        real, sep, cols = staff(), ",", ("salary", "bonus", "rating")
        hired = pd.to_datetime(real["hire_date"])
        ratings = set(real["rating"].tolist())
        ends = (2005, 2006, 2023, 2024)
        extras = {
            f"hire dates in 2005-06 or 2023-24 (real {hired.dt.year.isin(ends).mean():.3f})": lambda s: float(
                pd.to_datetime(s["hire_date"]).dt.year.isin(ends).mean()),
            "hire date TVD by year": lambda s: _code_tvd(hired.dt.year, pd.to_datetime(s["hire_date"]).dt.year),
            "ratings off {1, 1.5, ..., 5}": lambda s: float((~_num(s["rating"]).isin(ratings)).mean()),
            "dates written with a time": lambda s: float(s["hire_date"].astype(str).str.len().gt(10).mean()),
        }
    elif args.table == "payroll":
        real, sep, cols = payroll(), ",", ("salary", "raise")
        top = float(_num(real["salary"]).max())
        extras = {
            "salaries above the real maximum": lambda s: float((_num(s["salary"]) > top).mean()),
            "synthetic salaries' 99th percentile / real": lambda s: float(
                np.nanquantile(_num(s["salary"]), 0.99) / np.nanquantile(_num(real["salary"]), 0.99)),
            f"raises below 0 (real {(_num(real['raise']) < 0).mean():.3f})": lambda s: float(
                (_num(s["raise"]) < 0).mean()),
        }
    elif args.table == "housing":
        real, sep, cols = housing(), ",", ("year_built", "birth_year", "rent")
        extras = {
            "years built outside 1950-2020": lambda s: float(
                ((_num(s["year_built"]) < 1950) | (_num(s["year_built"]) > 2020)).mean()),
            "birth years outside 1920-2006": lambda s: float(
                ((_num(s["birth_year"]) < 1920) | (_num(s["birth_year"]) > 2006)).mean()),
            "TVD of years built, by year": lambda s: _code_tvd(real["year_built"], _num(s["year_built"]).round()),
            "rents outside the real range": lambda s: float(
                ((_num(s["rent"]) < real["rent"].min()) | (_num(s["rent"]) > real["rent"].max())).mean()),
        }
    else:
        real, sep, cols = survey(), ";", ("age_years", "income", "weight")
        extras = {
            "ages outside 18-79": lambda s: float(((_num(s["age_years"]) < 18) | (_num(s["age_years"]) > 79)).mean()),
            "incomes above the real 99th percentile": lambda s: float(
                (_num(s["income"]) > np.nanquantile(_num(real["income"]), 0.99)).mean()),
            "answers off 1-5": lambda s: float(np.mean([(~_num(s[c]).dropna().isin([1, 2, 3, 4, 5])).mean()
                                                        for c in ("q1_satisfaction", "q2_recommend", "q3_ease")])),
            "dates written with a time": lambda s: float(s["completed"].astype(str).str.len().gt(10).mean()),
        }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{args.table}.csv"
        real.to_csv(path, index=False, sep=sep)
        edges = {c: quantile_edges(_num(real[c])) for c in cols}
        for gen in args.generators:
            rows, extra, cpu = [], [], 0.0
            for seed in args.seeds:
                synth, spent, _ = fit_and_sample(gen, seed, path, args.epsilon, len(real), args.delta)
                cpu += spent
                rows.append([tvd(_num(real[c]), synth[c], edges[c]) for c in cols])
                extra.append([f(synth) for f in extras.values()])
            mean, ex = np.mean(rows, axis=0), np.mean(extra, axis=0)
            shown = " ".join(f"{c} {v:.3f}" for c, v in zip(cols, mean, strict=True))
            more = " | ".join(f"{k} {v:.3f}" for k, v in zip(extras, ex, strict=True))
            print(f"{gen}: mean 1-way TVD {mean.mean():.4f} | {shown} | {more} | fit CPU s per seed "
                  f"{cpu / len(args.seeds):.1f}", flush=True)


if __name__ == "__main__":
    main()
