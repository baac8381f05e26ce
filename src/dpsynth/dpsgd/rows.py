"""Encoded private rows: the opaque object DP-SGD trains on.

Made only by :meth:`dpsynth.data.private.PrivateData.encoded_rows`. It holds the private
rows as a numeric matrix and releases nothing by itself: the only consumers are
:meth:`EncodedRows.noisy_count` (a charged Gaussian count) and
:class:`dpsynth.dpsgd.PrivateTrainer`, which charges the fit's accountant for the whole
run before its first step. It deliberately has no ``len``, no indexing and no repr of
its contents.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dpsynth.errors import InvalidDataError
from dpsynth.privacy import Accountant, GaussianMechanism, NoiseSource


class EncodedRows:
    """Private rows, encoded by a public function, waiting behind the privacy boundary.

    Args:
        values: The (n, d) float matrix of encoded rows (private).
        accountant: The fit's accountant.
        noise: The fit's noise source.
    """

    def __init__(self, values: np.ndarray, accountant: Accountant, noise: NoiseSource) -> None:
        values = np.asarray(values, dtype=np.float32)
        if values.ndim != 2:
            raise InvalidDataError(f"encoded rows must form a 2-d matrix; the encoder gave shape {values.shape}.")
        if not np.all(np.isfinite(values)):
            raise InvalidDataError(
                "the encoder produced NaN or infinite values",
                hint="Encode missing values explicitly (e.g. an indicator column) and clip numbers to public bounds.",
            )
        self._values = values
        self.accountant = accountant
        self.noise = noise

    @property
    def width(self) -> int:
        """Number of encoded features per row (public: fixed by the encoder)."""
        return int(self._values.shape[1])

    def noisy_count(self, *, sigma: float, step: str) -> float:
        """The number of rows plus discrete Gaussian noise of standard deviation ``sigma``.

        Privacy:
            Add/remove one row changes the count by 1: L2 sensitivity 1. Charges one
            discrete-Gaussian release at ``sigma`` (ρ = 1/(2σ²)) before counting.

        Returns:
            The noisy count (may be below 1 for tiny tables; callers clamp it).
        """
        mech = GaussianMechanism(sigma=sigma, sensitivity=1.0, integer=True)
        self.accountant.charge(mech, step=step, description="number of rows")
        return float(mech.release(np.array([float(self._values.shape[0])]), self.noise)[0])

    def map(self, fn: Callable[[np.ndarray], np.ndarray], *, chunk: int = 8192) -> EncodedRows:
        """The rows passed through ``fn`` (e.g. a DP-trained encoder), still behind the boundary.

        Privacy:
            Releases nothing and charges nothing. ``fn`` must be fixed before it sees the rows
            (public, or trained with DP) and row-wise, so each person still owns exactly one
            row and add/remove-one-row neighbours stay neighbours; it is applied in chunks of
            ``chunk`` rows, never to the table as a whole.
        """
        parts = [np.asarray(fn(self._values[i : i + chunk])) for i in range(0, self._values.shape[0], chunk)]
        out = np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)
        if out.ndim != 2 or out.shape[0] != self._values.shape[0]:
            raise InvalidDataError("a row-wise map must return one output row per input row.")
        return EncodedRows(out, self.accountant, self.noise)

    def __repr__(self) -> str:
        # Never show data or its size.
        return f"EncodedRows({self.width} features)"
