"""How often the step of a numeric column is read right from its noisy step histogram.

Simulates the step histogram :func:`dpsynth.data.numeric.measure_pre` releases for a column
with public bounds [0, 1] (cells: values on no candidate grid, then values by the coarsest
candidate grid they lie on) for a few true layouts and row counts, adds Gaussian noise of
sd σ per cell, and reports per layout the share of draws in which
:func:`~dpsynth.data.numeric.select_step` returns the true step ("right") and a step
coarser than the truth ("coarser": values that would be snapped onto a grid they are not
on). Zeros are counted apart by the release and play no part here.

Usage:
    PYTHONPATH=src python benchmarks/step_select.py --sigma 60 144 --draws 1000
"""

from __future__ import annotations

import argparse

import numpy as np

from dpsynth.data import numeric
from dpsynth.data.domain import Column


def layouts(rows: int, rng: np.random.Generator) -> dict[str, tuple[np.ndarray, np.ndarray, float | None]]:
    two_decimals = np.round(rng.random(2_000), 2)
    two_decimals = two_decimals[two_decimals > 0]
    return {
        "on {0.2, 0.4, …, 1}": (np.array([0.2, 0.4, 0.6, 0.8, 1.0]), np.full(5, rows / 5), 0.1),
        "two decimals": (two_decimals, np.full(two_decimals.size, rows / two_decimals.size), 0.01),
        "on no grid": (np.array([0.1234567]), np.array([float(rows)]), None),
        "70% on 0.1, 30% on no grid": (np.array([0.1, 0.3, 0.7, 0.1234567]),
                                       np.array([0.7 * rows / 3] * 3 + [0.3 * rows]), None),
        "94% on 0.1, 6% two decimals": (np.r_[np.arange(1, 11) / 10, off := np.setdiff1d(two_decimals,
                                                                                        np.arange(1, 11) / 10)],
                                        np.r_[np.full(10, 0.94 * rows / 10), np.full(off.size, 0.06 * rows / off.size)],
                                        0.01),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sigma", type=float, nargs="+", default=[60.0, 144.0])
    ap.add_argument("--rows", type=int, nargs="+", default=[300, 1_000, 3_000])
    ap.add_argument("--draws", type=int, default=1_000)
    args = ap.parse_args()
    chain = numeric.step_chain(Column("rate", kind="numeric", lower=0.0, upper=1.0))
    rng = np.random.default_rng(0)
    print("| σ | non-zero rows | layout | right | coarser |")
    print("| ---: | ---: | --- | ---: | ---: |")
    for sigma in args.sigma:
        for rows in args.rows:
            for name, (values, counts, truth) in layouts(rows, rng).items():
                cells = np.bincount(numeric.grid_cells(chain, values), weights=counts, minlength=len(chain) + 1)
                got = [numeric.select_step(chain, cells + rng.normal(0.0, sigma, cells.size), sigma=sigma)
                       for _ in range(args.draws)]
                right = np.mean([g == truth for g in got])
                coarser = np.mean([g is not None and (truth is None or g > truth * (1 + 1e-9)) for g in got])
                print(f"| {sigma:g} | {rows:,} | {name} | {right:.2f} | {coarser:.2f} |", flush=True)


if __name__ == "__main__":
    main()
