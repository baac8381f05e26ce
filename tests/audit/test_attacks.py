import numpy as np
import pandas as pd
import pytest

from dpsynth.audit.attacks import (
    ClosestDistanceAttack,
    QueryAttack,
    encode_codes,
    get_attack,
    standardise,
)
from dpsynth.data.domain import Domain
from dpsynth.errors import InvalidParameterError
from tests.synth.conftest import SMALL_META, make_small_frame


@pytest.fixture(scope="module")
def domain():
    return Domain.from_json(SMALL_META)


@pytest.fixture(scope="module")
def frame():
    return make_small_frame(300, seed=3)


def test_standardised_encoding_distances(domain):
    rows = pd.DataFrame(
        {
            "color": ["red", "blue", "red"],
            "size": ["S", "S", "XL"],
            "age": [18, 18, 18],
            "score": [0.1, 0.1, 0.1],
            "y": ["no", "no", "no"],
        }
    )
    x = standardise(encode_codes(rows, domain), domain)
    # Different categories are at distance 1; the ends of an ordinal column too.
    assert np.linalg.norm(x[0] - x[1]) == pytest.approx(1.0)
    assert np.linalg.norm(x[0] - x[2]) == pytest.approx(1.0)
    assert x.min() >= 0 and x.max() <= 1


def test_closest_distance(domain, frame):
    attack = ClosestDistanceAttack()
    target = frame.iloc[0]
    assert attack.score(frame, target, domain=domain) == 0.0
    without = frame.iloc[1:]
    assert attack.score(without, target, domain=domain) <= 0.0
    far = frame[frame["color"] != target["color"]]
    assert attack.score(far, target, domain=domain) <= -1.0 + 1e-9
    with pytest.raises(InvalidParameterError):
        attack.score(frame.iloc[:0], target, domain=domain)


def test_query_attack_prefers_members(domain, frame):
    attack = QueryAttack(n_queries=100, random_state=1)
    target = frame.iloc[5]
    others = frame.drop(index=5)
    with_t = pd.concat([others.iloc[:99], frame.iloc[[5]] * 1], ignore_index=True)
    without_t = others.iloc[:100]
    assert attack.score(with_t, target, domain=domain) > attack.score(
        without_t, target, domain=domain
    )
    f = attack.features(with_t, target, domain=domain, reference=frame)
    assert f.shape == (100,) and np.all(np.isfinite(f))


def test_get_attack():
    assert get_attack("query").name == "query"
    with pytest.raises(InvalidParameterError):
        get_attack("nope")
