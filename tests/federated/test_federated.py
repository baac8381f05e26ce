"""Federated MST: secure aggregation, distributed noise at the claimed scale, accounting, bad input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from dpsynth.data.domain import Domain
from dpsynth.errors import BudgetExceededError, DpsynthError
from dpsynth.federated import (
    DistributedGaussianMechanism,
    FederatedMST,
    InProcessFederation,
    aggregate,
    client_contribution,
    kls_epsilon,
    split_rows,
)
from dpsynth.federated.protocol import pairwise_seeds
from dpsynth.privacy import Accountant, NoiseSource, PrivacyBudget
from tests.federated.tables import abc_domain, abc_frame


def _domain() -> Domain:
    return abc_domain()


def _frame(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    return abc_frame(n, seed)


def test_masks_cancel_and_sum_carries_full_sigma():
    K, size, sigma = 5, 4000, 6.0
    seeds = pairwise_seeds(K)
    rng = np.random.default_rng(0)
    counts = [rng.integers(0, 50, size) for _ in range(K)]
    sent = [client_contribution(c, index=i, seeds=seeds[i], round_id=1, sigma=sigma, clients=K,
                                noise=NoiseSource(100 + i)) for i, c in enumerate(counts)]
    noise = aggregate(sent) - np.sum(counts, axis=0)
    # Variance of the summed noise is σ² (K shares of σ²/K), within 5 standard errors.
    se = sigma**2 * math.sqrt(2.0 / size)
    assert abs(noise.var() - sigma**2) < 5 * se
    assert abs(noise.mean()) < 5 * sigma / math.sqrt(size)
    # A single masked vector tells the server nothing: it looks uniform on [0, 2^32).
    one = sent[0].astype(np.float64) / 2**32
    assert abs(one.mean() - 0.5) < 5 * math.sqrt(1 / 12 / size)
    assert np.mean(np.abs(sent[0].astype(np.int64) - counts[0]) < 1000) < 0.01


def test_each_share_is_sigma_over_root_k():
    K, sigma = 4, 8.0
    zeros = np.zeros(20_000, dtype=np.int64)
    share = client_contribution(zeros, index=0, seeds={}, round_id=1, sigma=sigma, clients=K, noise=NoiseSource(7))
    vals = np.where(share >= 2**31, share.astype(np.int64) - 2**32, share.astype(np.int64))
    assert abs(vals.var() - sigma**2 / K) < 5 * (sigma**2 / K) * math.sqrt(2 / zeros.size)


def test_distributed_mechanism_accounting():
    m = DistributedGaussianMechanism(sigma=10.0, clients=10, dim=100)
    central = 1 / (2 * 10.0**2)
    assert central <= m.rho <= central * 1.001  # τ is negligible at σᵢ = 3.2
    assert kls_epsilon(10.0, 1, 100) == pytest.approx(0.1)  # one client: the central discrete Gaussian
    with pytest.raises(DpsynthError):
        DistributedGaussianMechanism(sigma=1.0, clients=10, dim=4)  # σᵢ < 1/2: the bound does not hold


def test_fit_spends_budget_once_and_samples_domain(tmp_path):
    dom = _domain()
    fed = InProcessFederation(split_rows(_frame(), 3, random_state=0), dom, random_state=1)
    model = FederatedMST(iters=200, random_state=2).fit(fed, (1.0, 1e-6))
    rep = model.privacy_report
    assert rep.epsilon <= 1.0 * (1 + 1e-6) and rep.epsilon > 0.99 and rep.seeded
    assert [e.step for e in rep.ledger] == ["federated_mst.measure_1way", "federated_mst.select",
                                           "federated_mst.measure_2way"]
    out = model.sample(300, random_state=0)
    assert list(out.columns) == list("abc") and set(out.stack().unique()) <= {"0", "1", "2"}
    assert ("a", "b") in model.tree_
    assert fed.bytes_up.min() > 0
    again = FederatedMST.load(model.save(tmp_path / "f.dps"))
    pd.testing.assert_frame_equal(again.sample(50, random_state=3), model.sample(50, random_state=3))


def test_noise_variance_of_a_federated_measurement():
    """The server's noisy one-way counts differ from the truth by N_Z(0, σ²) with the charged σ."""
    dom = _domain()
    frame = _frame(600)
    fed = InProcessFederation(split_rows(frame, 4, random_state=0), dom, random_state=5)
    model = FederatedMST(iters=1)
    model._round = 0
    acc = Accountant(PrivacyBudget(1.0, 1e-6))
    pgm = __import__("dpsynth.pgm", fromlist=["Domain"]).Domain(("a", "b", "c"), (3, 3, 3))
    errs, sigmas = [], []
    for _ in range(60):
        acc = Accountant(PrivacyBudget(1.0, 1e-6))
        ms = model._measure(fed, acc, pgm, [("a", "b")], 0.01, 4, None, "t")
        truth = pd.crosstab(frame.a, frame.b).reindex(index=list("012"), columns=list("012"), fill_value=0)
        errs.append(ms[0].values - truth.to_numpy().ravel())
        sigmas.append(ms[0].sigma)
    e = np.concatenate(errs)
    assert abs(e.var() / sigmas[0] ** 2 - 1) < 5 * math.sqrt(2 / e.size)


def test_budget_exhausted_and_bad_input():
    dom = _domain()
    with pytest.raises(DpsynthError):
        InProcessFederation([_frame(10).assign(a="7")], dom)
    with pytest.raises(DpsynthError):
        InProcessFederation([], dom)
    with pytest.raises(DpsynthError):
        FederatedMST().fit(_frame(10), 1.0)
    with pytest.raises(DpsynthError):
        FederatedMST(iters=0).fit(InProcessFederation([_frame(10)], dom), 1.0)
    with pytest.raises(DpsynthError):
        split_rows(_frame(10), 2, by="zz")
    acc = Accountant(PrivacyBudget(0.1, 1e-6))
    with pytest.raises(BudgetExceededError):
        acc.charge(DistributedGaussianMechanism(sigma=2.0, clients=2, dim=9), step="x", count=5)


def test_non_iid_split_gives_whole_groups():
    parts = split_rows(_frame(), 3, by="a")
    assert [p["a"].nunique() for p in parts] == [1, 1, 1]
    assert sum(len(p) for p in parts) == 3000


def test_federated_aim_charges_what_central_aim_charges(tmp_path):
    from dpsynth.data.private import PrivateData
    from dpsynth.federated import FederatedAIM
    from dpsynth.synth.aim import AIM

    dom = _domain()
    frame = _frame()
    fed = InProcessFederation(split_rows(frame, 3, random_state=0), dom, random_state=1)
    model = FederatedAIM(final_iters=100, random_state=2).fit(fed, (1.0, 1e-6))
    central = AIM(final_iters=100, random_state=2).fit(PrivateData(frame, dom), (1.0, 1e-6))
    rep, ref = model.privacy_report, central.privacy_report
    assert rep.epsilon == pytest.approx(ref.epsilon, rel=1e-6) and rep.epsilon <= 1.0 * (1 + 1e-6)
    assert [e.step for e in rep.ledger][:2] == ["aim.init", "aim.select"]
    assert {e.step for e in rep.ledger} == {e.step for e in ref.ledger}
    assert any("secure computation" in n for n in rep.notes)
    # The secure computation got each client's candidate marginals once (cached across rounds).
    assert np.all(model.secure_bytes_ > 0)
    out = model.sample(200, random_state=0)
    assert list(out.columns) == list("abc") and set(out.stack().unique()) <= {"0", "1", "2"}
    again = FederatedAIM.load(model.save(tmp_path / "a.dps"))
    pd.testing.assert_frame_equal(again.sample(50, random_state=3), model.sample(50, random_state=3))


def test_federated_aim_needs_the_simulated_secure_computation():
    from dpsynth.federated import FederatedAIM

    with pytest.raises(DpsynthError, match="InProcessFederation"):
        FederatedAIM().fit(object(), 1.0)  # type: ignore[arg-type]


def _tvd_ab(sample: pd.DataFrame, frame: pd.DataFrame) -> float:
    grid = list("012")
    p = pd.crosstab(sample.a, sample.b, normalize=True).reindex(index=grid, columns=grid, fill_value=0)
    q = pd.crosstab(frame.a, frame.b, normalize=True).reindex(index=grid, columns=grid, fill_value=0)
    return 0.5 * float(np.abs(p.to_numpy() - q.to_numpy()).sum())


def test_partial_participation_proxy_beats_scaling_on_non_iid_clients():
    """Each client holds one value of `a`; one client per round. Scaling its sum up misstates `a`
    (and a×b) every round; the absent clients' own noisy one-way marginals fill them in."""
    from dpsynth.federated import FederatedAIM

    frame = _frame(6000)
    parts = split_rows(frame, 3, by="a")
    tvd: dict[str, list[float]] = {"scale": [], "proxy": []}
    for het in tvd:
        for seed in (0, 1):
            fed = InProcessFederation(parts, _domain(), random_state=seed)
            model = FederatedAIM(final_iters=100, participation=0.34, heterogeneity=het,
                                 random_state=seed).fit(fed, (1.0, 1e-6))
            rep = model.privacy_report
            assert rep.epsilon <= 1.0 * (1 + 1e-6) and rep.ledger[0].step == "federated_aim.proxy"
            assert all(len(m) == 1 for m in model.rounds_members_)  # one client per round
            tvd[het].append(_tvd_ab(model.sample(6000, random_state=0), frame))
    assert max(tvd["proxy"]) < 0.5 * min(tvd["scale"]), tvd


def test_individual_release_carries_full_sigma_and_no_masks():
    """The heterogeneity proxy: a client's own vector, with all of σ (not σ/√K) and no masks."""
    from dpsynth.federated.mst import FedClient

    frame = _frame(300)
    seeds = pairwise_seeds(3)
    client = FedClient(frame, _domain(), 0, seeds[0], random_state=4)
    sigma = 5.0
    errs = []
    truth = pd.crosstab(frame.a, frame.b).reindex(index=list("012"), columns=list("012"), fill_value=0)
    for r in range(1, 400):
        vec = client.handle({"round": r, "cliques": [["a", "b"]], "sigma": sigma, "clients": 1, "individual": True})
        errs.append(aggregate([vec]) - truth.to_numpy().ravel())
    e = np.concatenate(errs)
    assert abs(e.var() / sigma**2 - 1) < 5 * math.sqrt(2 / e.size)


def test_federated_aim_bad_parameters():
    from dpsynth.federated import FederatedAIM

    fed = InProcessFederation([_frame(30)], _domain())
    for bad in ({"participation": 0.0}, {"participation": 1.5}, {"heterogeneity": "x"}, {"proxy_share": 1.0}):
        with pytest.raises(DpsynthError):
            FederatedAIM(**bad).fit(fed, 1.0)


def test_local_counts_match_crosstab_and_coarsening():
    from dpsynth.data.counts import local_counts

    rng = np.random.default_rng(3)
    codes = rng.integers(0, 3, size=(500, 3))
    sizes = {"a": 3, "b": 3, "c": 3}
    got = local_counts(codes, sizes, ("a", "b", "c"), [("a",), ("b", "c")])
    assert np.array_equal(got[:3], np.bincount(codes[:, 0], minlength=3))
    cross = pd.crosstab(codes[:, 1], codes[:, 2]).to_numpy().ravel()
    assert np.array_equal(got[3:], cross)
    merged = local_counts(codes, sizes, ("a", "b", "c"), [("a",)], {"a": np.array([0, 0, 1])})
    assert merged.tolist() == [int((codes[:, 0] < 2).sum()), int((codes[:, 0] == 2).sum())]
