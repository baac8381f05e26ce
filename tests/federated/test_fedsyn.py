"""Federated DP-VAE (distributed DP-SGD): budget, noise at the charged scale, learning, Flower, bad input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from dpsynth.data.domain import Domain
from dpsynth.errors import DpsynthError
from dpsynth.federated import flower, split_rows
from dpsynth.federated.fedsyn import FederatedDPVAE, FedSynFederation, float_mask
from dpsynth.federated.protocol import pairwise_seeds
from tests.federated.tables import abc_domain, abc_frame


def _domain() -> Domain:
    return abc_domain()


def _frame(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    return abc_frame(n, seed, b_copies_a=0.9)


@pytest.fixture(scope="module")
def fitted() -> tuple[FederatedDPVAE, FedSynFederation]:
    fed = FedSynFederation(split_rows(_frame(), 3, random_state=0), _domain(), random_state=1, hidden=32)
    return FederatedDPVAE(steps=40, batch_size=400, random_state=2).fit(fed, (4.0, 1e-6)), fed


def test_budget_spent_once_and_never_exceeded(fitted):
    model, fed = fitted
    rep = model.privacy_report
    assert 3.96 < rep.epsilon <= 4.0 * (1 + 1e-6) and rep.seeded
    assert [e.step for e in rep.ledger] == ["federated_dpvae.count", "federated_dpvae.train"]
    assert abs(model.n_hat_ - 2000) < 100 and model.sample_rate_ == pytest.approx(400 / model.n_hat_)
    # Traffic: 40 weight broadcasts down, 40 float64 gradient vectors (and one count) up, per client.
    assert np.all(fed.bytes_up == fed.bytes_up[0]) and fed.bytes_up[0] > 40 * 8 * 1000


def test_learns_the_dependence_and_respects_the_domain(fitted, tmp_path):
    model, _ = fitted
    out = model.sample(2000, random_state=0)
    assert list(out.columns) == list("abc") and set(out.stack().unique()) <= {"0", "1", "2"}
    # The rows have a = b 93% of the time; an independent model gives 1/3 (binomial s.e. ≈ 0.011).
    assert (out.a == out.b).mean() > 1 / 3 + 5 * math.sqrt(2 / 9 / 2000)
    again = FederatedDPVAE.load(model.save(tmp_path / "v.dps"))
    pd.testing.assert_frame_equal(again.sample(100, random_state=3), model.sample(100, random_state=3))


def test_summed_noise_is_at_the_charged_scale():
    """With no row sampled, the server's sum is pure noise: N(0, σ²C²) per coordinate, masks cancelled."""
    fed = FedSynFederation(split_rows(_frame(300), 4, random_state=0), _domain(), random_state=5, hidden=16)
    from dpsynth.federated.fedsyn import _vae
    from dpsynth.synth._neural import TableCodec

    model = _vae(TableCodec(_domain()).width, fed.latent, fed.hidden)
    weights = [p.detach().numpy() for p in model.parameters()]
    sigma, c = 1.7, 0.5
    request = {"kind": "step", "round": 3, "q": 1e-12, "sigma": sigma, "max_grad_norm": c, "clients": 4}
    sent = fed.broadcast(request, weights)
    noise = np.sum(sent, axis=0)
    assert np.abs(sent[0]).mean() > 1e4  # one client's vector is masked
    se = (sigma * c) ** 2 * math.sqrt(2 / noise.size)
    assert abs(noise.var() - (sigma * c) ** 2) < 5 * se and abs(noise.mean()) < 5 * sigma * c / math.sqrt(noise.size)


def test_float_masks_cancel():
    seeds = pairwise_seeds(3)
    total = sum((float_mask(s, 1, 1000) if o > i else -float_mask(s, 1, 1000))
                for i in range(3) for o, s in seeds[i].items())
    assert np.abs(total).max() < 1e-6


def test_flower_messages_train_the_same_model():
    parts = split_rows(_frame(600), 2, random_state=0)
    via = flower.run_fedsyn_in_process(parts, _domain(), (4.0, 1e-6), random_state=1, steps=5, batch_size=100)
    fed = FedSynFederation(parts, _domain(), random_state=1)
    plain = FederatedDPVAE(steps=5, batch_size=100, random_state=1).fit(fed, (4.0, 1e-6))
    for p, q in zip(via._vae.parameters(), plain._vae.parameters(), strict=True):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), atol=1e-4)
    assert via.privacy_report.epsilon == pytest.approx(plain.privacy_report.epsilon)


def test_bad_input_one_line_errors():
    dom = _domain()
    with pytest.raises(DpsynthError):
        FedSynFederation([_frame(10).assign(a="7")], dom)
    with pytest.raises(DpsynthError):
        FedSynFederation([], dom)
    fed = FedSynFederation([_frame(50)], dom)
    for bad in ({"steps": 0}, {"batch_size": -1}, {"max_grad_norm": 0.0}, {"count_share": 1.5}, {"lr": -1.0}):
        with pytest.raises(DpsynthError):
            FederatedDPVAE(**bad).fit(fed, 1.0)
    with pytest.raises(DpsynthError):
        FederatedDPVAE().fit(_frame(10), 1.0)
    with pytest.raises(DpsynthError):
        FederatedDPVAE(steps=2).fit(fed, -1.0)
    with pytest.raises(DpsynthError):
        FederatedDPVAE().sample(5)  # not fitted


def test_training_rounds_report_progress():
    import io

    from rich.console import Console

    from dpsynth.progress import enable_progress

    buf = io.StringIO()
    fed = FedSynFederation(split_rows(_frame(600), 2, random_state=0), _domain(), random_state=1, hidden=8)
    with enable_progress(Console(file=buf, force_terminal=False), interval=60):
        FederatedDPVAE(steps=3, batch_size=200, random_state=2).fit(fed, (4.0, 1e-6))
    assert "Federated DP-VAE: rounds: started" in buf.getvalue()
