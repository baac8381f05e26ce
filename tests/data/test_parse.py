"""The per-distinct-value fast paths of dpsynth.data._parse equal the plain per-value rules."""

import numpy as np
import pandas as pd
import pytest

from dpsynth.data import _parse
from dpsynth.data.domain import Column, category_key


def _slow_text(values):
    return [None if pd.isna(v) else _parse._text_of(v) for v in values]


@pytest.mark.parametrize(
    "values",
    [
        ["a", " b ", None, "a", "", "NA", "1", " 1", "1.0"],
        [1, 2, None, 1, 3, -7],
        [np.int64(4), 5, None, np.int64(4)],
        [True, False, None, True],
        [1, True, 0, False, None],  # mixed: 1 == True must not merge them
        [1.0, -0.0, 0.0, 2.5, None, 1],
        ["x", 1, 1.0, True, None, " x"],
    ],
)
def test_fast_paths_equal_the_per_value_rules(values):
    s = pd.Series(values, dtype=object)
    assert list(_parse.text_values(s)) == _slow_text(values)
    col = Column(name="c", kind="categorical", categories=("a", "1", "True", "x", "2"), missing_values=("NA",))
    slow_text = _slow_text(values)
    lookup = {category_key(c): i for i, c in enumerate(col.categories or ())}
    assert list(_parse.category_index(col, s)) == [-1 if t is None else lookup.get(category_key(t), -1)
                                                   for t in slow_text]
    tokens = {"NA", ""}
    assert list(_parse.missing_mask(col, s)) == [t is None or t.strip(" ") in tokens for t in slow_text]
    num = Column(name="n", kind="numeric", lower=-10.0, upper=10.0)
    expect = [float(t.strip(" ")) if t is not None and _parse._NUMBER_RE.fullmatch(t.strip(" ")) else np.nan
              for t in slow_text]
    np.testing.assert_array_equal(_parse.numbers(num, s), np.array(expect, dtype=np.float64))
