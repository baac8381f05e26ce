"""LDP synthetic data: graphical model on LDP marginals vs independent LDP marginals.

Every user (a row of train.csv) reports one marginal of their own record under ε-LDP; the
tree model uses a share of the users to choose pairs. Reports mean 1-way / 2-way / 3-way
TVD against the training split (adult_pgm by default; ``--data``, ``--metadata`` and
``--columns`` pick another bundled table and a subset of its declared columns).

Usage:
    PYTHONPATH=src python benchmarks/ldp.py --epsilons 1 4 8 --seeds 0
    PYTHONPATH=src python benchmarks/ldp.py --data ../shared/datasets/acs_national2019/national2019.csv \
        --metadata metadata/acs_national2019.json --columns PUMA SEX MSP HISP RAC1P HOUSING_TYPE OWN_RENT \
        INDP_CAT EDU PINCP_DECILE DVET DREM DPHY DEYE DEAR
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

from dpsynth.data.discretize import Discretizer
from dpsynth.data.domain import Domain
from dpsynth.evaluate.marginals import all_cliques, marginal_tvd
from dpsynth.ldp import LDPSynthesizer, SimulatedUsers

ROOT = Path(__file__).resolve().parents[1]
DATA = Path("/work/shared/datasets/adult_pgm/train.csv")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epsilons", nargs="+", type=float, default=[1.0, 4.0])
    ap.add_argument("--max-codes", nargs="+", type=int, default=[128])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--metadata", type=Path, default=ROOT / "metadata" / "adult_pgm.json")
    ap.add_argument("--columns", nargs="+", default=None, help="model only these columns (default: all)")
    ap.add_argument("--select-share", type=float, default=0.05)
    ap.add_argument("--max-cells", type=int, default=200)
    ap.add_argument("--project", type=int, nargs="+", default=[1], help="1: simplex-project marginals, 0: unbiased")
    args = ap.parse_args()
    dom = Domain.from_json(args.metadata)
    if args.columns:
        dom = dom.project(args.columns)
    df = pd.read_csv(args.data, dtype=str, keep_default_na=False)[list(dom.names)]
    disc = Discretizer(dom)
    real = disc.encode_frame(df)
    sizes = [disc.sizes[n] for n in dom.names]
    for eps in args.epsilons:
        for mc in args.max_codes:
            for seed in args.seeds:
                for label, pairs, proj in [(lab, p, pr) for pr in args.project
                                           for lab, p in (("ldp-tree", None), ("ldp-independent", []))]:
                    users = SimulatedUsers(df, dom, random_state=seed)  # the same devices for every model
                    t0 = time.perf_counter()
                    model = LDPSynthesizer(pairs=pairs, max_codes=mc, project=bool(proj),
                                           select_share=args.select_share, max_cells=args.max_cells,
                                           random_state=seed).fit(users, eps)
                    syn = disc.encode_frame(model.sample(len(df), random_state=seed))
                    row = {"model": label, "epsilon": eps, "max_codes": mc, "project": proj, "select_share": args.select_share,
                           "max_cells": args.max_cells, "seed": seed,
                           "fit_s": round(time.perf_counter() - t0, 1)}
                    for k in (1, 2, 3):
                        row[f"tvd{k}"] = round(float(marginal_tvd(real, syn, sizes, all_cliques(len(sizes), k)).mean()), 4)
                    row["epsilon_ldp"] = model.privacy_report.epsilon
                    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
