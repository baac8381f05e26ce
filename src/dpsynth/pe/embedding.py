"""The Embedding role: the space in which private records vote for candidates.

An embedding maps synthetic samples (:meth:`Embedding.embed`) and private rows
(:meth:`Embedding.embed_frame`, called inside ``PrivateData``) into the same
``dim``-dimensional Euclidean space. It must be fixed before the fit and independent of
the private data (public statistics or a model trained on public or simulated data only).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import pandas as pd


class Embedding(ABC):
    """A public feature map shared by candidates and private rows."""

    @property
    @abstractmethod
    def dim(self) -> int:
        """The embedding dimension."""

    @abstractmethod
    def embed(self, samples: np.ndarray) -> np.ndarray:
        """(n, dim) features of synthetic samples (as the matching API produces them)."""

    @abstractmethod
    def embed_frame(self, frame: pd.DataFrame) -> np.ndarray:
        """(rows, dim) features of a block of private rows (a typed DataFrame of the domain)."""
