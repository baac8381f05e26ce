"""The digits simulator (Sim-PE) and DigitsPE on a small private set."""

import numpy as np
import pytest

from dpsynth.data.private import PrivateData
from dpsynth.errors import InvalidParameterError, NotFittedError
from dpsynth.pe.digits import (
    FONT_FILES,
    PARAMS,
    DigitSimulatorAPI,
    DigitsPE,
    PixelEmbedding,
    digits_domain,
    digits_frame,
    downsample,
    render,
)
from dpsynth.privacy import PrivacyBudget


def test_downsampling_counts_on_pixels_per_4x4_block():
    bitmap = np.zeros((1, 32, 32), dtype=bool)
    bitmap[0, :4, :4] = True  # a full block → 16
    bitmap[0, 4, 8] = True  # one pixel of block (1, 2) → 1
    out = downsample(bitmap)
    assert out.shape == (1, 8, 8) and out[0, 0, 0] == 16 and out[0, 1, 2] == 1 and out.sum() == 17


def test_simulator_apis_stay_in_range_and_keep_labels():
    api = DigitSimulatorAPI()
    rng = np.random.default_rng(0)
    x = api.random_api(40, rng)
    assert list(api.labels(x)[:10]) == [str(d) for d in range(10)]
    lo = np.array([v[0] for v in PARAMS.values()])
    hi = np.array([v[1] for v in PARAMS.values()])
    for _ in range(3):
        y = api.variation_api(x, 0.5, rng)
        assert (y >= lo).all() and (y <= hi).all()
        np.testing.assert_array_equal(y[:, 0], x[:, 0])
        x = y
    img = render(x)
    assert img.shape == (40, 8, 8) and img.min() >= 0 and img.max() <= 16 and img.sum(axis=(1, 2)).min() > 0
    with pytest.raises(InvalidParameterError, match="parameter matrix"):
        render(np.zeros((2, 3)))


def test_fonts_style_never_draws_the_pen_or_an_alternate_glyph():
    api = DigitSimulatorAPI(style="fonts")
    rng = np.random.default_rng(0)
    x = api.random_api(500, rng)
    for degree in (1.0, 1.0, 0.5):  # degree 1 switches the font of ~half the samples each time
        assert (x[:, 1] < len(FONT_FILES)).all() and (x[:, 1] == x[:, 1].round()).all()
        assert (x[:, -1] == 0.0).all()  # glyph index 0: GLYPHS[label][0], the canonical digit
        x = api.variation_api(x, degree, rng)
    assert (x[:, 1] < len(FONT_FILES)).all() and (x[:, -1] == 0.0).all()
    # DigitsPE passes the style on: its population keeps to the canonical glyphs in fonts.
    from sklearn.datasets import load_digits

    d = load_digits()
    data = PrivateData(digits_frame(d.images[:100], d.target[:100]), digits_domain())
    model = DigitsPE(rounds=2, population_per_class=6, style="fonts", random_state=0).fit(data, PrivacyBudget(10.0, 1e-5))
    assert (model.samples_[:, 1] < len(FONT_FILES)).all() and (model.samples_[:, -1] == 0.0).all()
    # The default prior does draw both, so the checks above can fail.
    hw = DigitSimulatorAPI().random_api(500, np.random.default_rng(0))
    assert (hw[:, 1] == len(FONT_FILES)).any() and (hw[:, -1] > 0.5).any()


def test_bad_style_is_refused():
    with pytest.raises(InvalidParameterError, match="'style' parameter of DigitSimulatorAPI"):
        DigitSimulatorAPI(style="pen")
    with pytest.raises(InvalidParameterError, match="pen_share must be 0"):
        DigitSimulatorAPI(style="fonts", pen_share=0.4)
    data = PrivateData(digits_frame(np.zeros((20, 64)), np.arange(20) % 10), digits_domain())
    with pytest.raises(InvalidParameterError, match="'style' parameter of DigitsPE"):
        DigitsPE(style="Fonts").fit(data, PrivacyBudget(1.0, 1e-5))


def test_digits_pe_fits_and_samples(tmp_path):
    from sklearn.datasets import load_digits

    d = load_digits()
    data = PrivateData(digits_frame(d.images[:300], d.target[:300]), digits_domain())
    model = DigitsPE(rounds=2, population_per_class=6, random_state=0).fit(data, PrivacyBudget(50.0, 1e-5))
    steps = [e.step for e in model.privacy_report.ledger]
    assert steps == ["pe_digits.labels", "pe_digits.votes", "pe_digits.votes"]
    assert model.privacy_report.epsilon == pytest.approx(50.0, rel=1e-3)
    x, y = model.sample(50, random_state=1)
    # The one-sketch variant spends its whole (small) budget in one release, never refused.
    rff = DigitsPE(rounds=2, population_per_class=4, histogram="rff", rff_features=200, random_state=0)
    report = rff.fit(data, PrivacyBudget(0.3, 1e-5)).privacy_report
    assert [e.step for e in report.ledger] == ["pe_digits.labels", "pe_digits.rff_sketch"]
    assert report.epsilon == pytest.approx(0.3, rel=1e-3) and report.within_budget
    assert x.shape == (50, 8, 8) and set(y) <= set(range(10))
    assert PixelEmbedding().embed_frame(digits_frame(x, y)).shape == (50, 64)


def test_digits_pe_bad_input():
    from dpsynth.data.domain import Domain
    from tests.synth.conftest import SMALL_META, make_small_frame

    with pytest.raises(NotFittedError):
        DigitsPE().sample(5)
    other = PrivateData(make_small_frame(100), Domain.from_json(SMALL_META))
    with pytest.raises(InvalidParameterError, match="digits columns"):
        DigitsPE().fit(other, PrivacyBudget(1.0, 1e-5))
    with pytest.raises(InvalidParameterError, match="histogram"):
        DigitsPE(histogram="kde").fit(
            PrivateData(digits_frame(np.zeros((20, 64)), np.arange(20) % 10), digits_domain()), PrivacyBudget(1.0, 1e-5)
        )
