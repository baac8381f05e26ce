"""Progress: plain lines with ETA off a terminal (with a heartbeat), a rich bar with ETA on one."""

import io
import re
import time

from rich.console import Console

from dpsynth.progress import _Task, enable_progress, progress_line, track


def test_progress_line_has_step_share_elapsed_and_eta():
    task = _Task("DP-SGD", total=1000, completed=250, started=100.0)
    assert progress_line(task, now=160.0) == "dpsynth: DP-SGD: step 250/1000 (25%), elapsed 0:01:00, ETA 0:03:00"
    share = _Task("AIM: budget spent", total=1.0, completed=0.5, started=0.0)
    assert progress_line(share, now=3725.0) == "dpsynth: AIM: budget spent: 50% done, elapsed 1:02:05, ETA 1:02:05"
    assert progress_line(_Task("PLD", total=None, started=0.0), now=5.0) == "dpsynth: PLD: working, elapsed 0:00:05"


def test_plain_lines_at_intervals_even_without_updates():
    buf = io.StringIO()
    with enable_progress(Console(file=buf, force_terminal=False), interval=0.05), track("long step", None):
        time.sleep(0.4)
    text = buf.getvalue()
    assert text.startswith("dpsynth: long step: started\n")
    assert len(re.findall(r"dpsynth: long step: working, elapsed 0:00:00", text)) >= 2, text
    assert "\x1b[" not in text


def test_a_task_started_in_a_loop_is_announced_once_per_interval():
    buf = io.StringIO()
    with enable_progress(Console(file=buf, force_terminal=False), interval=60):
        for _ in range(50):
            with track("round", 3) as update:
                update(3)
    assert buf.getvalue().count("dpsynth: round: started") == 1


def test_terminal_bar_shows_the_eta():
    buf = io.StringIO()
    with enable_progress(Console(file=buf, force_terminal=True, width=120)), track("DP-SGD", 10) as update:
        for i in range(10):
            update(i + 1)
    assert "DP-SGD" in buf.getvalue() and "ETA" in buf.getvalue()


def test_nothing_is_shown_unless_enabled():
    with track("quiet", 5) as update:
        update(3)  # no error, no output


def test_a_step_that_fails_is_not_reported_done():
    buf = io.StringIO()
    try:
        with enable_progress(Console(file=buf, force_terminal=False), interval=60), track("fit", None):
            raise ValueError("bounds not found")
    except ValueError:
        pass
    text = buf.getvalue()
    assert "dpsynth: fit: stopped after 0:00:00" in text and "done" not in text
    term = io.StringIO()
    try:
        with enable_progress(Console(file=term, force_terminal=True, width=100)), track("fit", 10) as update:
            update(3)
            raise ValueError("stop")
    except ValueError:
        pass
    assert "100%" not in term.getvalue()
