"""Benchmark of the privacy audit (issue 5) on adult_pgm (default) or acs_national2019.

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

The population is a fixed random subsample of the dataset's rows (``train.csv`` of adult_pgm,
``national2019.csv`` of acs_national2019; ``--pop-rows``, default 5,000)
so that the games' training sets (``--m`` rows) are drawn from a population of known size;
this is said in the output. ``resample`` is the non-private baseline (training rows drawn
with replacement): the audit must flag it. ``ctabgan_leaky`` is CTAB-GAN+ with the published
DP variant's leaks put back (``benchmarks/leaky_ctabgan.py``; not DP), to compare with
``ctabgan`` at the same claimed ε and settings.

Games are kept in ``benchmarks/results/tmp/audit/<generator>_eps<ε>/`` (adult_pgm) or
``benchmarks/results/tmp/audit/acs_national2019/<generator>_eps<ε>/`` and a rerun with the
same settings resumes them; the time per game counts only the games a run played. Rows go to
``results/audit.csv`` (adult_pgm) or ``results/audit_acs.csv`` (acs_national2019) unless
``--out`` is given.

Usage:
    .venv/bin/python benchmarks/audit.py --generators mst --epsilons 1 10 --games 100 --jobs 2
    .venv/bin/python benchmarks/audit.py --generators resample --epsilons 1 --games 200
    .venv/bin/python benchmarks/audit.py --dataset acs_national2019 --generators mst --epsilons 1 --games 50
    .venv/bin/python benchmarks/audit.py --generators ctabgan ctabgan_leaky --epsilons 1 --games 100 \
        --attacks mia --mia-attacks closest_distance,query,domias
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
RESULTS = ROOT / "benchmarks" / "results"
OUT = RESULTS / "tmp" / "audit"  # game logs (git-ignored)


@dataclass(frozen=True)
class AuditDataset:
    """Where a dataset's rows, metadata, game logs and CSV live, and its reconstruction game."""

    data: Path
    meta: Path
    #: Game logs: ``<work>/<generator>_eps<ε>/``.
    work: Path
    out: Path
    #: Quasi-identifiers of the reconstruction game.
    qis: tuple[str, ...]
    #: Binary secret of the reconstruction game (None: the metadata's target).
    secret: str | None


DATASETS_AUDIT = {
    # Quasi-identifiers: the demographic columns (8 of 13). With all 13 the LP on 1,000 rows
    # takes ~20 s per solve on this machine; the API default is all. Secret: the target.
    "adult_pgm": AuditDataset(
        data=DATASETS / "adult_pgm" / "train.csv",
        meta=ROOT / "metadata" / "adult_pgm.json",
        work=OUT,
        out=RESULTS / "audit.csv",
        qis=("age", "workclass", "education-num", "marital-status", "occupation", "relationship", "race",
             "sex"),
        secret=None,
    ),
    # The NIST CRC national excerpt of the 2019 ACS (27,253 rows, all used as the pool the
    # population is drawn from). Quasi-identifiers: the demographic columns an adversary
    # could know from a census-style record (area, age, sex, marital status, Hispanic
    # origin, race, education), less the secret. Secret: sex, the one balanced binary column
    # that is never missing (the game needs a non-nullable two-category column; the metadata
    # declares no target). Vision difficulty (DEYE) was tried first: 97% of people have the
    # same value, so every attack predicts the majority and the game says nothing.
    "acs_national2019": AuditDataset(
        data=DATASETS / "acs_national2019" / "national2019.csv",
        meta=ROOT / "metadata" / "acs_national2019.json",
        work=OUT / "acs_national2019",
        out=RESULTS / "audit_acs.csv",
        qis=("PUMA", "AGEP", "MSP", "HISP", "RAC1P", "EDU"),
        secret="SEX",
    ),
}


def _recon_dir(ds: AuditDataset) -> str:
    """Game-log folder of the reconstruction game (per secret, so logs never mix)."""
    return "recon" if ds.secret is None else f"recon_{ds.secret}"


# Kept for callers of the adult_pgm defaults.
DATA = DATASETS_AUDIT["adult_pgm"].data
META = DATASETS_AUDIT["adult_pgm"].meta
QIS = list(DATASETS_AUDIT["adult_pgm"].qis)


def _games_done(path: Path, games: int) -> int:
    """Games already in a resumable log (so that a resumed run's time per game counts only new ones)."""
    if not path.exists():
        return 0
    done = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short; that game is replayed
        if int(rec.get("game", games)) < games:
            done.add((rec.get("target"), int(rec["game"])))
    return len(done)


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
    p.add_argument("--dataset", choices=sorted(DATASETS_AUDIT), default="adult_pgm")
    p.add_argument("--params", default="{}", help="JSON generator hyper-parameters (e.g. for ctabgan)")
    p.add_argument("--mia-attacks", default=None,
                   help="comma-separated membership attacks (default: all six; shadow models refit the generator)")
    p.add_argument("--tag", default="", help="suffix of the game-log folder (runs with other --params)")
    p.add_argument("--out", type=Path, default=None,
                   help="CSV to append to (default: results/audit.csv for adult_pgm, "
                        "results/audit_acs.csv for acs_national2019)")
    args = p.parse_args(argv)
    ds = DATASETS_AUDIT[args.dataset]
    if args.out is None:
        args.out = ds.out

    from dpsynth.audit import run_audit
    from dpsynth.data.domain import Domain
    from dpsynth.data.io import Table
    from dpsynth.progress import enable_progress

    domain = Domain.from_json(ds.meta)
    with Table.from_path(ds.data) as table:
        full = table.to_frame(domain)
    population = full.sample(n=args.pop_rows, random_state=args.seed).reset_index(drop=True)
    print(f"population: {len(population)} of {len(full)} rows of {ds.data.name} (random subsample, seed {args.seed})",
          file=sys.stderr)
    kinds = [k for k in args.attacks.split(",") if k]
    rows = []
    for gen in args.generators:
        for eps in args.epsilons:
            tag = f"{gen}_eps{eps:g}{args.tag}"
            record: dict[str, object] = {**({} if args.dataset == "adult_pgm" else {"dataset": args.dataset}),
                                         "generator": gen, "epsilon": eps, "delta": args.delta,
                                         "population_rows": len(population), "m": args.m,
                                         **({"params": args.params} if json.loads(args.params) else {})}
            gen_obj: object = gen
            if gen == "ctabgan_leaky":
                # benchmarks/leaky_ctabgan.py: the script's folder is on sys.path.
                from leaky_ctabgan import LeakyGenerator

                gen_obj = LeakyGenerator(epsilon=eps, delta=args.delta, **json.loads(args.params))
            common = dict(generator=gen_obj, epsilon=eps, delta=args.delta, random_state=args.seed, n_jobs=args.jobs,
                          resume=True, params=json.loads(args.params) or None)
            with enable_progress():
                if "mia" in kinds:
                    run_now = args.games - _games_done(ds.work / tag / "mia" / "membership_games.jsonl", args.games)
                    t0 = time.perf_counter()
                    mia = args.mia_attacks.split(",") if args.mia_attacks else None
                    res = run_audit(population, domain, attacks=["mia"], games=args.games, m=args.m, mia_attacks=mia,
                                    n_shadows=args.n_shadows, work_dir=ds.work / tag / "mia", **common)  # type: ignore[arg-type]
                    wall = time.perf_counter() - t0
                    mem = res.membership
                    assert mem is not None
                    best = max(mem.results.values(), key=lambda r: r.auc)
                    top = mem.strongest
                    res.save(ds.work / tag / "mia.json")
                    record.update({
                        "games": args.games, "n_shadows": args.n_shadows,
                        "strongest_mia": best.attack, "auc": round(best.auc, 3),
                        "auc_ci": f"{best.auc_ci[0]:.3f}-{best.auc_ci[1]:.3f}",
                        "tpr_at_1pct_fpr": round(best.tpr_at_1pct_fpr, 3),
                        "eps_lb": round(top.epsilon_lb, 3), "eps_lb_attack": top.attack,
                        "eps_lb_max_possible": round(top.epsilon_lb_max, 3),
                        "verdict": mem.verdict, "mia_wall_s": round(wall, 1),
                        # Resumed games are not timed: divide by the games this run played
                        # (shadow fits, redone on every run that plays games, included).
                        "mia_games_run": run_now,
                        "mia_s_per_game": round(wall / max(run_now, 1), 2),
                        "all_auc": json.dumps({k: round(r.auc, 3) for k, r in mem.results.items()}),
                    })
                if "recon" in kinds:
                    recon_now = args.recon_games - _games_done(
                        ds.work / tag / _recon_dir(ds) / "reconstruction_games.jsonl", args.recon_games)
                    t0 = time.perf_counter()
                    res = run_audit(population, domain, attacks=["recon"], recon_games=args.recon_games,
                                    recon_rows=args.recon_rows, recon_sizes=args.recon_sizes,
                                    quasi_identifiers=list(ds.qis), secret=ds.secret,
                                    work_dir=ds.work / tag / _recon_dir(ds), **common)  # type: ignore[arg-type]
                    wall = time.perf_counter() - t0
                    rec = res.reconstruction
                    assert rec is not None
                    res.save(ds.work / tag / f"{_recon_dir(ds)}.json")
                    record.update({"recon_games": args.recon_games, "recon_targets": rec.targets,
                                   "recon_wall_s": round(wall, 1),
                                   "recon_games_run": recon_now,
                                   "recon_s_per_game": round(wall / max(recon_now, 1), 1)})
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
