"""Federated MST / AIM / DP-VAE (distributed noise under secure aggregation) vs central MST / AIM.

adult_pgm train.csv split among K clients IID or non-IID (whole groups of a column's values
per client); ε = 1, δ = 1e-9 for every method; mean 3-way TVD against the training split;
traffic per client (bytes up = masked vectors, down = JSON requests and, for the DP-VAE,
the model's weights every round).

Usage:
    PYTHONPATH=src python benchmarks/federated.py --clients 10 --epsilon 1 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

from dpsynth import api
from dpsynth.data.discretize import Discretizer
from dpsynth.data.domain import Domain
from dpsynth.evaluate.marginals import all_cliques, marginal_tvd
from dpsynth.federated import FederatedAIM, FederatedMST, InProcessFederation, split_rows
from dpsynth.federated.fedsyn import FederatedDPVAE, FedSynFederation

ROOT = Path(__file__).resolve().parents[1]
DATA = Path("/work/shared/datasets/adult_pgm/train.csv")
META = ROOT / "metadata" / "adult_pgm.json"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--epsilon", type=float, default=1.0)
    ap.add_argument("--delta", type=float, default=1e-9)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--central", nargs="*", default=["mst", "aim"])
    ap.add_argument("--federated", nargs="*", default=["mst", "aim", "dpvae"])
    ap.add_argument("--vae-steps", type=int, default=300)
    ap.add_argument("--participation", type=float, default=1.0, help="federated AIM: share of clients per round")
    ap.add_argument("--heterogeneity", nargs="*", default=["proxy"], help="federated AIM with participation < 1")
    ap.add_argument("--splits", nargs="*", default=["iid", "occupation", "native-country"])
    args = ap.parse_args()
    dom = Domain.from_json(META)
    df = pd.read_csv(DATA, dtype=str)
    disc = Discretizer(dom)
    real = disc.encode_frame(df)
    sizes = [disc.sizes[n] for n in dom.names]
    cl3 = all_cliques(len(sizes), 3)

    def tvd3(frame: pd.DataFrame) -> float:
        return round(float(marginal_tvd(real, disc.encode_frame(frame), sizes, cl3).mean()), 4)

    for seed in args.seeds:
        for method in args.federated:
            for split, het in [(sp, h) for sp in args.splits
                               for h in (args.heterogeneity if method == "aim" and args.participation < 1 else ["-"])]:
                parts = split_rows(df, args.clients, by=None if split == "iid" else split, random_state=seed)
                t0 = time.perf_counter()
                cpu0 = time.process_time()
                if method == "dpvae":
                    fed = FedSynFederation(parts, dom, random_state=seed)
                    model = FederatedDPVAE(steps=args.vae_steps, random_state=seed).fit(fed, (args.epsilon, args.delta))
                else:
                    fed = InProcessFederation(parts, dom, random_state=seed)
                    if method == "mst":
                        model = FederatedMST(random_state=seed).fit(fed, (args.epsilon, args.delta))
                    else:
                        model = FederatedAIM(participation=args.participation, heterogeneity=het,
                                             random_state=seed).fit(fed, (args.epsilon, args.delta))
                row = {"method": f"federated-{method}", "split": split, "clients": args.clients, "seed": seed,
                       "participation": args.participation if method == "aim" else 1.0, "heterogeneity": het,
                       "fit_s": round(time.perf_counter() - t0, 1),
                       "fit_cpu_s": round(time.process_time() - cpu0, 1),
                       "tvd3": tvd3(model.sample(len(df), random_state=seed)),
                       "kB_up_per_client": round(float(fed.bytes_up.mean()) / 1e3, 1),
                       "kB_down_per_client": round(float(fed.bytes_down.mean()) / 1e3, 1),
                       "epsilon_spent": round(model.privacy_report.epsilon, 4)}
                if method == "aim":
                    row["kB_shared_to_secure_computation"] = round(float(model.secure_bytes_.mean()) / 1e3, 1)
                print(json.dumps(row), flush=True)
        for gen in args.central:
            t0 = time.perf_counter()
            model = api.fit(DATA, generator=gen, epsilon=args.epsilon, delta=args.delta, metadata=META, random_state=seed)
            row = {"method": f"central-{gen}", "split": "-", "clients": 1, "seed": seed,
                   "fit_s": round(time.perf_counter() - t0, 1),
                   "tvd3": tvd3(model.sample(model.estimated_rows, random_state=seed)),
                   "epsilon_spent": round(model.privacy_report.epsilon, 4)}
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
