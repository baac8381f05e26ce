"""Progress reporting for long loops, off by default in the library and on in the CLI.

Generators call :func:`track`; it shows a rich progress bar only inside
:func:`enable_progress`. Progress carries counts of rounds and budget fractions, never
statistics of the data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

_progress: ContextVar[Progress | None] = ContextVar("dpsynth_progress", default=None)


@contextmanager
def enable_progress(console: Console | None = None) -> Iterator[None]:
    """Show progress bars for everything run inside this block."""
    prog = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console or Console(stderr=True),
        transient=False,
    )
    token = _progress.set(prog)
    try:
        with prog:
            yield
    finally:
        _progress.reset(token)


@contextmanager
def track(description: str, total: float) -> Iterator[Callable[[float], None]]:
    """Yield ``update(completed)``; a bar is shown only when progress is enabled."""
    prog = _progress.get()
    if prog is None:
        yield lambda completed: None
        return
    task = prog.add_task(description, total=total)

    def update(completed: float) -> None:
        prog.update(task, completed=min(completed, total))

    try:
        yield update
    finally:
        prog.update(task, completed=total)
