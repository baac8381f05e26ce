"""Shared machinery of the marginal-based generators (independent, MST, AIM).

They measure noisy marginals of the discretised table through ``PrivateData``, fit a
graphical model to the measurements (``dpsynth.pgm``; post-processing), and sample codes
from it that the Discretizer decodes back to values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from dpsynth.data.discretize import Discretizer
from dpsynth.errors import InvalidParameterError
from dpsynth.pgm import GraphicalModel
from dpsynth.synth.base import Synthesizer


class MarginalSynthesizer(Synthesizer):
    """A synthesizer whose fitted state is one graphical model over discretised columns."""

    model_: GraphicalModel

    def _sample(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        codes = self.model_.sample(n, rng)
        return Discretizer(self.domain_).decode(codes, rng)

    @property
    def estimated_rows(self) -> int:
        """The model's (noisy, DP) estimate of the number of records."""
        self._check_fitted()
        return max(1, round(self.model_.total))

    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return _split_arrays(self.model_.to_dict())

    def _set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.model_ = GraphicalModel.from_dict(_join_arrays(state, arrays))


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
