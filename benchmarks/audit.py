"""Benchmark of the privacy audit (issue 5) on adult_pgm.

For each generator × claimed ε: a full audit with :func:`dpsynth.audit.run_audit` —
membership games (closest-distance, query-based, DOMIAS, shadow models with naive /
histogram / correlation features) against one outlier target, and the linear-reconstruction
game — and one CSV row with:

- the strongest membership attack (highest AUC): its AUC, 95% CI and TPR at 1% FPR;
- the largest empirical ε lower bound over the attacks (Clopper–Pearson, Bonferroni over
  attacks and thresholds) against the claimed ε, and the verdict;
- reconstruction accuracy of the LP attack and of the random-forest and closest-record
  baselines at each synthetic size;
- wall time of the membership phase per game (shadow fits included) and of the
  reconstruction phase per game.

The population is a fixed random subsample of ``train.csv`` (``--pop-rows``, default 5,000)
so that the games' training sets (``--m`` rows) are drawn from a population of known size;
this is said in the output. ``resample`` is the non-private baseline (training rows drawn
with replacement): the audit must flag it.

Games are kept in ``benchmarks/results/tmp/audit/<generator>_eps<ε>/`` and a rerun with the
same settings resumes them.

Usage:
    .venv/bin/python benchmarks/audit.py --generators mst --epsilons 1 10 --games 100 --jobs 2
    .venv/bin/python benchmarks/audit.py --generators resample --epsilons 1 --games 200
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets" / "adult_pgm" / "train.csv"
META = ROOT / "metadata" / "adult_pgm.json"
OUT = ROOT / "benchmarks" / "results" / "tmp" / "audit"  # game logs (git-ignored)
#: Quasi-identifiers of the reconstruction game: the demographic columns (8 of 13). With all
#: 13 the LP on 1,000 rows takes ~20 s per solve on this machine; the API default is all.
QIS = ["age", "workclass", "education-num", "marital-status", "occupation", "relationship", "race", "sex"]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and append one row per configuration to the CSV."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--generators", nargs="+", default=["mst"])
    p.add_argument("--epsilons", nargs="+", type=float, default=[1.0])
    p.add_argument("--delta", type=float, default=1e-6)
    p.add_argument("--games", type=int, default=100)
    p.add_argument("--m", type=int, default=1000, help="training rows per membership game")
    p.add_argument("--pop-rows", type=int, default=5000)
    p.add_argument("--n-shadows", type=int, default=20)
    p.add_argument("--recon-games", type=int, default=4)
    p.add_argument("--recon-rows", type=int, default=1000)
    p.add_argument("--recon-sizes", nargs="+", type=int, default=[1000, 10000])
    p.add_argument("--attacks", default="mia,recon")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "audit.csv")
    args = p.parse_args(argv)

    from dpsynth.audit import run_audit
    from dpsynth.data.domain import Domain
    from dpsynth.data.io import Table
    from dpsynth.progress import enable_progress

    domain = Domain.from_json(META)
    with Table.from_path(DATA) as table:
        full = table.to_frame(domain)
    population = full.sample(n=args.pop_rows, random_state=args.seed).reset_index(drop=True)
    print(f"population: {len(population)} of {len(full)} rows of {DATA.name} (random subsample, seed {args.seed})",
          file=sys.stderr)
    kinds = [k for k in args.attacks.split(",") if k]
    rows = []
    for gen in args.generators:
        for eps in args.epsilons:
            tag = f"{gen}_eps{eps:g}"
            record: dict[str, object] = {"generator": gen, "epsilon": eps, "delta": args.delta,
                                         "population_rows": len(population), "m": args.m}
            common = dict(generator=gen, epsilon=eps, delta=args.delta, random_state=args.seed, n_jobs=args.jobs,
                          resume=True)
            with enable_progress():
                if "mia" in kinds:
                    t0 = time.perf_counter()
                    res = run_audit(population, domain, attacks=["mia"], games=args.games, m=args.m,
                                    n_shadows=args.n_shadows, work_dir=OUT / tag / "mia", **common)  # type: ignore[arg-type]
                    wall = time.perf_counter() - t0
                    mem = res.membership
                    assert mem is not None
                    best = max(mem.results.values(), key=lambda r: r.auc)
                    top = mem.strongest
                    res.save(OUT / tag / "mia.json")
                    record.update({
                        "games": args.games, "n_shadows": args.n_shadows,
                        "strongest_mia": best.attack, "auc": round(best.auc, 3),
                        "auc_ci": f"{best.auc_ci[0]:.3f}-{best.auc_ci[1]:.3f}",
                        "tpr_at_1pct_fpr": round(best.tpr_at_1pct_fpr, 3),
                        "eps_lb": round(top.epsilon_lb, 3), "eps_lb_attack": top.attack,
                        "eps_lb_max_possible": round(top.epsilon_lb_max, 3),
                        "verdict": mem.verdict, "mia_wall_s": round(wall, 1),
                        "mia_s_per_game": round(wall / args.games, 2),
                        "all_auc": json.dumps({k: round(r.auc, 3) for k, r in mem.results.items()}),
                    })
                if "recon" in kinds:
                    t0 = time.perf_counter()
                    res = run_audit(population, domain, attacks=["recon"], recon_games=args.recon_games,
                                    recon_rows=args.recon_rows, recon_sizes=args.recon_sizes,
                                    quasi_identifiers=QIS, work_dir=OUT / tag / "recon", **common)  # type: ignore[arg-type]
                    wall = time.perf_counter() - t0
                    rec = res.reconstruction
                    assert rec is not None
                    res.save(OUT / tag / "recon.json")
                    record.update({"recon_games": args.recon_games, "recon_targets": rec.targets,
                                   "recon_wall_s": round(wall, 1),
                                   "recon_s_per_game": round(wall / args.recon_games, 1)})
                    for size, methods in rec.by_size.items():
                        for name, sc in methods.items():
                            record[f"acc_{name}_{size}"] = round(sc.accuracy, 3)
            print(json.dumps(record), file=sys.stderr)
            rows.append(record)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(rows)
    if args.out.exists():
        frame = pd.concat([pd.read_csv(args.out), frame], ignore_index=True)
    frame.to_csv(args.out, index=False, quoting=csv.QUOTE_MINIMAL)
    print(frame.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
