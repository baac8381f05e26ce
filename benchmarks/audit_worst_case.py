"""Benchmark of the worst-case audit: claimed vs audited μ for the pair-audited generators.

For each generator and (ε, δ): ``runs`` fits per side on the worst-case pair (D⁻: 10 rows of
zeros over three binary columns; D⁺: D⁻ plus a row of ones), white-box (the fit's noisy
releases, Gaussian log-likelihood ratio) and black-box (8 row-pattern counts in 25 synthetic
rows, logistic regression on half the runs) features, μ lower bounds (Clopper–Pearson and
Jeffreys/Bayes, 95% split over the two feature sets) and tightness μ_lb / μ_claimed. See
:mod:`dpsynth.audit.worst_case`.

Controls (``--controls``): the under-noised copy (marginals released with 0.8·σ while the
ledger charges σ) of ``independent`` repeated ``--repeats`` times (with ``--honest``, each
beside the same audit of the honest generator, which must never read "violation"), and the
copy that reads one category from the data for free; both copies must read "violation". They live in
``tests/audit/controls.py`` (the package has no switch that turns privacy off).

Appends one row per audit to ``benchmarks/results/audit_worst_case.csv`` and prints it.
Each audit keeps its runs under ``benchmarks/results/audit_worst_case/`` and resumes them.

Usage (2 workers; the machine is shared, so CPU time is reported beside wall time):
    .venv/bin/python benchmarks/audit_worst_case.py --generators independent mst aim --eps 1 --delta 1e-2 --runs 2000
    .venv/bin/python benchmarks/audit_worst_case.py --controls --honest --eps 6 --delta 1e-5 --runs 1000 --repeats 10
    .venv/bin/python benchmarks/audit_worst_case.py --generators mst --pair selection --eps 1 --delta 1e-2 --runs 12000
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the controls live in tests/audit/controls.py

from dpsynth.audit.worst_case import WorstCaseAudit, audit_worst_case  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "audit_worst_case.csv"
WORK = ROOT / "benchmarks" / "results" / "audit_worst_case"
COLUMNS = [
    "generator", "epsilon", "delta", "runs", "mu_claimed", "mu_claim", "mu_measurements",
    "white_mu_hat", "white_mu_lb_cp", "white_mu_lb_bayes", "white_tightness_cp", "white_tightness_bayes",
    "black_mu_hat", "black_mu_lb_cp", "black_mu_lb_bayes", "black_tightness_bayes",
    "epsilon_lb_curve", "verdict", "wall_s", "cpu_s", "params", "seed",
    "mu_claimed_measurements", "white_tightness_measurements_cp", "white_tightness_measurements_bayes", "loadavg",
    "pair", "selection_llr_sd", "selection_llr_shift",
]

#: Post-processing / search settings that keep GSD and PE fits short (privacy accounting unchanged),
#: and the final (post-processing) estimation of MST and AIM cut to one iteration: it runs after
#: the last release, so the white-box transcript is the default fit's (same seed, same answers);
#: only the black-box attack, which reads the synthetic rows, sees a less converged model.
FAST = {"gsd": {"synthetic_rows": 25, "rounds": 2, "children": 16, "generations": 20, "patience": 10},
        "pe": {"rounds": 2, "population_size": 50},
        "mst": {"iters": 1}, "aim": {"final_iters": 1}}
#: ``--fast-independent``: independent's final estimation (post-processing of its one-way
#: answers) cut to one iteration as well; same transcript, ≈ 2.5× cheaper fits.
FAST_INDEPENDENT = {"iters": 1}
#: The controls' estimation iterations (post-processing: the white-box transcript is unchanged).
CONTROL = {"iters": 1}


def row(res: WorstCaseAudit, params: dict[str, object], seed: int) -> dict[str, object]:
    w, b = res.white_box, res.black_box
    return {
        "generator": res.generator, "epsilon": res.epsilon_claimed, "delta": res.delta, "runs": res.runs,
        "mu_claimed": round(res.mu_claimed, 4), "mu_claim": res.mu_claim,
        "mu_measurements": round(res.mu_measurements, 4),
        "white_mu_hat": round(w.mu_hat, 4), "white_mu_lb_cp": round(w.mu_lb_cp, 4),
        "white_mu_lb_bayes": round(w.mu_lb_bayes, 4), "white_tightness_cp": round(w.tightness_cp, 3),
        "white_tightness_bayes": round(w.tightness_bayes, 3), "black_mu_hat": round(b.mu_hat, 4),
        "black_mu_lb_cp": round(b.mu_lb_cp, 4), "black_mu_lb_bayes": round(b.mu_lb_bayes, 4),
        "black_tightness_bayes": round(b.tightness_bayes, 3),
        "epsilon_lb_curve": round(max(w.epsilon_lb_curve, b.epsilon_lb_curve), 4), "verdict": res.verdict,
        "wall_s": round(res.wall_seconds, 1), "cpu_s": round(res.cpu_seconds, 1),
        "params": json.dumps(params), "seed": seed,
        "mu_claimed_measurements": round(res.mu_claimed_measurements, 4),
        "white_tightness_measurements_cp": round(res.tightness_measurements_cp, 3),
        "white_tightness_measurements_bayes": round(res.tightness_measurements, 3),
        "loadavg": round(os.getloadavg()[0], 1),
        "pair": res.settings.get("pair", "zeros"),
        "selection_llr_sd": round(res.selection_llr_sd, 4), "selection_llr_shift": round(res.selection_llr_shift, 4),
    }


def emit(r: dict[str, object]) -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fields = list(COLUMNS)
    if OUT.exists():
        with OUT.open(newline="") as fh:
            header = next(csv.reader(fh), [])
        fields += [c for c in header if c not in fields]  # never drop a column another version wrote
        if header != fields:  # a column was added: rewrite under the new header (old rows: empty), atomically
            with OUT.open(newline="") as fh:
                old = list(csv.DictReader(fh))
            tmp = OUT.with_suffix(".tmp")
            with tmp.open("w", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=fields)
                w.writeheader()
                w.writerows(old)
            tmp.replace(OUT)
    new = not OUT.exists()
    with OUT.open("a", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, restval="")
        if new:
            w.writeheader()
        w.writerow(r)
    print("| " + " | ".join(str(r[c]) for c in COLUMNS) + " |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--generators", nargs="*", default=[])
    ap.add_argument("--eps", type=float, default=1.0)
    ap.add_argument("--delta", type=float, nargs="+", default=[1e-2, 1e-5])
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--controls", action="store_true")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--first-repeat", type=int, default=0, help="number of the first repeat (its seeds: 1000 + k, 3000 + k)")
    ap.add_argument("--under-generators", nargs="*", default=["independent"])
    ap.add_argument("--fast-independent", action="store_true", help="independent with iters=1 (same transcript)")
    ap.add_argument("--honest", action="store_true",
                    help="with --controls: beside each under-noised repeat, the honest generator on its own runs")
    ap.add_argument("--pair", default="zeros", choices=["zeros", "selection"],
                    help="the neighbouring pair (selection: also the worst case of MST's and AIM's selections)")
    ap.add_argument("--n-minus", type=int, default=10,
                    help="rows of D⁻ (zeros pair); the selection pair is scaled by n_minus // 80 from 160 on")
    args = ap.parse_args()
    for delta in args.delta:
        for g in args.generators:
            params = FAST_INDEPENDENT if g == "independent" and args.fast_independent else FAST.get(g, {})
            t = time.perf_counter()
            tail = ("" if args.pair == "zeros" else f"_{args.pair}") + ("" if args.n_minus == 10 else f"_n{args.n_minus}")
            res = audit_worst_case(g, epsilon=args.eps, delta=delta, runs=args.runs, params=params, n_jobs=args.jobs,
                                   random_state=args.seed, work_dir=WORK / f"{g}_e{args.eps:g}_d{delta:g}{tail}",
                                   resume=True, pair=args.pair, n_minus=args.n_minus)
            print(f"# {g}: {time.perf_counter() - t:.0f} s", file=sys.stderr)
            emit(row(res, params, args.seed))
        if args.controls:
            from tests.audit.controls import CategoryFromData, Make, UnderNoisedData

            for g in args.under_generators:
                for k in range(args.first_repeat, args.first_repeat + args.repeats):
                    res = audit_worst_case(g, epsilon=args.eps, delta=delta, runs=args.runs, n_jobs=args.jobs,
                                           params=CONTROL, random_state=1000 + k, data_class=UnderNoisedData)
                    r = row(res, CONTROL, 1000 + k)
                    r["generator"] = f"{g} (noise −20%)"
                    emit(r)
                    if args.honest:  # the same audit of the honest generator: must never read "violation"
                        res = audit_worst_case(g, epsilon=args.eps, delta=delta, runs=args.runs, n_jobs=args.jobs,
                                               params=CONTROL, random_state=3000 + k)
                        r = row(res, CONTROL, 3000 + k)
                        r["generator"] = f"{g} (honest, control twin)"
                        emit(r)
            res = audit_worst_case(Make(CategoryFromData, "category_from_data", **CONTROL), epsilon=args.eps,
                                   delta=delta, runs=min(args.runs, 150), n_jobs=args.jobs, random_state=2000)
            emit(row(res, CONTROL, 2000))


if __name__ == "__main__":
    main()
