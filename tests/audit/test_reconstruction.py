import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

from dpsynth.audit.game import SynthesizerGenerator, resample_rows
from dpsynth.audit.reconstruction import (
    ReconstructionResult,
    audit_reconstruction,
    reconstruction_scores,
)
from dpsynth.data.domain import Domain
from dpsynth.errors import InvalidDataError, InvalidParameterError
from tests.synth.conftest import SMALL_META, make_small_frame


@pytest.fixture(scope="module")
def domain():
    return Domain.from_json(SMALL_META)


@pytest.fixture(scope="module")
def population():
    return make_small_frame(1500, seed=4)


def test_lp_recovers_bits_from_exact_answers():
    # With exact answers (synthetic = training rows) the true bits have zero residual, so the
    # LP optimum is 0 and every record alone in some cell of a pair is pinned exactly.
    rng = np.random.default_rng(0)
    qi = rng.integers(0, 6, size=(80, 3))
    bits = rng.integers(0, 2, size=80)
    x = reconstruction_scores(qi, qi, bits)
    assert x.shape == (80,) and x.min() >= 0 and x.max() <= 1
    # Second method: count the records alone in at least one pair cell; those are pinned.
    alone = np.zeros(80, dtype=bool)
    for a, b in ((0, 1), (0, 2), (1, 2)):
        _, inv, cnt = np.unique(qi[:, [a, b]], axis=0, return_inverse=True, return_counts=True)
        alone |= cnt[inv.ravel()] == 1
    assert alone.sum() > 20
    np.testing.assert_allclose(x[alone], bits[alone], atol=1e-6)
    # Uninformative answers (every cell at the overall rate) give no information.
    flat = reconstruction_scores(qi, qi[:0], bits[:0])
    assert np.all(np.abs(flat - 0.5) <= 0.5)


def test_positive_control_release_of_training_rows(population, domain):
    res = audit_reconstruction(
        population, domain, resample_rows, n_rows=200, games=4, targets_per_game=10,
        sizes=[200, 2000], random_state=0,
    )
    big = res.by_size[2000]
    assert res.targets == 40
    # Far above 50%: the lower end of the exact 95% interval clears 0.7.
    assert big["reconstruction"].accuracy_ci[0] > 0.7
    assert big["reconstruction"].auc > 0.9
    assert big["closest_record"].accuracy > 0.9
    # More synthetic rows, stronger attack (Annamalai et al.'s finding).
    assert big["reconstruction"].accuracy >= res.by_size[200]["reconstruction"].accuracy
    doc = res.to_dict()
    json.dumps(doc)
    again = ReconstructionResult.from_dict(json.loads(json.dumps(doc)))
    assert again.headline.accuracy == res.headline.accuracy
    assert "50%" in res.summary()


def test_negative_control_independent_marginals(population, domain):
    gen = SynthesizerGenerator("independent", epsilon=1.0, delta=1e-6, iters=50)
    res = audit_reconstruction(
        population, domain, gen, n_rows=200, games=6, targets_per_game=10, sizes=[2000],
        random_state=1,
    )
    n = res.headline.n
    correct = round(res.headline.accuracy * n)
    # The targets' bits are fair coins independent of what the attack sees: correct guesses
    # are Bin(n, 1/2). Accept the central 99% of that distribution.
    lo, hi = binom.ppf(0.005, n, 0.5), binom.isf(0.005, n, 0.5)
    assert lo <= correct <= hi, (correct, n)
    for method in ("random_forest", "closest_record"):
        c = round(res.by_size[2000][method].accuracy * n)
        assert lo <= c <= hi, (method, c, n)


def test_resume(population, domain, tmp_path):
    calls = []

    def counting(train, dom, n_synth, seed):
        calls.append(seed)
        return resample_rows(train, dom, n_synth, seed)

    path = tmp_path / "recon.jsonl"
    kw = dict(n_rows=100, targets_per_game=5, sizes=[300], random_state=3, results_path=path)
    first = audit_reconstruction(population, domain, counting, games=2, **kw)
    assert len(calls) == 2
    second = audit_reconstruction(population, domain, counting, games=3, **kw)
    assert len(calls) == 3 and second.games == 3
    fresh = audit_reconstruction(population, domain, resample_rows, games=3, **{**kw, "results_path": None})
    assert second.headline == fresh.headline
    assert first.games == 2
    with pytest.raises(InvalidParameterError, match="random_state"):
        audit_reconstruction(population, domain, counting, games=3, **{**kw, "random_state": 4})


@pytest.mark.parametrize(
    ("kwargs", "error", "needle"),
    [
        ({"secret": "color"}, InvalidParameterError, "binary"),
        ({"secret": "nope"}, InvalidParameterError, "Unknown secret"),
        ({"secret_value": "maybe"}, InvalidParameterError, "not a category"),
        ({"quasi_identifiers": ["color", "zzz"]}, InvalidParameterError, "Quasi-identifiers"),
        ({"quasi_identifiers": ["y"]}, InvalidParameterError, "Quasi-identifiers"),
        ({"n_rows": 5000}, InvalidDataError, "population"),
        ({"games": 0}, InvalidParameterError, "games"),
        ({"sizes": [0]}, InvalidParameterError, "sizes"),
        ({"alpha": 1.5}, InvalidParameterError, "alpha"),
    ],
)
def test_bad_input(population, domain, kwargs, error, needle):
    with pytest.raises(error, match=needle):
        audit_reconstruction(population, domain, resample_rows, **{"n_rows": 50, "games": 1, **kwargs})


def test_no_unique_records(domain):
    same = pd.DataFrame([make_small_frame(1, seed=0).iloc[0]] * 30).reset_index(drop=True)
    with pytest.raises(InvalidDataError, match="unique quasi-identifiers"):
        audit_reconstruction(same, domain, resample_rows, n_rows=20, games=1)
