"""Small HTML pieces for rich display in Jupyter (``_repr_html_``).

Depends on nothing but the standard library, so every layer can render itself. Every
string is escaped. The styles are inline and short: notebooks show them as they are.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

_BOX = ("border:1px solid #ccd;border-radius:6px;padding:8px 12px;margin:4px 0;"
        "font-family:system-ui,sans-serif;font-size:13px;max-width:60em")
_TABLE = "border-collapse:collapse;margin:4px 0"
_CELL = "border-bottom:1px solid #eee;padding:2px 8px;text-align:left"


def esc(value: Any) -> str:
    """HTML-escaped text of any value."""
    return html.escape(str(value))


def fmt(value: Any, digits: int = 4) -> str:
    """A number with ``digits`` significant digits; anything else as text; None as —."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """An escaped HTML table."""
    head = "".join(f"<th style='{_CELL}'>{esc(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td style='{_CELL}'>{esc(fmt(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table style='{_TABLE}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def card(title: str, *parts: str, warning: str | None = None) -> str:
    """A titled box holding already-built HTML parts (and an optional red warning line)."""
    warn = f"<p style='color:#b00;font-weight:bold'>{esc(warning)}</p>" if warning else ""
    return f"<div style='{_BOX}'><strong>{esc(title)}</strong>{warn}{''.join(parts)}</div>"


def paragraph(text: str) -> str:
    """An escaped paragraph."""
    return f"<p style='margin:4px 0'>{esc(text)}</p>"


def bullets(items: Iterable[str]) -> str:
    """An escaped bullet list (empty string when there are no items)."""
    lis = "".join(f"<li>{esc(i)}</li>" for i in items)
    return f"<ul style='margin:4px 0'>{lis}</ul>" if lis else ""
