"""Neural generators (DP-CTAB-GAN+, DP-TLDM): fidelity, TSTR, detection and time on adult and credit.

Uses the harness's splits and evaluation (``benchmarks/run.py``): adult's published split
(adult_train.csv / adult_test.csv), credit's seeded, target-stratified 80/20 split, and
``dpsynth.evaluate.evaluate_all`` against the training split (fidelity, detection) and the
hold-out (TSTR). Each run fits in this process and appends one row to the CSV at once.

Usage:
    nice -n 10 .venv/bin/python benchmarks/ctabgan.py --datasets adult --epsilons 1
    nice -n 10 .venv/bin/python benchmarks/ctabgan.py --datasets adult credit --epsilons 1 3 10 \\
        --params '{"steps": 1000}'
    nice -n 10 .venv/bin/python benchmarks/ctabgan.py --generator tldm --datasets adult --epsilons 1 \\
        --uncalibrated --out benchmarks/results/neural_calibrated.csv

``--uncalibrated`` also evaluates the same fitted model with ``calibrate=False`` (a second
row with ``"calibrate": false`` in its notes and the same fit time): the effect of
reweighting samples towards the fit's DP one-way marginals, at no extra privacy cost.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as harness  # benchmarks/run.py


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generator", default="ctabgan", choices=["ctabgan", "tldm"])
    ap.add_argument("--uncalibrated", action="store_true", help="also evaluate with calibrate=False")
    ap.add_argument("--datasets", nargs="+", default=["adult", "credit"], choices=["adult", "credit"])
    ap.add_argument("--epsilons", nargs="+", type=float, default=[1.0, 3.0, 10.0])
    ap.add_argument("--delta", type=float, default=1e-5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--params", default="{}", help="JSON hyper-parameters of ctabgan")
    ap.add_argument("--max-marginals", type=int, default=300)
    ap.add_argument("--out", type=Path, default=harness.RESULTS / "ctabgan.csv")
    args = ap.parse_args()
    os.environ.setdefault("DPSYNTH_TORCH_THREADS", "1")

    from dpsynth import api

    params = json.loads(args.params)
    for name in args.datasets:
        ds = harness.DATASETS[name]
        meta_path = harness.METADATA_DIR / f"{name}.json"
        meta = json.loads(meta_path.read_text())
        train_p, hold_p, split_desc = harness.split_paths(ds, 0)
        train_rows = sum(1 for _ in train_p.open()) - 1
        eval_meta = harness.evaluation_metadata(meta, [harness._read(train_p), harness._read(hold_p)])
        target = ds.target or meta.get("target")
        for eps in args.epsilons:
            job = {"train": str(train_p), "holdout": str(hold_p), "eval_meta": eval_meta, "target": target,
                   "seed": args.seed, "max_marginals": args.max_marginals}
            row = {"dataset": name, "generator": args.generator, "library": "dpsynth", "epsilon": eps,
                   "delta": args.delta, "seed": args.seed, "train_rows": train_rows, "split": split_desc,
                   "target": target, "notes": json.dumps(params),
                   "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S")}
            try:
                t0, c0 = time.perf_counter(), time.process_time()
                model = api.fit(str(train_p), generator=args.generator, epsilon=eps, delta=args.delta,
                                metadata=str(meta_path), random_state=args.seed, **params)
                row["fit_s"] = time.perf_counter() - t0
                row["fit_cpu_s"] = time.process_time() - c0  # every thread of this process
                n = int(model._row_estimate() or train_rows)
                t1 = time.perf_counter()
                synth = model.sample(n, random_state=args.seed)
                row["sample_s"] = time.perf_counter() - t1
                row["synthetic_rows"] = len(synth)
                row["epsilon_spent"] = model.privacy_report.epsilon
                row["status"] = "ok"
                row.update(harness._evaluate(job, synth))
                if args.uncalibrated:
                    raw = dict(row, notes=json.dumps({**params, "calibrate": False}))
                    model.calibrate = False
                    t1 = time.perf_counter()
                    synth = model.sample(n, random_state=args.seed)
                    raw["sample_s"] = time.perf_counter() - t1
                    raw.update(harness._evaluate(job, synth))
                    _emit(args.out, raw)
            except Exception as exc:  # a failed run is recorded, not fatal
                row["status"] = "error"
                row["error"] = harness._one_line(exc)
            _emit(args.out, row)


def _emit(out: Path, row: dict) -> None:
    harness.append_row(out, row)
    keys = ("dataset", "epsilon", "notes", "status", "tvd1", "tvd2", "tvd3", "tstr", "trtr", "detection_auc", "fit_s",
            "fit_cpu_s", "error")
    print(json.dumps({k: row.get(k) for k in keys}, default=str), flush=True)


if __name__ == "__main__":
    main()
