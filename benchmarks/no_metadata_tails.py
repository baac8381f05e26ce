"""Tails of the web-sessions table without metadata: how far synthetic values run past the real ones.

Fits MST and AIM on ``tests/data/_tables.py::sessions`` without metadata (ε = 1, δ = 1e-5,
seeds 0–2) and prints, per skewed numeric column, the KS statistic on raw values, the share of
synthetic values above the real maximum and the ratio of synthetic to real 99th percentiles;
and per generator the means with Wasserstein-1 as a share of the real range.

Usage:
    PYTHONPATH=src python benchmarks/no_metadata_tails.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the table lives in tests/data/_tables.py
sys.path.insert(0, str(Path(__file__).resolve().parent))
from no_metadata_clinic import fit_and_sample
from tests.data._tables import sessions

COLUMNS = ("Administrative", "Administrative_Duration", "Informational_Duration", "ProductRelated",
           "ProductRelated_Duration", "PageValues")


def main() -> None:
    real = sessions()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sessions.csv"
        real.to_csv(path, index=False)
        for gen in ("mst", "aim"):
            for seed in (0, 1, 2):
                synth, _, _ = fit_and_sample(gen, seed, path, 1.0, len(real))
                for c in COLUMNS:
                    x = pd.to_numeric(synth[c], errors="coerce").astype(float).dropna().to_numpy()
                    r = real[c].to_numpy(dtype=float)
                    rows.append({"gen": gen, "col": c, "ks": stats.ks_2samp(r, x).statistic,
                                 "beyond": float((x > r.max()).mean()),
                                 "w1": stats.wasserstein_distance(r, x) / (r.max() - r.min()),
                                 "q99": float(np.quantile(x, 0.99) / np.quantile(r, 0.99))})
    d = pd.DataFrame(rows)
    print(d.groupby("gen")[["ks", "beyond", "w1"]].mean().round(4).to_string())
    print(d.groupby(["gen", "col"])[["ks", "beyond", "q99"]].mean().round(3).to_string())


if __name__ == "__main__":
    main()
