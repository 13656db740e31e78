"""``python -m tests.equivalence.worker NAME --device D --output FILE``: one worker's rows.

Runs every row of the implementations whose ``worker`` is NAME and appends each result as
one JSON line to FILE as soon as it is known, so that the rows finished before a crash
are kept. A missing package or device gives SKIP rows that say why; an implementation
whose device check itself fails (an installed package that does not import) gives FAIL
rows that carry the error.
"""

from __future__ import annotations

import argparse
import json
import traceback
from pathlib import Path

from tests.equivalence.problems import PROBLEMS
from tests.equivalence.registry import RowFamily, planned_rows
from tests.equivalence.results import FAIL, SKIP
from tests.equivalence.runner import run_row, unrun_row


def run_worker(name: str, device: str, quick: bool, output: Path, only: str | None) -> None:
    """Run the worker's rows and append each result to ``output`` (JSON lines)."""
    rows = [row for row in planned_rows(only) if row.family.worker == name]
    verdicts: dict[str, tuple[str, str] | None] = {}
    with output.open("a", encoding="utf-8") as sink:
        for row in rows:
            family, problem = row.family, PROBLEMS[row.problem]
            identity = f"{family.name}|{family.dtype}"
            if identity not in verdicts:
                verdicts[identity] = cannot_run(family, device)
            verdict = verdicts[identity]
            if verdict is None:
                result = run_row(family, problem, row.group, device, quick)
            else:
                result = unrun_row(family, problem, row.group, device, *verdict)
            sink.write(json.dumps(result.to_json()) + "\n")
            sink.flush()


def cannot_run(family: RowFamily, device: str) -> tuple[str, str] | None:
    """None if the row family can run on ``device`` here, else ``(status, reason)``."""
    implementation = family.implementation
    missing = implementation.missing_requirement()
    if missing is not None:
        return SKIP, f"{missing} not installed"
    try:
        reason = implementation.device_check(device)
    except Exception as error:  # an installed framework that breaks is a failure
        last = traceback.format_exception_only(type(error), error)[-1].strip()
        return FAIL, f"could not check the {device} device: {last}"
    return None if reason is None else (SKIP, reason)


def main() -> None:
    """Parse the arguments and run the worker."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--only", default=None)
    args = parser.parse_args()
    run_worker(args.name, args.device, args.quick, args.output, args.only)


if __name__ == "__main__":
    main()
