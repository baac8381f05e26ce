"""Anchor: each protocol's frequency-estimation MSE matches multi-freq-ldpy's, and its formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest

# multi-freq-ldpy (the reference implementation) is in the dev extra.
from multi_freq_ldpy.long_freq_est import L_GRR as ref_lgrr
from multi_freq_ldpy.long_freq_est import L_OSUE as ref_losue
from multi_freq_ldpy.long_freq_est.Variance_LONG_PURE import VAR_Long_Pure
from multi_freq_ldpy.mdim_freq_est import RSpFD_solution as ref_rsfd
from multi_freq_ldpy.mdim_freq_est import SMP_solution as ref_smp
from multi_freq_ldpy.mdim_freq_est import SPL_solution as ref_spl
from multi_freq_ldpy.mdim_freq_est.Variance_RSpFD import VAR_RSpFD_GRR, VAR_RSpFD_UE_zero
from multi_freq_ldpy.pure_frequency_oracles import GRR as ref_grr
from multi_freq_ldpy.pure_frequency_oracles import LH as ref_lh
from multi_freq_ldpy.pure_frequency_oracles import UE as ref_ue
from multi_freq_ldpy.pure_frequency_oracles.Variance_PURE import VAR_Pure

from dpsynth.ldp import GRR, LGRR, LOSUE, OLH, OUE, RSFD, SMP, SPL, SUE, clip_normalize
from dpsynth.ldp.anchor import encoded_xxh32, skewed_values

K, N, EPS, REPS = 6, 1500, 1.0, 16
SIZES = (4, 3, 5)


def _x(n: int = N, k: int = K, seed: int = 7) -> np.ndarray:
    return skewed_values(n, k, np.random.default_rng(seed))


def _same_mse(ours: list[float], theirs: list[float]) -> None:
    """Two independent MSE samples have the same mean within 4 standard errors."""
    a, b = np.asarray(ours), np.asarray(theirs)
    se = math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    assert abs(a.mean() - b.mean()) <= 4 * se, (a.mean(), b.mean(), se)


def _mse(est: np.ndarray, f: np.ndarray) -> float:
    return float(np.mean((est - f) ** 2))


def _patch_reference_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    """multi-freq-ldpy hashes ``str`` values, which xxhash >= 3 refuses; encode them (same hash)."""
    import xxhash

    monkeypatch.setattr(ref_lh.xxhash, "xxh32", encoded_xxh32(xxhash.xxh32))


@pytest.mark.parametrize("name", ["grr", "oue", "sue", "olh"])
def test_single_attribute_mse_matches_reference(name, monkeypatch):
    _patch_reference_hash(monkeypatch)
    x = _x()
    f = np.bincount(x, minlength=K) / N
    ours_cls = {"grr": GRR, "oue": OUE, "sue": SUE, "olh": OLH}[name]
    proto = ours_cls(K, EPS)
    np.random.seed(11)  # noqa: NPY002 - the reference draws from numpy's global generator
    ours, theirs = [], []
    for r in range(REPS):
        ours.append(_mse(clip_normalize(proto.estimate(proto.randomize(x, random_state=500 + r)).frequencies), f))
        if name == "grr":
            est = ref_grr.GRR_Aggregator_MI([ref_grr.GRR_Client(int(v), K, EPS) for v in x], K, EPS)
        elif name in ("oue", "sue"):
            opt = name == "oue"
            est = ref_ue.UE_Aggregator_MI([ref_ue.UE_Client(int(v), K, EPS, opt) for v in x], EPS, opt)
        else:
            est = ref_lh.LH_Aggregator_MI([ref_lh.LH_Client(int(v), K, EPS) for v in x], K, EPS)
        theirs.append(_mse(np.asarray(est, dtype=float), f))
    _same_mse(ours, theirs)
    # And the analytical variance is the reference's formula.
    np.testing.assert_allclose(proto.variance(N, f), [VAR_Pure(proto.p, proto.q, N, fv) for fv in f], rtol=1e-12)


@pytest.mark.parametrize("name", ["spl", "smp", "rsfd_grr", "rsfd_oue"])
def test_multi_attribute_mse_matches_reference(name):
    rng = np.random.default_rng(3)
    X = np.column_stack([rng.integers(0, k, N) for k in SIZES])
    F = [np.bincount(X[:, j], minlength=k) / N for j, k in enumerate(SIZES)]
    lst_k, d = list(SIZES), len(SIZES)
    proto = {"spl": SPL(SIZES, EPS, "grr"), "smp": SMP(SIZES, EPS, "grr"), "rsfd_grr": RSFD(SIZES, EPS, "grr"),
             "rsfd_oue": RSFD(SIZES, EPS, "oue")}[name]
    np.random.seed(12)  # noqa: NPY002 - the reference draws from numpy's global generator
    ours, theirs = [], []
    for r in range(REPS):
        est = proto.estimate(proto.randomize(X, random_state=700 + r))
        ours.append(float(np.mean([_mse(clip_normalize(e.frequencies), F[j]) for j, e in enumerate(est)])))
        rows = [tuple(int(v) for v in row) for row in X]
        if name == "spl":
            ref = ref_spl.SPL_GRR_Aggregator_MI([ref_spl.SPL_GRR_Client(t, lst_k, d, EPS) for t in rows], lst_k, d, EPS)
        elif name == "smp":
            ref = ref_smp.SMP_GRR_Aggregator_MI([ref_smp.SMP_GRR_Client(t, lst_k, d, EPS) for t in rows], lst_k, d, EPS)
        elif name == "rsfd_grr":
            ref = ref_rsfd.RSpFD_GRR_Aggregator_MI([ref_rsfd.RSpFD_GRR_Client(t, lst_k, d, EPS) for t in rows], lst_k, d, EPS)
        else:
            ref = ref_rsfd.RSpFD_UE_zero_Aggregator_MI(
                [ref_rsfd.RSpFD_UE_zero_Client(t, lst_k, d, EPS) for t in rows], lst_k, d, EPS)
        theirs.append(float(np.mean([_mse(np.asarray(e, dtype=float), F[j]) for j, e in enumerate(ref)])))
    _same_mse(ours, theirs)
    if name.startswith("rsfd"):
        for j, k in enumerate(SIZES):
            p, q = proto.pq(j)
            want = [VAR_RSpFD_GRR(p, q, k, d, N, fv) if name == "rsfd_grr" else VAR_RSpFD_UE_zero(p, q, d, N, fv)
                    for fv in F[j]]
            np.testing.assert_allclose(proto.variance(N, j, F[j]), want, rtol=1e-12)


@pytest.mark.parametrize("name", ["lgrr", "losue"])
def test_longitudinal_mse_matches_reference(name):
    x = _x()
    f = np.bincount(x, minlength=K) / N
    eps_perm, eps_1 = 2.0, 0.8
    proto = LGRR(K, eps_perm, eps_1) if name == "lgrr" else LOSUE(K, eps_perm, eps_1)
    if name == "lgrr":
        # The reference's closed-form second-round p2 makes one report only ε₁' < ε₁ private
        # (0.63 instead of 0.8 here: more noise than needed). Compare at the ε₁ it achieves.
        p1, q1 = proto.pq[:2]
        e1 = math.exp(eps_1)
        rp2 = (q1 - e1 * p1) / (-p1 * e1 + K * q1 * e1 - q1 * e1 - p1 * (K - 1) + q1)
        rq2 = (1 - rp2) / (K - 1)
        achieved = math.log((p1 * rp2 + (1 - p1) * rq2) / (q1 * rp2 + (1 - q1) * rq2))
        assert achieved < eps_1 - 0.1
        proto = LGRR(K, eps_perm, achieved)
        assert proto.pq[2] == pytest.approx(rp2)
    np.random.seed(13)  # noqa: NPY002 - the reference draws from numpy's global generator
    ours, theirs = [], []
    for r in range(REPS):
        memo = proto.new_memo(N)
        ours.append(_mse(clip_normalize(proto.estimate(proto.randomize(x, memo, random_state=900 + r)).frequencies), f))
        if name == "lgrr":
            est = ref_lgrr.L_GRR_Aggregator_MI([ref_lgrr.L_GRR_Client(int(v), K, eps_perm, eps_1) for v in x], K,
                                               eps_perm, eps_1)
        else:
            est = ref_losue.L_OSUE_Aggregator_MI([ref_losue.L_OSUE_Client(int(v), K, eps_perm, eps_1) for v in x],
                                                 eps_perm, eps_1)
        theirs.append(_mse(np.asarray(est, dtype=float), f))
    _same_mse(ours, theirs)
    p1, q1, p2, q2 = proto.pq
    # The reference's formula agrees at f = 0 (the figure of merit in the papers); for f > 0
    # it uses a different f-coefficient, and ours is the one the empirical MSE confirms
    # (test_longitudinal_variance_matches_formula in test_oracles.py).
    assert proto.variance(N, 0.0) == pytest.approx(VAR_Long_Pure(p1, q1, p2, q2, N, 0.0), rel=1e-9)
