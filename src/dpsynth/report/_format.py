"""Numbers for people: the report's number formats."""

from __future__ import annotations

import math


def fmt(x: float | None, digits: int = 3) -> str:
    """A number for people: ``—`` for missing or non-finite, otherwise ``digits`` significant."""
    if x is None:
        return "—"
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "—"
    if not math.isfinite(v):
        return "—"
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
        return f"{v:.{max(digits - 1, 1)}e}"
    return f"{v:.{digits}g}"


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def fmt_small(x: float | None) -> str:
    """A small probability such as δ as ``10⁻⁹`` or ``2.5 × 10⁻⁶``."""
    if x is None or not math.isfinite(float(x)):
        return "—"
    v = float(x)
    if v == 0 or 1e-3 <= abs(v) < 1e5:
        return fmt(v)
    exp = math.floor(math.log10(abs(v)))
    mant = v / 10**exp
    if abs(round(mant, 2) - 10) < 1e-9:  # 9.999… rounds up to the next power
        mant, exp = 1.0, exp + 1
    power = "10" + str(exp).translate(_SUPERSCRIPT)
    return power if abs(mant - 1) < 5e-3 else f"{mant:.3g} × {power}"


def fmt3(x: float | None) -> str:
    """A metric value in [0, 1]-ish range: three decimals."""
    if x is None or not isinstance(x, int | float) or not math.isfinite(float(x)):
        return "—"
    return f"{float(x):.3f}"


SCORE_NAMES = {"roc_auc": "ROC AUC", "accuracy": "accuracy", "f1_macro": "macro F1", "r2": "R²", "rmse": "RMSE"}
MEASURE_NAMES = {"cramers_v": "Cramér's V", "pearson": "Pearson r", "correlation_ratio": "correlation ratio η"}


def score_name(key: object) -> str:
    """A utility score's name for people (``roc_auc`` → ``ROC AUC``)."""
    return SCORE_NAMES.get(str(key), str(key).replace("_", " "))


def measure_name(key: object) -> str:
    """An association measure's name for people (``cramers_v`` → ``Cramér's V``)."""
    return MEASURE_NAMES.get(str(key), str(key).replace("_", " "))
