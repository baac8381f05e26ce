"""README's code runs as written: every Python and shell block, on a small slice of Adult.

Blocks run top to bottom, Python blocks in one namespace (as a reader would paste them),
shell lines starting with ``dpsynth`` through the CLI, in a folder where the README's file
names exist: ``DATA.csv``, ``data.csv``, ``adult_train.csv`` and ``REAL.csv`` are 1,500 rows
of Adult, ``meta.json`` its public metadata, ``metadata/`` the bundled metadata and
``../shared`` the bundled datasets. ``make`` lines are what CI
itself runs. A block preceded by ``<!-- readme-test: skip (reason) -->`` is not run (a long
fit, a model that must be installed); the reason is shown, and their number is pinned so
that skipping cannot grow silently.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
ADULT = ROOT.parent / "shared" / "datasets" / "adult" / "adult_train.csv"
BLOCK = re.compile(r"(<!-- readme-test: (?P<mark>[^>]*?) -->\s*\n)?```(?P<lang>\w*)\n(?P<body>.*?)```", re.S)
#: Blocks marked skip, with their reasons in README (a long fit, an optional model).
EXPECTED_SKIPS = 17


def blocks() -> list[tuple[int, str, str, str]]:
    text = README.read_text(encoding="utf-8")
    out = []
    for m in BLOCK.finditer(text):
        line = text[: m.start("lang")].count("\n") + 1
        out.append((line, m.group("lang"), m.group("body"), (m.group("mark") or "").strip()))
    return out


def shell_commands(body: str) -> list[str]:
    joined = re.sub(r"\\\n\s*", " ", body)
    cmds = []
    for raw in joined.splitlines():
        cmd = raw.split("  #")[0].split(" # ")[0].strip()
        if cmd and not cmd.startswith("#"):
            cmds.append(cmd)
    return cmds


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("readme")
    small = pd.read_csv(ADULT, dtype=str, keep_default_na=False).head(1500)
    for name in ("DATA.csv", "adult_train.csv", "REAL.csv", "data.csv"):
        small.to_csv(d / name, index=False)
    shutil.copytree(ROOT / "metadata", d / "metadata")
    shutil.copy(ROOT / "metadata" / "adult.json", d / "meta.json")
    shared = d.parent / "shared"  # README paths such as ../shared/datasets/... (as from the repository root)
    if not shared.exists():
        shared.symlink_to(ROOT.parent / "shared", target_is_directory=True)
    return d


def test_readme_blocks_run_as_written(workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    namespace: dict[str, object] = {"__name__": "__readme__"}
    skipped = []
    for line, lang, body, mark in blocks():
        if mark.startswith("skip"):
            assert "(" in mark, f"README line {line}: a skipped block must say why"
            skipped.append((line, mark))
            continue
        if lang == "python":
            try:
                exec(compile(body, f"README.md:{line}", "exec"), namespace)
            except Exception as err:
                pytest.fail(f"README.md line {line}: the Python block failed: {type(err).__name__}: {err}")
        elif lang == "bash":
            for cmd in shell_commands(body):
                if cmd.startswith("make "):
                    continue  # CI runs `make test` itself; `make demo` is the same `dpsynth run`
                argv = shlex.split(cmd)
                assert argv[0] == "dpsynth", f"README line {line}: unexpected shell command {cmd!r}"
                r = subprocess.run([sys.executable, "-c", "from dpsynth.cli import main; main()", *argv[1:]],
                                   cwd=workdir, env=env, capture_output=True, text=True, timeout=900)
                assert r.returncode == 0, f"README line {line}: `{cmd}` exited {r.returncode}:\n{r.stdout}\n{r.stderr}"
    assert len(skipped) == EXPECTED_SKIPS, skipped
