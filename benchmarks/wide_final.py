"""AIM's final estimation, iteration by iteration (research use: seeded, reads true marginals).

Usage:
    python benchmarks/wide_final.py dump <clipped.csv> <completed.json> <epsilon> <state.pkl>
    python benchmarks/wide_final.py curve <state.pkl> 50,100,200,300,500,1000,2000

``dump`` runs an AIM fit (seed 0, δ = 1e-5) up to its final estimation and saves the domain,
the measurements, the last round's model (the final estimation's warm start), 300 three-way
marginals drawn with a fixed seed and their exact counts on the fit's domain. ``curve``
continues the final estimation from that warm start (all iterations, no stopping rule) and
prints, at each checkpoint: the loss, the cumulative CPU seconds, how far the measured
marginals moved since the previous checkpoint (root mean square over the measured cells in
units of each measurement's σ), and the mean 3-way TVD between the model's
marginals and the true ones (no sampling: the model's own distribution).
"""

from __future__ import annotations

import itertools
import math
import pickle
import sys
import time
from typing import Any

import numpy as np


def dump(data: str, meta: str, eps: float, out: str) -> None:
    from dpsynth import api
    from dpsynth.synth import aim

    captured: dict[str, Any] = {}
    compress = aim.compress_domain
    fit = aim.AIM._fit
    original = aim.estimate

    def compress_spy(*a: Any, **k: Any) -> Any:
        r = compress(*a, **k)
        captured["coarsen"] = r[0]
        return r

    def fit_spy(self: Any, private: Any) -> None:
        captured["data"] = private
        fit(self, private)

    def estimate_spy(dom: Any, log: Any, **k: Any) -> Any:
        if k.get("iters") != aim.AIM().final_iters:
            return original(dom, log, **k)
        rng = np.random.default_rng(0)
        triples = list(itertools.combinations(dom.attrs, 3))
        triples = [triples[i] for i in sorted(rng.choice(len(triples), min(300, len(triples)), replace=False))]
        true = captured["data"]._true_marginals(triples, captured.get("coarsen"))
        with open(out, "wb") as f:
            pickle.dump({"dom": dom, "log": list(log), "warm": k["warm_start"], "triples": triples,
                         "true": true}, f)
        print(f"saved {len(log)} measurements, {sum(m.values.size for m in log)} measured cells", flush=True)
        raise SystemExit(0)

    aim.compress_domain = compress_spy  # type: ignore[assignment]
    aim.AIM._fit = fit_spy  # type: ignore[method-assign]
    aim.estimate = estimate_spy  # type: ignore[assignment]
    api.fit(data, generator="aim", epsilon=eps, delta=1e-5, metadata=meta, random_state=0)


def curve(state: str, checkpoints: list[int]) -> None:
    from dpsynth.pgm import estimate

    d = pickle.load(open(state, "rb"))
    dom, log, model = d["dom"], d["log"], d["warm"]
    truth = [t / t.sum() for t in d["true"]]

    def tvd(m: Any) -> float:
        return float(np.mean([0.5 * np.abs(m.project(c) / m.total - t).sum() for c, t in zip(d["triples"], truth, strict=True)]))

    def measured(m: Any) -> np.ndarray:
        return np.concatenate([m.project(x.clique).ravel() / x.sigma for x in log])

    print(f"warm start: loss {model.loss_:.1f}, 3-way TVD {tvd(model):.5f}", flush=True)
    done, cpu, before = 0, 0.0, measured(model)
    for k in checkpoints:
        c0 = time.process_time()
        model = estimate(dom, log, iters=k - done, warm_start=model, tol=None)
        cpu += time.process_time() - c0
        now = measured(model)
        move = math.sqrt(float(np.mean((now - before) ** 2)))
        print(f"iteration {k}: loss {model.loss_:.1f}, CPU s {cpu:.1f}, moved {move:.4f} σ (RMS) since "
              f"iteration {done}, 3-way TVD {tvd(model):.5f}", flush=True)
        done, before = k, now


if __name__ == "__main__":
    if sys.argv[1] == "dump":
        dump(sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5])
    else:
        curve(sys.argv[2], [int(x) for x in sys.argv[3].split(",")])
