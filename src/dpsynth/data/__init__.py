"""Tables, their public description, and the discretisation marginal methods measure.

* :mod:`~dpsynth.data.domain`: :class:`Column`, :class:`Domain` and the metadata format.
* :mod:`~dpsynth.data.io`: :class:`Table` over DuckDB, :func:`validate`, raw marginal counts.
* :mod:`~dpsynth.data.discretize`: :class:`Discretizer` (columns → integer codes and back).
* :mod:`~dpsynth.data.private`: ``PrivateData``, the privacy boundary.
"""

from __future__ import annotations

from typing import Any

from dpsynth.data.discretize import Discretizer
from dpsynth.data.domain import Column, Domain
from dpsynth.data.io import Table, marginal_counts, marginal_counts_many, validate, write_csv_atomic

__all__ = [
    "Column",
    "Discretizer",
    "Domain",
    "PrivateData",
    "Table",
    "marginal_counts",
    "marginal_counts_many",
    "validate",
    "write_csv_atomic",
]


def __getattr__(name: str) -> Any:
    # PrivateData pulls in the privacy and pgm layers; import it only when asked for.
    if name == "PrivateData":
        from dpsynth.data.private import PrivateData

        return PrivateData
    raise AttributeError(f"module 'dpsynth.data' has no attribute {name!r}")
