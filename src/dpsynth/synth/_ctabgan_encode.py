"""CTAB-GAN+'s mixed-type row encoding, built from public metadata and DP statistics only.

CTAB-GAN+ (Zhao, Kunar, Birke, Van der Scheer, Chen 2023, Sec. 3.2) encodes every row as
a vector the generator can emit:

* categorical columns: one-hot (Gumbel-softmax at the generator's output);
* continuous columns: *mode-specific normalisation* — a one-hot of the mode the value
  belongs to, and a scalar α ∈ [−1, 1] giving the value's position within that mode. The
  original finds modes with a variational Gaussian mixture fitted to the raw private column;
* *mixed* columns (a continuous column with special values, e.g. capital-gain = 0) get
  one extra mode per special value, whose α is unused;
* the *general transform* (CTAB-GAN+, Sec. 3.2, "general transform") for long-tailed
  columns: one mode spanning the public range, α = the min–max scaled value.

What differs here, and why. Fitting a Gaussian mixture to the private column reads it
without noise (the published DP variant does this). dpsynth builds the modes from the
column's DP bin edges (DP quantiles, :mod:`dpsynth.data.infer`, charged when the domain
is completed) and a noisy one-way histogram over those bins (charged by the fit):

* a bin that holds a single whole number (the DP quantile search keeps heavy atoms such
  as capital-gain = 0 as their own bin) becomes a *special value* mode, as in CTAB-GAN+'s
  mixed columns; a missing value becomes one more special mode;
* the other bins are merged, left to right, into at most ``max_modes`` intervals of about
  equal noisy mass; each interval [a, b] is one mode with α = 2(x − a)/(b − a) − 1, a
  uniform-kernel analogue of the Gaussian mode's (x − μ)/4σ.

Everything here is computed from the :class:`~dpsynth.data.domain.Domain` and the noisy
counts, so it is post-processing; :meth:`RowEncoder.encode` is a public, row-wise map
(one row changes one encoded row), as DP-SGD requires.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dpsynth.data.discretize import Discretizer
from dpsynth.data.domain import Domain

#: Kinds of output span: "tanh" (one scalar) or "softmax" (a one-hot group).
SpanKind = str


@dataclass(frozen=True)
class Span:
    """A contiguous block of the encoded row and how the generator emits it."""

    kind: SpanKind
    start: int
    size: int

    @property
    def stop(self) -> int:
        """One past the last index."""
        return self.start + self.size


@dataclass(frozen=True)
class ColumnCode:
    """The encoding of one column.

    Attributes:
        name: Column name.
        kind: ``"categorical"`` (one-hot of the discretizer's codes, missing last) or
            ``"continuous"`` (α then one-hot of modes).
        size: Number of codes (categorical) or modes (continuous).
        lows: Continuous: each mode's left end (the atom value for special modes).
        highs: Continuous: each mode's right end (equal to ``lows`` for special modes).
        special: Continuous: whether each mode is a special value (no α).
        missing: Continuous: index of the missing mode, or −1.
        bin_mode: Continuous: the mode of each discretizer bin (missing code excluded).
    """

    name: str
    kind: str
    size: int
    lows: tuple[float, ...] = ()
    highs: tuple[float, ...] = ()
    special: tuple[bool, ...] = ()
    missing: int = -1
    bin_mode: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "name": self.name, "kind": self.kind, "size": self.size, "lows": list(self.lows),
            "highs": list(self.highs), "special": list(self.special), "missing": self.missing,
            "bin_mode": list(self.bin_mode),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ColumnCode:
        """Inverse of :meth:`to_dict`."""
        return cls(
            name=str(d["name"]), kind=str(d["kind"]), size=int(d["size"]),
            lows=tuple(float(x) for x in d["lows"]), highs=tuple(float(x) for x in d["highs"]),
            special=tuple(bool(x) for x in d["special"]), missing=int(d["missing"]),
            bin_mode=tuple(int(x) for x in d["bin_mode"]),
        )


def _integer_range(edges: np.ndarray, k: int, lower: float, upper: float) -> tuple[int, int]:
    """Whole numbers held by bin k of an integer column (bins are [e_k, e_k+1), the last closed)."""
    lo = math.ceil(max(edges[k], lower))
    hi = math.floor(min(edges[k + 1], upper)) if k == len(edges) - 2 else math.ceil(edges[k + 1]) - 1
    hi = min(hi, math.floor(upper))
    return lo, hi


def column_code(
    domain: Domain,
    disc: Discretizer,
    name: str,
    noisy_counts: np.ndarray,
    *,
    max_modes: int,
    general: bool,
) -> ColumnCode:
    """Build one column's encoding from its public description and noisy bin counts.

    Args:
        domain: The complete domain.
        disc: Its discretizer (codes of the measured marginals).
        name: The column.
        noisy_counts: The column's noisy one-way marginal over the discretizer's codes.
        max_modes: Most interval modes of a continuous column.
        general: Use CTAB-GAN+'s general transform (one interval over the public range).
    """
    col = domain[name]
    size = disc.sizes[name]
    if not col.is_numeric:
        return ColumnCode(name=name, kind="categorical", size=size)
    edges = disc.bin_edges(name)
    assert edges is not None and col.lower is not None and col.upper is not None
    lower, upper = float(col.lower), float(col.upper)
    n_bins = len(edges) - 1
    mass = np.clip(np.asarray(noisy_counts, dtype=np.float64)[:n_bins], 0.0, None)
    lows: list[float] = []
    highs: list[float] = []
    special: list[bool] = []
    bin_mode = np.zeros(n_bins, dtype=np.int64)
    if general:
        lows, highs, special = [lower], [upper], [False]
    else:
        atoms: dict[int, float] = {}
        if col.integer:
            for k in range(n_bins):
                lo, hi = _integer_range(edges, k, lower, upper)
                if lo == hi:
                    atoms[k] = float(lo)
        target = max(mass[[k for k in range(n_bins) if k not in atoms]].sum(), 1e-12) / max_modes
        acc = 0.0
        open_mode = False
        for k in range(n_bins):
            if k in atoms:
                lows.append(atoms[k])
                highs.append(atoms[k])
                special.append(True)
                bin_mode[k] = len(lows) - 1
                open_mode = False
                continue
            a, b = max(float(edges[k]), lower), min(float(edges[k + 1]), upper)
            if open_mode and acc < target:
                highs[-1] = b
            else:
                lows.append(a)
                highs.append(b)
                special.append(False)
                open_mode, acc = True, 0.0
            acc += mass[k]
            bin_mode[k] = len(lows) - 1
    missing = -1
    if col.nullable:
        lows.append(0.0)
        highs.append(0.0)
        special.append(True)
        missing = len(lows) - 1
    return ColumnCode(
        name=name, kind="continuous", size=len(lows), lows=tuple(lows), highs=tuple(highs),
        special=tuple(special), missing=missing, bin_mode=tuple(int(m) for m in bin_mode),
    )


class RowEncoder:
    """Encodes rows for the GAN and decodes its output (public: built from the Domain and DP counts).

    Args:
        domain: The complete domain.
        codes: One :class:`ColumnCode` per column, in domain order.
    """

    def __init__(self, domain: Domain, codes: Sequence[ColumnCode]) -> None:
        self.domain = domain
        self.codes = list(codes)
        self.spans: list[list[Span]] = []
        pos = 0
        for c in self.codes:
            if c.kind == "categorical":
                self.spans.append([Span("softmax", pos, c.size)])
                pos += c.size
            else:
                self.spans.append([Span("tanh", pos, 1), Span("softmax", pos + 1, c.size)])
                pos += 1 + c.size
        self.width = pos
        #: Columns the conditional vector covers (CTGAN/CTAB-GAN: the discrete ones).
        self.cond_columns = [j for j, c in enumerate(self.codes) if c.kind == "categorical" and c.size > 1]
        self.cond_offsets: list[int] = []
        off = 0
        for j in self.cond_columns:
            self.cond_offsets.append(off)
            off += self.codes[j].size
        self.cond_width = off

    # -- encoding ---------------------------------------------------------------------------
    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """The (n, width) float32 encoding of a typed frame with the domain's columns.

        Public and row-wise: each output row depends on its input row only.
        """
        from dpsynth.data._parse import numbers

        disc = Discretizer(self.domain)
        codes = disc.encode_frame(frame, on_invalid="raise")
        out = np.zeros((len(frame), self.width), dtype=np.float32)
        rows = np.arange(len(frame))
        for j, (c, spans) in enumerate(zip(self.codes, self.spans, strict=True)):
            col_codes = codes[:, j]
            if c.kind == "categorical":
                out[rows, spans[0].start + col_codes] = 1.0
                continue
            miss_code = disc.missing_code(c.name)
            present = col_codes != miss_code if miss_code is not None else np.ones(len(frame), dtype=bool)
            modes = np.full(len(frame), c.missing, dtype=np.int64)
            bin_mode = np.asarray(c.bin_mode, dtype=np.int64)
            modes[present] = bin_mode[col_codes[present]]
            x = numbers(self.domain[c.name], frame[c.name].reset_index(drop=True))
            lows = np.asarray(c.lows)
            highs = np.asarray(c.highs)
            a, b = lows[modes], highs[modes]
            width = np.where(b > a, b - a, 1.0)
            alpha = np.where(b > a, 2.0 * (np.nan_to_num(x) - a) / width - 1.0, 0.0)
            alpha[~present] = 0.0
            out[:, spans[0].start] = np.clip(alpha, -1.0, 1.0)
            out[rows, spans[1].start + modes] = 1.0
        return out

    def category_codes(self, encoded: np.ndarray, j: int) -> np.ndarray:
        """Argmax codes of column j's one-hot (or mode) span."""
        span = self.spans[j][-1]
        return np.asarray(encoded[:, span.start:span.stop].argmax(axis=1), dtype=np.int64)

    # -- decoding (post-processing) ---------------------------------------------------------
    def decode(self, encoded: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
        """Values for generator output (α already in [−1, 1], one-hots as scores).

        Categorical codes are decoded by the domain's discretizer; continuous values are
        placed by their mode and α, kept inside the mode and the public bounds, and rounded
        for integer columns. Reads no data.
        """
        disc = Discretizer(self.domain)
        n = encoded.shape[0]
        cat_codes = np.zeros((n, len(self.codes)), dtype=np.int64)
        for j, c in enumerate(self.codes):
            if c.kind == "categorical":
                cat_codes[:, j] = self.category_codes(encoded, j)
        frame = disc.decode(cat_codes, rng)
        for j, c in enumerate(self.codes):
            if c.kind != "continuous":
                continue
            col = self.domain[c.name]
            modes = self.category_codes(encoded, j)
            alpha = np.clip(encoded[:, self.spans[j][0].start].astype(np.float64), -1.0, 1.0)
            lows, highs = np.asarray(c.lows)[modes], np.asarray(c.highs)[modes]
            x = lows + (alpha + 1.0) / 2.0 * (highs - lows)
            assert col.lower is not None and col.upper is not None
            x = np.clip(x, col.lower, col.upper)
            if col.integer:
                lo_i = np.ceil(np.maximum(lows, col.lower))
                hi_i = np.floor(np.minimum(highs, col.upper))
                x = np.where(hi_i >= lo_i, np.clip(np.floor(x + 0.5), lo_i, hi_i), np.floor(x + 0.5))
                x = np.clip(x, math.ceil(col.lower), math.floor(col.upper))
            missing = modes == c.missing
            if col.kind == "datetime":
                micros = np.where(missing, 0, np.round(x * 1e6)).astype(np.int64)
                s = pd.Series(micros.astype("datetime64[us]"))
                s[missing] = pd.NaT
                frame[c.name] = s
            elif col.integer:
                frame[c.name] = pd.Series(pd.arrays.IntegerArray(np.where(missing, 0, x).astype(np.int64), missing))
            else:
                frame[c.name] = pd.Series(np.where(missing, np.nan, x), dtype=np.float64)
        return frame

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (the domain is saved separately)."""
        return {"codes": [c.to_dict() for c in self.codes]}

    @classmethod
    def from_dict(cls, domain: Domain, d: Mapping[str, Any]) -> RowEncoder:
        """Inverse of :meth:`to_dict`."""
        return cls(domain, [ColumnCode.from_dict(x) for x in d["codes"]])
