"""Timing harness for the evaluation performance target (issue 3), not collected by pytest.

Evaluates a 40k-row synthetic table against a 40k-row real one built from the bundled
Adult data (14 columns: ``fnlwgt`` dropped, so all 364 3-way marginals are compared), with
every metric, a 9.7k-row hold-out for utility and DCR included. The synthetic table is the
real one with each column shuffled independently (a poor generator), so the learned
metrics do real work.

Usage (2 cores):
    taskset -c 0,1 .venv/bin/python tests/evaluate/perf_adult.py
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "datasets" / "adult"

# Public schema (UCI Adult documentation; see ../shared/datasets/README.md).
NUMERIC = {"age": (17, 90), "educational-num": (1, 16), "capital-gain": (0, 99999),
           "capital-loss": (0, 4356), "hours-per-week": (1, 99)}
CATEGORIES = {
    "workclass": ["Private", "Self-emp-not-inc", "Self-emp-inc", "Federal-gov", "Local-gov", "State-gov",
                  "Without-pay", "Never-worked"],
    "education": ["Bachelors", "Some-college", "11th", "HS-grad", "Prof-school", "Assoc-acdm", "Assoc-voc",
                  "9th", "7th-8th", "12th", "Masters", "1st-4th", "10th", "Doctorate", "5th-6th", "Preschool"],
    "marital-status": ["Married-civ-spouse", "Divorced", "Never-married", "Separated", "Widowed",
                       "Married-spouse-absent", "Married-AF-spouse"],
    "occupation": ["Tech-support", "Craft-repair", "Other-service", "Sales", "Exec-managerial",
                   "Prof-specialty", "Handlers-cleaners", "Machine-op-inspct", "Adm-clerical", "Farming-fishing",
                   "Transport-moving", "Priv-house-serv", "Protective-serv", "Armed-Forces"],
    "relationship": ["Wife", "Own-child", "Husband", "Not-in-family", "Other-relative", "Unmarried"],
    "race": ["White", "Asian-Pac-Islander", "Amer-Indian-Eskimo", "Other", "Black"],
    "gender": ["Female", "Male"],
    "native-country": ["United-States", "Cambodia", "England", "Puerto-Rico", "Canada", "Germany",
                       "Outlying-US(Guam-USVI-etc)", "India", "Japan", "Greece", "South", "China", "Cuba", "Iran",
                       "Honduras", "Philippines", "Italy", "Poland", "Jamaica", "Vietnam", "Mexico", "Portugal",
                       "Ireland", "France", "Dominican-Republic", "Laos", "Ecuador", "Taiwan", "Haiti", "Columbia",
                       "Hungary", "Guatemala", "Nicaragua", "Scotland", "Thailand", "Yugoslavia", "El-Salvador",
                       "Trinadad&Tobago", "Peru", "Hong", "Holand-Netherlands"],
    "income": ["<=50K", ">50K"],
}


def adult_domain():
    from dpsynth.data.domain import Domain

    cols = [{"name": c, "type": "numeric", "integer": True, "lower": lo, "upper": hi}
            for c, (lo, hi) in NUMERIC.items()]
    cols += [{"name": c, "type": "categorical", "categories": cats, "nullable": c != "income"}
             for c, cats in CATEGORIES.items()]
    return Domain.from_json({"columns": cols, "target": "income", "missing_values": ["?"]})


def main() -> None:
    from dpsynth.evaluate import evaluate_all, summary_table

    domain = adult_domain()
    names = list(domain.names)
    frames = [pd.read_csv(DATA / f"adult_{s}.csv", dtype=str) for s in ("train", "val", "test")]
    pool = pd.concat(frames, ignore_index=True)[names]
    rng = np.random.default_rng(0)
    pool = pool.iloc[rng.permutation(len(pool))].reset_index(drop=True)
    real = pool.iloc[:40_000].reset_index(drop=True)
    holdout = pool.iloc[40_000:].reset_index(drop=True)
    synth = pd.DataFrame({c: rng.permutation(real[c].to_numpy()) for c in names})
    t0, c0 = time.perf_counter(), time.process_time()
    results = evaluate_all(real, synth, domain, holdout=holdout, random_state=0, max_marginals=None)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    pd.set_option("display.width", 200)
    print(summary_table(results).drop(columns=["note"]).to_string())
    print(f"real {real.shape}, synthetic {synth.shape}, holdout {holdout.shape}; "
          f"3-way marginals: {results['marginal_tvd_3way'].details['n_marginals']}")
    print(f"evaluate_all: {elapsed:.1f} s wall, {cpu:.1f} s CPU")
    if "--timings" in sys.argv:
        from dpsynth.evaluate._prepare import prepare

        prep = prepare(real, synth, domain, holdout=holdout, real_split="train")
        from dpsynth.evaluate import default_metrics

        for m in default_metrics(domain, with_holdout=True, max_marginals=None):
            t = time.perf_counter()
            m.compute_prepared(prep)
            print(f"  {m.name:28s} {time.perf_counter() - t:6.2f} s")
    json.dumps({k: r.to_dict() for k, r in results.items()}, allow_nan=False)


if __name__ == "__main__":
    main()
