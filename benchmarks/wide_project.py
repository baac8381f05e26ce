"""Out-of-clique marginals of AIM's last model: time one code version's ``GraphicalModel.project``.

Two steps (research use: seeded; tables from ``benchmarks/wide_prep.py``):

    python benchmarks/wide_project.py dump <clipped.csv> <completed.json> <epsilon> <state.pkl>
        fits AIM and, just before its final estimation, pickles (domain, measurements,
        last round's model), then stops;
    python benchmarks/wide_project.py time <state.pkl> <out.pkl> [n]
        computes the model's marginal on n (default 300) of AIM's candidates (the
        workload's downward closure) that lie in no clique of the model and pass AIM's
        80 MB size filter (a fixed-seed sample), with the model's memos cleared first;
        prints the CPU seconds and pickles the marginals (to compare two versions, run
        with each version's ``src`` on ``PYTHONPATH`` and compare the two files).
"""

from __future__ import annotations

import pickle
import random
import sys
import time

from dpsynth import api
from dpsynth.pgm._junction import CandidateSizes
from dpsynth.synth import aim
from dpsynth.synth.aim import candidate_weights, default_workload, sample_workload


def dump(data: str, meta: str, eps: float, path: str) -> None:
    original = aim.estimate

    def estimate(dom, log, **kw):  # type: ignore[no-untyped-def]
        if kw.get("iters") == 1000:
            with open(path, "wb") as fh:
                pickle.dump((dom, list(log), kw["warm_start"]), fh)
            raise SystemExit(0)
        return original(dom, log, **kw)

    aim.estimate = estimate  # type: ignore[assignment]
    api.fit(data, generator="aim", epsilon=eps, delta=1e-5, metadata=meta, random_state=0)


def time_projections(path: str, out_path: str, n: int) -> None:
    with open(path, "rb") as fh:
        dom, log, model = pickle.load(fh)
    for key in ("_cache", "_messages", "_factors", "_message_cells", "_factor_cells", "_info",
                "_reductions", "_reduced_cells"):
        model.__dict__.pop(key, None)
    model._cache, model._cached_cells = {}, 0
    wl = sample_workload([c for c in default_workload(list(dom.attrs)) if dom.size(c) <= 10_000], 2048)
    sets = [set(c) for c in model.junction_tree.cliques]
    sizes = CandidateSizes(dom, [m.clique for m in log])
    out = [c for c in candidate_weights(wl, [1.0] * len(wl))
           if not any(set(c) <= s for s in sets) and sizes(c) <= 80.0]
    random.Random(0).shuffle(out)
    out = sorted(out[:n], key=len, reverse=True)
    c0 = time.process_time()
    res = {c: model.project(c) for c in out}
    print(f"{model}: {len(out)} out-of-clique candidates, {time.process_time() - c0:.2f} CPU s", flush=True)
    with open(out_path, "wb") as fh:
        pickle.dump(res, fh)


if __name__ == "__main__":
    if sys.argv[1] == "dump":
        dump(sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5])
    else:
        time_projections(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 300)
