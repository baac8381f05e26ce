"""Turn a benchmark CSV (or JSON-lines log) into the Markdown table BENCHMARKS.md embeds.

Usage:
    .venv/bin/python benchmarks/summarize.py benchmarks/results/marginals.csv
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd


def load(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path)
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]
    return pd.DataFrame(rows)


def table(df: pd.DataFrame) -> str:
    cols = {"tvd3_train": "3-way TVD (train)", "tvd3_test": "3-way TVD (test)", "tvd2_train": "2-way TVD",
            "tstr_auc": "TSTR AUC", "fit_s": "fit s", "peak_mb": "peak MB"}
    g = df.groupby(["generator", "epsilon"], sort=False)
    agg = g[list(cols)].mean()
    n = g.size()
    lines = ["| generator | ε | seeds | " + " | ".join(cols.values()) + " |",
             "|---|---|---|" + "---|" * len(cols)]
    for (gen, eps), row in agg.iterrows():
        cells = [f"{row[c]:.3f}" if c.startswith(("tvd", "tstr")) else f"{row[c]:.0f}" for c in cols]
        lines.append(f"| {gen} | {eps:g} | {n[(gen, eps)]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(load(Path(sys.argv[1]))))
