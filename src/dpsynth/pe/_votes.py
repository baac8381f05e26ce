"""Nearest-neighbour vote counting in numpy blocks (the computation behind PE's histogram).

This module only counts; it draws no noise and charges nothing. It is called from
:meth:`dpsynth.data.private.PrivateData.nearest_neighbour_votes`, which charges the fit's
accountant first and adds the noise, and from tests on public arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from dpsynth.errors import InvalidParameterError

#: Private rows embedded and compared per block (bounds memory at block × candidates floats).
DEFAULT_BLOCK = 2048


def check_candidates(candidates: object, dim: int | None = None) -> np.ndarray:
    """Validate an embedded candidate matrix (public): 2-D, finite, non-empty."""
    arr = np.asarray(candidates, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InvalidParameterError(
            f"The candidates' embeddings must be a non-empty (n_candidates, dim) matrix. Got shape {arr.shape}."
        )
    if not np.all(np.isfinite(arr)):
        raise InvalidParameterError("The candidates' embeddings hold NaN or infinite values; fix the embedding.")
    if dim is not None and arr.shape[1] != dim:
        raise InvalidParameterError(
            f"Embedding dimension mismatch: the candidates have dimension {arr.shape[1]} but the "
            f"embedding declares {dim}. Embed private rows and candidates with the same Embedding."
        )
    return arr


def nearest_indices(points: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Index of the nearest candidate (Euclidean) of each point; ties go to the lowest index."""
    # ‖x − c‖² = ‖x‖² − 2 x·c + ‖c‖²; ‖x‖² is constant per row, so it is dropped.
    scores = np.einsum("ij,ij->i", candidates, candidates)[None, :] - 2.0 * points @ candidates.T
    return np.argmin(scores, axis=1)


def nearest_neighbour_counts(
    embed: Callable[..., Any],
    frame: pd.DataFrame,
    candidates: np.ndarray,
    *,
    candidate_groups: np.ndarray | None = None,
    row_groups: np.ndarray | None = None,
    block_size: int = DEFAULT_BLOCK,
) -> np.ndarray:
    """Count, for each candidate, the rows of ``frame`` whose nearest candidate it is.

    Lin et al. (ICLR 2024), Alg. 2 (DP_NN_HISTOGRAM) without the noise: every row casts one
    vote. With groups, a row votes only among the candidates of its own group (Aug-PE's
    per-class histograms over disjoint subsets); rows of a group without candidates cast none.

    Args:
        embed: Maps a block of rows to an (rows, dim) float matrix.
        frame: The rows (private when called from ``PrivateData``).
        candidates: (n_candidates, dim) embedded candidates.
        candidate_groups: Optional group label (as text) of each candidate.
        row_groups: Group label (as text) of each row; required with ``candidate_groups``.
        block_size: Rows embedded and compared at a time.

    Returns:
        Integer counts, one per candidate; they sum to at most ``len(frame)``.
    """
    cand = check_candidates(candidates)
    m, dim = cand.shape
    counts = np.zeros(m, dtype=np.int64)
    if candidate_groups is not None:
        cgroups = np.asarray(candidate_groups).astype(str)
        if cgroups.shape != (m,):
            raise InvalidParameterError("candidate_groups needs one label per candidate.")
        if row_groups is None:
            raise InvalidParameterError("Grouped votes need the rows' group labels.")
        rgroups = np.asarray(row_groups).astype(str)
        members = {g: np.flatnonzero(cgroups == g) for g in np.unique(cgroups)}
    for start in range(0, len(frame), block_size):
        block = frame.iloc[start : start + block_size]
        emb = np.asarray(embed(block), dtype=np.float64)
        if emb.shape != (len(block), dim):
            raise InvalidParameterError(
                f"Embedding dimension mismatch: the embedding of the private rows has shape {emb.shape}, "
                f"expected ({len(block)}, {dim}) to match the candidates."
            )
        if not np.all(np.isfinite(emb)):
            raise InvalidParameterError(
                "The embedding returned NaN or infinite values for some rows; it must map every value "
                "the domain allows (including missing ones) to finite numbers."
            )
        if candidate_groups is None:
            counts += np.bincount(nearest_indices(emb, cand), minlength=m)
            continue
        block_groups = rgroups[start : start + len(block)]
        for g, idx in members.items():
            rows = np.flatnonzero(block_groups == g)
            if rows.size:
                counts[idx] += np.bincount(nearest_indices(emb[rows], cand[idx]), minlength=idx.size)
    return counts


def feature_sums(
    features: Callable[..., Any],
    frame: pd.DataFrame,
    *,
    dim: int,
    norm_bound: float,
    groups: list[str] | None = None,
    row_groups: np.ndarray | None = None,
    block_size: int = DEFAULT_BLOCK,
) -> np.ndarray:
    """Sum the rows' feature vectors, each clipped to L2 norm ``norm_bound`` (per group if given).

    Returns:
        A (G, dim) matrix (G = 1 without groups); rows whose group is not listed add nothing.
    """
    index = {g: i for i, g in enumerate(groups)} if groups is not None else None
    out = np.zeros((1 if index is None else len(index), dim))
    for start in range(0, len(frame), block_size):
        block = frame.iloc[start : start + block_size]
        f = np.asarray(features(block), dtype=np.float64)
        if f.shape != (len(block), dim) or not np.all(np.isfinite(f)):
            raise InvalidParameterError(
                f"The feature map returned shape {f.shape} (or non-finite values); expected ({len(block)}, {dim})."
            )
        norms = np.linalg.norm(f, axis=1, keepdims=True)
        f = f * np.minimum(1.0, norm_bound / np.maximum(norms, 1e-300))
        if index is None:
            out[0] += f.sum(axis=0)
            continue
        assert row_groups is not None
        codes = np.array([index.get(g, -1) for g in row_groups[start : start + len(block)]])
        ok = codes >= 0
        np.add.at(out, codes[ok], f[ok])
    return out
