"""Where privacy noise comes from.

A :class:`NoiseSource` turns uniform random bits into the noise that mechanisms add.
In production (``random_state=None``) the bits come from the operating system's
cryptographically strong generator (``os.urandom``), so nobody can reproduce or predict
the noise. A seed is accepted for tests and reproducible research; the privacy report of
a seeded fit then says it is not for release.

Both modes run the same sampling code: only the source of uniform bits differs, so the
tests exercise exactly the production samplers.

Floating-point attacks (Mironov 2012) exploit the irregular set of doubles a textbook
Laplace/Gaussian sampler can output. The samplers here avoid that: integer-valued queries
get exact-support discrete Gaussian / discrete Laplace noise (Canonne, Kamath, Steinke
2020), and real-valued queries are snapped to a fine power-of-two lattice and get
lattice-valued discrete noise, the approach OpenDP takes.
"""

from __future__ import annotations

import math
import os

import numpy as np

from dpsynth.errors import InvalidParameterError

RandomState = int | np.random.Generator | None

_TWO_POW_53 = float(2**53)
#: Bits of a discrete-Gaussian candidate's word (besides its 53-bit uniform and its sign bit)
#: that start its acceptance uniform.
_ACCEPT_BITS = 10


def make_rng(random_state: RandomState) -> np.random.Generator:
    """Return a numpy Generator for post-processing randomness (not privacy noise).

    Args:
        random_state: ``None`` (fresh OS entropy), an int seed, or a Generator (used as is).

    Returns:
        A numpy Generator.
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None:
        return np.random.default_rng(int.from_bytes(os.urandom(32), "little"))
    if isinstance(random_state, bool) or not isinstance(random_state, int | np.integer):
        raise InvalidParameterError(
            "The 'random_state' parameter must be None, an int or a numpy Generator. "
            f"Got {random_state!r} instead."
        )
    return np.random.default_rng(int(random_state))


class NoiseSource:
    """Uniform bits and the noise distributions built from them.

    Args:
        random_state: ``None`` for cryptographically strong noise (the default, and the only
            mode whose output may be released); an int or a numpy Generator for seeded,
            reproducible noise (tests and research only).
    """

    def __init__(self, random_state: RandomState = None) -> None:
        self.secure = random_state is None
        self._rng = None if self.secure else make_rng(random_state)

    def __repr__(self) -> str:
        return f"NoiseSource(secure={self.secure})"

    # -- uniform bits ------------------------------------------------------------------
    def uniform(self, size: int | tuple[int, ...]) -> np.ndarray:
        """Uniform doubles in the open interval (0, 1), 53 random bits each."""
        return _unit(self._words(int(np.prod(size)))).reshape(size)

    def _words(self, n: int) -> np.ndarray:
        """``n`` uniform 64-bit words: ``os.urandom`` when secure, else the seeded generator."""
        if self._rng is None:
            return np.frombuffer(os.urandom(8 * n), dtype=np.uint64)
        return self._rng.integers(0, 2**64, size=n, dtype=np.uint64, endpoint=False)

    # -- integer-valued noise ----------------------------------------------------------
    def discrete_laplace(self, scale: float, size: int | tuple[int, ...]) -> np.ndarray:
        """Discrete Laplace noise: P(x) proportional to exp(-|x| / scale) on the integers."""
        _check_scale(scale, "scale")
        # Difference of two geometric variables; P(G >= k) = exp(-k/scale).
        g1 = np.floor(-scale * np.log(self.uniform(size)))
        g2 = np.floor(-scale * np.log(self.uniform(size)))
        return (g1 - g2).astype(np.int64)

    def discrete_gaussian(self, sigma: float, size: int | tuple[int, ...]) -> np.ndarray:
        """Discrete Gaussian noise: P(x) proportional to exp(-x² / (2 sigma²)) on the integers.

        Rejection sampling from a discrete Laplace proposal of scale t = ⌊sigma⌋ + 1
        (Canonne, Kamath, Steinke 2020, Algorithm 3), vectorised: draw a batch, keep the
        accepted, redraw the rest. A candidate costs one 64-bit word, rarely two: its top 53
        bits are the uniform of a geometric magnitude (P(|y| ≥ k) = exp(-k/t)), bit 0 its
        sign (−0 is rejected so that 0 is not counted twice, CKS 2020, Algorithm 2), and
        bits 1–10 the first 10 bits of the acceptance uniform U: U < p is decided by them
        unless p falls inside their cell of width 2⁻¹⁰, and only then (about one candidate
        in a thousand) are the remaining bits of U drawn as a fresh 53-bit uniform.
        """
        _check_scale(sigma, "sigma")
        n = int(np.prod(size))
        out = np.empty(n, dtype=np.int64)
        t = math.floor(sigma) + 1.0
        centre = sigma**2 / t
        two_var = 2.0 * sigma**2
        cells = float(2**_ACCEPT_BITS)
        # Expected share of candidates kept (about 0.76 for large sigma, less for small); a
        # round draws enough for all that are missing, with a little to spare.
        rate = 0.7 if sigma >= 2.5 else 0.25
        filled = 0
        while filled < n:
            need = n - filled
            batch = int(need / rate * 1.02) + 64
            words = self._words(batch)
            negative = (words & np.uint64(1)).astype(bool)
            cell = ((words >> np.uint64(1)) & np.uint64(2**_ACCEPT_BITS - 1)).astype(np.float64)
            g = np.floor(np.log(_unit(words)) * -t)  # geometric, exact integers in float64
            # Accept |y| = g with probability p = exp(-(g - sigma²/t)² / (2 sigma²)), in units of cells.
            p = g - centre
            np.square(p, out=p)
            p /= -two_var
            np.exp(p, out=p)
            p *= cells
            keep = cell + 1.0 <= p
            unsure = np.flatnonzero((cell < p) & ~keep)
            if unsure.size:
                # p lies in [cell, cell + 1): p − cell is exact (Sterbenz), compared with the rest of U.
                keep[unsure] = _unit(self._words(unsure.size)) < p[unsure] - cell[unsure]
            keep &= ~(negative & (g == 0.0))
            idx = np.flatnonzero(keep)[:need]
            vals = g[idx]
            np.negative(vals, out=vals, where=negative[idx])
            out[filled : filled + idx.size] = vals
            filled += idx.size
            rate = max(0.05, min(1.0, np.count_nonzero(keep) / batch))
        return out.reshape(size)

    # -- real-valued noise on a lattice ------------------------------------------------
    @staticmethod
    def lattice_granularity(scale: float) -> float:
        """The power-of-two lattice step used for real-valued noise of this scale (~scale/2^20)."""
        return 2.0 ** (math.floor(math.log2(scale)) - 20)

    def gaussian(self, sigma: float, size: int | tuple[int, ...]) -> np.ndarray:
        """Gaussian noise of standard deviation ``sigma`` on the lattice of :meth:`lattice_granularity`."""
        _check_scale(sigma, "sigma")
        gamma = self.lattice_granularity(sigma)
        return self.discrete_gaussian(sigma / gamma, size).astype(np.float64) * gamma

    def laplace(self, scale: float, size: int | tuple[int, ...]) -> np.ndarray:
        """Laplace noise of scale ``scale`` on the lattice of :meth:`lattice_granularity`."""
        _check_scale(scale, "scale")
        gamma = self.lattice_granularity(scale)
        return self.discrete_laplace(scale / gamma, size).astype(np.float64) * gamma

    def gumbel(self, size: int | tuple[int, ...]) -> np.ndarray:
        """Standard Gumbel noise (for report-noisy-max, i.e. the exponential mechanism)."""
        return -np.log(-np.log(self.uniform(size)))


def _unit(words: np.ndarray) -> np.ndarray:
    """Doubles in the open interval (0, 1) from the top 53 bits of each word (the low 11 are unused)."""
    # (k + 0.5) / 2^53 lies strictly inside (0, 1), so logs of it are finite.
    u = (words >> np.uint64(11)).astype(np.float64)
    u += 0.5
    u /= _TWO_POW_53
    return u


def _check_scale(value: float, name: str) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise InvalidParameterError(
            f"The noise {name!r} must be a finite number > 0. Got {value!r}."
        )
