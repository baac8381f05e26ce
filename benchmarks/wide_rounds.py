"""Where one AIM fit spends its CPU time, round by round (research use: seeded).

Usage: python benchmarks/wide_rounds.py <clipped.csv> <completed.json> <epsilon> [JSON params]

Prints the ledger hash, the fit's CPU seconds, then one line per estimation (iterations run,
CPU s, model size in MB, measurements) and per selection (CPU s; out-of-clique marginals by
elimination along the tree, by the re-triangulated local model, by the model's potentials,
with their CPU s), and the totals (CPU seconds by ``time.process_time``, all threads).
"""

from __future__ import annotations

import collections
import hashlib
import json
import sys
import time
from collections.abc import Callable
from typing import Any

import dpsynth.data.private as private
import dpsynth.pgm._model as model_module
from dpsynth import api
from dpsynth.synth import aim

spent: collections.Counter[str] = collections.Counter()
calls: collections.Counter[str] = collections.Counter()
rows: list[dict[str, Any]] = []
KINDS = ("elim", "local", "potentials")


def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*a: Any, **k: Any) -> Any:
        c0 = time.process_time()
        try:
            return fn(*a, **k)
        finally:
            spent[name] += time.process_time() - c0
            calls[name] += 1
    return wrapper


G = model_module.GraphicalModel
G._eliminate = timed("elim", G._eliminate)  # type: ignore[method-assign]
G._eliminate_local_tree = timed("local", G._eliminate_local_tree)  # type: ignore[method-assign]
G._project_potentials = timed("potentials", G._project_potentials)  # type: ignore[method-assign]
original_estimate = aim.estimate
original_select = private.PrivateData.select_marginal


def estimate(*a: Any, **k: Any) -> Any:
    c0 = time.process_time()
    m = original_estimate(*a, **k)
    rows.append({"kind": "estimate", "iters": m.iterations_, "cpu": round(time.process_time() - c0, 2),
                 "mb": round(m.junction_tree.size_mb(), 1), "measurements": len(a[1])})
    return m


def select(*a: Any, **k: Any) -> Any:
    before_s, before_n = dict(spent), dict(calls)
    c0 = time.process_time()
    r = original_select(*a, **k)
    row: dict[str, Any] = {"kind": "select", "cpu": round(time.process_time() - c0, 2)}
    for n in KINDS:
        row[n] = (calls[n] - before_n.get(n, 0), round(spent[n] - before_s.get(n, 0.0), 2))
    rows.append(row)
    return r


aim.estimate = estimate  # type: ignore[assignment]
private.PrivateData.select_marginal = select  # type: ignore[method-assign]

if __name__ == "__main__":
    data, meta, eps = sys.argv[1], sys.argv[2], float(sys.argv[3])
    params = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
    c0 = time.process_time()
    model = api.fit(data, generator="aim", epsilon=eps, delta=1e-5, metadata=meta, random_state=0, **params)
    cpu = time.process_time() - c0
    h = hashlib.sha1("|".join(e.description for e in model.privacy_report.ledger).encode()).hexdigest()[:12]
    print(h, "cpu", round(cpu, 1), getattr(model, "selection_stats_", None))
    for r in rows:
        print(json.dumps(r))
    est = [r for r in rows if r["kind"] == "estimate"]
    print("estimation", round(sum(r["cpu"] for r in est[:-1]), 1), "(rounds)", est[-1]["cpu"], "(final)",
          "selection", round(sum(r["cpu"] for r in rows if r["kind"] == "select"), 1),
          {n: (calls[n], round(spent[n], 1)) for n in KINDS})
