"""Benchmarks of the private trainer and of DP-TLDM (issue 4).

Two parts:

``steps``: the cost of one DP-SGD step with each per-sample-gradient engine against a
non-private step of the same model, measured in the same process, one after the other
(an MLP shaped like TLDM's autoencoder on Adult: 110 → 256 → 256 → 110, batch 1024):

    DPSYNTH_TORCH_THREADS=1 .venv/bin/python benchmarks/neural.py steps

``adult``: DP-TLDM on Adult through the harness (``benchmarks/run.py``: fit on
adult_train.csv, evaluate on adult_test.csv with ``dpsynth.evaluate.evaluate_all``),
written to ``benchmarks/results/neural.csv``:

    DPSYNTH_TORCH_THREADS=1 .venv/bin/python benchmarks/neural.py adult --epsilons 1 3 10
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def step_costs(batch: int = 1024, repeats: int = 15, width: int = 110, hidden: int = 256) -> list[dict[str, Any]]:
    """ms per step of each engine and its ratio to the non-private step."""
    import numpy as np
    import torch
    from torch import nn

    from dpsynth.dpsgd import DPSGDConfig, EncodedRows, PrivateTrainer, TrainingRun
    from dpsynth.privacy import Accountant, NoiseSource, PrivacyBudget

    x = np.random.default_rng(0).normal(size=(20 * batch, width + 1)).astype(np.float32)

    def loss(m: nn.Module, b: torch.Tensor) -> torch.Tensor:
        return ((m(b[:, :-1]) - b[:, -1:]) ** 2).sum(1)

    def model() -> nn.Module:
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(width, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                             nn.Linear(hidden, width))

    out = []
    base = None
    for mode in ("non-private", "ghost", "hooks", "functorch"):
        m = model()
        if mode == "non-private":
            step = _plain_step(m, x, loss)
        else:
            rows = EncodedRows(x, Accountant(PrivacyBudget(1.0, 1e-5)), NoiseSource(0))
            trainer = PrivateTrainer(rows, DPSGDConfig(grad_sample_mode=mode, batch_size=batch),  # type: ignore[arg-type]
                                     noise_multiplier=1.0, sample_rate=0.05, step="bench")
            run = TrainingRun(trainer, m, loss, None)  # mechanics only: nothing is charged here
            step = run.step
        step()  # warm-up
        t = time.perf_counter()
        for _ in range(repeats):
            step()
        ms = (time.perf_counter() - t) / repeats * 1000
        base = ms if base is None else base
        out.append({"engine": mode, "ms_per_step": ms, "ratio": ms / base})
    return out


def _plain_step(m: Any, x: Any, loss: Callable[..., Any]) -> Callable[[], None]:
    import numpy as np
    import torch

    opt = torch.optim.Adam(m.parameters())
    rng = np.random.default_rng(1)

    def step() -> None:
        idx = np.flatnonzero(rng.random(x.shape[0]) < 0.05)
        opt.zero_grad()
        loss(m, torch.from_numpy(x[idx])).mean().backward()
        opt.step()

    return step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    s = sub.add_parser("steps")
    s.add_argument("--batch", type=int, default=1024)
    s.add_argument("--repeats", type=int, default=15)
    a = sub.add_parser("adult")
    a.add_argument("--epsilons", nargs="+", default=["1", "3", "10"])
    a.add_argument("--params", default="{}", help="JSON hyper-parameters for TLDM")
    a.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "neural.csv")
    a.add_argument("--timeout", default="1800")
    args = ap.parse_args()
    if args.what == "steps":
        from dpsynth.dpsgd import torch_threads

        with torch_threads() as n:
            rows = step_costs(args.batch, args.repeats)
        print(f"torch threads: {n}; batch {args.batch}")
        print("| engine | ms / step | × non-private |\n| --- | --- | --- |")
        for r in rows:
            print(f"| {r['engine']} | {r['ms_per_step']:.1f} | {r['ratio']:.2f} |")
        return
    cmd = [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--datasets", "adult", "--generators", "tldm",
           "--epsilons", *args.epsilons, "--params", json.dumps(json.loads(args.params)), "--out", str(args.out),
           "--timeout", args.timeout, "--markdown"]
    subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()
