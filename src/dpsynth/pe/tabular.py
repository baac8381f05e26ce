"""Private Evolution for tables: random API, cell mutation and crossover, mixed embedding.

After Tab-PE (2026): a random API over the public schema, variations that mutate cells and
cross over, and an embedding of mixed columns. Samples are integer code matrices (stored as floats), one column per domain column, in the
codes of :class:`~dpsynth.data.discretize.Discretizer`: a categorical column holds its
category's index, a numeric column its bin (uniform bins over the public bounds, explicit
edges, or DP-quantile edges charged during domain inference), and a nullable column has
one more code for "missing". Working on bins matters for skewed columns with atoms
(capital-gain = 0 on Adult): a perturbation of a raw value never lands exactly on an atom,
a perturbation of its bin does. Decoding draws a value uniformly within the bin, as the
marginal generators do. Everything here reads only the public
:class:`~dpsynth.data.domain.Domain`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from dpsynth.data.discretize import Discretizer
from dpsynth.data.domain import Domain
from dpsynth.errors import InvalidDataError, InvalidParameterError, check_positive
from dpsynth.pe.api import API, check_degree
from dpsynth.pe.embedding import Embedding


def _check_domain(domain: object) -> Domain:
    if not isinstance(domain, Domain):
        raise InvalidParameterError(
            f"Tabular Private Evolution needs the public schema as a Domain. Got {type(domain).__name__}."
        )
    todo = [c.name for c in domain if c.needs_inference]
    if todo:
        raise InvalidDataError(
            [f"column {n!r} has no public {'bounds' if domain[n].is_numeric else 'categories'}" for n in todo],
            hint="The random API draws uniformly over the public schema: declare the categories and bounds in "
            "the metadata, or complete the domain with DP first (PrivateData.complete_domain).",
        )
    if len(domain) == 0:
        raise InvalidDataError("the domain has no columns", hint="Declare at least one column in the metadata.")
    return domain


class TableCodec:
    """Typed DataFrame ⇄ PE sample (code) matrix, from the public domain only.

    Attributes:
        sizes: Number of codes of each column (including the missing code).
        present: Number of codes of present (non-missing) values of each column.
    """

    def __init__(self, domain: Domain) -> None:
        self.domain = _check_domain(domain)
        self.discretizer = Discretizer(self.domain)
        self.sizes = np.array([self.discretizer.sizes[n] for n in self.domain.names], dtype=np.int64)
        self.present = self.sizes - np.array([int(c.nullable) for c in self.domain], dtype=np.int64)

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """The code matrix of a frame with the domain's columns (invalid values → −1)."""
        return self.discretizer.encode_frame(frame, on_invalid="mark").astype(np.float64)

    def decode(self, samples: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
        """Typed values of a code matrix (numeric values drawn uniformly within their bin)."""
        codes = np.clip(np.rint(np.asarray(samples, dtype=np.float64)), 0, self.sizes - 1).astype(np.int64)
        return self.discretizer.decode(codes, rng)


class TabularAPI(API):
    """Random API uniform over the public domain; variation by crossover and cell mutation.

    Args:
        domain: The public, complete domain.
        missing_rate: Probability that the random API (and a mutation) makes a nullable
            numeric cell missing; for a nullable categorical column, missing is one more
            category drawn uniformly.
        crossover: Probability that a cell of a varied sample is first copied from another
            sample of the same batch (uniform crossover). The batch is what the population
            selected in proportion to the DP votes, so this spreads well-voted cell values
            (post-processing; it reads no private data).
    """

    def __init__(self, domain: Domain, *, missing_rate: float = 0.1, crossover: float = 0.0) -> None:
        self.codec = TableCodec(domain)
        self.domain = self.codec.domain
        if not (isinstance(missing_rate, int | float) and 0.0 <= missing_rate < 1.0):
            raise InvalidParameterError(f"missing_rate must be in [0, 1). Got {missing_rate!r}.")
        if not (isinstance(crossover, int | float) and 0.0 <= crossover <= 1.0):
            raise InvalidParameterError(f"crossover must be in [0, 1]. Got {crossover!r}.")
        self.missing_rate = float(missing_rate)
        self.crossover = float(crossover)

    def _uniform(self, j: int, n: int, rng: np.random.Generator) -> np.ndarray:
        col = self.domain.columns[j]
        if not col.is_numeric:
            # Categorical: uniform over every code (missing is one more category).
            return rng.integers(0, self.codec.sizes[j], size=n).astype(np.float64)
        v = rng.integers(0, self.codec.present[j], size=n).astype(np.float64)
        if col.nullable:
            v[rng.random(n) < self.missing_rate] = self.codec.present[j]
        return v

    def random_api(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` rows drawn independently and uniformly over each column's public codes."""
        if n == 0:
            return np.zeros((0, len(self.domain)))
        return np.column_stack([self._uniform(j, n, rng) for j in range(len(self.domain))])

    def variation_api(self, samples: np.ndarray, degree: float, rng: np.random.Generator) -> np.ndarray:
        """Cross over, then mutate each cell with probability ``degree`` (at least one per row).

        A mutated categorical cell is redrawn uniformly; a mutated numeric cell moves by a
        uniform step of up to ±degree × (number of bins), reflected into the bins (a
        nullable one turns missing, or back, at ``missing_rate``).
        """
        degree = check_degree(degree)
        x = np.array(samples, dtype=np.float64, copy=True)
        if x.ndim != 2 or x.shape[1] != len(self.domain):
            raise InvalidParameterError(f"Tabular samples must be an (n, {len(self.domain)}) matrix. Got {x.shape}.")
        n, d = x.shape
        if n == 0:
            return x
        if self.crossover > 0:
            donors = rng.integers(0, n, size=(n, d))
            take = rng.random((n, d)) < self.crossover
            x = np.where(take, x[donors, np.arange(d)[None, :]], x)
        mask = rng.random((n, d)) < degree
        mask[np.arange(n), rng.integers(0, d, size=n)] = True
        for j, col in enumerate(self.domain):
            rows = np.flatnonzero(mask[:, j])
            if rows.size == 0:
                continue
            if not col.is_numeric:
                x[rows, j] = self._uniform(j, rows.size, rng)
                continue
            k = int(self.codec.present[j])
            v = x[rows, j]
            missing = v >= k
            v = np.where(missing, rng.integers(0, k, size=rows.size), v)
            step = max(1, math.ceil(degree * k))
            v = v + rng.integers(-step, step + 1, size=rows.size)
            v = np.where(v < 0, -v, v)  # reflect into [0, k − 1]
            v = np.where(v > k - 1, 2 * (k - 1) - v, v)
            v = np.clip(v, 0, k - 1)
            if col.nullable:
                v[rng.random(rows.size) < self.missing_rate] = k
            x[rows, j] = v
        return x


class TabularEmbedding(Embedding):
    """Min-max scaled numerics (on their bins) and scaled one-hot categories.

    A numeric column with k bins maps to bin / (k − 1) ∈ [0, 1], plus a missing indicator
    when nullable; a categorical column maps to a one-hot vector over its codes times
    ``categorical_scale`` (the default 1/√2 puts two different categories at distance 1,
    as far apart as the two ends of a numeric range).

    With ``numeric_onehot > 0`` a numeric column also gets a one-hot vector of its bin times
    ``numeric_onehot``. Min-max alone makes a near-miss on a numeric column much cheaper than
    any categorical mismatch, so nearest-neighbour votes barely look at numerics (and the
    population drifts to central values); the one-hot part puts an exact bin (an atom such as
    capital-gain = 0) on the same footing as an exact category.

    Args:
        domain: The public, complete domain.
        categorical_scale: Weight of categorical columns relative to numeric ones.
        numeric_onehot: Weight of the one-hot bin vector of numeric columns (0: min-max only).
    """

    def __init__(
        self, domain: Domain, *, categorical_scale: float = 1 / math.sqrt(2), numeric_onehot: float = 0.0
    ) -> None:
        self.codec = TableCodec(domain)
        self.domain = self.codec.domain
        self.categorical_scale = check_positive(categorical_scale, "categorical_scale", "TabularEmbedding")
        self.numeric_onehot = check_positive(numeric_onehot, "numeric_onehot", "TabularEmbedding", allow_zero=True)
        extra = self.numeric_onehot > 0
        self._widths = [
            (1 + int(c.nullable) + (int(s) if extra else 0)) if c.is_numeric else int(s)
            for c, s in zip(self.domain, self.codec.sizes, strict=True)
        ]

    @property
    def dim(self) -> int:  # noqa: D102
        return int(sum(self._widths))

    def embed(self, samples: np.ndarray) -> np.ndarray:  # noqa: D102
        x = np.asarray(samples, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.domain):
            raise InvalidParameterError(
                f"Tabular samples must be an (n, {len(self.domain)}) matrix. Got shape {x.shape}."
            )
        out = np.zeros((x.shape[0], self.dim))
        pos = 0
        for j, (col, width) in enumerate(zip(self.domain, self._widths, strict=True)):
            codes = np.rint(x[:, j]).astype(np.int64)
            if col.is_numeric:
                k = int(self.codec.present[j])
                miss = codes >= k
                scaled = np.clip(codes, 0, k - 1) / (k - 1) if k > 1 else np.zeros(codes.size)
                out[:, pos] = np.where(miss, 0.0, scaled)
                if col.nullable:
                    out[:, pos + 1] = miss
                if self.numeric_onehot > 0:
                    start = pos + 1 + int(col.nullable)
                    ok = (codes >= 0) & (codes < self.codec.sizes[j])
                    out[np.flatnonzero(ok), start + codes[ok]] = self.numeric_onehot
            else:
                ok = (codes >= 0) & (codes < width)
                out[np.flatnonzero(ok), pos + codes[ok]] = self.categorical_scale
            pos += width
        return out

    def embed_frame(self, frame: pd.DataFrame) -> np.ndarray:  # noqa: D102
        return self.embed(self.codec.encode(frame))
