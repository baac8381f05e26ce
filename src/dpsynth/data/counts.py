"""Marginal counts of encoded rows: the counting primitive a federated client runs on its own rows.

It reads private rows, so it lives under the boundary in ``data/`` (with the other
primitives that read rows); the federated clients call it and send only noisy, masked sums.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def local_counts(codes: np.ndarray, sizes: Mapping[str, int], names: Sequence[str], cliques: Sequence[Sequence[str]],
                 coarsen: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
    """The marginal counts of ``cliques`` over integer-coded rows (flattened in C order, concatenated).

    Args:
        codes: (n, d) domain codes, one column per name in ``names``.
        sizes: Number of codes of each column.
        names: Column order of ``codes``.
        cliques: The marginals to count.
        coarsen: Optional public maps code → coarser code (MST's domain compression).
    """
    names = tuple(names)
    parts = []
    for clique in cliques:
        idx = np.zeros(codes.shape[0], dtype=np.int64)
        size = 1
        for a in clique:
            col = codes[:, names.index(a)]
            k = sizes[a]
            if coarsen is not None and a in coarsen:
                col = coarsen[a][col]
                k = int(coarsen[a].max()) + 1
            idx = idx * k + col
            size *= k
        parts.append(np.bincount(idx, minlength=size))
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)
