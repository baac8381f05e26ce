"""How much of each numeric column DP bounds inference clamps, without metadata.

For the generated tables of ``tests/data/_tables.py`` (clinic, web sessions, weather
readings, a ledger of columns recorded as negatives), infers the domain without metadata
at ε = 1, δ = 1e-5 (25% of ρ for inference, as a fit without metadata spends) once per seed, and reports per numeric column the mean
share of real rows outside the inferred bounds (clamped onto them before any count) and
the median width of the inferred range against the real one. Domain inference only: no
generator is fitted.

``--no-walk`` turns off the walk of an upper bound past the windows of cells just beyond it
(``dpsynth.data.infer.WALK_Z`` set to infinity), so the two runs draw the same noise and
differ by the walk alone.

Usage:
    PYTHONPATH=src python benchmarks/no_metadata_bounds.py --seeds 40
    PYTHONPATH=src python benchmarks/no_metadata_bounds.py --seeds 40 --no-walk
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tables live in tests/data/_tables.py
from tests.data._tables import clinic, ledger, sessions, weather


def main() -> None:
    from dpsynth.data.infer import infer_domain, schema_domain
    from dpsynth.data.io import Table
    from dpsynth.privacy import Accountant, NoiseSource, PrivacyBudget

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--tables", nargs="+", default=["clinic", "sessions", "weather"])
    ap.add_argument("--no-walk", action="store_true")
    args = ap.parse_args()
    if args.no_walk:
        import dpsynth.data.infer as infer

        infer.WALK_Z = float("inf")
    budget = PrivacyBudget(1.0, 1e-5)
    makers = {"clinic": clinic, "sessions": sessions, "weather": weather, "ledger": ledger}
    print("| table | column | clamped share (mean) | inferred / real range (median) |")
    print("| --- | --- | ---: | ---: |")
    for name in args.tables:
        df = makers[name]().astype(str).astype(object)
        real = df.apply(pd.to_numeric, errors="coerce")
        table = Table.from_frame(df)
        clamped: dict[str, list[float]] = {}
        width: dict[str, list[float]] = {}
        for seed in range(args.seeds):
            acc = Accountant(budget, seeded=True)
            dom, _ = infer_domain(table, schema_domain(table), rho=0.25 * budget.rho, accountant=acc,
                                  noise=NoiseSource(seed), step="bench")
            for col in dom:
                if col.kind != "numeric" or col.lower is None or col.upper is None:
                    continue
                x = real[col.name].dropna()
                if x.empty or not x.max() > x.min():
                    continue
                clamped.setdefault(col.name, []).append(float(((x > col.upper) | (x < col.lower)).mean()))
                width.setdefault(col.name, []).append((col.upper - col.lower) / (x.max() - x.min()))
        for col_name, shares in clamped.items():
            print(f"| {name} | {col_name} | {np.mean(shares):.4f} | {np.median(width[col_name]):.2f} |", flush=True)


if __name__ == "__main__":
    main()
