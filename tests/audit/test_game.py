import json

import numpy as np
import pandas as pd
import pytest

from dpsynth.audit.attacks import ClosestDistanceAttack, QueryAttack
from dpsynth.audit.game import SynthesizerGenerator, play_games, select_targets
from dpsynth.audit.membership import audit_membership
from dpsynth.audit.metrics import auc_score, evaluate_attack
from dpsynth.data.domain import Domain
from dpsynth.errors import InvalidParameterError
from tests.synth.conftest import SMALL_META, make_small_frame


@pytest.fixture(scope="module")
def domain():
    return Domain.from_json(SMALL_META)


@pytest.fixture(scope="module")
def population():
    return make_small_frame(200, seed=1)


def verbatim(train, domain, n_synth, seed):
    """A non-private 'generator': releases its training rows."""
    return train.copy()


class Counting:
    def __init__(self):
        self.calls = 0

    def __call__(self, train, domain, n_synth, seed):
        self.calls += 1
        return train.copy()


def test_positive_control_verbatim_release_is_a_violation(population, domain):
    audit = audit_membership(
        population, domain, verbatim, epsilon_claimed=1.0, m=50, games=60, random_state=0
    )
    res = audit.results["closest_distance"]
    assert res.n_games == 60 and 10 < res.n_members < 50
    assert res.auc > 0.95
    assert res.epsilon_lb > 1.0
    assert res.verdict == "violation"
    assert audit.verdict == "violation"
    assert res.tpr_at_1pct_fpr > 0.9 and res.advantage > 0.9
    d = audit.to_dict()
    json.dumps(d)
    assert d["results"]["closest_distance"]["verdict"] == "violation"


@pytest.mark.parametrize(
    ("name", "params"),
    [("independent", {"iters": 50}), ("mst", {"iters": 100, "select_iters": 50})],
)
def test_negative_control_dp_generators(population, domain, name, params):
    gen = SynthesizerGenerator(name, epsilon=1.0, delta=1e-6, **params)
    audit = audit_membership(
        population,
        domain,
        gen,
        epsilon_claimed=1.0,
        delta=1e-6,
        m=50,
        games=60,
        attacks=[ClosestDistanceAttack()],
        random_state=0,
    )
    res = audit.results["closest_distance"]
    lo, hi = res.auc_ci
    assert lo < 0.5 < hi
    assert abs(res.auc - 0.5) < 0.15
    assert res.epsilon_lb <= 1.0
    assert audit.verdict != "violation"


def test_resumption_skips_finished_games(population, domain, tmp_path):
    path = tmp_path / "games.jsonl"
    gen = Counting()
    kw = dict(target=3, m=30, random_state=7, results_path=path)
    first = play_games(population, domain, gen, ClosestDistanceAttack(), games=10, **kw)
    assert gen.calls == 10
    resumed = play_games(population, domain, gen, ClosestDistanceAttack(), games=20, **kw)
    assert gen.calls == 20  # only the 10 new games were played
    assert len(path.read_text().splitlines()) == 20
    fresh = play_games(
        population,
        domain,
        verbatim,
        ClosestDistanceAttack(),
        target=3,
        m=30,
        games=20,
        random_state=7,
    )
    np.testing.assert_array_equal(resumed.members, fresh.members)
    np.testing.assert_array_equal(
        resumed.scores["closest_distance"], fresh.scores["closest_distance"]
    )
    np.testing.assert_array_equal(first.members, fresh.members[:10])
    with pytest.raises(InvalidParameterError):
        play_games(
            population,
            domain,
            gen,
            ClosestDistanceAttack(),
            games=20,
            target=3,
            m=30,
            random_state=8,
            results_path=path,
        )


def test_parallel_matches_serial(population, domain):
    kw = dict(target=0, m=30, games=8, random_state=1)
    attacks = [ClosestDistanceAttack(), QueryAttack(n_queries=20)]
    serial = play_games(population, domain, verbatim, attacks, n_jobs=1, **kw)
    parallel = play_games(population, domain, verbatim, attacks, n_jobs=2, **kw)
    np.testing.assert_array_equal(serial.members, parallel.members)
    for name in ("closest_distance", "query"):
        np.testing.assert_allclose(serial.scores[name], parallel.scores[name])


def test_member_world_holds_target(population, domain):
    seen = []

    def spy(train, domain, n_synth, seed):
        seen.append(len(train))
        return train.copy()

    res = play_games(
        population, domain, spy, ClosestDistanceAttack(), target=2, m=25, games=12, random_state=0
    )
    # Add/remove neighbours: m rows with the target, m - 1 without.
    assert sorted(set(seen)) == [24, 25]
    assert [s == 25 for s in seen] == list(res.members)
    assert np.all(res.scores["closest_distance"][res.members] == 0.0)


def test_select_targets_finds_planted_outlier(population, domain):
    pop = population.copy()
    odd = pd.DataFrame([{"color": "blue", "size": "S", "age": 80, "score": np.nan, "y": "yes"}])
    pop = pd.concat([pop.iloc[:50], odd, pop.iloc[50:]], ignore_index=True)
    assert select_targets(pop, domain, 1)[0] == 50
    rand = select_targets(pop, domain, 3, method="random", random_state=0)
    assert len(set(rand)) == 3
    with pytest.raises(InvalidParameterError):
        select_targets(pop, domain, 1, method="nope")


def test_metrics_auc_matches_sklearn():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    m = rng.random(100) < 0.5
    s = np.round(m + rng.normal(size=100), 1)  # with ties
    assert auc_score(s, m) == pytest.approx(roc_auc_score(m, s))
    res = evaluate_attack(s, m, epsilon_claimed=1.0, n_boot=200)
    assert res.auc_ci[0] < res.auc < res.auc_ci[1]
    with pytest.raises(InvalidParameterError):
        evaluate_attack(s, np.ones(100, dtype=bool))


def test_progress_bar_shows_games(population, domain):
    import io

    from rich.console import Console

    from dpsynth.progress import enable_progress

    buf = io.StringIO()
    with enable_progress(Console(file=buf, force_terminal=False, width=100)):
        play_games(
            population,
            domain,
            verbatim,
            ClosestDistanceAttack(),
            target=0,
            m=20,
            games=3,
            random_state=0,
        )
    assert "membership games" in buf.getvalue()


class LeakOneRow:
    """DP output (independent marginals at eps = 1) plus the target row when it was trained on."""

    def __init__(self, target_row):
        self.target_row = target_row
        self.base = SynthesizerGenerator("independent", epsilon=1.0, delta=1e-6, iters=20)

    def __call__(self, train, domain, n_synth, seed):
        out = self.base(train, domain, n_synth - 1, seed)
        t = self.target_row
        same = (train.drop(columns="score") == t.drop("score")).all(axis=1) & (
            (train["score"] == t["score"]) | (train["score"].isna() & pd.isna(t["score"]))
        )
        extra = train[same].iloc[:1] if same.any() else out.iloc[:1]
        return pd.concat([out, extra], ignore_index=True)


def test_positive_control_one_leaked_row_is_caught(population, domain):
    target = select_targets(population, domain, 1)[0]
    gen = LeakOneRow(population.iloc[target])
    audit = audit_membership(
        population, domain, gen, epsilon_claimed=1.0, delta=1e-6, m=50, games=60,
        attacks=[ClosestDistanceAttack()], targets=[target], random_state=0,
    )
    res = audit.results["closest_distance"]
    assert res.epsilon_lb > 1.0 and audit.verdict == "violation"


def test_negative_control_density_and_shadow_attacks(population, domain):
    from dpsynth.audit.attacks import DensityRatioAttack, ShadowModelAttack

    gen = SynthesizerGenerator("independent", epsilon=1.0, delta=1e-6, iters=30)
    audit = audit_membership(
        population, domain, gen, epsilon_claimed=1.0, delta=1e-6, m=50, games=40,
        attacks=[DensityRatioAttack(), ShadowModelAttack(features="histogram", n_shadows=6, n_estimators=25)],
        random_state=0,
    )
    assert audit.verdict != "violation"
    for res in audit.results.values():
        assert res.epsilon_lb <= 1.0
        lo, hi = res.auc_ci
        assert lo < 0.5 + 0.05 and hi > 0.5 - 0.05  # no real signal at eps = 1
