"""The generator contract, over every generator whose fit takes users or a federation instead of PrivateData.

Each: output has the domain's shape, refuses ε ≤ 0, never spends past its budget,
save/load round trip, deterministic with seeds, and a measurement refused for lack of
budget releases nothing (no client is asked).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from dpsynth.data.domain import Domain
from dpsynth.errors import BudgetExceededError, DpsynthError
from dpsynth.federated import FederatedAIM, FederatedMST, InProcessFederation, split_rows
from dpsynth.federated.aim import FederatedQueries, SimulatedSecureSelection
from dpsynth.federated.fedsyn import FederatedDPVAE, FedSynFederation
from dpsynth.ldp import LDPSynthesizer, SimulatedUsers
from dpsynth.privacy import Accountant, NoiseSource, PrivacyBudget
from tests.federated.tables import abc_domain, abc_frame


def _domain() -> Domain:
    return abc_domain()


def _frame(n: int = 1200, seed: int = 0) -> pd.DataFrame:
    return abc_frame(n, seed)


Case = tuple[Callable[[int], Any], Callable[[int], Any]]  # (model factory, data factory) by seed

CASES: dict[str, Case] = {
    "ldp": (lambda s: LDPSynthesizer(random_state=s), lambda s: SimulatedUsers(_frame(), _domain(), random_state=s)),
    "federated_mst": (lambda s: FederatedMST(iters=50, random_state=s),
                      lambda s: InProcessFederation(split_rows(_frame(), 3, random_state=0), _domain(), random_state=s)),
    "federated_aim": (lambda s: FederatedAIM(final_iters=50, random_state=s),
                      lambda s: InProcessFederation(split_rows(_frame(), 3, random_state=0), _domain(), random_state=s)),
    "federated_aim_partial": (
        lambda s: FederatedAIM(final_iters=50, participation=0.5, random_state=s),
        lambda s: InProcessFederation(split_rows(_frame(), 4, by="a"), _domain(), random_state=s)),
    "federated_dpvae": (lambda s: FederatedDPVAE(steps=3, batch_size=200, random_state=s),
                        lambda s: FedSynFederation(split_rows(_frame(), 2, random_state=0), _domain(), random_state=s,
                                                   hidden=16)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_contract(name, tmp_path):
    make_model, make_data = CASES[name]
    budget = (2.0, 1e-6)
    model = make_model(1).fit(make_data(2), budget)
    rep = model.privacy_report
    assert 0 < rep.epsilon <= budget[0] * (1 + 1e-6) and rep.within_budget and rep.seeded
    out = model.sample(150, random_state=0)
    assert list(out.columns) == list("abc") and len(out) == 150
    assert set(out.stack().unique()) <= {"0", "1", "2"}
    again = type(model).load(model.save(tmp_path / "m.dps"))
    pd.testing.assert_frame_equal(again.sample(60, random_state=4), model.sample(60, random_state=4))
    twin = make_model(1).fit(make_data(2), budget)
    pd.testing.assert_frame_equal(twin.sample(60, random_state=4), model.sample(60, random_state=4))
    for eps in (0.0, -1.0):
        with pytest.raises(DpsynthError):
            make_model(1).fit(make_data(2), eps)


def test_refused_measurement_asks_no_client():
    fed = InProcessFederation(split_rows(_frame(), 3, random_state=0), _domain(), random_state=0)
    acc = Accountant(PrivacyBudget(0.05, 1e-6))
    queries = FederatedQueries(fed, acc, SimulatedSecureSelection(fed._clients, NoiseSource(0)))
    with pytest.raises(BudgetExceededError):
        queries.measure_marginals([("a", "b")], sigma=1.0, step="too.costly")
    assert fed.bytes_down.sum() == 0 and fed.bytes_up.sum() == 0 and not acc.ledger


def test_federated_aim_measurement_noise_at_the_charged_sigma():
    """AIM's federated measurements: noisy sum − truth ~ N_Z(0, σ²) with the σ the accountant charged."""
    frame = _frame(900)
    fed = InProcessFederation(split_rows(frame, 3, random_state=0), _domain(), random_state=3)
    truth = pd.crosstab(frame.a, frame.c).reindex(index=list("012"), columns=list("012"), fill_value=0)
    errs = []
    sigma = 4.0
    acc = Accountant(PrivacyBudget(60.0, 1e-6))
    queries = FederatedQueries(fed, acc, SimulatedSecureSelection(fed._clients, NoiseSource(0)))
    for _ in range(80):  # each round draws fresh noise shares
        (m,) = queries.measure_marginals([("a", "c")], sigma=sigma, step="t")
        assert m.sigma == sigma and acc.ledger[-1].noise_scale == sigma
        errs.append(m.values - truth.to_numpy().ravel())
    e = np.concatenate(errs)
    assert abs(e.var() / sigma**2 - 1) < 5 * np.sqrt(2 / e.size)
