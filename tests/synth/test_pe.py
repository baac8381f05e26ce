"""The ``pe`` table generator: budget, noise scale, private access, tabular APIs, bad input."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from dpsynth.data import io as data_io
from dpsynth.data import private as private_mod
from dpsynth.data.domain import Domain
from dpsynth.data.private import PrivateData
from dpsynth.errors import InvalidDataError, InvalidParameterError
from dpsynth.pe import TableCodec, TabularAPI, TabularEmbedding, _votes
from dpsynth.privacy import GaussianMechanism, PrivacyBudget, zcdp
from dpsynth.synth import create
from tests.synth.conftest import FAST_PARAMS, SMALL_META, make_small_frame


def test_sigma_and_ledger_match_the_budget(small_frame, small_domain):
    budget = PrivacyBudget(1.0, 1e-6)
    # Bounds inference only: numeric detail's δ₀ would shrink the zCDP budget (tested elsewhere).
    data = PrivateData(small_frame, small_domain, numeric_detail=())
    model = create("pe", random_state=0, rounds=4, population_size=100).fit(data, budget)
    report = model.privacy_report
    entries = [e for e in report.ledger if e.step == "pe.votes"]
    assert len(entries) == 4
    # Domain inference (DP-quantile bins of 'age' and 'score') takes its 5%; the rest is votes.
    assert {e.step for e in report.ledger} == {"pe.infer_domain", "pe.votes"}
    sigma = math.sqrt(4 / (2 * 0.95 * zcdp.rho_for(1.0, 1e-6)))
    assert model.sigma_ == pytest.approx(sigma)
    assert all(e.noise_scale == pytest.approx(sigma) for e in entries)
    assert all(e.mu is None for e in entries)  # discrete Gaussian votes are not exactly μ-GDP
    # μ summarises the exact PLD of every discrete release (inference included): close to the
    # continuous √(Σ 1/σᵢ²).
    assert report.mu == pytest.approx(math.sqrt(sum(e.count / e.noise_scale**2 for e in report.ledger)), rel=1e-3)
    assert report.epsilon == pytest.approx(1.0, rel=1e-6)
    assert report.epsilon_gdp < report.epsilon  # the exact GDP curve is tighter than zCDP


def test_vote_noise_of_a_whole_fit_is_at_the_claimed_scale(small_frame, small_domain, monkeypatch):
    log = []
    original = GaussianMechanism.release

    def spy(self, values, noise):
        out = original(self, values, noise)
        log.append((np.asarray(values, dtype=float).copy(), out, self.sigma))
        return out

    monkeypatch.setattr(GaussianMechanism, "release", spy)
    for seed in range(3):
        create("pe", random_state=seed, rounds=3, population_size=300).fit(
            PrivateData(small_frame, small_domain), PrivacyBudget(1.0, 1e-6)
        )
    votes = [(val, out, s) for val, out, s in log if val.size == 300]  # not the inference histograms
    z = np.concatenate([(out - val) / s for val, out, s in votes])
    n = z.size
    assert n == 3 * 3 * 300
    ss = float(np.sum(z**2))
    assert 2 * min(stats.chi2.cdf(ss, n), stats.chi2.sf(ss, n)) > 1e-3
    assert stats.chi2.sf(float(np.sum((z * 1.25) ** 2)), n) < 1e-6  # power to reject a smaller σ


def test_private_rows_are_read_only_inside_the_vote(small_private, monkeypatch):
    reads = []
    original = data_io.Table.to_frame

    def to_frame(self, domain=None):
        import inspect

        reads.append([f.function for f in inspect.stack()[1:4]])
        return original(self, domain)

    monkeypatch.setattr(data_io.Table, "to_frame", to_frame)
    monkeypatch.setattr(private_mod, "marginal_counts_many", lambda *a, **k: pytest.fail("marginals read"))
    create("pe", random_state=0, rounds=3, population_size=50).fit(small_private, 1.0)
    assert len(reads) == 3
    assert all(r[0] == "nearest_neighbour_votes" for r in reads)


def test_high_epsilon_fit_tracks_the_one_way_marginals(small_frame, small_domain):
    model = create("pe", random_state=0, rounds=6, population_size=300).fit(
        PrivateData(small_frame, small_domain), PrivacyBudget(50.0, 1e-6)
    )
    out = model.sample(3000, random_state=1)
    for col in ("color", "y"):
        real = small_frame[col].value_counts(normalize=True)
        syn = out[col].value_counts(normalize=True).reindex(real.index, fill_value=0)
        assert 0.5 * np.abs(real - syn).sum() < 0.1, col
    # The random API alone (uniform) is far from the data on 'color' (0.5/0.3/0.2).
    uniform = pd.Series(1 / 3, index=["red", "green", "blue"])
    real = small_frame["color"].value_counts(normalize=True).reindex(uniform.index)
    assert 0.5 * np.abs(real - uniform).sum() > 0.15
    assert model._row_estimate() == pytest.approx(len(small_frame), rel=0.1)


def test_codec_round_trip_and_embedding(small_domain, small_frame):
    codec = TableCodec(small_domain)
    codes = codec.encode(small_frame)
    assert codes.shape == (len(small_frame), 5) and (codes >= 0).all()
    back = codec.decode(codes, np.random.default_rng(0))
    np.testing.assert_array_equal(codec.encode(back), codes)  # same bins after decoding
    emb = TabularEmbedding(small_domain)
    e = emb.embed(codes)
    assert e.shape == (len(small_frame), emb.dim)
    # 3 colours + 4 sizes + age + score (+ missing flag) + 2 labels
    assert emb.dim == 3 + 4 + 1 + 2 + 2
    assert np.allclose(emb.embed_frame(small_frame), e)
    assert e.min() >= 0 and e.max() <= 1


def test_tabular_api_stays_in_the_domain(small_domain):
    api = TabularAPI(small_domain, crossover=0.5)
    rng = np.random.default_rng(0)
    x = api.random_api(500, rng)
    codec = TableCodec(small_domain)
    for _ in range(5):
        x = api.variation_api(x, 0.3, rng)
        assert ((x >= 0) & (x < codec.sizes)).all() and np.all(x == np.round(x))
    # Every row changes in at least one cell at the smallest degree.
    y = api.variation_api(x, 0.01, rng)
    assert (y != x).any(axis=1).mean() > 0.5
    out = codec.decode(x, rng)
    assert list(out.columns) == list(small_domain.names)


def test_no_public_schema_is_refused_before_any_charge(small_frame):
    meta = {**SMALL_META, "columns": [dict(c) for c in SMALL_META["columns"]]}
    meta["columns"][0]["categories"] = None
    domain = Domain.from_json(meta)
    with pytest.raises(InvalidDataError, match="no public categories"):
        TabularAPI(domain)
    with pytest.raises(InvalidParameterError, match="Domain"):
        TabularAPI(SMALL_META)


def test_bad_input(small_domain, small_private):
    with pytest.raises(InvalidDataError, match=r"empty|no rows|0 rows"):
        PrivateData(make_small_frame().iloc[:0], small_domain)
    frame = make_small_frame()
    frame.loc[3, "age"] = np.nan  # 'age' is not nullable
    with pytest.raises(InvalidDataError, match="age"):
        PrivateData(frame, small_domain)
    for bad in [{"rounds": 0}, {"population_size": 1}, {"degree_start": 0.0}, {"keep_fraction": 1.0},
                {"threshold": -1.0}, {"crossover": 2.0}, {"rounds": "3"}]:
        with pytest.raises(InvalidParameterError):
            create("pe", **bad).fit(small_private, 1.0)
    with pytest.raises(InvalidParameterError, match="epsilon"):
        create("pe", **FAST_PARAMS["pe"]).fit(small_private, -1.0)


def test_blocks_do_not_change_the_votes(small_frame, small_domain):
    emb = TabularEmbedding(small_domain)
    cands = emb.embed(TabularAPI(small_domain).random_api(60, np.random.default_rng(0)))
    a = _votes.nearest_neighbour_counts(emb.embed_frame, small_frame, cands, block_size=97)
    b = _votes.nearest_neighbour_counts(emb.embed_frame, small_frame, cands, block_size=5000)
    np.testing.assert_array_equal(a, b)
