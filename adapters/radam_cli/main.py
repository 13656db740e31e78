"""The ``radam`` command: parse the arguments and run the chosen subcommand."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from radam_cli import demo, schedule, theory


def build_parser() -> argparse.ArgumentParser:
    """The ``radam`` argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="radam",
        description="RAdam (Rectified Adam, Liu et al. 2019): one exact implementation "
        "for torch, Keras, NumPy and optax.",
    )
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    schedule.add_parser(subparsers)
    theory.add_parser(subparsers)
    demo.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``radam`` with ``argv`` (default: the process's); return the exit status.

    Bad options print a usage line and a one-line error and exit with status 2.
    """
    args = build_parser().parse_args(argv)
    return int(args.run(args, sys.stdout))


if __name__ == "__main__":
    sys.exit(main())
