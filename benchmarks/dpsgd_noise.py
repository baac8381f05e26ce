"""What secure DP-SGD noise costs per step, beside the fast (research-only) generator.

Times one DP-SGD step (ghost clipping, batch 1024, Adam) of MLPs shaped like DP-TLDM's
autoencoder on Adult (110 → 256 → 256 → 110) and a wider one (110 → 512 → 512 → 110),
with gradient noise from

* ``fast``: torch's Mersenne Twister float Gaussian (``secure_noise=False``, research only);
* ``secure``: the lattice discrete Gaussian on ``os.urandom`` bits, drawn one step ahead
  in a background thread (the production default);
* ``noise only``: the secure draw alone for one step, in the foreground (its full cost
  when no core is free to hide it).

The modes alternate within each repeat, so load on a shared machine hits them alike:

    DPSYNTH_TORCH_THREADS=1 .venv/bin/python benchmarks/dpsgd_noise.py --repeats 5 --steps 10
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any


def measure(hidden: int, width: int, batch: int, steps: int, repeats: int) -> dict[str, Any]:
    """Median ms per step of each mode over ``repeats`` alternating blocks of ``steps`` steps."""
    import numpy as np
    import torch
    from torch import nn

    from dpsynth.dpsgd import DPSGDConfig, EncodedRows, PrivateTrainer, TrainingRun
    from dpsynth.dpsgd.trainer import _SecureNoise
    from dpsynth.privacy import Accountant, NoiseSource, PrivacyBudget

    x = np.random.default_rng(0).normal(size=(20 * batch, width + 1)).astype(np.float32)

    def loss(m: nn.Module, b: torch.Tensor) -> torch.Tensor:
        return ((m(b[:, :-1]) - b[:, -1:]) ** 2).sum(1)

    def model() -> nn.Module:
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(width, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                             nn.Linear(hidden, width))

    n_params = sum(p.numel() for p in model().parameters())
    runs = {}
    for mode in ("fast", "secure"):
        rows = EncodedRows(x, Accountant(PrivacyBudget(1.0, 1e-5)), NoiseSource(None))
        cfg = DPSGDConfig(steps=10**6, batch_size=batch, secure_noise=mode == "secure")
        trainer = PrivateTrainer(rows, cfg, noise_multiplier=1.0, sample_rate=batch / x.shape[0], step="bench")
        runs[mode] = TrainingRun(trainer, model(), loss, None)  # mechanics only: nothing is charged here
        runs[mode].step()  # warm-up
    noise = _SecureNoise(NoiseSource(None), 1.0, 1.0, n_params, steps=1)
    times: dict[str, list[float]] = {"fast": [], "secure": [], "noise only": []}
    for _ in range(repeats):
        for mode, run in runs.items():
            t = time.perf_counter()
            for _ in range(steps):
                run.step()
            times[mode].append((time.perf_counter() - t) / steps * 1000)
        t = time.perf_counter()
        for _ in range(steps):
            noise._draw()
        times["noise only"].append((time.perf_counter() - t) / steps * 1000)
    for run in runs.values():
        run.finish()
    noise.close()
    ms = {k: statistics.median(v) for k, v in times.items()}
    return {"model": f"{width}→{hidden}→{hidden}→{width}", "parameters": n_params, "batch": batch,
            **{f"{k} ms": round(v, 1) for k, v in ms.items()},
            "secure / fast": round(ms["secure"] / ms["fast"], 2),
            "(fast + noise only) / fast": round((ms["fast"] + ms["noise only"]) / ms["fast"], 2)}


def main() -> None:
    """Print a Markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=1024)
    args = ap.parse_args()
    from dpsynth.dpsgd import torch_threads

    rows = []
    with torch_threads():
        for hidden in (256, 512):
            rows.append(measure(hidden, 110, args.batch, args.steps, args.repeats))
    cols = list(rows[0])
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(str(r[c]) for c in cols) + " |")


if __name__ == "__main__":
    main()
