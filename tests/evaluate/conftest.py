"""Fixtures for the evaluation tests: a small mixed domain and tables with known structure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dpsynth.data.domain import Column, Domain

N = 2000

A_CATS = ("a0", "a1", "a2", "a3")
B_CATS = ("b0", "b1", "b2")
LABELS = ("no", "yes")


def make_domain(target: str | None = "label") -> Domain:
    return Domain(
        [
            Column("x", "numeric", lower=0.0, upper=10.0),
            Column("y", "numeric", lower=-5.0, upper=15.0, nullable=True),
            Column("n", "numeric", lower=0, upper=50, integer=True),
            Column("a", "categorical", categories=A_CATS),
            Column("b", "ordinal", categories=B_CATS, nullable=True),
            Column("label", "categorical", categories=LABELS),
        ],
        target=target,
    )


def draw(n: int, seed: int, *, missing: float = 0.0) -> pd.DataFrame:
    """Rows with strong dependencies: a ← x, b ← a, y ≈ x, label ← (x, a)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 10, n)
    a_idx = np.clip((x / 2.5).astype(int) + rng.integers(-1, 2, n) * (rng.random(n) < 0.2), 0, 3)
    b_idx = np.where(rng.random(n) < 0.85, a_idx % 3, rng.integers(0, 3, n))
    y = x + rng.normal(0, 1.0, n)
    cnt = rng.poisson(5 + 3 * x).clip(0, 50)
    logit = 1.2 * (x - 5) + 1.5 * (a_idx == 1)
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    df = pd.DataFrame({
        "x": x,
        "y": np.clip(y, -5, 15),
        "n": cnt,
        "a": np.asarray(A_CATS, dtype=object)[a_idx],
        "b": np.asarray(B_CATS, dtype=object)[b_idx],
        "label": np.asarray(LABELS, dtype=object)[label],
    })
    if missing:
        df.loc[rng.random(n) < missing, "y"] = np.nan
        df.loc[rng.random(n) < missing, "b"] = None
    return df


def shuffle_columns(df: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Each column permuted independently: 1-way marginals kept, every dependency broken."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({c: rng.permutation(df[c].to_numpy()) for c in df.columns})


@pytest.fixture(scope="session")
def domain() -> Domain:
    return make_domain()


@pytest.fixture(scope="session")
def real() -> pd.DataFrame:
    return draw(N, 1)


@pytest.fixture(scope="session")
def holdout() -> pd.DataFrame:
    return draw(N, 2)


@pytest.fixture(scope="session")
def fresh() -> pd.DataFrame:
    """Independent rows from the same distribution as ``real``."""
    return draw(N, 3)


@pytest.fixture(scope="session")
def shuffled(real: pd.DataFrame) -> pd.DataFrame:
    return shuffle_columns(real, 4)


@pytest.fixture(scope="session")
def disjoint_pair() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two tables that share no value in any column, with the numbers at opposite bounds."""
    n = 600
    rng = np.random.default_rng(5)
    real = pd.DataFrame({
        "x": np.zeros(n),
        "y": np.full(n, -5.0),
        "n": np.zeros(n, dtype=int),
        "a": rng.choice(["a0", "a1"], n),
        "b": np.full(n, "b0", dtype=object),
        "label": np.full(n, "no", dtype=object),
    })
    synth = pd.DataFrame({
        "x": np.full(n, 10.0),
        "y": np.full(n, 15.0),
        "n": np.full(n, 50),
        "a": rng.choice(["a2", "a3"], n),
        "b": rng.choice(["b1", "b2"], n).astype(object),
        "label": np.full(n, "yes", dtype=object),
    })
    return real, synth
