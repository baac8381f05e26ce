"""Fit time of a generator with and without numeric detail, back to back in one process.

Usage:
    PYTHONPATH=src .venv/bin/python benchmarks/numeric_time.py --dataset acs_national2019 --generator mst
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    from dpsynth.data import PrivateData
    from dpsynth.data.domain import Domain
    from dpsynth.privacy import PrivacyBudget
    from dpsynth.synth.registry import create

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="acs_national2019")
    ap.add_argument("--generator", default="mst")
    ap.add_argument("--epsilon", type=float, default=1.0)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    meta = json.loads((ROOT / "metadata" / f"{args.dataset}.json").read_text())
    path = ROOT / "benchmarks" / "results" / "tmp" / "splits" / f"{args.dataset}_seed0_train.csv"
    for parts in [(), ("atoms", "step", "shape")] * args.repeats:
        data = PrivateData(str(path), Domain.from_json(meta), numeric_detail=parts)
        t0 = time.perf_counter()
        create(args.generator, random_state=0).fit(data, PrivacyBudget(args.epsilon, 1e-5))
        print(f"numeric_detail={parts!r}: fit {time.perf_counter() - t0:.1f} s", flush=True)


if __name__ == "__main__":
    main()
