import numpy as np
import pandas as pd
import pytest

from dpsynth.data.domain import Domain
from dpsynth.data.private import PrivateData

# Keep contract tests fast: fewer estimation iterations than the defaults.
FAST_PARAMS = {
    "mst": {"iters": 100, "select_iters": 50},
    "aim": {"iters": 30, "final_iters": 100, "rounds": 20},
    "independent": {"iters": 50},
    "gsd": {"synthetic_rows": 200, "rounds": 2, "children": 32, "generations": 60, "patience": 30},
    "pe": {"rounds": 3, "population_size": 200},
    "ctabgan": {"steps": 20, "batch_size": 64, "generator_dims": (32,), "discriminator_dims": (32,),
                "embedding_dim": 16, "auxiliary_steps": 10},
    "tldm": {"ae_steps": 15, "diffusion_steps": 15, "batch_size": 4096, "hidden": 32, "sample_steps": 8,
             "num_threads": 1},
}

SMALL_META = {
    "name": "small",
    "target": "y",
    "columns": [
        {"name": "color", "type": "categorical", "categories": ["red", "green", "blue"]},
        {"name": "size", "type": "ordinal", "categories": ["S", "M", "L", "XL"]},
        {"name": "age", "type": "numeric", "integer": True, "lower": 18, "upper": 80, "bins": 8},
        {"name": "score", "type": "numeric", "lower": 0.0, "upper": 1.0, "bins": 5, "nullable": True},
        {"name": "y", "type": "categorical", "categories": ["no", "yes"]},
    ],
}


def make_small_frame(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    color = rng.choice(["red", "green", "blue"], size=n, p=[0.5, 0.3, 0.2])
    size = np.where(color == "red", rng.choice(["S", "M"], size=n), rng.choice(["L", "XL", "M"], size=n))
    age = rng.integers(18, 81, size=n)
    score = np.clip(rng.normal(0.3 + 0.4 * (age > 50), 0.15), 0, 1)
    score[rng.random(n) < 0.1] = np.nan
    y = np.where((age > 50) & (color != "blue"), "yes", "no")
    return pd.DataFrame({"color": color, "size": size, "age": age, "score": score, "y": y})


@pytest.fixture(scope="session")
def small_domain() -> Domain:
    return Domain.from_json(SMALL_META)


@pytest.fixture(scope="session")
def small_frame() -> pd.DataFrame:
    return make_small_frame()


@pytest.fixture()
def small_private(small_frame, small_domain) -> PrivateData:
    return PrivateData(small_frame, small_domain)
