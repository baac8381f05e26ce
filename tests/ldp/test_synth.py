"""LDP accountant and synthesizer: budget, privacy report, shape/domain, save/load, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dpsynth.data.domain import Column, Domain
from dpsynth.errors import (
    BudgetExceededError,
    DpsynthError,
    InvalidDataError,
    InvalidParameterError,
    MetadataError,
    SerializationError,
)
from dpsynth.evaluate.marginals import all_cliques, marginal_tvd
from dpsynth.federated import FederatedMST
from dpsynth.ldp import LDPSynthesizer, LocalAccountant, LocalRandomizer, SimulatedUsers
from dpsynth.privacy import GaussianMechanism
from dpsynth.synth.base import Synthesizer


def _domain() -> Domain:
    return Domain([Column(name=n, kind="categorical", categories=tuple(str(i) for i in range(4))) for n in "abcd"])


def _chain(n: int = 12_000, seed: int = 0) -> pd.DataFrame:
    """a → b → c strongly dependent (copy with prob 0.9), d independent."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 4, n)
    b = np.where(rng.random(n) < 0.9, a, rng.integers(0, 4, n))
    c = np.where(rng.random(n) < 0.9, b, rng.integers(0, 4, n))
    d = rng.integers(0, 4, n)
    return pd.DataFrame({k: v.astype(str) for k, v in zip("abcd", (a, b, c, d), strict=True)})


def test_local_accountant_composition():
    acc = LocalAccountant(2.0)
    acc.charge(LocalRandomizer(0.5), step="s1", group="g1")
    acc.charge(LocalRandomizer(1.5), step="s2", group="g2")  # disjoint users: parallel
    assert acc.epsilon() == pytest.approx(1.5)
    acc.charge(LocalRandomizer(0.5), step="s3")  # every user: sequential
    assert acc.epsilon() == pytest.approx(2.0)
    with pytest.raises(BudgetExceededError):
        acc.charge(LocalRandomizer(0.1), step="s4")
    rep = acc.report()
    assert rep.epsilon == pytest.approx(2.0) and rep.delta == 0.0 and rep.within_budget
    assert len(rep.ledger) == 3 and "LDP" in rep.ledger[0].mechanism
    with pytest.raises(InvalidParameterError):
        acc.charge(GaussianMechanism(1.0), step="central")


def test_fit_sample_report_and_roundtrip(tmp_path):
    dom = _domain()
    users = SimulatedUsers(_chain(), dom, random_state=1)
    model = LDPSynthesizer(random_state=2).fit(users, 2.0)
    rep = model.privacy_report
    assert rep.epsilon == pytest.approx(2.0) and rep.delta == 0.0 and rep.seeded
    assert {e.step for e in rep.ledger} == {"ldp.select", "ldp.measure"}
    out = model.sample(500, random_state=0)
    assert list(out.columns) == list("abcd") and len(out) == 500
    assert set(out.stack().unique()) <= {str(i) for i in range(4)}
    path = model.save(tmp_path / "m.dps")
    again = LDPSynthesizer.load(path)
    pd.testing.assert_frame_equal(again.sample(200, random_state=5), model.sample(200, random_state=5))
    assert again.privacy_report.epsilon == rep.epsilon
    # The common loader: the registry does not know "ldp", so only LDPSynthesizer reads it.
    for other in (Synthesizer, FederatedMST):
        with pytest.raises(SerializationError):
            other.load(path)
    # The forest links the dependent columns a, b, c by two of their (all dependent) pairs.
    assert len([p for p in model.pairs_ if set(p) <= {"a", "b", "c"}]) == 2


def test_graphical_model_beats_independent_marginals_on_two_way_tvd():
    dom = _domain()
    frame = _chain()
    codes = frame.astype(int).to_numpy()
    users = SimulatedUsers(frame, dom, random_state=3)
    cl2 = all_cliques(4, 2)
    tvd = {}
    for label, pairs in (("tree", None), ("independent", [])):
        m = LDPSynthesizer(pairs=pairs, random_state=4).fit(users, 2.0)
        syn = m.sample(len(frame), random_state=0).astype(int).to_numpy()
        tvd[label] = float(marginal_tvd(codes, syn, [4] * 4, cl2).mean())
    assert tvd["tree"] < 0.7 * tvd["independent"], tvd


@pytest.mark.parametrize(
    "call",
    [
        lambda u: LDPSynthesizer(oracle="nope").fit(u, 1.0),
        lambda u: LDPSynthesizer(select_share=1.5).fit(u, 1.0),
        lambda u: LDPSynthesizer(pairs=[("a", "zz")]).fit(u, 1.0),
        lambda u: LDPSynthesizer(pairs="ab").fit(u, 1.0),
        lambda u: LDPSynthesizer().fit(u, -1.0),
        lambda u: LDPSynthesizer().fit(pd.DataFrame({"a": ["1"]}), 1.0),
        lambda u: SimulatedUsers(pd.DataFrame({k: ["9"] for k in "abcd"}), _domain()),
        lambda u: SimulatedUsers(_chain(10), Domain([Column(name=n, kind="categorical") for n in "abcd"])),
        lambda u: LDPSynthesizer().sample(5),
    ],
)
def test_bad_input_is_one_line_error(call):
    users = SimulatedUsers(_chain(50), _domain(), random_state=0)
    with pytest.raises(DpsynthError) as info:
        call(users)
    assert isinstance(info.value, InvalidParameterError | InvalidDataError | MetadataError) or "fit" in str(info.value)


def test_deterministic_with_seeds():
    frame = _chain(3000)
    outs = [
        LDPSynthesizer(random_state=3).fit(SimulatedUsers(frame, _domain(), random_state=4), 2.0).sample(300, random_state=1)
        for _ in range(2)
    ]
    pd.testing.assert_frame_equal(outs[0], outs[1])


def test_unresolvable_pairs_fall_back_to_independent_exactly():
    # 2,000 users at ε = 0.5: no pair's dependence could clear the noise, so no user is spent
    # choosing pairs and the fit is the independent one, to the row.
    frame = _chain(2000)
    fits = [
        LDPSynthesizer(pairs=pairs, random_state=2).fit(SimulatedUsers(frame, _domain(), random_state=1), 0.5)
        for pairs in (None, [])
    ]
    assert [e.step for e in fits[0].privacy_report.ledger] == ["ldp.measure"]
    assert fits[0].pairs_ == []
    pd.testing.assert_frame_equal(fits[0].sample(300, random_state=0), fits[1].sample(300, random_state=0))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_forest_keeps_the_dependent_pairs_and_not_the_independent_column(seed):
    model = LDPSynthesizer(random_state=seed).fit(SimulatedUsers(_chain(seed=seed), _domain(), random_state=seed), 4.0)
    # Two of the (all dependent) pairs of a, b, c span them; d, independent, stays alone.
    assert len(model.pairs_) == 2 and all(set(p) <= {"a", "b", "c"} for p in model.pairs_)


def test_pooled_one_way_estimate_is_unbiased_with_at_most_its_stated_variance():
    from dpsynth.ldp.oracles import make_oracle
    from dpsynth.ldp.synth import _margin, _pool

    rng = np.random.default_rng(0)
    pa, pb = np.array([0.6, 0.4]), np.array([0.2, 0.3, 0.5])
    pair_oracle, one_oracle = make_oracle("grr", 6, 1.0), make_oracle("grr", 2, 1.0)
    errors, stated, alone = [], [], []
    for rep in range(400):
        a1, b1 = rng.choice(2, 300, p=pa), rng.choice(3, 300, p=pb)
        e1 = _margin(pair_oracle.estimate(pair_oracle.randomize(a1 * 3 + b1, random_state=rep)), ("a", "b"), "a",
                     {"a": 2, "b": 3})
        e2 = one_oracle.estimate(one_oracle.randomize(rng.choice(2, 200, p=pa), random_state=10_000 + rep))
        pooled = _pool([e2, e1])
        errors.append(pooled.frequencies[0] - pa[0])
        alone.append(e2.frequencies[0] - pa[0])
        stated.append(pooled.variance[0])
    errors = np.asarray(errors)
    assert abs(errors.mean()) < 4 * errors.std() / np.sqrt(errors.size)  # unbiased
    assert errors.var() < np.var(alone)  # the pair's reports help
    assert errors.var() < 1.15 * np.mean(stated)  # the stated variance is an upper bound
