import numpy as np
import pandas as pd
import pytest

from dpsynth.audit.attacks import (
    ClosestDistanceAttack,
    DensityRatioAttack,
    QueryAttack,
    ShadowModelAttack,
    encode_codes,
    get_attack,
    shadow_features,
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


# -- DOMIAS -------------------------------------------------------------------------------
def test_domias_scores_copied_target_higher(domain, frame):
    attack = DensityRatioAttack()
    target = frame.iloc[7]
    reference = frame.iloc[100:]
    without = frame.iloc[20:100]
    with_t = pd.concat([without.iloc[:-5], frame.iloc[[7] * 5]], ignore_index=True)
    s_in = attack.score(with_t, target, domain=domain, reference=reference)
    s_out = attack.score(without, target, domain=domain, reference=reference)
    assert np.isfinite(s_in) and np.isfinite(s_out)
    assert s_in > s_out
    # Same data for synthetic and reference: the ratio is 1 (log 0).
    assert attack.score(reference, target, domain=domain, reference=reference) == pytest.approx(0.0)


def test_domias_needs_reference(domain, frame):
    attack = DensityRatioAttack()
    assert attack.needs_reference
    with pytest.raises(InvalidParameterError, match="use_reference"):
        attack.score(frame, frame.iloc[0], domain=domain)
    with pytest.raises(InvalidParameterError):
        attack.score(frame.iloc[:0], frame.iloc[0], domain=domain, reference=frame)
    with pytest.raises(InvalidParameterError):
        DensityRatioAttack(bandwidth=-1.0).score(frame, frame.iloc[0], domain=domain, reference=frame)


# -- shadow models ----------------------------------------------------------------------------
def test_shadow_features_shapes(domain, frame):
    sizes = {"color": 3, "size": 4, "age": 8, "score": 6, "y": 2}  # score: 5 bins + missing
    p = standardise(encode_codes(frame.iloc[:3], domain), domain).shape[1]
    hist = shadow_features(frame, domain, "histogram")
    assert hist.shape == (sum(sizes.values()),)
    # Each column's frequencies sum to one.
    assert hist[:3].sum() == pytest.approx(1.0)
    assert shadow_features(frame, domain, "naive").shape == (3 * p,)
    assert shadow_features(frame, domain, "correlation").shape == (p * (p - 1) // 2,)
    allf = shadow_features(frame, domain, "all")
    assert allf.shape == (3 * p + sum(sizes.values()) + p * (p - 1) // 2,)
    assert np.all(np.isfinite(allf))
    with pytest.raises(InvalidParameterError):
        shadow_features(frame, domain, "nope")


def test_shadow_model_attack_learns_a_leak(domain, frame):
    """Shadow models on a generator that copies the target only when it is a member."""
    target = 11

    def leaky(train, dom, n_synth, seed):
        rng = np.random.default_rng(seed)
        rows = frame.iloc[rng.integers(0, len(frame), size=n_synth)].reset_index(drop=True)
        hit = (train == frame.iloc[target]).all(axis=1) | (
            (train.drop(columns="score") == frame.iloc[target].drop("score")).all(axis=1)
            & train["score"].isna() & pd.isna(frame.iloc[target]["score"])
        )
        if hit.any():
            rows = pd.concat([rows.iloc[: n_synth // 2], train[hit].iloc[[0] * (n_synth // 2)]])
        return rows.reset_index(drop=True)

    untrained = ShadowModelAttack(features="histogram", n_shadows=8, n_estimators=25)
    with pytest.raises(InvalidParameterError, match="prepare"):
        untrained.score(frame, frame.iloc[target], domain=domain)
    cache: dict = {}
    trained = untrained.prepare(frame, domain, leaky, target=target, m=40, n_synth=40, cache=cache)
    assert untrained.classifier_ is None and trained.classifier_ is not None
    assert len(cache) == 1  # a second feature set reuses the same shadow fits
    ShadowModelAttack(features="naive", n_shadows=8, n_estimators=25).prepare(
        frame, domain, leaky, target=target, m=40, n_synth=40, cache=cache
    )
    assert len(cache) == 1
    member = leaky(frame.iloc[[target, 1, 2, 3]], domain, 40, 1)
    other = leaky(frame.iloc[[1, 2, 3]], domain, 40, 1)
    assert trained.score(member, frame.iloc[target], domain=domain) > 0.5
    assert trained.score(other, frame.iloc[target], domain=domain) < 0.5
    with pytest.raises(InvalidParameterError):
        ShadowModelAttack(n_shadows=2).prepare(frame, domain, leaky, target=0, m=10, n_synth=10)


def test_registry_lists_new_attacks():
    assert get_attack("domias").name == "domias"
    assert get_attack("groundhog_correlation").name == "groundhog_correlation"


def test_kde_matches_scikit_learn(domain, frame):
    from sklearn.neighbors import KernelDensity

    from dpsynth.audit.attacks import _log_kde

    x = standardise(encode_codes(frame, domain), domain)
    t = x[3]
    expected = KernelDensity(bandwidth=0.3).fit(x).score_samples(t[None, :])[0]
    assert _log_kde(x, t, 0.3) == pytest.approx(expected, rel=1e-9)
