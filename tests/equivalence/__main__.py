"""``python -m tests.equivalence [--device cpu|cuda] [--quick]``: run the harness, print
the report, exit 0 when every row passed or was skipped, 1 on any failure, and 3 (with a
message) for ``--device cuda`` where no CUDA device is present or no framework could use
it (every row skipped), so that a CI session can show a visible skip instead of a pass."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tests.equivalence import harness
from tests.equivalence.cuda import find_cuda_device
from tests.equivalence.report import format_report
from tests.equivalence.results import SKIP

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_NO_CUDA = 3


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line's options."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.equivalence",
        description="RAdam cross-backend equivalence: every implementation against the "
        "float64 oracle on seeded problems.",
    )
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--quick", action="store_true", help="fewer steps per problem")
    parser.add_argument(
        "--jobs", type=int, default=min(2, os.cpu_count() or 1), help="workers at once"
    )
    parser.add_argument(
        "--only",
        help="implementations whose name contains TEXT, or that need the package TEXT "
        "(torch, jax, tensorflow, cupy, ...)",
        metavar="TEXT",
    )
    parser.add_argument("--json", type=Path, help="also write every row's result here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the harness as the command line asks; return the exit code."""
    args = parse_arguments(argv)
    if args.device == "cuda":
        found = find_cuda_device()
        if found is None:
            print("no CUDA device present: the --device cuda rows cannot run (exit code 3)")
            return EXIT_NO_CUDA
        print(f"CUDA device: {found}")
    start = time.perf_counter()
    results = harness.run(
        args.device,
        args.quick,
        jobs=args.jobs,
        only=args.only,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    print(format_report(results, args.device, args.quick, time.perf_counter() - start))
    if args.json is not None:
        args.json.write_text(json.dumps([r.to_json() for r in results], indent=1))
    if harness.has_failures(results):
        return EXIT_FAILED
    if args.device == "cuda" and all(result.status == SKIP for result in results):
        print("no row could run on the CUDA device (every row skipped; exit code 3)")
        return EXIT_NO_CUDA
    return EXIT_PASSED


if __name__ == "__main__":
    raise SystemExit(main())
