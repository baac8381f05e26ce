"""The contract every registered generator keeps (DESIGN.md, "Adding a generator")."""

import numpy as np
import pandas as pd
import pytest

from dpsynth.data.private import PrivateData
from dpsynth.errors import (
    BudgetExceededError,
    InvalidParameterError,
    NotFittedError,
    SerializationError,
)
from dpsynth.privacy import PrivacyBudget
from dpsynth.synth import Synthesizer, available, create
from tests.synth.conftest import FAST_PARAMS

GENERATORS = available()


def test_registry_lists_the_builtin_generators():
    assert {"independent", "mst", "aim"} <= set(GENERATORS)


@pytest.mark.parametrize("name", GENERATORS)
def test_fit_sample_respects_the_domain(name, small_private, small_domain):
    model = create(name, random_state=0, **FAST_PARAMS.get(name, {})).fit(small_private, PrivacyBudget(2.0, 1e-6))
    out = model.sample(500, random_state=1)
    assert list(out.columns) == list(small_domain.names)
    assert len(out) == 500
    for col in small_domain:
        values = out[col.name].dropna()
        if col.is_numeric:
            assert values.between(col.lower, col.upper).all()
        else:
            assert set(values.astype(str)) <= {str(c) for c in col.categories}


@pytest.mark.parametrize("name", GENERATORS)
def test_budget_is_never_exceeded_and_ledger_is_complete(name, small_private):
    budget = PrivacyBudget(1.0, 1e-6)
    model = create(name, random_state=0, **FAST_PARAMS.get(name, {})).fit(small_private, budget)
    report = model.privacy_report
    assert report.within_budget
    assert report.epsilon <= budget.epsilon * (1 + 1e-6)
    # The marginal methods spend their whole budget: anything less is wasted accuracy.
    assert report.epsilon == pytest.approx(budget.epsilon, rel=1e-3)
    if report.rho is not None:  # zCDP-only fits: the ledger adds up to the total ρ
        assert sum(e.rho for e in report.ledger) == pytest.approx(report.rho)
    else:  # DP-SGD fits compose through the PLD: some entry must lack a zCDP bound
        assert any(e.rho is None for e in report.ledger)
    assert all(e.step.startswith(name) for e in report.ledger)
    assert report.seeded


@pytest.mark.parametrize("name", GENERATORS)
def test_seeded_fit_is_deterministic(name, small_private):
    a = create(name, random_state=3, **FAST_PARAMS.get(name, {})).fit(small_private, 1.0).sample(200, random_state=4)
    b = create(name, random_state=3, **FAST_PARAMS.get(name, {})).fit(small_private, 1.0).sample(200, random_state=4)
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("name", GENERATORS)
def test_unseeded_fits_draw_fresh_noise(name, small_private):
    a = create(name, **FAST_PARAMS.get(name, {})).fit(small_private, 1.0)
    b = create(name, **FAST_PARAMS.get(name, {})).fit(small_private, 1.0)
    assert not a.privacy_report.seeded
    assert "NOT FOR RELEASE" not in a.privacy_report.summary()
    # Every column's one-way marginal: a barely trained neural model can put all of one column on
    # a single category in both fits (a 15-step TLDM does so in about one fit in six), so one
    # column alone can agree by chance.
    pa = np.concatenate([a.model_.project((c,)) for c in a.domain_.names])
    pb = np.concatenate([b.model_.project((c,)) for c in b.domain_.names])
    assert pa.shape != pb.shape or not np.allclose(pa, pb)


@pytest.mark.parametrize("name", GENERATORS)
def test_save_load_round_trip(name, small_private, tmp_path):
    model = create(name, random_state=0, **FAST_PARAMS.get(name, {})).fit(small_private, 1.0)
    path = model.save(tmp_path / "m.dps")
    again = Synthesizer.load(path)
    assert type(again) is type(model)
    assert again.privacy_report == model.privacy_report
    pd.testing.assert_frame_equal(model.sample(300, random_state=5), again.sample(300, random_state=5))


@pytest.mark.parametrize("name", GENERATORS)
def test_default_row_count_is_the_dp_row_estimate(name, small_private, small_frame, tmp_path):
    # `dpsynth run` without --rows releases `estimated_rows` rows: every generator answers it
    # (before: PE, GSD and CTAB-GAN+ had no such attribute and the CLI crashed after the fit).
    model = create(name, random_state=0, **FAST_PARAMS.get(name, {}))
    with pytest.raises(NotFittedError):
        _ = model.estimated_rows
    model.fit(small_private, 1.0)
    n = model.estimated_rows
    assert isinstance(n, int) and not isinstance(n, bool)
    assert n == Synthesizer.estimated_rows.fget(model)  # one method on the protocol, not a per-class attribute
    # A noisy count at ε = 1 of 3,000 rows: far closer than a factor of two.
    assert len(small_frame) / 2 < n < 2 * len(small_frame)
    again = Synthesizer.load(model.save(tmp_path / "m.dps"))
    assert again.estimated_rows == n
    assert len(again.sample(n, random_state=0)) == n


@pytest.mark.parametrize("name", GENERATORS)
@pytest.mark.parametrize("epsilon", [0, -1.0, float("nan")])
def test_refuses_non_positive_epsilon(name, small_private, epsilon):
    with pytest.raises(InvalidParameterError, match="epsilon"):
        create(name, **FAST_PARAMS.get(name, {})).fit(small_private, epsilon)


@pytest.mark.parametrize("name", GENERATORS)
def test_refuses_an_exhausted_budget(name, small_private, monkeypatch):
    # A budget with no room left: the accountant refuses the first charge before any noise.
    model = create(name, **FAST_PARAMS.get(name, {}))
    from dpsynth.privacy import accounting

    monkeypatch.setattr(accounting.Accountant, "rho_budget", property(lambda self: 0.0))
    with pytest.raises(BudgetExceededError, match="exhausted"):
        model.fit(small_private, 1.0)


@pytest.mark.parametrize("name", GENERATORS)
def test_sample_before_fit_and_bad_n(name, small_private):
    model = create(name, **FAST_PARAMS.get(name, {}))
    with pytest.raises(NotFittedError):
        model.sample(10)
    model.fit(small_private, 1.0)
    for bad in [0, -5, 2.5, "10"]:
        with pytest.raises(InvalidParameterError):
            model.sample(bad)


def test_unknown_generator_and_bad_params():
    with pytest.raises(InvalidParameterError, match="Unknown generator"):
        create("nope")
    with pytest.raises(InvalidParameterError):
        create("aim", not_a_param=3)


def test_fit_needs_private_data(small_frame):
    with pytest.raises(InvalidParameterError, match="PrivateData"):
        create("mst").fit(small_frame, 1.0)


def test_load_refuses_junk(tmp_path):
    p = tmp_path / "junk.dps"
    p.write_bytes(b"not a zip")
    with pytest.raises(SerializationError):
        Synthesizer.load(p)
    with pytest.raises(SerializationError):
        Synthesizer.load(tmp_path / "missing.dps")


def test_private_data_repr_does_not_leak_the_row_count(small_private, small_frame):
    assert isinstance(small_private, PrivateData)
    assert str(len(small_frame)) not in repr(small_private)


def test_large_delta_warns_using_the_dp_row_estimate(small_private):
    # δ = 0.01 ≥ 1/n for n ≈ 3000 rows: a warning, and a note in the report.
    with pytest.warns(UserWarning, match="delta"):
        model = create("independent", random_state=0).fit(small_private, PrivacyBudget(1.0, 0.01))
    assert any("1/n" in note for note in model.privacy_report.notes)
