"""k-way marginal distances between two tables on a common discretisation.

Evaluation reads raw rows on purpose: it measures a release, it is not part of one.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np


def marginal_tvd(
    real: np.ndarray,
    synth: np.ndarray,
    sizes: Sequence[int],
    cliques: Sequence[Sequence[int]],
) -> np.ndarray:
    """Total variation distance of each marginal between two integer-coded tables.

    Args:
        real: (n, d) integer codes.
        synth: (m, d) integer codes on the same discretisation.
        sizes: Number of codes per column.
        cliques: Column-index tuples.

    Returns:
        One TVD in [0, 1] per clique: ½ Σ |p_real − p_synth|.
    """
    out = np.empty(len(cliques))
    for i, cl in enumerate(cliques):
        cl = list(cl)
        shape = tuple(int(sizes[c]) for c in cl)
        size = int(np.prod(shape))
        a = np.bincount(np.ravel_multi_index(real[:, cl].T, shape), minlength=size) / len(real)
        b = np.bincount(np.ravel_multi_index(synth[:, cl].T, shape), minlength=size) / len(synth)
        out[i] = 0.5 * np.abs(a - b).sum()
    return out


def all_cliques(d: int, k: int) -> list[tuple[int, ...]]:
    """Every k-subset of d columns, as index tuples."""
    return list(itertools.combinations(range(d), k))
