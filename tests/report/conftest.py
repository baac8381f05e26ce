"""Fixtures for the report tests: small privacy reports, tables and evaluation results."""

from __future__ import annotations

import pandas as pd
import pytest

from dpsynth.data.domain import Domain
from dpsynth.evaluate import evaluate_all
from dpsynth.privacy import (
    Accountant,
    ExponentialMechanism,
    GaussianMechanism,
    PrivacyBudget,
    PrivacyReport,
)
from tests.synth.conftest import SMALL_META, make_small_frame

EVIL = '<script>alert("pwned")</script>'
EVIL_CAT = "<img src=x onerror=alert(1)>"


def gaussian_report(*, seeded: bool = False) -> PrivacyReport:
    """Only Gaussian releases: μ and κ are defined."""
    acc = Accountant(PrivacyBudget(1.0, 1e-9), seeded=seeded)
    acc.charge(GaussianMechanism(sigma=20.0, sensitivity=1.0, integer=True), step="demo.measure_1way", count=5,
               description="marginals a, b, c, d, e")
    acc.charge(GaussianMechanism(sigma=30.0, sensitivity=1.0, integer=True), step="demo.measure_2way", count=3,
               description="marginals a×b, b×c, c×d")
    acc.notes.append("bounds of 'age' inferred with DP: [18, 80]")
    return acc.report()


def mixed_report(*, seeded: bool = False) -> PrivacyReport:
    """A non-Gaussian (exponential mechanism) release too: μ and κ are not defined."""
    acc = Accountant(PrivacyBudget(1.0, 1e-9), seeded=seeded)
    acc.charge(GaussianMechanism(sigma=20.0, sensitivity=1.0, integer=True), step="mst.measure_1way", count=5)
    acc.charge(ExponentialMechanism(epsilon=0.05, sensitivity=1.0), step="mst.select", count=1,
               description="select among 10 marginals")
    return acc.report()


@pytest.fixture(scope="session")
def domain() -> Domain:
    return Domain.from_json(SMALL_META)


@pytest.fixture(scope="session")
def frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Real, synthetic (independently drawn, then shuffled per column) and hold-out rows."""
    real = make_small_frame(600, seed=0)
    synth = make_small_frame(600, seed=1).sample(frac=1.0, random_state=0).reset_index(drop=True)
    synth["y"] = synth["y"].sample(frac=1.0, random_state=1).to_numpy()
    holdout = make_small_frame(400, seed=2)
    return real, synth, holdout


@pytest.fixture(scope="session")
def results(frames, domain):
    real, synth, holdout = frames
    return evaluate_all(real, synth, domain, holdout=holdout, random_state=0)


@pytest.fixture(scope="session")
def evil_domain() -> Domain:
    meta = {
        "name": "evil",
        "target": EVIL,
        "columns": [
            {"name": EVIL, "type": "categorical", "categories": ["no", EVIL_CAT]},
            {"name": "x & y", "type": "numeric", "lower": 0.0, "upper": 1.0, "bins": 4},
        ],
    }
    return Domain.from_json(meta)


@pytest.fixture(scope="session")
def evil_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    real = pd.DataFrame({EVIL: ["no", EVIL_CAT] * 60, "x & y": [i / 120 for i in range(120)]})
    synth = pd.DataFrame({EVIL: ["no", "no", EVIL_CAT] * 40, "x & y": [((i * 7) % 120) / 120 for i in range(120)]})
    return real, synth
