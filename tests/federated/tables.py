"""The small three-column table the federated tests split among clients."""

import numpy as np
import pandas as pd

from dpsynth.data.domain import Column, Domain


def abc_domain() -> Domain:
    """Three categorical columns a, b, c with values "0", "1", "2" (public)."""
    return Domain([Column(name=n, kind="categorical", categories=tuple(str(i) for i in range(3))) for n in "abc"])


def abc_frame(n: int, seed: int = 0, *, b_copies_a: float = 0.8) -> pd.DataFrame:
    """``n`` rows: a uniform, b equal to a with probability ``b_copies_a`` (else uniform), c uniform."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 3, n)
    b = np.where(rng.random(n) < b_copies_a, a, rng.integers(0, 3, n))
    c = rng.integers(0, 3, n)
    return pd.DataFrame({"a": a.astype(str), "b": b.astype(str), "c": c.astype(str)})
