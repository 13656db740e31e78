"""What the ``radam`` subcommands share: argument types and the checks made before any work.

Each argument type rejects a bad value in one line; the checks confirm that an ``--out``
folder can be written in and say whether an optional dependency is installed.
"""

from __future__ import annotations

import argparse
import errno
import importlib.util
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

MATPLOTLIB = '"matplotlib>=3.8"'
"""The requirement for the plots, quoted for a shell."""

TORCH = "torch==2.13.0"
"""The torch that the README installs (a bare ``torch`` pulls a multi-GB CUDA build on Linux)."""

INSTALL_MATPLOTLIB = f"python -m pip install {MATPLOTLIB}"
"""The command that installs matplotlib."""

INSTALL_TORCH = f"python -m pip install {TORCH}"
"""The command that installs PyTorch."""


def positive_int(text: str) -> int:
    """An int ``>= 1``."""
    value = _parse(int, text, "an integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def non_negative_int(text: str) -> int:
    """An int ``>= 0``."""
    value = _parse(int, text, "an integer")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def positive_float(text: str) -> float:
    """A finite float ``> 0``."""
    value = _parse(float, text, "a number")
    if not 0.0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be finite and > 0, got {text}")
    return value


def non_negative_float(text: str) -> float:
    """A finite float ``>= 0``."""
    value = _parse(float, text, "a number")
    if not 0.0 <= value < math.inf:
        raise argparse.ArgumentTypeError(f"must be finite and >= 0, got {text}")
    return value


def beta(text: str) -> float:
    """A decay rate in ``[0, 1)``."""
    value = _parse(float, text, "a number")
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def unit_interval(text: str) -> float:
    """A number in ``[0, 1]``."""
    value = _parse(float, text, "a number")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text}")
    return value


def writable_folder(parser: argparse.ArgumentParser, folder: Path, option: str = "--out") -> None:
    """Create ``folder`` if needed and write (then remove) a file in it, or exit.

    A command calls it before any work, and only when it will write there. It writes a file
    rather than asking ``os.access``, which says yes to root even where writing fails.

    Args:
        parser: The subcommand's parser, whose usage the error shows.
        folder: The folder the command will write to.
        option: The option that named it, for the message.

    Raises:
        SystemExit: With status 2, after the usage and one line on stderr such as
            ``radam theory: error: argument --out: cannot write to /proc/x: No such file
            or directory``, when the folder cannot be created or written in.
    """
    try:
        if folder.exists() and not folder.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".radam-write-check-"):
            pass
    except OSError as error:
        parser.error(f"argument {option}: cannot write to {folder}: {error.strerror or error}")


def importable(name: str) -> bool:
    """Whether the top-level module ``name`` can be found (without importing it)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # ValueError: sys.modules[name] is None
        return False


def _parse(kind: Callable[[str], T], text: str, what: str) -> T:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
