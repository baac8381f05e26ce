from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from dpsynth.data.domain import Column, Domain
from dpsynth.errors import InvalidParameterError
from dpsynth.evaluate import DCRShare


def test_copy_of_train_is_always_closer_to_train(domain, real, holdout):
    res = DCRShare().compute(real, real, domain, holdout=holdout)
    assert res.value == pytest.approx(1.0)
    assert res.details["exact_copies_of_train"] == 1.0
    assert "not a privacy guarantee" in res.note and res.details["heuristic"] is True
    assert res.best_value == 0.5 and res.real_split == "train+holdout"


def test_independent_sample_is_near_one_half():
    # Continuous data, so ties have probability 0. Under the null each synthetic row's nearest
    # real row is equally likely to be in train or hold-out: Binomial(n, ½) / n, SD 0.5/√n.
    # Rows that share a nearest neighbour are correlated; allow a design effect of 2.
    rng = np.random.default_rng(0)
    dom = Domain([Column(c, "numeric", lower=-5.0, upper=5.0) for c in "uvw"])
    n = 2000

    def draw() -> pd.DataFrame:
        return pd.DataFrame(np.clip(rng.normal(size=(n, 3)), -5, 5), columns=list("uvw"))

    res = DCRShare().compute(draw(), draw(), dom, holdout=draw())
    tol = 4 * math.sqrt(2) * 0.5 / math.sqrt(n)
    assert abs(res.value - 0.5) < tol
    assert res.details["share_ties"] == 0.0


def test_independent_mixed_sample_is_near_one_half(domain, real, holdout, fresh):
    res = DCRShare().compute(real, fresh, domain, holdout=holdout)
    assert abs(res.value - 0.5) < 4 * math.sqrt(2) * 0.5 / math.sqrt(len(fresh))
    lo, hi = res.ci
    assert lo < res.value < hi


def test_unequal_train_and_holdout_are_equalised(domain, real, holdout, fresh):
    res = DCRShare(max_rows=300).compute(real, fresh, domain, holdout=holdout.iloc[:700])
    assert res.details["n_reference"] == 700 and res.details["n_synthetic_queried"] == 300
    assert "subsampled to 700" in res.note


def test_needs_a_holdout(domain, real):
    with pytest.raises(InvalidParameterError, match="hold-out"):
        DCRShare().compute(real, real, domain)
