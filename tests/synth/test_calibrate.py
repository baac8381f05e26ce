"""Calibration of neural samples to DP one-way marginals (dpsynth.synth._calibrate)."""

import numpy as np
import pandas as pd
import pytest

from dpsynth.data.discretize import Discretizer
from dpsynth.data.domain import Domain
from dpsynth.errors import InvalidParameterError
from dpsynth.synth._calibrate import (
    calibrated_sample,
    rake,
    systematic_resample,
    targets_from_counts,
)

META = {"columns": {"a": {"type": "categorical", "categories": ["x", "y", "z"]},
                    "b": {"type": "categorical", "categories": ["p", "q"]}}}


def _tvd(codes: np.ndarray, w: np.ndarray, t: np.ndarray) -> float:
    have = np.bincount(codes, weights=w, minlength=t.size)
    return 0.5 * float(np.abs(have / have.sum() - t).sum())


def test_rake_matches_reachable_targets_and_keeps_joint_structure():
    rng = np.random.default_rng(0)
    # A skewed pool where a and b are dependent (b = p mostly when a = x).
    a = rng.choice(3, size=5000, p=[0.8, 0.15, 0.05])
    b = np.where(a == 0, rng.random(5000) < 0.9, rng.random(5000) < 0.2).astype(int)
    codes = np.column_stack([a, b])
    targets = [np.array([0.3, 0.3, 0.4]), np.array([0.5, 0.5])]
    w = rake(codes, targets, iterations=200, max_ratio=1e6)
    assert w.sum() == pytest.approx(1.0) and (w >= 0).all()
    assert _tvd(a, w, targets[0]) < 1e-3 and _tvd(b, w, targets[1]) < 1e-3
    before = _tvd(a, np.ones(5000), targets[0])
    assert before > 0.4
    # Only how often rows appear changes: P(b | a) inside the pool is what IPF reweights,
    # so within a category of a, b's odds shift by one common factor.
    pb_x = np.average(b[a == 0], weights=w[a == 0])
    assert pb_x > 0.5


def test_rake_caps_weights_and_skips_columns_without_mass():
    codes = np.column_stack([np.r_[np.zeros(999, int), 1], np.zeros(1000, int)])
    w = rake(codes, [np.array([0.5, 0.5]), None], max_ratio=10.0)
    assert w.max() <= 10.0 / 1000 + 1e-12
    # Unreachable category: matched among the categories the pool has.
    w2 = rake(np.zeros((10, 1), int), [np.array([0.2, 0.8])])
    assert np.allclose(w2, 0.1)
    assert targets_from_counts([np.array([-3.0, -1.0])]) == [None]


def test_rake_refuses_bad_input():
    with pytest.raises(InvalidParameterError, match="empty"):
        rake(np.zeros((0, 1), int), [np.array([1.0])])
    with pytest.raises(InvalidParameterError, match="targets"):
        rake(np.zeros((3, 2), int), [np.array([1.0])])
    with pytest.raises(InvalidParameterError, match="max_ratio"):
        rake(np.zeros((3, 1), int), [np.array([1.0])], max_ratio=1.0)


def test_systematic_resample_counts_follow_weights():
    w = np.array([0.5, 0.25, 0.125, 0.125])
    idx = systematic_resample(w, 800, np.random.default_rng(1))
    assert np.array_equal(np.bincount(idx, minlength=4), [400, 200, 100, 100])


def test_calibrated_sample_moves_a_biased_generator_to_the_noisy_marginals():
    domain = Domain.from_json(META)
    disc = Discretizer(domain)
    rng = np.random.default_rng(2)

    def draw(m: int) -> pd.DataFrame:  # a generator that over-produces "x" and "p"
        return pd.DataFrame({"a": rng.choice(["x", "y", "z"], size=m, p=[0.7, 0.2, 0.1]),
                             "b": rng.choice(["p", "q"], size=m, p=[0.8, 0.2])})

    counts = [np.array([300.0, 300.0, 400.0]), np.array([500.0, 500.0])]
    out = calibrated_sample(draw, 2000, disc, counts, np.random.default_rng(3))
    assert len(out) == 2000 and list(out.columns) == ["a", "b"]
    freq_a = out["a"].value_counts(normalize=True).reindex(["x", "y", "z"]).to_numpy()
    freq_b = out["b"].value_counts(normalize=True).reindex(["p", "q"]).to_numpy()
    assert np.abs(freq_a - [0.3, 0.3, 0.4]).max() < 0.03
    assert np.abs(freq_b - [0.5, 0.5]).max() < 0.03
    with pytest.raises(InvalidParameterError, match="pool_factor"):
        calibrated_sample(draw, 10, disc, counts, rng, pool_factor=0.5)


def _tvd_to_targets(name: str, seed: int) -> tuple[float, float]:
    """Mean one-way TVD to the fit's DP targets of a raw and a calibrated sample (one fit)."""
    from dpsynth.data.private import PrivateData
    from dpsynth.privacy import PrivacyBudget
    from dpsynth.synth.ctabgan import CTABGAN
    from dpsynth.synth.tldm import TLDM
    from tests.synth.conftest import SMALL_META, make_small_frame

    domain = Domain.from_json(SMALL_META)
    data = PrivateData(make_small_frame(600), domain)
    if name == "tldm":
        model = TLDM(random_state=seed, ae_steps=10, diffusion_steps=10, batch_size=4096, hidden=16,
                     sample_steps=4, num_threads=1)
    else:
        model = CTABGAN(random_state=seed, steps=10, batch_size=300, auxiliary_steps=5,
                        generator_dims=(16,), discriminator_dims=(16,), embedding_dim=8)
    model.fit(data, PrivacyBudget(5.0, 1e-6))
    disc = Discretizer(model.domain_)
    targets = targets_from_counts(model.noisy_counts_)

    def mean_tvd(frame: pd.DataFrame) -> float:
        codes = disc.encode_frame(frame, on_invalid="mark")
        return float(np.mean([_tvd(codes[:, j][codes[:, j] >= 0], np.ones((codes[:, j] >= 0).sum()), t)
                              for j, t in enumerate(targets) if t is not None]))

    calibrated = mean_tvd(model.sample(1500, random_state=1000 + seed))
    model.calibrate = False
    return mean_tvd(model.sample(1500, random_state=1000 + seed)), calibrated


# Seeds per generator: a 10-step fit is a different model at every seed, and how much
# calibration can gain depends on it (a collapsed column, whose pool lacks categories, cannot
# be raked). Over 30 seeds TLDM's calibrated/raw TVD ratio was 0.79 ± 0.09 (0.61–0.98) and
# CTAB-GAN+'s 0.15 ± 0.09 over 10, so one seed cannot pin an effect size: the claim tested is
# the paired one, over several fits (TLDM fits are cheap, CTAB-GAN+'s gain is large). With 8
# TLDM fits the test had too little power: one fit whose calibration lost 0.09 (as 1 in 16
# do) was enough to fail it at t = 2.7 when earlier releases' noise draws moved; 16 fits
# (9 s) give t ≈ 4.
_SEEDS = {"tldm": 16, "ctabgan": 4}


@pytest.mark.parametrize("name", ["tldm", "ctabgan"])
def test_neural_generators_sample_closer_to_their_dp_marginals_when_calibrated(name):
    from scipy import stats

    pairs = np.array([_tvd_to_targets(name, seed) for seed in range(_SEEDS[name])])
    raw, calibrated = pairs[:, 0], pairs[:, 1]
    gain = raw - calibrated
    # One-sided paired t-test at the 1% level: calibration reduces the TVD to the DP marginals.
    k = gain.size
    t_crit = stats.t.ppf(0.99, k - 1)
    se = gain.std(ddof=1) / np.sqrt(k)
    assert gain.mean() > t_crit * se, (raw.round(3), calibrated.round(3))
