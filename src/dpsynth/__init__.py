"""dpsynth: differentially private synthetic data, audited."""

from dpsynth.errors import (
    BudgetExceededError,
    DpsynthError,
    InvalidDataError,
    InvalidParameterError,
    MetadataError,
    NotFittedError,
)

__version__ = "0.1.0"

__all__ = [
    "BudgetExceededError",
    "DpsynthError",
    "InvalidDataError",
    "InvalidParameterError",
    "MetadataError",
    "NotFittedError",
    "__version__",
]
