"""Files an audit writes hold targets' secret bits: owner-only, like every other output.

Model, metadata and report files are written through :func:`dpsynth._files.atomic_open`,
whose temporary files are created with mode 0600. The audit's work folders and JSON-lines
logs are appended to as games finish, so they get the same protection here: folders 0700,
files 0600, and an existing folder or file is tightened when an audit resumes in it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO


def private_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` (and missing parents) readable by the owner only; return it."""
    folder = Path(path)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    return folder


def open_private(path: str | os.PathLike[str], mode: str = "a") -> IO[str]:
    """Open a text file for writing (``"a"`` or ``"w"``), created or tightened to mode 0600."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == "a" else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)
        return os.fdopen(fd, mode, encoding="utf-8")
    except BaseException:
        os.close(fd)
        raise


def write_private(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` (mode 0600)."""
    with open_private(path, "w") as fh:
        fh.write(text)
