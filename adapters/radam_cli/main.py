"""The ``radam`` command: parse the arguments and run the chosen subcommand."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib.metadata import version
from typing import Any

from radam_cli import convert, demo, schedule, theory


class SubcommandParser(argparse.ArgumentParser):
    """The parser of one subcommand: it reports an unknown option itself, with its own usage.

    Without it the top-level parser would collect the subcommand's unknown options and report
    them under ``radam``'s usage rather than, say, ``radam demo``'s.
    """

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        """Parse ``args`` as ``argparse.ArgumentParser.parse_known_args`` does.

        Raises:
            SystemExit: With status 2, after the usage and one error line on stderr, when
                an argument is not one of this subcommand's.
        """
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


def build_parser() -> argparse.ArgumentParser:
    """The ``radam`` argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="radam",
        description="RAdam (Rectified Adam, Liu et al. 2019): one exact implementation "
        "for torch, Keras, NumPy and optax. There is no module named radam: the "
        "distribution radam installs the import packages radam_core (the algorithm), "
        "radam_torch, radam_keras, radam_numpy and radam_optax (one per framework) and "
        "radam_cli (this command).",
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"radam {version('radam')}",
        help="print the version and exit",
    )
    subparsers = parser.add_subparsers(
        title="commands", metavar="COMMAND", required=True, parser_class=SubcommandParser
    )
    schedule.add_parser(subparsers)
    theory.add_parser(subparsers)
    demo.add_parser(subparsers)
    convert.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``radam`` with ``argv`` (default: the process's); return the exit status.

    A bad option, or an ``--out`` folder where nothing can be written, exits with status 2
    before any work, after the subcommand's usage and one error line on stderr; a missing
    optional dependency returns 1 after one line saying how to install it. A reader that
    stops reading stdout early (``radam schedule | head``) ends it quietly with status 1.
    """
    args = build_parser().parse_args(argv)
    run: Any = args.run
    try:
        return int(run(args, sys.stdout))
    except BrokenPipeError:
        # The reader stopped reading (radam schedule | head): stop quietly, as other tools
        # do, and keep Python from reporting the failed flush of stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
