"""SDMetrics' quality score (the figure SDV users know) for dpsynth's generators.

Fits each generator on a training split of each bundled dataset, samples as many rows as
the split has, and scores the synthetic table against the training rows with SDMetrics'
QualityReport (Column Shapes, Column Pair Trends, their mean) through
``dpsynth.evaluate.SDMetricsQuality``. Splits: the published ones for ``adult`` and
``adult_pgm``; a seeded 80/20 split (seed 0) for the others. One CSV row per run, appended
as each finishes.

Usage:
    .venv/bin/python benchmarks/quality.py --datasets adult credit --generators independent mst aim \\
        --epsilons 1 --out benchmarks/results/quality.csv
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets"
FILES = {
    "adult": ("adult/adult_train.csv", "adult.json"),
    "adult_pgm": ("adult_pgm/train.csv", "adult_pgm.json"),
    "credit": ("credit/credit.csv", "credit.json"),
    "beijing": ("beijing/beijing.csv", "beijing.json"),
    "acs_national2019": ("acs_national2019/national2019.csv", "acs_national2019.json"),
}
FIELDS = ["dataset", "generator", "epsilon", "seed", "rows", "quality", "column_shapes",
          "column_pair_trends", "fit_s", "error"]


def _train(name: str) -> pd.DataFrame:
    rel, _ = FILES[name]
    frame = pd.read_csv(DATA / rel, dtype=str, keep_default_na=False)
    if name in ("adult", "adult_pgm"):
        return frame
    return frame.sample(frac=0.8, random_state=0).reset_index(drop=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=list(FILES))
    ap.add_argument("--generators", nargs="+", default=["independent", "mst", "aim"])
    ap.add_argument("--epsilons", nargs="+", type=float, default=[1.0])
    ap.add_argument("--delta", type=float, default=1e-5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "quality.csv")
    args = ap.parse_args()

    from dpsynth import api
    from dpsynth.data.domain import Domain
    from dpsynth.evaluate import SDMetricsQuality

    args.out.parent.mkdir(parents=True, exist_ok=True)
    new = not args.out.exists()
    with args.out.open("a", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=FIELDS)
        if new:
            w.writeheader()
        for ds in args.datasets:
            train = _train(ds)
            meta = ROOT / "metadata" / FILES[ds][1]
            domain = Domain.from_json(meta)
            for gen in args.generators:
                for eps in args.epsilons:
                    row = {"dataset": ds, "generator": gen, "epsilon": eps, "seed": args.seed, "rows": len(train)}
                    try:
                        t0 = time.perf_counter()
                        model = api.fit(train, generator=gen, epsilon=eps, delta=args.delta, metadata=meta,
                                        random_state=args.seed)
                        row["fit_s"] = round(time.perf_counter() - t0, 1)
                        synth = model.sample(len(train), random_state=args.seed)
                        res = SDMetricsQuality().compute(train, synth, domain)
                        props = res.details["properties"]
                        row.update(quality=round(res.value, 4), column_shapes=round(props["Column Shapes"], 4),
                                   column_pair_trends=round(props["Column Pair Trends"], 4))
                    except Exception as err:  # a failed run is recorded, the others go on
                        row["error"] = f"{type(err).__name__}: {err}"[:200]
                    w.writerow(row)
                    fh.flush()
                    print(row, flush=True)


if __name__ == "__main__":
    main()
