"""Shared machinery of the marginal-based generators (independent, MST, AIM).

They measure noisy marginals of the discretised table through ``PrivateData``, fit a
graphical model to the measurements (``dpsynth.pgm``; post-processing), and sample codes
from it that the Discretizer decodes back to values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dpsynth.data.discretize import Discretizer
from dpsynth.data.private import PrivateData
from dpsynth.errors import InvalidParameterError
from dpsynth.pgm import Domain as PGMDomain
from dpsynth.pgm import GraphicalModel, Measurement
from dpsynth.synth.base import Synthesizer

if TYPE_CHECKING:
    from dpsynth.synth._conditions import Condition


class MarginalSynthesizer(Synthesizer):
    """A synthesizer whose fitted state is one graphical model over discretised columns.

    ``coarsen_`` (optional) maps each column's codes to the compressed codes the model was
    fitted on; sampling expands them back.
    """

    model_: GraphicalModel
    coarsen_: dict[str, np.ndarray] | None = None

    def _check_domain(self, data: PrivateData) -> None:
        data.discretizer  # noqa: B018 - raises on columns with too many codes

    def _sample(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        codes = self.model_.sample(n, rng)
        if self.coarsen_ is not None:
            for j, attr in enumerate(self.model_.domain.attrs):
                codes[:, j] = expand_codes(codes[:, j], self.coarsen_[attr], rng)
        return Discretizer(self.domain_).decode(codes, rng)

    def _sample_conditional(self, n: int, rng: np.random.Generator, conds: list[Condition]) -> pd.DataFrame:
        from dpsynth.synth._conditions import sample_exact

        return sample_exact(self, n, rng, conds)

    def _row_estimate(self) -> int | None:
        return max(1, round(self.model_.total))

    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return _split_arrays({"model": self.model_.to_dict(), "coarsen": self.coarsen_})

    def _set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        doc = _join_arrays(state, arrays)
        self.model_ = GraphicalModel.from_dict(doc["model"])
        coarsen = doc.get("coarsen")
        self.coarsen_ = None if coarsen is None else {k: np.asarray(v) for k, v in coarsen.items()}


def check_int(value: object, name: str, owner: str, *, minimum: int = 1) -> int:
    """Validate an integer hyper-parameter."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be an integer >= {minimum}. Got {value!r} instead."
        )
    return int(value)


def progress_callback(progress: Any, task: Any) -> Callable[[int, float], None] | None:
    """A callback for ``pgm.estimate`` that advances a rich progress task (never shows data)."""
    if progress is None:
        return None

    def cb(iteration: int, loss: float) -> None:
        progress.update(task, advance=1)

    return cb


_ARRAY_PREFIX = "__array__:"


def _split_arrays(obj: Any, arrays: dict[str, np.ndarray] | None = None, path: str = "s") -> Any:
    """Move numpy arrays out of a nested dict/list into a flat dict, leaving references."""
    top = arrays is None
    arrays = {} if arrays is None else arrays
    if isinstance(obj, np.ndarray):
        arrays[path] = obj
        out: Any = _ARRAY_PREFIX + path
    elif isinstance(obj, dict):
        out = {k: _split_arrays(v, arrays, f"{path}.{k}") for k, v in obj.items()}
    elif isinstance(obj, list | tuple):
        out = [_split_arrays(v, arrays, f"{path}.{i}") for i, v in enumerate(obj)]
    else:
        out = obj
    return (out, arrays) if top else out


def _join_arrays(obj: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(obj, str) and obj.startswith(_ARRAY_PREFIX):
        return arrays[obj[len(_ARRAY_PREFIX) :]]
    if isinstance(obj, dict):
        return {k: _join_arrays(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_join_arrays(v, arrays) for v in obj]
    return obj


def compress_domain(
    domain: PGMDomain, oneway: list[Measurement], sigma: float
) -> tuple[dict[str, np.ndarray], PGMDomain, list[Measurement]]:
    """Merge the codes whose noisy one-way count is below 3σ (MST, Sec. 3.2).

    Post-processing of the one-way measurements. Returns the per-column code maps, the
    compressed domain, and the one-way measurements re-expressed on it (merged cells
    summed; their noise is then larger than ``sigma``, which only makes the estimate
    weight them a little too much).
    """
    maps: dict[str, np.ndarray] = {}
    for m in oneway:
        keep = m.values >= 3.0 * sigma
        mapping = np.arange(m.values.size)
        if (~keep).sum() > 1:
            mapping = np.empty(m.values.size, dtype=np.int64)
            mapping[keep] = np.arange(keep.sum())
            mapping[~keep] = keep.sum()
        maps[m.clique[0]] = mapping
    for attr, size in zip(domain.attrs, domain.shape, strict=True):
        maps.setdefault(attr, np.arange(size))
    dom = PGMDomain(domain.attrs, tuple(int(maps[a].max()) + 1 for a in domain.attrs))
    log = [
        Measurement(m.clique, _sum_by(m.values, maps[m.clique[0]]), m.sigma) if len(m.clique) == 1 else m
        for m in oneway
    ]
    return maps, dom, log


def _sum_by(values: np.ndarray, mapping: np.ndarray) -> np.ndarray:
    return np.bincount(mapping, weights=values, minlength=int(mapping.max()) + 1)


def expand_codes(coarse: np.ndarray, mapping: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Map compressed codes back to original codes, uniformly within each merged group."""
    out = np.empty_like(coarse)
    order = np.argsort(mapping, kind="stable")
    starts = np.searchsorted(mapping[order], np.arange(int(mapping.max()) + 1))
    counts = np.bincount(mapping, minlength=int(mapping.max()) + 1)
    pick = starts[coarse] + np.floor(rng.random(coarse.size) * counts[coarse]).astype(np.int64)
    out[:] = order[pick]
    return out
