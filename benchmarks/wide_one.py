"""One AIM fit on a prepared table: CPU seconds, ledger hash and lazy-selection counts.

Usage: python benchmarks/wide_one.py <clipped.csv> <completed.json> <epsilon> [JSON params]
(research use: seeded; the tables come from benchmarks/wide_prep.py).
"""

import hashlib
import json
import sys
import time

from dpsynth import api

data, meta, eps = sys.argv[1], sys.argv[2], float(sys.argv[3])
params = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
c0 = time.process_time()
t0 = time.time()
model = api.fit(data, generator="aim", epsilon=eps, delta=1e-5, metadata=meta, random_state=0, **params)
led = model.privacy_report.ledger
h = hashlib.sha1("|".join(e.description for e in led).encode()).hexdigest()[:12]
print(params, h, "cpu", round(time.process_time() - c0, 1), "wall", round(time.time() - t0, 1), getattr(model, "selection_stats_", None), flush=True)
