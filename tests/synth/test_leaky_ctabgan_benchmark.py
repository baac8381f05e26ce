"""The audit benchmark's leaky CTAB-GAN+ (benchmarks/leaky_ctabgan.py) leaks what it says it leaks.

It exists only to be compared with ``ctabgan`` by the membership audit; if it silently
became private, that comparison would say nothing.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from dpsynth.data.discretize import Discretizer
from dpsynth.data.domain import Domain
from dpsynth.data.private import PrivateData
from dpsynth.privacy import PrivacyBudget
from dpsynth.synth import create
from tests.synth.conftest import FAST_PARAMS, SMALL_META, make_small_frame

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "leaky_ctabgan.py"


@pytest.fixture(scope="module")
def leaky():
    spec = importlib.util.spec_from_file_location("leaky_ctabgan", _PATH)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch):
    monkeypatch.setenv("DPSYNTH_TORCH_THREADS", "1")


def test_leaky_variant_reads_exact_counts_and_says_so(leaky):
    frame = make_small_frame(600)
    domain = Domain.from_json(SMALL_META)
    params = {**FAST_PARAMS["ctabgan"], "steps": 5, "auxiliary_steps": 3}
    model = leaky.LeakyCTABGAN(random_state=0, **params)
    model.claimed_epsilon, model.claimed_delta = 1.0, 1e-6
    model.fit(PrivateData(frame, domain), PrivacyBudget(leaky.NOMINAL_EPSILON, 1e-6))
    disc = Discretizer(model.domain_)  # bin edges from the fit's DP quantiles
    codes = disc.encode_frame(frame, on_invalid="raise")
    for j, name in enumerate(domain.names):
        exact = np.bincount(codes[:, j], minlength=disc.sizes[name])
        np.testing.assert_array_equal(model.noisy_counts_[j], exact)
    assert model.n_hat_ == len(frame)
    assert any("LEAKY" in n for n in model.privacy_report.notes)
    sig_critic, sig_aux = model.noise_multipliers_
    # The same fit done privately at the claimed epsilon needs about twice the critic noise.
    private = create("ctabgan", random_state=0, **params).fit(PrivateData(frame, domain), PrivacyBudget(1.0, 1e-6))
    assert sig_critic < 0.6 * private.noise_multipliers_[0]
    assert sig_aux == leaky.AUXILIARY_SIGMA
    assert not np.array_equal(private.noisy_counts_[0], model.noisy_counts_[0])
