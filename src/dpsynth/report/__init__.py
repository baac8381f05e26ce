"""dpsynth.report: one self-contained HTML page about a release.

:func:`build_report` returns the page as a string; :func:`write_report` writes it
atomically. The page has the privacy guarantee (ε at δ, ρ, μ and κ where defined, the
f-DP trade-off curve against random guessing, the ledger by step, notes, and a NOT FOR
RELEASE banner for seeded fits), then the evaluation (fidelity, utility, discriminability,
distance to closest record) and a slot for the privacy audit.

The page needs no network: CSS is inline and figures are inline SVG drawn with matplotlib's
Agg backend. Every string from the data or the ledger is HTML-escaped. The evaluation
sections read raw real rows and are not part of the DP release; the page says so.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from dpsynth.data.domain import Domain
from dpsynth.errors import InvalidParameterError
from dpsynth.evaluate import Result
from dpsynth.privacy import PrivacyReport
from dpsynth.report._evaluate import evaluate_with_progress
from dpsynth.report._html import audit_data_mismatch, audit_mismatches

__all__ = ["audit_data_mismatch", "audit_mismatches", "build_report", "evaluate_with_progress", "show", "write_report"]


def build_report(
    *,
    privacy: PrivacyReport,
    results: Mapping[str, Result] | None = None,
    real: pd.DataFrame | None = None,
    synthetic: pd.DataFrame | None = None,
    domain: Domain | None = None,
    title: str = "Synthetic data release report",
    subtitle: str | None = None,
    real_label: str | None = None,
    audit: Any = None,
    generated_at: str | None = None,
    audit_mismatches: Sequence[str] = (),
) -> str:
    """Render the report as one self-contained HTML page.

    Args:
        privacy: The fit's privacy report (``model.privacy_report``).
        results: Evaluation results (:func:`dpsynth.evaluate.evaluate_all`); None: no
            evaluation sections beyond "not evaluated".
        real: Real rows, for the per-column charts (with ``synthetic`` and ``domain``).
        synthetic: Synthetic rows, for the per-column charts.
        domain: The public domain (column types, categories, bounds).
        title: The page title.
        subtitle: A line under the title (e.g. generator and data set).
        real_label: What the real table is, in words (default: from the results' split).
        audit: The privacy audit's result (an object with ``to_dict()`` and optionally
            ``summary()``, or a mapping); None renders the slot as "not run".
        generated_at: Time stamp shown on the page (default: now, UTC).
        audit_mismatches: Where the audit's settings differ from the released model's
            (:func:`audit_mismatches`); each is shown as a warning over the audit.

    Returns:
        The HTML text.

    Raises:
        InvalidParameterError: ``privacy`` is not a PrivacyReport, or ``results`` is not a mapping.
    """
    from dpsynth.report._html import build_page

    if not isinstance(privacy, PrivacyReport):
        raise InvalidParameterError(
            f"build_report needs privacy=<a PrivacyReport> (model.privacy_report). Got {type(privacy).__name__}."
        )
    if results is not None and not isinstance(results, Mapping):
        raise InvalidParameterError(
            f"build_report needs results as a mapping name → Result (evaluate_all's output). "
            f"Got {type(results).__name__}."
        )
    return build_page(privacy=privacy, results=results, real=real, synthetic=synthetic, domain=domain,
                      title=title, subtitle=subtitle, real_label=real_label, audit=audit,
                      generated_at=generated_at, audit_mismatches_=list(audit_mismatches))


def write_report(path: str | os.PathLike[str], **kwargs: Any) -> Path:
    """Build the report (keyword arguments of :func:`build_report`) and write it atomically.

    The page is written to a temporary file in the same folder and renamed, so a reader
    never sees half a page and a failure leaves no file behind.

    Returns:
        The path written.
    """
    from dpsynth._files import atomic_open

    text = build_report(**kwargs)
    with atomic_open(path, "w") as fh:
        fh.write(text)
    return Path(path)


class InlineReport:
    """The full report page, displayed inline in Jupyter (in an isolated frame).

    ``html`` is the page itself (what :func:`build_report` returns).
    """

    def __init__(self, page: str, height: int = 900) -> None:
        self.html = page
        self.height = height

    def _repr_html_(self) -> str:
        import html as _html

        return (f"<iframe srcdoc=\"{_html.escape(self.html, quote=True)}\" "
                f"style=\"width:100%;height:{int(self.height)}px;border:1px solid #ccd\"></iframe>")


def show(*, height: int = 900, **kwargs: Any) -> InlineReport:
    """The report shown inline in a notebook: ``dpsynth.report.show(privacy=..., results=...)``.

    Takes :func:`build_report`'s arguments; the page is isolated in a frame, so its styles
    do not leak into the notebook.
    """
    return InlineReport(build_report(**kwargs), height=height)
