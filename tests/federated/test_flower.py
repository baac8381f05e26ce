"""The same federated MST carried by Flower's ClientApp/ServerApp messages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dpsynth.data.domain import Column, Domain
from dpsynth.federated import FederatedMST, InProcessFederation, flower, split_rows


def _setup() -> tuple[list[pd.DataFrame], Domain]:
    dom = Domain([Column(name=n, kind="categorical", categories=tuple(str(i) for i in range(3))) for n in "abc"])
    rng = np.random.default_rng(0)
    n = 3000
    a = rng.integers(0, 3, n)
    b = np.where(rng.random(n) < 0.8, a, rng.integers(0, 3, n))
    c = rng.integers(0, 3, n)
    df = pd.DataFrame({"a": a.astype(str), "b": b.astype(str), "c": c.astype(str)})
    return split_rows(df, 3, random_state=0), dom


def test_flower_messages_give_the_same_model_as_the_plain_federation():
    """Flower's Message/ClientApp path (no Ray) releases exactly the same noisy sums."""
    parts, dom = _setup()
    via_flower = flower.run_in_process(parts, dom, (1.0, 1e-6), random_state=1, iters=200)
    plain = FederatedMST(iters=200, random_state=1).fit(InProcessFederation(parts, dom, random_state=1), (1.0, 1e-6))
    assert via_flower.tree_ == plain.tree_
    pd.testing.assert_frame_equal(via_flower.sample(300, random_state=2), plain.sample(300, random_state=2))
    assert via_flower.privacy_report.epsilon == pytest.approx(plain.privacy_report.epsilon)


@pytest.mark.slow
def test_flower_simulation_engine():
    """Flower's Simulation Engine (Ray): about a minute to start on a busy 2-core machine."""
    parts, dom = _setup()
    sim = flower.run_flower_simulation(parts, dom, (1.0, 1e-6), random_state=1, iters=200)
    plain = FederatedMST(iters=200, random_state=1).fit(InProcessFederation(parts, dom, random_state=1), (1.0, 1e-6))
    pd.testing.assert_frame_equal(sim.sample(300, random_state=2), plain.sample(300, random_state=2))


@pytest.mark.slow
def test_fedsyn_in_flower_simulation_engine():
    """The neural baseline's rounds in Flower's Simulation Engine: the same model as the plain federation."""
    from dpsynth.federated.fedsyn import FederatedDPVAE, FedSynFederation

    parts, dom = _setup()
    sim = flower.run_fedsyn_simulation(parts, dom, (4.0, 1e-6), random_state=1, steps=3, batch_size=300)
    plain = FederatedDPVAE(steps=3, batch_size=300, random_state=1).fit(
        FedSynFederation(parts, dom, random_state=1), (4.0, 1e-6))
    for p, q in zip(sim._vae.parameters(), plain._vae.parameters(), strict=True):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), atol=1e-4)
    assert sim.privacy_report.epsilon == pytest.approx(plain.privacy_report.epsilon)
