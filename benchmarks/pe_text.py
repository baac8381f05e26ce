"""Text Private Evolution benchmark (issue 8): Aug-PE without an LLM on a small sentiment set.

Data: ``benchmarks/data/sentiment_small.csv``, 450 short sentences composed for this
benchmark (not downloaded): 200 labelled training sentences (the private set), 100
labelled test sentences, and 150 unlabelled "public" sentences in other wording (mostly
neutral or mixed statements) that RANDOM_API draws from. The labelled sentences come from
a small set of templates, so the task is easy for a classifier trained on real data.

Each run fits :class:`~dpsynth.pe.text.TextPE` with per-class votes (classes
``negative``/``positive`` are public) at ε (δ = 1e-5), samples 200 labelled synthetic
texts, trains a TF-IDF (word 1–2-grams) + logistic-regression classifier on them — a
different model from the MiniLM embedding used for selection — and reports its balanced
accuracy on the real test sentences. Beside it: the public corpus alone (each public text
given a class uniformly at random, i.e. the random API with no private data) and the
classifier trained on the real training sentences.

Usage:
    nice -n 10 .venv/bin/python benchmarks/pe_text.py --epsilons 1 4 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DATA = ROOT / "benchmarks" / "data" / "sentiment_small.csv"
CLASSES = ["negative", "positive"]


def _balanced_accuracy(x: list[str], y: list[str], x_test: list[str], y_test: list[str]) -> float:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.pipeline import make_pipeline

    if len(set(y)) < 2:  # a one-class training set predicts one class: chance level
        return 0.5
    clf = make_pipeline(TfidfVectorizer(ngram_range=(1, 2)), LogisticRegression(max_iter=1000)).fit(x, y)
    return float(balanced_accuracy_score(y_test, clf.predict(x_test)))


def run(epsilons: list[float], seeds: list[int], params: dict[str, Any]) -> list[dict[str, Any]]:
    """Run the benchmark; returns one row per run."""
    import torch

    from dpsynth.pe.text import TextPE, load_sentence_model, text_private_data
    from dpsynth.privacy import PrivacyBudget

    torch.set_num_threads(1)  # small batches on a shared machine: contended threads are slower
    df = pd.read_csv(DATA, keep_default_na=False)
    train, test, public = (df[df["split"] == s] for s in ("train", "test", "public"))
    x_te, y_te = test["text"].tolist(), test["label"].tolist()
    rows: list[dict[str, Any]] = [
        {"method": "real training data", "balanced_accuracy":
         _balanced_accuracy(train["text"].tolist(), train["label"].tolist(), x_te, y_te)}
    ]
    corpus = public["text"].tolist()
    for seed in seeds:
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, len(corpus), size=200)
        rows.append({"method": "public corpus alone (random labels)", "seed": seed, "balanced_accuracy":
                     _balanced_accuracy([corpus[i] for i in idx], [CLASSES[i % 2] for i in range(200)], x_te, y_te)})
    model = load_sentence_model()
    data = text_private_data(train["text"].tolist(), train["label"].tolist(), classes=CLASSES)
    for eps in epsilons:
        for seed in seeds:
            t0 = time.perf_counter()
            pe = TextPE(corpus, model=model, random_state=seed, **params).fit(data, PrivacyBudget(eps, 1e-5))
            fit_s = time.perf_counter() - t0
            syn = pe.sample(200, random_state=seed)
            rep = pe.privacy_report
            rows.append({
                "method": "TextPE (word variations)", "epsilon": eps, "seed": seed,
                "balanced_accuracy": _balanced_accuracy(syn["text"].tolist(), syn["label"].tolist(), x_te, y_te),
                "sigma": pe.sigma_, "epsilon_spent": rep.epsilon, "epsilon_gdp": rep.epsilon_gdp, "fit_s": fit_s,
                "examples": syn.head(3).to_dict("records"),
            })
            print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epsilons", nargs="+", type=float, default=[1.0, 4.0])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--params", default="{}", help="JSON hyper-parameters of TextPE")
    args = ap.parse_args()
    rows = run(args.epsilons, args.seeds, json.loads(args.params))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "pe_text.json").write_text(json.dumps(rows, indent=1))
    for r in rows:
        print(f"{r['method']:40s} eps={r.get('epsilon', '-'):>5} seed={r.get('seed', '-')} "
              f"bal_acc={r['balanced_accuracy']:.3f}")


if __name__ == "__main__":
    main()
