"""Running ``radam convert`` in-process, for the convert tests of every session."""

from __future__ import annotations

from typing import Any

import pytest

from radam_cli.main import main


def convert(*argv: Any) -> None:
    """``radam convert *argv``, which must succeed."""
    assert main(["convert", *map(str, argv)]) == 0


def refused(capsys: pytest.CaptureFixture[str], *argv: Any) -> str:
    """The one error line of a ``radam convert *argv`` that must exit with status 2."""
    with pytest.raises(SystemExit) as exit_info:
        main(["convert", *map(str, argv)])
    assert exit_info.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1
    return errors[0]
