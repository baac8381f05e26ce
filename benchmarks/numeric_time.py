"""Fit time of a generator with and without numeric detail, back to back in one process.

Reports CPU seconds of this process (user + system, from ``resource.getrusage``; the
machine is shared, so wall time is noise) and the ratio of the medians, with the load
average. The variants alternate so that a change in load hits both.

Usage:
    PYTHONPATH=src .venv/bin/python benchmarks/numeric_time.py --dataset acs_national2019 --generator mst
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numeric as bench
import run as harness


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


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
    ap.add_argument("--params", default="{}")
    ap.add_argument("--variants", nargs=2, default=["uniform", "full"], choices=list(bench.VARIANTS),
                    help="the two variants to alternate (the ratio is second / first)")
    args = ap.parse_args()
    ds = harness.DATASETS[args.dataset]
    train_p, _, _ = harness.split_paths(ds, 0)
    meta = json.loads((harness.METADATA_DIR / f"{args.dataset}.json").read_text())
    first, second = args.variants
    times: dict[str, list[float]] = {first: [], second: []}
    for variant in [first, second] * args.repeats:
        data = PrivateData(str(train_p), Domain.from_json(meta), numeric_detail=bench.VARIANTS[variant])
        t0 = _cpu()
        create(args.generator, random_state=0, **json.loads(args.params)).fit(data, PrivacyBudget(args.epsilon, 1e-5))
        times[variant].append(_cpu() - t0)
        print(f"{variant}: fit {times[variant][-1]:.1f} CPU s (load {os.getloadavg()[0]:.1f})", flush=True)
    ratio = statistics.median(times[second]) / statistics.median(times[first])
    print(f"{args.dataset} {args.generator}: median CPU s {first} {statistics.median(times[first]):.1f}, "
          f"{second} {statistics.median(times[second]):.1f}, ratio {ratio:.2f}", flush=True)


if __name__ == "__main__":
    main()
