import numpy as np
import pandas as pd
import pytest

from dpsynth.data.domain import Domain
from dpsynth.data.private import PrivateData
from dpsynth.pe import API, Embedding
from dpsynth.privacy import Accountant, NoiseSource, PrivacyBudget

POINTS_META = {
    "name": "points",
    "columns": [
        {"name": "x", "type": "numeric", "lower": 0.0, "upper": 1.0},
        {"name": "y", "type": "numeric", "lower": 0.0, "upper": 1.0},
        {"name": "g", "type": "categorical", "categories": ["a", "b"]},
    ],
}


def make_points(n: int = 400, seed: int = 0, centres=((0.2, 0.3), (0.7, 0.8), (0.85, 0.15))) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    c = np.asarray(centres)[rng.integers(0, len(centres), size=n)]
    xy = np.clip(c + rng.normal(0, 0.01, size=(n, 2)), 0, 1)
    return pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "g": np.where(xy[:, 0] > 0.5, "b", "a")})


class PointsAPI(API):
    """Candidates are points of the unit square; labels by the same public rule as the data."""

    def __init__(self, grouped: bool = False) -> None:
        self.grouped = grouped

    def random_api(self, n, rng):
        return rng.random((n, 2))

    def variation_api(self, samples, degree, rng):
        return np.clip(samples + rng.normal(0, 0.1 * degree, size=samples.shape), 0, 1)

    def labels(self, samples):
        return np.where(samples[:, 0] > 0.5, "b", "a") if self.grouped else None


class PointsEmbedding(Embedding):
    dim = 2

    def embed(self, samples):
        return np.asarray(samples, dtype=float)

    def embed_frame(self, frame):
        return frame[["x", "y"]].to_numpy(dtype=float)


@pytest.fixture()
def points_domain() -> Domain:
    return Domain.from_json(POINTS_META)


def bind(frame: pd.DataFrame, domain: Domain, epsilon: float = 1.0, seed: int = 0) -> PrivateData:
    acc = Accountant(PrivacyBudget(epsilon, 1e-6), seeded=True)
    return PrivateData(frame, domain).bind(acc, NoiseSource(seed))
