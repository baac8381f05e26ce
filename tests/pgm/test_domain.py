import numpy as np
import pytest

from dpsynth.errors import InvalidDataError, InvalidParameterError
from dpsynth.pgm import Domain, Measurement


def test_domain_basics():
    dom = Domain(("a", "b", "c"), (2, 3, 4))
    assert len(dom) == 3 and list(dom) == ["a", "b", "c"]
    assert "b" in dom and "z" not in dom
    assert dom["c"] == 4
    assert dom.size() == 24 and dom.size(("c", "a")) == 8 and dom.size(()) == 1
    assert dom.project(("c", "a")) == Domain(("c", "a"), (4, 2))
    assert dom.canonical(("c", "a")) == ("a", "c")
    assert Domain.fromdict({"a": 2, "b": 3, "c": 4}) == dom
    assert hash(dom) == hash(Domain(("a", "b", "c"), (2, 3, 4)))


@pytest.mark.parametrize(
    ("attrs", "shape"),
    [(("a", "a"), (2, 2)), (("a",), (2, 3)), (("a",), (0,)), (("a",), (2.5,)), (("a",), (True,))],
)
def test_domain_rejects_bad_input(attrs, shape):
    with pytest.raises(InvalidParameterError):
        Domain(attrs, shape)


def test_domain_unknown_attribute():
    dom = Domain(("a", "b"), (2, 3))
    with pytest.raises(InvalidParameterError, match="unknown attribute"):
        dom.size(("a", "z"))
    with pytest.raises(InvalidParameterError, match="repeats"):
        dom.project(("a", "a"))


def test_measurement_accepts_flat_and_nd_values():
    dom = Domain(("a", "b"), (2, 3))
    flat = Measurement(("b", "a"), np.arange(6.0), 2.0)
    nd = Measurement(("b", "a"), np.arange(6.0).reshape(3, 2), 2)
    assert np.array_equal(flat.flat_values(dom), nd.flat_values(dom))
    assert isinstance(nd.sigma, float)


@pytest.mark.parametrize("sigma", [0.0, -1.0, float("nan"), float("inf"), "1", True])
def test_measurement_rejects_bad_sigma(sigma):
    with pytest.raises(InvalidParameterError, match="sigma"):
        Measurement(("a",), np.ones(2), sigma)


def test_measurement_rejects_nan_values():
    with pytest.raises(InvalidDataError, match="NaN"):
        Measurement(("a",), np.array([1.0, np.nan]), 1.0)


def test_measurement_wrong_length():
    dom = Domain(("a", "b"), (2, 3))
    with pytest.raises(InvalidDataError, match="expected 6 values"):
        Measurement(("a", "b"), np.ones(5), 1.0).flat_values(dom)
    with pytest.raises(InvalidDataError):
        Measurement(("a", "b"), np.ones((3, 2)), 1.0).flat_values(dom)
