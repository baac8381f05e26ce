"""Continuous-Gaussian stand-in vs exact discrete-Gaussian PLD in a TLDM-style calibration.

An accountant charges d one-way discrete-Gaussian marginals at a share of ρ, then
``dpsynth.dpsgd.plan.calibrate`` finds the noise multiplier of one DP-SGD stage. Run once
with the marginals' event replaced by the continuous ``GaussianDpEvent`` (the accounting
before exact discrete PLDs) and once as shipped; print σ, the calibrated multiplier, ε spent,
κ and μ of the report, and the calibration time.

    PYTHONPATH=src python benchmarks/discrete_pld.py
"""

from __future__ import annotations

import math
import time
import warnings

import dp_accounting

from dpsynth.dpsgd.config import DPSGDConfig
from dpsynth.dpsgd.plan import Stage, calibrate, mechanism
from dpsynth.privacy import Accountant, GaussianMechanism, PrivacyBudget
from dpsynth.privacy import mechanisms as M


def run(stand_in: bool, eps: float, d: int = 15, share: float = 0.1) -> tuple[float, ...]:
    acc = Accountant(PrivacyBudget(eps, 1e-9))
    sigma = math.sqrt(d / (2 * share * acc.rho_remaining))
    original = M.GaussianMechanism.event
    if stand_in:
        M.GaussianMechanism.event = property(  # type: ignore[assignment]
            lambda self: dp_accounting.GaussianDpEvent(self.sigma / self.sensitivity)
        )
    try:
        acc.charge(GaussianMechanism(sigma=sigma), step="one_way", count=d)
        cfg = DPSGDConfig(steps=1000, batch_size=100)
        start = time.perf_counter()
        (nm,) = calibrate(acc, [Stage("train", cfg, 0.01)])
        took = time.perf_counter() - start
        acc.charge(mechanism(cfg, nm, 0.01), step="train")
        report = acc.report()
        return sigma, nm, acc.epsilon(), float(report.kappa or math.nan), float(report.mu or math.nan), took
    finally:
        M.GaussianMechanism.event = original  # type: ignore[method-assign]


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    print("eps  accounting   one-way sigma  noise multiplier  eps spent   kappa     mu        calibrate s")
    for eps in (1.0, 3.0, 10.0):
        for stand_in in (True, False):
            s, nm, spent, kappa, mu, took = run(stand_in, eps)
            label = "continuous" if stand_in else "exact"
            print(f"{eps:<4g} {label:<12} {s:<14.4f} {nm:<17.6f} {spent:<11.6f} {kappa:<9.6f} {mu:<9.6f} {took:.2f}")
