"""Run a test's script in a fresh interpreter (devices and backends fixed at start-up) and read
the JSON it prints last."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def run_json_script(
    script: str, args: list[str], env: dict[str, str], cwd: Path, timeout: int = 300
) -> Any:
    """Run ``script`` with ``args`` and ``env`` added to this environment, in ``cwd``.

    The repository and its adapters come first on ``PYTHONPATH``. Asserts a zero exit (with
    the end of stderr as the message) and returns the last line of stdout, parsed as JSON.
    """
    path = cwd / "script.py"
    path.write_text(script)
    done = subprocess.run(
        [sys.executable, str(path), *args],
        capture_output=True,
        text=True,
        env=script_environment(env),
        cwd=cwd,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def script_environment(env: dict[str, str]) -> dict[str, str]:
    """This process's environment with ``env`` added and the repository and its adapters
    first on ``PYTHONPATH``."""
    pythonpath = [str(REPO), str(REPO / "adapters"), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, **env, "PYTHONPATH": os.pathsep.join(pythonpath)}
