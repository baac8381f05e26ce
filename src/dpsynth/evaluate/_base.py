"""The metric protocol and the result every metric returns.

Evaluation reads raw rows on purpose: it measures a release, it is not part of one. Its
output is *not* covered by any privacy guarantee, and every :class:`Result` says so.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from dpsynth.errors import InvalidParameterError
from dpsynth.privacy.random import RandomState, make_rng

if TYPE_CHECKING:
    from dpsynth.data.domain import Domain
    from dpsynth.evaluate._prepare import Prepared

Goal = Literal["maximize", "minimize"]

#: Said by every result: the numbers come from raw rows and are not differentially private.
RAW_ROWS_NOTE = (
    "Computed from raw rows of the real table: evaluation measures the release and is not "
    "part of it. These figures carry no privacy guarantee; do not publish them with the data "
    "unless the real table may be disclosed."
)

#: Roles the real table can play, recorded in every result.
REAL_SPLITS = ("train", "holdout", "train+holdout", "unspecified")


def to_jsonable(obj: Any) -> Any:
    """Convert numpy/pandas values, tuples and non-finite floats into strict-JSON values.

    NaN and ±inf become ``None`` (strict JSON has no such numbers).
    """
    if isinstance(obj, Result):
        return obj.to_dict()
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, pd.DataFrame):
        return to_jsonable(obj.to_dict(orient="list"))
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, bool | int | str):
        return obj
    return str(obj)


@dataclass
class Result:
    """What a metric computed: a headline value, its uncertainty and the data for its plot.

    Attributes:
        metric: The metric's ``name``.
        value: The headline number (``nan`` when the metric could not be computed; ``note``
            says why).
        goal: ``"maximize"`` or ``"minimize"``.
        min_value: Smallest possible value (``-inf`` if unbounded).
        max_value: Largest possible value.
        ci: A 95% confidence interval ``(lo, hi)`` where the metric has one, else None.
        reference: The value of the same measurement on real data alone, where one exists
            (train-real-test-real for utility); None otherwise.
        ideal: The value of a perfect synthetic table when it is not an end of the range
            (0.5 for distance to closest record); None otherwise.
        details: Everything a report would plot (per-marginal errors, per-column values,
            matrices); JSON-compatible after :meth:`to_dict`.
        real_split: What the real table was: ``"train"`` (the split the generator was fitted
            on), ``"holdout"``, ``"train+holdout"`` (both were used), or ``"unspecified"``.
        reads_raw_rows: Always True: evaluation reads raw rows and is not part of the release.
        note: Caveats in words (subsampling, degenerate inputs, heuristics).
        privacy_note: The standing reminder that these figures are not differentially private.
    """

    metric: str
    value: float
    goal: Goal
    min_value: float
    max_value: float
    ci: tuple[float, float] | None = None
    reference: float | None = None
    ideal: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    real_split: str = "unspecified"
    reads_raw_rows: bool = True
    note: str = ""
    privacy_note: str = RAW_ROWS_NOTE

    def _repr_html_(self) -> str:
        """Rich display in Jupyter."""
        return Evaluation({self.metric: self})._repr_html_()

    @property
    def best_value(self) -> float:
        """The value of a perfect synthetic table: ``ideal``, else the goal's end of the range."""
        if self.ideal is not None:
            return self.ideal
        return self.max_value if self.goal == "maximize" else self.min_value

    def to_dict(self) -> dict[str, Any]:
        """The result as a strict-JSON-compatible dict (NaN and ±inf become None)."""
        return {
            "metric": self.metric,
            "value": to_jsonable(float(self.value)),
            "goal": self.goal,
            "min_value": to_jsonable(float(self.min_value)),
            "max_value": to_jsonable(float(self.max_value)),
            "ci": None if self.ci is None else [to_jsonable(float(x)) for x in self.ci],
            "reference": None if self.reference is None else to_jsonable(float(self.reference)),
            "ideal": None if self.ideal is None else to_jsonable(float(self.ideal)),
            "details": to_jsonable(self.details),
            "real_split": self.real_split,
            "reads_raw_rows": self.reads_raw_rows,
            "note": self.note,
            "privacy_note": self.privacy_note,
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Result:
        """Rebuild a result from :meth:`to_dict` output (None numbers become NaN / ±inf)."""

        def num(v: Any, default: float) -> float:
            return default if v is None else float(v)

        ci = doc.get("ci")
        return cls(
            metric=doc["metric"],
            value=num(doc.get("value"), math.nan),
            goal=doc["goal"],
            min_value=num(doc.get("min_value"), -math.inf),
            max_value=num(doc.get("max_value"), math.inf),
            ci=None if ci is None else (num(ci[0], math.nan), num(ci[1], math.nan)),
            reference=None if doc.get("reference") is None else float(doc["reference"]),
            ideal=None if doc.get("ideal") is None else float(doc["ideal"]),
            details=dict(doc.get("details") or {}),
            real_split=doc.get("real_split", "unspecified"),
            reads_raw_rows=bool(doc.get("reads_raw_rows", True)),
            note=doc.get("note", ""),
            privacy_note=doc.get("privacy_note", RAW_ROWS_NOTE),
        )


class Evaluation(dict[str, Result]):
    """What :func:`~dpsynth.evaluate.evaluate_all` returns: metric name → :class:`Result`.

    A plain dict that also renders as a table in Jupyter.
    """

    def _repr_html_(self) -> str:
        from dpsynth import _notebook as nb

        rows = [(r.metric, r.value, None if r.ci is None else f"[{r.ci[0]:.3g}, {r.ci[1]:.3g}]",
                 r.reference, r.goal, r.note) for r in self.values()]
        return nb.card("Evaluation (reads raw rows: not part of the DP release)",
                       nb.table(["metric", "value", "95% CI", "real data", "goal", "note"], rows))


class Metric(ABC):
    """A measurement of a synthetic table against a real one.

    Subclasses set ``name``, ``goal``, ``min_value`` and ``max_value`` and implement
    ``_compute``. ``__init__`` only stores keyword arguments (scikit-learn style); they are
    validated when :meth:`compute` runs.

    Attributes:
        name: Short identifier, used as the key in :func:`~dpsynth.evaluate.evaluate_all`.
        goal: ``"maximize"`` or ``"minimize"``.
        min_value: Smallest possible value.
        max_value: Largest possible value.
        ideal_value: The value of a perfect synthetic table when it is inside the range.
    """

    name: str
    goal: ClassVar[Goal]
    min_value: ClassVar[float]
    max_value: ClassVar[float]
    ideal_value: ClassVar[float | None] = None
    #: Whether the metric needs a hold-out table besides ``real``.
    needs_holdout: ClassVar[bool] = False

    def compute(
        self,
        real: pd.DataFrame,
        synthetic: pd.DataFrame,
        domain: Domain,
        *,
        holdout: pd.DataFrame | None = None,
        real_split: str = "unspecified",
    ) -> Result:
        """Measure ``synthetic`` against ``real``.

        Args:
            real: Real rows with the domain's columns (a hold-out, or the training split).
            synthetic: Synthetic rows with the domain's columns.
            domain: The public domain both tables follow.
            holdout: Real rows not used to fit the generator; needed by some metrics
                (distance to closest record), used by others when given (utility).
            real_split: What ``real`` is: ``"train"``, ``"holdout"`` or ``"unspecified"``.

        Returns:
            The :class:`Result`.

        Raises:
            InvalidDataError: Empty tables, or columns that do not match the domain.
            InvalidParameterError: Bad metric parameters, or a missing hold-out.
        """
        from dpsynth.evaluate._prepare import prepare

        prep = prepare(real, synthetic, domain, holdout=holdout, real_split=real_split)
        return self.compute_prepared(prep)

    def compute_prepared(self, prep: Prepared) -> Result:
        """Measure on already validated and encoded tables (shared by several metrics)."""
        self._validate_params()
        if self.needs_holdout and prep.holdout is None:
            raise InvalidParameterError(
                f"The {self.name!r} metric needs a hold-out table: pass holdout=<real rows the "
                "generator was not fitted on>."
            )
        n_threads = getattr(self, "n_threads", None)
        check_int_param(n_threads, "n_threads", type(self).__name__, allow_none=True)
        if n_threads is None:
            return self._compute(prep)
        # OpenMP (gradient boosting) and BLAS threads spin-wait at barriers; when the cores
        # are shared (pytest-xdist, other jobs) that turns seconds into minutes.
        with threadpool_limits(limits=n_threads):
            return self._compute(prep)

    def applies(self, domain: Domain) -> bool:
        """Whether the metric has anything to measure on this domain."""
        return len(domain) >= 1

    def _validate_params(self) -> None:
        """Check the hyper-parameters stored by ``__init__`` (raise InvalidParameterError)."""
        return None

    @abstractmethod
    def _compute(self, prep: Prepared) -> Result:
        """Compute the result on prepared tables."""

    def _result(self, prep: Prepared, value: float, **kwargs: Any) -> Result:
        return Result(
            metric=self.name,
            value=float(value),
            goal=self.goal,
            min_value=float(self.min_value),
            max_value=float(self.max_value),
            ideal=self.ideal_value,
            real_split=kwargs.pop("real_split", prep.real_split),
            **kwargs,
        )

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({params})"


def rng_of(random_state: RandomState) -> np.random.Generator:
    """A numpy Generator for the metric's own sampling (post-processing, not privacy noise)."""
    return make_rng(random_state)


def seed_from(rng: np.random.Generator) -> int:
    """An int seed for scikit-learn estimators, drawn from ``rng``."""
    return int(rng.integers(0, 2**31 - 1))


def check_int_param(value: object, name: str, owner: str, *, minimum: int = 1,
                    allow_none: bool = False) -> int | None:
    """Validate an integer hyper-parameter (None allowed when ``allow_none``)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        extra = " or None" if allow_none else ""
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be an integer >= {minimum}{extra}. "
            f"Got {value!r} instead."
        )
    return int(value)


def check_fraction(value: object, name: str, owner: str) -> float:
    """Validate a parameter in the open interval (0, 1)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 < float(value) < 1.0:
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be a number in (0, 1). Got {value!r} instead."
        )
    return float(value)
