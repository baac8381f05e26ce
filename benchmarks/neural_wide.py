"""CPU cost of the neural generators on a narrow and a wide table, and of their parts.

Two parts, both measured in CPU seconds (``time.process_time``: every thread of the
process, so the background noise thread counts) rather than wall seconds, which on a
shared machine measure the load more than the code:

``fit``: short fits of DP-TLDM and DP-CTAB-GAN+ on ``adult`` (30k × 15) and ``credit``
(30k × 24) at one ε, each in a fresh process, with the time split into DP-SGD training,
noise calibration (PLD) and the rest. ``--src`` runs the fits against another source tree
(e.g. an older checkout's ``src``) so that two versions can be compared run by run,
interleaved::

    PYTHONPATH=src .venv/bin/python benchmarks/neural_wide.py fit --src src /tmp/old/src \\
        --generators tldm ctabgan --datasets adult credit --epsilon 3

``steps``: CPU ms per DP-SGD step of a TLDM-shaped autoencoder (input widths of an
Adult-like and a Credit-like encoding), the one-pass clipping engine against Opacus's
two-pass ghost clipping, alternating in one process::

    PYTHONPATH=src .venv/bin/python benchmarks/neural_wide.py steps --widths 110 300

``noise``: the secure lattice discrete-Gaussian gradient noise of one step, for models of
the sizes the generators train (ms of CPU per step)::

    PYTHONPATH=src .venv/bin/python benchmarks/neural_wide.py noise
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = {
    "adult": ROOT.parent.parent / "shared" / "datasets" / "adult" / "adult_train.csv",
    "credit": ROOT.parent.parent / "shared" / "datasets" / "credit" / "credit.csv",
}
SHORT = {"tldm": {"ae_steps": 100, "diffusion_steps": 200}, "ctabgan": {"steps": 100}}

_CHILD = r"""
import json, sys, time
from dpsynth import api, dpsgd
from dpsynth.dpsgd import plan, trainer
job = json.loads(sys.argv[1])
spent = {"train": 0.0, "calibrate": 0.0}
def timed(key, f):
    def wrapper(*a, **k):
        t = time.process_time()
        try:
            return f(*a, **k)
        finally:
            spent[key] += time.process_time() - t
    return wrapper
trainer.TrainingRun.step = timed("train", trainer.TrainingRun.step)
plan.calibrate = timed("calibrate", plan.calibrate)
dpsgd.calibrate = plan.calibrate
t0 = time.process_time()
api.fit(job["data"], generator=job["generator"], epsilon=job["epsilon"], delta=1e-5,
        metadata=job["metadata"], **job["params"])
total = time.process_time() - t0
print(json.dumps({"cpu_s": total, "train_cpu_s": spent["train"], "calibrate_cpu_s": spent["calibrate"]}))
"""


def fit_costs(srcs: list[str], generators: list[str], datasets: list[str], epsilon: float, threads: int) -> None:
    """One fresh process per (dataset, generator, source tree), sources interleaved."""
    for ds in datasets:
        for gen in generators:
            for src in srcs:
                job = {"data": str(DATA[ds]), "generator": gen, "epsilon": epsilon,
                       "metadata": str(ROOT / "metadata" / f"{ds}.json"), "params": SHORT[gen]}
                env = dict(os.environ, PYTHONPATH=str(Path(src).resolve()), DPSYNTH_TORCH_THREADS=str(threads))
                out = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(job)], env=env, capture_output=True,
                                     text=True, check=False)
                lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
                if out.returncode != 0 or not lines:
                    print(json.dumps({"dataset": ds, "generator": gen, "src": src, "error": out.stderr[-500:]}))
                    continue
                row = {"dataset": ds, "generator": gen, "src": src, **SHORT[gen], **json.loads(lines[-1])}
                print(json.dumps(row), flush=True)


def step_costs(width: int, hidden: int = 256, latent: int = 64, batch: int = 1024, steps: int = 8,
               rounds: int = 3) -> None:
    """CPU ms per DP-SGD step of an autoencoder shaped like TLDM's, one-pass vs Opacus ghost clipping.

    The two engines alternate round by round in this process, on the same model and batch size.
    """
    import numpy as np
    import torch
    from torch import nn

    from dpsynth.dpsgd import DPSGDConfig, EncodedRows, PrivateTrainer, TrainingRun
    from dpsynth.dpsgd import trainer as trainer_module
    from dpsynth.privacy import Accountant, NoiseSource, PrivacyBudget

    x = np.random.default_rng(0).normal(size=(20 * batch, width)).astype(np.float32)

    def loss(m: nn.Module, b: torch.Tensor) -> torch.Tensor:
        return ((m(b) - b) ** 2).sum(1)

    def mlp() -> nn.Module:
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(width, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                             nn.Linear(hidden, latent), nn.Linear(latent, hidden), nn.SiLU(),
                             nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, width))

    original = trainer_module._BookKeeping.for_model
    spent: dict[str, list[float]] = {"one-pass": [], "opacus-ghost": []}
    for _ in range(rounds):
        for engine in spent:
            if engine == "opacus-ghost":
                trainer_module._BookKeeping.for_model = classmethod(lambda cls, m, p: None)  # type: ignore[assignment]
            rows = EncodedRows(x, Accountant(PrivacyBudget(1.0, 1e-5)), NoiseSource(None))
            trainer = PrivateTrainer(rows, DPSGDConfig(batch_size=batch, steps=steps + 1), noise_multiplier=1.0,
                                     sample_rate=batch / x.shape[0], step="bench")
            with trainer_module.torch_threads(1):
                run = TrainingRun(trainer, mlp(), loss, None)
                run.step()  # warm-up (and the one-pass engine's check)
                t = time.process_time()
                for _ in range(steps):
                    run.step()
                spent[engine].append((time.process_time() - t) / steps)
                run.finish()
            trainer_module._BookKeeping.for_model = original  # type: ignore[method-assign]
    params = sum(p.numel() for p in mlp().parameters())
    row = {"width": width, "parameters": params, "batch": batch,
           **{f"{k}_cpu_ms": round(1000 * min(v), 1) for k, v in spent.items()}}
    print(json.dumps(row), flush=True)


def noise_costs(sizes: list[int], repeats: int = 7) -> None:
    """CPU ms of one step's secure noise (the lattice discrete Gaussian at σ ≈ 2^32 units)."""
    from dpsynth.privacy import NoiseSource

    source = NoiseSource(None)
    for d in sizes:
        best = float("inf")
        for _ in range(repeats):
            t = time.process_time()
            source.discrete_gaussian(1.37 * 2.0**32, d)
            best = min(best, time.process_time() - t)
        print(json.dumps({"parameters": d, "noise_cpu_ms": round(1000 * best, 2)}), flush=True)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    f = sub.add_parser("fit")
    f.add_argument("--src", nargs="+", default=[str(ROOT / "src")])
    f.add_argument("--generators", nargs="+", default=["tldm", "ctabgan"])
    f.add_argument("--datasets", nargs="+", default=["adult", "credit"])
    f.add_argument("--epsilon", type=float, default=3.0)
    f.add_argument("--threads", type=int, default=1)
    st = sub.add_parser("steps")
    st.add_argument("--widths", nargs="+", type=int, default=[110, 300])
    n = sub.add_parser("noise")
    n.add_argument("--sizes", nargs="+", type=int, default=[50_000, 150_000, 300_000])
    a = p.parse_args(argv)
    if a.what == "fit":
        fit_costs(a.src, a.generators, a.datasets, a.epsilon, a.threads)
    elif a.what == "steps":
        for w in a.widths:
            step_costs(w)
    else:
        noise_costs(a.sizes)


if __name__ == "__main__":
    main()
