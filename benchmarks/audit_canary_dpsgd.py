"""Benchmark of the one-run Dirac-canary audit of the DP-SGD trainer.

For each claimed ε (δ = 1e-5 by default): m = 1,000 Dirac gradient canaries, each included
with probability ½, trained through :class:`dpsynth.dpsgd.PrivateTrainer` (Poisson sampling
at q, T steps, ghost clipping at C = 1, plain SGD) with σ calibrated to the budget, then the
one-run lower bound of Steinke, Nasr and Jagielski (NeurIPS 2023) at 95% confidence,
Bonferroni over the default k grid (see :mod:`dpsynth.audit.canary_dpsgd`). One extra row is
the positive control: the claim is for the σ calibrated to the first ε, the trainer adds
``--control-sigma`` instead; it must read "violation".

Prints a markdown table and writes ``benchmarks/results/audit_canary_dpsgd.csv`` (replaced
on each run).

Usage:
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/audit_canary_dpsgd.py
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/audit_canary_dpsgd.py --observe final all_steps
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

from dpsynth.audit import DPSGDCanaryAudit, audit_dpsgd_canaries
from dpsynth.privacy import PrivacyBudget

ROOT = Path(__file__).resolve().parents[1]

COLUMNS = [
    "run", "observe", "epsilon_claimed", "delta", "sigma", "sigma_actual", "q", "T", "m",
    "k", "r", "v", "epsilon_lb", "verdict", "epsilon_charged", "seconds",
]


def _row(name: str, res: DPSGDCanaryAudit, seconds: float) -> dict[str, object]:
    return {
        "run": name,
        "observe": res.observe,
        "epsilon_claimed": round(res.epsilon_claimed, 3),
        "delta": res.delta,
        "sigma": round(res.noise_multiplier, 3),
        "sigma_actual": round(res.actual_noise_multiplier, 3),
        "q": res.sample_rate,
        "T": res.steps,
        "m": res.m,
        "k": res.audit.k_pos,
        "r": res.r,
        "v": res.v,
        "epsilon_lb": round(res.epsilon_lb, 3),
        "verdict": res.verdict,
        "epsilon_charged": round(res.epsilon_charged, 3),
        "seconds": round(seconds, 2),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the audits and write the table."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epsilons", nargs="+", type=float, default=[1.0, 4.0, 8.0])
    p.add_argument("--delta", type=float, default=1e-5)
    p.add_argument("--m", type=int, default=1000)
    p.add_argument("--sample-rate", type=float, default=0.5)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--observe", nargs="+", choices=["final", "all_steps"], default=["final"])
    p.add_argument("--control-sigma", type=float, default=0.5,
                   help="σ the positive control trains with (its claim is for the first ε)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "audit_canary_dpsgd.csv")
    args = p.parse_args(argv)

    common = dict(m=args.m, sample_rate=args.sample_rate, steps=args.steps, threads=args.threads,
                  random_state=args.seed)
    rows = []
    for observe in args.observe:
        for eps in args.epsilons:
            t0 = time.perf_counter()
            res = audit_dpsgd_canaries(PrivacyBudget(eps, args.delta), observe=observe, **common)
            rows.append(_row("honest", res, time.perf_counter() - t0))
        t0 = time.perf_counter()
        res = audit_dpsgd_canaries(PrivacyBudget(args.epsilons[0], args.delta), observe=observe,
                                   actual_noise_multiplier=args.control_sigma, **common)
        rows.append(_row("positive control", res, time.perf_counter() - t0))

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    shown = ["run", "observe", "epsilon_claimed", "sigma", "sigma_actual", "q", "T", "r", "v",
             "epsilon_lb", "verdict", "seconds"]
    header = ["run", "observe", "claimed ε", "σ (claim)", "σ (trained)", "q", "T", "r", "v",
              "ε_lb (95%)", "verdict", "wall s"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in shown) + " |")
    print(f"\nδ = {args.delta:g}, m = {args.m}, seed {args.seed}; CSV: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
