"""Progress reporting for long loops, off by default in the library and on in the CLI.

Generators call :func:`track`; it reports only inside :func:`enable_progress`. On a
terminal that is a rich progress bar with elapsed time and ETA. Elsewhere (a log file,
``nohup``, a CI job, a scheduler) it is a plain line per running task at intervals —
``dpsynth: <task>: step 120/1000 (12%), elapsed 0:01:05, ETA 0:07:56`` — so that a long
run always shows signs of life. Progress carries counts of rounds and budget fractions,
never statistics of the data.

The interval of plain lines is ``DPSYNTH_PROGRESS_INTERVAL`` seconds (default 30).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

DEFAULT_INTERVAL = 30.0


@dataclass
class _Task:
    description: str
    total: float | None
    completed: float = 0.0
    started: float = field(default_factory=time.monotonic)


def _clock(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def progress_line(task: _Task, now: float | None = None) -> str:
    """The plain line for ``task``: step, share done, elapsed and ETA (when it can be told)."""
    elapsed = (time.monotonic() if now is None else now) - task.started
    parts = []
    if task.total:
        share = min(task.completed / task.total, 1.0)
        if float(task.total).is_integer() and task.total > 1:
            parts.append(f"step {task.completed:.0f}/{task.total:.0f} ({share:.0%})")
        else:
            parts.append(f"{share:.0%} done")
        parts.append(f"elapsed {_clock(elapsed)}")
        if 0.0 < share < 1.0:
            parts.append(f"ETA {_clock(elapsed * (1.0 - share) / share)}")
        elif share == 0.0:
            parts.append("ETA unknown")
    else:
        parts.append(f"working, elapsed {_clock(elapsed)}")
    return f"dpsynth: {task.description}: " + ", ".join(parts)


class _PlainProgress:
    """Plain progress lines at intervals, for output that is not a terminal."""

    def __init__(self, console: Console, interval: float) -> None:
        self.console = console
        self.interval = interval
        self.tasks: dict[int, _Task] = {}
        self._announced: dict[str, float] = {}
        self._lock = threading.Lock()
        self._next_id = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="dpsynth-progress", daemon=True)

    def __enter__(self) -> _PlainProgress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _print(self, line: str) -> None:
        self.console.print(line, highlight=False, markup=False, soft_wrap=True)

    def _beat(self) -> None:
        # A heartbeat, not only on update: a single long step (a PLD calibration, one game)
        # still shows that the run is alive.
        while not self._stop.wait(self.interval):
            with self._lock:
                lines = [progress_line(t) for t in self.tasks.values()]
            for line in lines:
                self._print(line)

    def add_task(self, description: str, total: float | None) -> int:
        now = time.monotonic()
        with self._lock:
            tid = self._next_id
            self._next_id += 1
            self.tasks[tid] = _Task(description, total)
            # A task started again and again in a loop is announced once per interval.
            announce = now - self._announced.get(description, -1e18) >= self.interval
            if announce:
                self._announced[description] = now
        if announce:
            self._print(f"dpsynth: {description}: started")
        return tid

    def update(self, tid: int, completed: float) -> None:
        with self._lock:
            if tid in self.tasks:
                self.tasks[tid].completed = completed

    def remove_task(self, tid: int, *, failed: bool = False) -> None:
        with self._lock:
            task = self.tasks.pop(tid, None)
        took = 0.0 if task is None else time.monotonic() - task.started
        if task is not None and (took >= 1.0 or failed):
            self._print(f"dpsynth: {task.description}: {'stopped after' if failed else 'done in'} {_clock(took)}")


class _RichProgress:
    """A rich progress bar with elapsed time and ETA, for a terminal."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )

    def __enter__(self) -> _RichProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(None, None, None)

    def add_task(self, description: str, total: float | None) -> int:
        return int(self.progress.add_task(description, total=total))

    def update(self, tid: int, completed: float) -> None:
        self.progress.update(tid, completed=completed)  # type: ignore[arg-type]

    def remove_task(self, tid: int, *, failed: bool = False) -> None:
        if failed:  # the bar stays where the step stopped
            self.progress.stop_task(tid)  # type: ignore[arg-type]
            return
        total = next((t.total for t in self.progress.tasks if t.id == tid), None)
        end = 1.0 if total is None else total
        self.progress.update(tid, total=end, completed=end)  # type: ignore[arg-type]


_progress: ContextVar[_PlainProgress | _RichProgress | None] = ContextVar("dpsynth_progress", default=None)


def _interval() -> float:
    raw = os.environ.get("DPSYNTH_PROGRESS_INTERVAL", "")
    try:
        value = float(raw) if raw else DEFAULT_INTERVAL
    except ValueError:
        return DEFAULT_INTERVAL
    return value if value > 0 else DEFAULT_INTERVAL


@contextmanager
def enable_progress(console: Console | None = None, *, interval: float | None = None) -> Iterator[None]:
    """Report progress for everything run inside this block.

    Args:
        console: Where to write (default: stderr).
        interval: Seconds between plain lines when ``console`` is not a terminal
            (default ``DPSYNTH_PROGRESS_INTERVAL`` or 30).
    """
    console = console or Console(stderr=True)
    if _progress.get() is not None:  # nested: the outer block already reports
        yield
        return
    reporter: _PlainProgress | _RichProgress = (
        _RichProgress(console) if console.is_terminal else _PlainProgress(console, interval or _interval())
    )
    token = _progress.set(reporter)
    try:
        with reporter:
            yield
    finally:
        _progress.reset(token)


@contextmanager
def track(description: str, total: float | None) -> Iterator[Callable[[float], None]]:
    """Yield ``update(completed)``; progress is shown only when enabled.

    Args:
        description: What is running (public words only: no statistics of the data).
        total: What ``completed`` counts up to; None for a step of unknown length (it then
            shows elapsed time only).
    """
    prog = _progress.get()
    if prog is None:
        yield lambda completed: None
        return
    tid = prog.add_task(description, total)

    def update(completed: float) -> None:
        prog.update(tid, completed if total is None else min(completed, total))

    try:
        yield update
    except BaseException:
        prog.remove_task(tid, failed=True)
        raise
    prog.remove_task(tid)
