"""Fit AIM once (optionally under cProfile): CPU s, 3-way TVD over every 3-way marginal, top functions.

Usage: python benchmarks/wide_profile.py <table.csv> <metadata.json> <epsilon> [<JSON params>] [prof]
(δ = 1e-5, seed 0; the table and metadata as written by benchmarks/wide_prep.py).
"""

import cProfile
import io
import json
import pstats
import resource
import sys
import time

import pandas as pd

from dpsynth import api
from dpsynth.data.discretize import Discretizer
from dpsynth.evaluate.marginals import all_cliques, marginal_tvd


def main() -> None:
    data, meta, eps = sys.argv[1], sys.argv[2], float(sys.argv[3])
    params = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
    prof = len(sys.argv) > 5 and sys.argv[5] == "prof"
    profiler = cProfile.Profile()
    c0, t0 = time.process_time(), time.perf_counter()
    if prof:
        profiler.enable()
    model = api.fit(data, generator="aim", epsilon=eps, delta=1e-5, metadata=meta, random_state=0, **params)
    if prof:
        profiler.disable()
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    synth = model.sample(model.estimated_rows, random_state=0)
    disc = Discretizer(model.domain_)
    real = pd.read_csv(data, dtype=str, keep_default_na=False)
    r, s = disc.encode_frame(real), disc.encode_frame(synth)
    sizes = [disc.sizes[n] for n in model.domain_.names]
    tvd = float(marginal_tvd(r, s, sizes, all_cliques(len(sizes), 3)).mean())
    rounds = sum(e.step.endswith(".measure") for e in model.privacy_report.ledger)
    print("RESULT", json.dumps({
        "eps": eps, "cpu_s": round(cpu, 1), "wall_s": round(wall, 1), "tvd3": round(tvd, 4), "rounds": rounds,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "eps_spent": model.privacy_report.epsilon, "params": params,
    }), flush=True)
    if prof:
        for key, n in (("cumulative", 45), ("tottime", 25)):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(key).print_stats(n)
            print(out.getvalue())


if __name__ == "__main__":
    main()
