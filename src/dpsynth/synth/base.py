"""The Synthesizer protocol every generator follows, and its safe on-disk format.

A synthesizer stores its hyper-parameters in ``__init__`` (scikit-learn style) and
validates them in ``fit``. ``fit`` opens one :class:`~dpsynth.privacy.Accountant` for the
budget, hands the generator a :class:`~dpsynth.data.private.PrivateData` bound to it, and
keeps the accountant's report. A fitted synthesizer holds no private row.

Saved models (``.dps``) are zip files holding ``model.json`` and ``arrays.npz``; loading
reads JSON and numpy arrays with ``allow_pickle=False``, so it never executes code.
"""

from __future__ import annotations

import inspect
import io
import json
import os
import warnings
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np
import pandas as pd

from dpsynth._files import atomic_open
from dpsynth.data.domain import Domain
from dpsynth.data.private import PrivateData
from dpsynth.errors import DpsynthError, InvalidParameterError, NotFittedError, SerializationError
from dpsynth.privacy import Accountant, NoiseSource, PrivacyBudget, PrivacyReport
from dpsynth.privacy.random import RandomState, make_rng

if TYPE_CHECKING:
    from dpsynth.synth._conditions import Condition

FORMAT = "dpsynth-model"
FORMAT_VERSION = 1


def as_budget(budget: PrivacyBudget | tuple[float, float] | float) -> PrivacyBudget:
    """Accept a PrivacyBudget, an (epsilon, delta) pair or a bare epsilon (δ = 1e-9)."""
    if isinstance(budget, PrivacyBudget):
        return budget
    if isinstance(budget, tuple) and len(budget) == 2:
        return PrivacyBudget(*budget)
    if isinstance(budget, int | float) and not isinstance(budget, bool):
        return PrivacyBudget(float(budget))
    raise InvalidParameterError(
        f"The budget must be a PrivacyBudget, an (epsilon, delta) pair or an epsilon. Got {budget!r}."
    )


class Synthesizer(ABC):
    """Base class of every generator.

    Subclasses implement :meth:`_fit` (spend budget only through the ``PrivateData``),
    :meth:`_sample`, and :meth:`_get_state` / :meth:`_set_state` for saving.
    """

    name: ClassVar[str] = ""

    def __init__(self, *, random_state: RandomState = None) -> None:
        self.random_state = random_state

    # -- scikit-learn style parameters --------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self) -> dict[str, Any]:
        """The hyper-parameters given to ``__init__``."""
        return {k: getattr(self, k) for k in self._param_names()}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def _validate_params(self) -> None:
        """Check hyper-parameters; subclasses extend. Raises InvalidParameterError."""
        rs = self.random_state
        if not (rs is None or isinstance(rs, np.random.Generator) or (isinstance(rs, int) and not isinstance(rs, bool))):
            raise InvalidParameterError(
                f"The 'random_state' parameter of {type(self).__name__} must be None, an int or a "
                f"numpy Generator. Got {rs!r} instead."
            )

    # -- fit / sample -------------------------------------------------------------------
    def fit(self, data: PrivateData, budget: PrivacyBudget | tuple[float, float] | float) -> Self:
        """Fit on private data within ``budget``.

        Args:
            data: The private table behind its boundary (see :class:`PrivateData`).
            budget: The privacy budget of this fit.

        Returns:
            self, fitted: ``privacy_report`` tells what was spent.
        """
        self._validate_params()
        budget = as_budget(budget)
        if not isinstance(data, PrivateData):
            raise InvalidParameterError(
                f"{type(self).__name__}.fit needs a PrivateData (dpsynth.data.PrivateData(table, domain)). "
                f"Got {type(data).__name__}."
            )
        accountant = Accountant(budget, seeded=self.random_state is not None)
        noise = NoiseSource(self._noise_seed())
        bound = data.bind(accountant, noise)
        bound = bound.complete_domain(step=f"{self.name}.infer_domain")
        self._check_domain(bound)
        if bound.domain.constraints:
            accountant.notes.append(
                "public constraints, enforced when sampling (no budget): "
                + "; ".join(r.describe() for r in bound.domain.constraints)
            )
        self._fit(bound)
        self.domain_ = bound.domain
        self._warn_large_delta(accountant, budget)
        self._report = accountant.report()
        return self

    def _warn_large_delta(self, accountant: Accountant, budget: PrivacyBudget) -> None:
        """Warn when δ ≥ 1/n, judged on the model's DP estimate of n (never the true count)."""
        n_hat = self._row_estimate()
        if n_hat is not None and budget.delta >= 1.0 / max(n_hat, 1):
            msg = (
                f"delta={budget.delta:g} is not far below 1/n (n ≈ {n_hat} by the model's DP estimate): "
                "a mechanism that publishes a few rows verbatim meets such a δ. Use delta ≪ 1/n, e.g. 1e-9."
            )
            accountant.notes.append(msg)
            warnings.warn(msg, UserWarning, stacklevel=3)

    @property
    def estimated_rows(self) -> int:
        """How many rows this model releases by default: its DP estimate of the row count.

        Every generator answers it once fitted (the estimate is a noisy count charged to the
        fit's budget, or post-processing of charged measurements), so ``sample`` and the CLI
        never need the true count.

        Raises:
            NotFittedError: Before ``fit``.
            SerializationError: For a model file saved without a row estimate.
        """
        self._check_fitted()
        n_hat = self._row_estimate()
        if n_hat is None:
            raise SerializationError(
                f"This {type(self).__name__} model has no DP row estimate; pass the number of rows to sample."
            )
        return max(1, int(n_hat))

    @abstractmethod
    def _row_estimate(self) -> int | None:
        """The fitted model's DP estimate of the row count (None only for a model file that lacks one)."""

    def _noise_seed(self) -> RandomState:
        rs = self.random_state
        if rs is None:
            return None
        # Derive the noise stream from the seed, independent of the sampling stream.
        return int(make_rng(rs).integers(2**63)) if isinstance(rs, np.random.Generator) else rs

    def _check_domain(self, data: PrivateData) -> None:
        """Refuse a domain this generator cannot model, before any budget is spent on it."""
        return None

    @abstractmethod
    def _fit(self, data: PrivateData) -> None:
        """Fit on bound private data; spend only through ``data``."""

    def sample(
        self, n: int, *, random_state: RandomState = None, conditions: Mapping[str, Any] | None = None
    ) -> pd.DataFrame:
        """Draw ``n`` synthetic rows (post-processing: costs no budget).

        Args:
            n: Number of rows (> 0).
            random_state: Seed for reproducible sampling; None draws fresh entropy.
            conditions: ``{column: value | (low, high) | [values]}``: every row satisfies
                them, drawn from the model's conditional distribution (see
                :mod:`dpsynth.synth._conditions`). Conditions the model (almost) never
                meets are refused with a clear error. The domain's public constraints
                (:mod:`dpsynth.data.constraints`) always hold.

        Returns:
            A DataFrame with the domain's columns, in its order.
        """
        self._check_fitted()
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n <= 0:
            raise InvalidParameterError(f"The number of rows to sample must be an integer > 0. Got {n!r}.")
        rng = make_rng(random_state)
        if conditions or self.domain_.constraints:
            from dpsynth.synth._conditions import parse_conditions

            return self._sample_conditional(int(n), rng, parse_conditions(self.domain_, conditions))
        return self._sample(int(n), rng)

    def _sample_conditional(self, n: int, rng: np.random.Generator, conds: list[Condition]) -> pd.DataFrame:
        """Rows satisfying ``conds`` and the domain's constraints.

        By default, the ordinary sampler's rows that meet them (rejection); generators that
        can condition their model exactly override this.
        """
        from dpsynth.synth._conditions import sample_by_rejection

        return sample_by_rejection(lambda m: self._sample(m, rng), conds, n, self.domain_)

    @abstractmethod
    def _sample(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        """Draw ``n`` rows."""

    @property
    def privacy_report(self) -> PrivacyReport:
        """What the fit spent (ε at δ, ρ, μ and κ where defined, the ledger)."""
        self._check_fitted()
        return self._report

    def _repr_html_(self) -> str:
        """Rich display in Jupyter: the generator, its settings and, once fitted, its guarantee."""
        from dpsynth import _notebook as nb

        params = nb.table(["parameter", "value"], sorted(self.get_params().items()))
        if not self.is_fitted:
            return nb.card(f"{type(self).__name__} ({self.name}), not fitted", params)
        cols = ", ".join(self.domain_.names)
        return nb.card(f"{type(self).__name__} ({self.name}), fitted",
                       nb.paragraph(f"{len(self.domain_)} columns: {cols}"), params,
                       self.privacy_report._repr_html_())

    @property
    def is_fitted(self) -> bool:
        """Whether ``fit`` has completed."""
        return hasattr(self, "_report")

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet. Call fit(data, budget) first, or load a saved model."
            )

    # -- persistence --------------------------------------------------------------------
    @abstractmethod
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """JSON-able fitted state and named numeric arrays."""

    @abstractmethod
    def _set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Inverse of :meth:`_get_state`."""

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the fitted model to ``path`` atomically (a .dps zip: JSON + .npz, no pickle)."""
        self._check_fitted()
        state, arrays = self._get_state()
        params = {k: v for k, v in self.get_params().items() if k != "random_state"}
        doc = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "generator": self.name,
            "params": params,
            "domain": self.domain_.to_json(),
            "privacy_report": self._report.to_dict(),
            "state": state,
        }
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]
        path = Path(path)
        with atomic_open(path, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("model.json", json.dumps(doc, allow_nan=True))
            zf.writestr("arrays.npz", buf.getvalue())
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Synthesizer:
        """Load a model saved with :meth:`save` (on any Synthesizer class or the base).

        The registry names the class that reads the file; a generator outside the registry
        (one whose fit takes users or a federation, not PrivateData) reads its own files.
        """
        from dpsynth.synth.registry import get_class

        path = Path(path)
        try:
            with zipfile.ZipFile(path) as zf:
                doc = json.loads(zf.read("model.json"))
                with np.load(io.BytesIO(zf.read("arrays.npz")), allow_pickle=False) as npz:
                    arrays = {k: npz[k] for k in npz.files}
        except FileNotFoundError:
            raise SerializationError(f"No model file at {path}.") from None
        except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
            raise SerializationError(f"{path} is not a dpsynth model file ({exc}).") from None
        if not isinstance(doc, dict):
            raise SerializationError(f"{path} is not a dpsynth model file (model.json is not an object).")
        if doc.get("format") != FORMAT or doc.get("version") != FORMAT_VERSION:
            raise SerializationError(
                f"{path} has format {doc.get('format')!r} version {doc.get('version')!r}; this dpsynth "
                f"reads {FORMAT!r} version {FORMAT_VERSION}."
            )
        try:
            klass: type[Synthesizer] = get_class(doc["generator"])
        except InvalidParameterError:
            if cls is Synthesizer or doc["generator"] != cls.name:
                raise SerializationError(
                    f"{path} names generator {doc.get('generator')!r}, which this dpsynth does not have."
                ) from None
            klass = cls
        except (KeyError, TypeError):
            raise SerializationError(
                f"{path} names generator {doc.get('generator')!r}, which this dpsynth does not have."
            ) from None
        if cls is not Synthesizer and not issubclass(klass, cls):
            raise SerializationError(f"{path} holds a {doc['generator']!r} model, not a {cls.name!r} one.")
        params = doc.get("params")
        if not isinstance(params, dict):
            raise SerializationError(f"{path} is not a dpsynth model file (its parameters are not an object).")
        unknown = sorted(set(params) - set(klass._param_names()))
        if unknown:
            raise SerializationError(
                f"{path} has parameters {', '.join(map(repr, unknown))} that a {klass.name!r} model of this "
                "dpsynth does not take: it was written by another version, or edited."
            )
        try:
            model = klass(**params)
            model.domain_ = Domain.from_json(doc["domain"])
            model._report = PrivacyReport.from_dict(doc["privacy_report"])
            model._set_state(doc["state"], arrays)
        except DpsynthError as exc:
            raise SerializationError(f"{path} is not a readable {klass.name!r} model: {exc}") from None
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise SerializationError(
                f"{path} is not a readable {klass.name!r} model ({type(exc).__name__}: {exc})."
            ) from None
        return model
