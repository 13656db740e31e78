"""What ``radam convert``'s formats share: writing a file whole or not at all, the convention.

Each format module ([`convert_torch`][radam_cli.convert_torch],
[`convert_keras`][radam_cli.convert_keras], [`convert_optax`][radam_cli.convert_optax])
reads its file into a [`Snapshot`][radam_core.snapshot.Snapshot] and writes one into its
file through [`replacing`][radam_cli.convert_files.replacing]; a file that is not what it
should be raises a ``ValueError`` of one line, naming the command's option where one is
missing ([`LOOKAHEAD_OPTIONS`][radam_cli.convert_files.LOOKAHEAD_OPTIONS]).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from radam_core import CONVENTION_FIELDS, PRESETS, Hyperparameters, Preset

LOOKAHEAD_OPTIONS = {"sync_period": "--sync-period", "slow_step_size": "--slow-step-size"}
"""The options that give an optax state's Lookahead k and alpha (radam_optax's argument names)."""


class MissingPackage(Exception):
    """An optional package that a format needs is not installed; the message installs it."""


def imported(module: str, install: str) -> ModuleType:
    """The module ``radam_cli.<module>``, imported now (it imports its framework).

    Args:
        module: A format module's name, such as ``"convert_torch"``.
        install: The line that installs what it needs, for the error.

    Raises:
        MissingPackage: With ``install``, when a package it imports is not installed.
    """
    try:
        return importlib.import_module(f"radam_cli.{module}")
    except ModuleNotFoundError as error:
        if (error.name or "").startswith("radam"):
            raise
        raise MissingPackage(install) from None


@contextlib.contextmanager
def replacing(destination: Path, *, folder: bool = False) -> Iterator[Path]:
    """A temporary path beside ``destination`` that becomes it once the block succeeds.

    The block writes the temporary file (or folder); on success it is renamed over
    ``destination`` (an existing folder is moved aside first and removed after), so that
    ``destination`` is never half-written; on an exception it is removed and ``destination``
    is left as it was.

    Args:
        destination: The file or folder to write.
        folder: Whether it is a folder (an orbax checkpoint).

    Yields:
        The temporary path, in ``destination``'s folder, with ``destination``'s suffix
        (Keras and torch look at it), not yet existing.
    """
    work = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent))
    temporary = work / destination.name
    try:
        yield temporary
        if folder and destination.is_dir():
            aside = work / "previous"
            destination.rename(aside)
            temporary.rename(destination)
        else:
            os.replace(temporary, destination)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def convention_of(hyperparameters: Hyperparameters) -> Preset:
    """The [`Preset`][radam_core.Preset] of these hyperparameters' seven convention fields.

    A published preset when they are its (``PRESETS["torch"]`` for torch's), else one named
    ``"custom"``.
    """
    fields = {name: getattr(hyperparameters, name) for name in CONVENTION_FIELDS}
    for preset in PRESETS.values():
        if all(getattr(preset, name) == value for name, value in fields.items()):
            return preset
    return Preset("custom", **fields)


def first_line(error: BaseException) -> str:
    """An exception's message as one line: its first non-empty line, or its type's name."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__
