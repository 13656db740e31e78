r"""``radam convert``: RAdam's state between a torch, Keras or optax checkpoint and a snapshot.

Every conversion goes through the framework-neutral
[`Snapshot`][radam_core.snapshot.Snapshot]: the source is read into one by its adapter's
``export_state`` (or [`load_snapshot`][radam_core.snapshot.load_snapshot]) and written by the
target's ``import_state`` (or [`save_snapshot`][radam_core.snapshot.save_snapshot]), so a
torch checkpoint becomes a ``.keras`` file in one command. What moves: each parameter's step
count and moments (m, v, and max v with amsgrad), the hyperparameters the source records,
and around Lookahead (Ranger) each parameter's slow weights and Lookahead's k, alpha and
place in its k-cycle. A Lookahead state goes only into a Lookahead target of the same k (its
alpha, like its learning rate, stays the target's), and a plain RAdam state only into a
plain target. The formats, each in its module:

- ``torch``: ``torch.save`` of an optimizer's ``state_dict`` (RAdam's, or
  ``radam_torch.Ranger``'s or ``Lookahead``'s around RAdam), alone or in a checkpoint dict
  ([`convert_torch`][radam_cli.convert_torch]);
- ``keras``: a ``.keras`` file of a model compiled with radam_keras's ``RAdam``, ``Ranger``
  or ``Lookahead(RAdam)`` ([`convert_keras`][radam_cli.convert_keras]);
- ``optax``: ``{"params": ..., "opt_state": ...}`` pickled, or an orbax checkpoint folder
  ([`convert_optax`][radam_cli.convert_optax], [`convert_orbax`][radam_cli.convert_orbax]);
  its state (``radam_optax.radam``'s, or ``ranger``'s) records no hyperparameters, so they are
  options (``--lr``, ..., ``--sync-period`` and ``--slow-step-size`` for ranger's);
- ``snapshot``: the neutral file ([`radam_core.snapshot`][radam_core.snapshot]).

For example:

```bash
radam convert run.pt run.safetensors            # torch -> the neutral file
radam convert run.safetensors resume.keras --into model.keras --rename '\.' /
radam convert state.pkl state.safetensors --preset optax --lr 3e-4   # optax records no lr
radam convert run.ckpt resume.pkl --into fresh.pkl --rename '\.' /  # torch -> optax at once
radam convert ranger.pkl ranger.safetensors --sync-period 6 --slow-step-size 0.5
```

DST is written whole or not at all (a temporary file beside it, then renamed), and it is
only written once everything fits: names (``--rename`` rewrites the source's), shapes and the
conventions, which [`Snapshot.check`][radam_core.snapshot.Snapshot.check] compares. Moving a
state between frameworks needs the same parameters there, of the same shapes: convert renames
but never transposes (torch's ``Linear`` weight is (out, in), a Keras ``Dense`` kernel
(in, out); such a pair does not fit). The weights themselves are the target checkpoint's.

This module imports no framework: each format's module is imported when it is used, and a
missing package stops the command with the line that installs it.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from pathlib import Path
from typing import Any, TextIO

from radam_cli.convert_files import (
    LOOKAHEAD_OPTIONS,
    MissingPackage,
    convention_of,
    first_line,
    imported,
    replacing,
)
from radam_cli.options import (
    INSTALL_TORCH,
    beta,
    non_negative_float,
    positive_int,
    unit_interval,
    writable_folder,
)
from radam_core import PRESETS, Snapshot, load_snapshot, save_snapshot

FORMATS = ("torch", "keras", "optax", "snapshot")
SUFFIXES = {
    ".pt": "torch",
    ".pth": "torch",
    ".ckpt": "torch",
    ".keras": "keras",
    ".pkl": "optax",
    ".pickle": "optax",
    ".safetensors": "snapshot",
}
"""The format of a path, by its suffix (an existing folder is an orbax checkpoint: optax)."""
OPTAX_PRESET = "optax"
"""The convention of an optax state unless ``--preset`` says otherwise: radam_optax's default."""
INSTALL = {
    "torch": f"radam convert needs PyTorch for torch checkpoints: {INSTALL_TORCH} "
    "(any torch >= 2.6 works)",
    "keras": "radam convert needs Keras and a backend for .keras files: python -m pip install "
    '"keras>=3.8" tensorflow (or jax or torch, chosen with KERAS_BACKEND)',
    "optax": "radam convert needs optax for optax checkpoints: "
    'python -m pip install "optax>=0.2.4"',
}
"""The line that installs each format's framework."""
HYPERPARAMETER_OPTIONS = {
    "lr": "--lr",
    "beta1": "--beta1",
    "beta2": "--beta2",
    "eps": "--eps",
    "weight_decay": "--weight-decay",
    "decoupled_weight_decay": "--decoupled-weight-decay",
    "nesterov": "--nesterov",
    "preset": "--preset",
}
"""The options an optax source takes, by destination: its state holds no hyperparameters."""

DESCRIPTION = """\
Convert an optimizer's RAdam state (each parameter's step count and moments)
from SRC to DST, between a torch checkpoint, a .keras model file, an optax
checkpoint and the framework-neutral snapshot file, in any direction, through
the adapters' export_state and import_state (X to Y goes through a snapshot).
Around Lookahead (Ranger) its state moves too: each parameter's slow weights
and Lookahead's k, alpha and place in its k-cycle; such a state goes only into
a Lookahead of the same k, and a plain RAdam state only into a plain RAdam.
Nothing is written unless all of it is: a file that is not of its format, or
a state that does not fit DST (names, shapes, conventions, Lookahead), stops
the command with one line and status 2."""
FORMATS_HELP = """\
formats (from the suffix; --from and --to say it otherwise):
  torch     .pt .pth .ckpt  torch.save of optimizer.state_dict(), alone or in a
                            dict under 'optimizer', 'optimizer_state_dict' or
                            'optimizer_states' (Lightning's; the first one),
                            read with torch.load(weights_only=True): of
                            radam_torch.RAdam or torch.optim.RAdam, or of
                            radam_torch.Ranger or Lookahead around either.
                            Names: the groups' param_names (torch >= 2.6, an
                            optimizer built from model.named_parameters()),
                            else '0', '1', ... by position. Without --into,
                            DST is a state_dict of one group, in the
                            snapshot's order, with the snapshot's
                            hyperparameters (a Ranger's for a Lookahead
                            state, of its k and alpha).
  keras     .keras          a model saved by model.save, compiled with
                            radam_keras.RAdam, Ranger or Lookahead(RAdam), on
                            KERAS_BACKEND. Names: its variable paths
                            (dense/kernel). DST needs --into.
  optax     .pkl .pickle    a dict {'params': pytree, 'opt_state': state}
            or a folder     saved by pickle.dump (trusted files only: loading
                            a pickle runs its code), or a folder saved by
                            orbax.checkpoint.StandardCheckpointer; its state
                            radam_optax.radam's, or ranger's or lookahead's
                            (then give --sync-period and --slow-step-size).
                            Names: paths in params (dense/kernel). DST needs
                            --into.
  snapshot  .safetensors    radam_core.save_snapshot's file."""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``convert`` and its options on the ``radam`` command."""
    parser = subparsers.add_parser(
        "convert",
        help="convert RAdam's state between torch, Keras, optax and the neutral snapshot",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=DESCRIPTION,
        epilog=FORMATS_HELP,
    )
    parser.add_argument("source", metavar="SRC", type=Path, help="the file (or folder) to read")
    parser.add_argument(
        "destination",
        metavar="DST",
        type=Path,
        help="the file (or folder) to write, replaced whole if it exists",
    )
    parser.add_argument(
        "--from",
        dest="source_format",
        choices=FORMATS,
        help="SRC's format, where its name does not tell",
    )
    parser.add_argument(
        "--to",
        dest="destination_format",
        choices=FORMATS,
        help="DST's format, where its name does not tell",
    )
    parser.add_argument(
        "--into",
        type=Path,
        metavar="CHECKPOINT",
        help="for a torch, keras or optax DST: the checkpoint to write the state into. DST "
        "becomes a copy of it with the optimizer state replaced, parameters matched by name: "
        "a .keras model compiled with radam_keras; an optax checkpoint of params and "
        "opt_state = tx.init(params); a torch checkpoint of the optimizer, such as a fresh "
        "optimizer.state_dict() (its groups and other contents are kept). A Lookahead "
        "(Ranger) state goes into a Lookahead's checkpoint of the same k, which keeps its "
        "alpha (optax's records no k: it is taken to be the state's). Default: DST, if it "
        "exists",
    )
    parser.add_argument(
        "--rename",
        nargs=2,
        action="append",
        default=[],
        metavar=("PATTERN", "REPLACEMENT"),
        help="rename every parameter: re.sub(PATTERN, REPLACEMENT, name), a Python regular "
        "expression; repeat to apply several in order (e.g. --rename '\\.' / turns torch's "
        "dense.weight into dense/weight)",
    )
    optax = parser.add_argument_group(
        "an optax SRC", "optax's state holds no hyperparameters: say which it was made with"
    )
    optax.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        help=f"its convention (default {OPTAX_PRESET}, radam_optax.radam's)",
    )
    optax.add_argument("--lr", type=non_negative_float, help="learning rate, >= 0 (default 1e-3)")
    optax.add_argument("--beta1", type=beta, help="first-moment decay in [0, 1) (default 0.9)")
    optax.add_argument("--beta2", type=beta, help="second-moment decay in [0, 1) (default 0.999)")
    optax.add_argument("--eps", type=non_negative_float, help="eps, >= 0 (default the preset's)")
    optax.add_argument(
        "--weight-decay", type=non_negative_float, help="weight decay, >= 0 (default 0)"
    )
    optax.add_argument(
        "--decoupled-weight-decay",
        action=argparse.BooleanOptionalAction,
        help="decoupled (AdamW-style) weight decay or not (default the preset's)",
    )
    optax.add_argument(
        "--nesterov",
        action="store_true",
        default=None,
        help="optax's Nesterov momentum (radam_optax.radam(nesterov=True))",
    )
    optax.add_argument(
        "--sync-period",
        type=positive_int,
        metavar="K",
        help="Lookahead's k, >= 1, for the state of radam_optax.ranger or lookahead (their "
        "sync_period; needed for such a state)",
    )
    optax.add_argument(
        "--slow-step-size",
        type=unit_interval,
        metavar="ALPHA",
        help="Lookahead's alpha in [0, 1], likewise (their slow_step_size; needed with "
        "--sync-period)",
    )
    parser.set_defaults(run=run, parser=parser)


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Convert ``args.source`` to ``args.destination``; print what was written to ``out``.

    Returns:
        0; 1, with one line on stderr and nothing written, when a format's framework is not
        installed.

    Raises:
        SystemExit: With status 2 and nothing written, after the usage and one line on
            stderr, for a bad option, a file that is not of its format, or a state that does
            not fit the target.
    """
    parser: argparse.ArgumentParser = args.parser
    if not args.source.exists():
        parser.error(f"argument SRC: {args.source} does not exist")
    source = _format(parser, args.source, args.source_format, "SRC", "--from")
    target = _format(parser, args.destination, args.destination_format, "DST", "--to")
    hyperparameters, lookahead = _optax_options(parser, args, source)
    into = _into(parser, args, target)
    renames = _renames(parser, args.rename)
    writable_folder(parser, args.destination.parent, "DST")
    try:
        reader = _module(source, args.source)
        writer = _module(target, into)
    except MissingPackage as missing:
        print(missing, file=sys.stderr)
        return 1
    try:
        if reader is None:
            snapshot = load_snapshot(args.source)
        elif source == "optax":
            snapshot = reader.read(
                args.source, args.preset or OPTAX_PRESET, hyperparameters, **lookahead
            )
        else:
            snapshot = reader.read(args.source)
        snapshot = renamed(snapshot, renames)
        if writer is None:
            with replacing(args.destination) as temporary:
                save_snapshot(snapshot, temporary)
        else:
            writer.write(snapshot, args.destination, into)
    except MissingPackage as missing:
        print(missing, file=sys.stderr)
        return 1
    except (ValueError, TypeError, OSError) as error:
        parser.error(first_line(error))
    print(summary(snapshot, args.destination, target), file=out)
    return 0


def renamed(snapshot: Snapshot, renames: list[tuple[re.Pattern[str], str]]) -> Snapshot:
    """The snapshot with each parameter's name rewritten by ``re.sub`` for each rename.

    Raises:
        ValueError: Two parameters that would have the same name.
    """
    if not renames:
        return snapshot
    parameters: dict[str, Any] = {}
    for name, state in snapshot.parameters.items():
        new = name
        for pattern, replacement in renames:
            new = pattern.sub(replacement, new)
        if new in parameters:
            raise ValueError(f"--rename gives two parameters the name {new!r}")
        parameters[new] = state
    return dataclasses.replace(snapshot, parameters=parameters)


def summary(snapshot: Snapshot, destination: Path, target: str) -> str:
    """One line: what was written where (parameters, steps, convention, learning rate, ...).

    Around Lookahead, also its k, alpha and place in the k-cycle.
    """
    counts = sorted({state.count for state in snapshot.parameters.values()})
    steps = (
        f"step {counts[0]}"
        if len(counts) == 1
        else f"steps {counts[0]} to {counts[-1]}"
        if counts
        else "no step"
    )
    hp = snapshot.hyperparameters
    line = (
        f"wrote {destination} ({target}): {len(snapshot.parameters)} parameters at {steps}, "
        f"convention {convention_of(hp).name!r}, lr {hp.lr:g}, betas {tuple(hp.betas)}, "
        f"eps {hp.eps:g}, weight decay {hp.weight_decay:g}"
    )
    position = snapshot.lookahead
    if position is None:
        return line
    return (
        f"{line}; Lookahead k {position.k}, alpha {position.alpha:g}, "
        f"{position.count} fast steps since its last sync"
    )


def _format(
    parser: argparse.ArgumentParser, path: Path, given: str | None, argument: str, option: str
) -> str:
    if given is not None:
        return given
    found = SUFFIXES.get(path.suffix.lower())
    if found is None and path.is_dir():
        found = "optax"
    if found is None:
        parser.error(
            f"argument {argument}: cannot tell the format of {path} from its name; give "
            f"{option} {'|'.join(FORMATS)}"
        )
    return found


def _optax_options(
    parser: argparse.ArgumentParser, args: argparse.Namespace, source: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The optax SRC options given, in two parts.

    Returns:
        ``hyperparameters_for``'s arguments (all but ``--preset``), and Lookahead's
        (``sync_period``, ``slow_step_size``).
    """
    options = {**HYPERPARAMETER_OPTIONS, **LOOKAHEAD_OPTIONS}
    given = {key: getattr(args, key) for key in options}
    given = {key: value for key, value in given.items() if value is not None}
    if given and source != "optax":
        option = options[next(iter(given))]
        parser.error(
            f"argument {option}: only for an optax SRC, whose state holds no "
            f"hyperparameters ({args.source} is {source}, which records its own)"
        )
    given.pop("preset", None)
    lookahead = {key: given.pop(key) for key in LOOKAHEAD_OPTIONS if key in given}
    if "beta1" in given or "beta2" in given:
        given["betas"] = (given.pop("beta1", 0.9), given.pop("beta2", 0.999))
    return given, lookahead


def _into(parser: argparse.ArgumentParser, args: argparse.Namespace, target: str) -> Path | None:
    if target == "keras" and args.destination.suffix != ".keras":
        parser.error(f"argument DST: Keras saves models to .keras files, not {args.destination}")
    into: Path | None = args.into
    if into is not None:
        if target == "snapshot":
            parser.error("argument --into: a snapshot DST is written whole, from SRC alone")
        if not into.exists():
            parser.error(f"argument --into: {into} does not exist")
        return into
    if target != "snapshot" and args.destination.exists():
        return args.destination
    if target in ("keras", "optax"):
        needed = "MODEL.keras" if target == "keras" else "CHECKPOINT (params, opt_state)"
        parser.error(
            f"argument --into: writing {target} needs the checkpoint to put the state into: "
            f"give --into {needed} (DST itself when it exists)"
        )
    return None


def _renames(
    parser: argparse.ArgumentParser, pairs: list[list[str]]
) -> list[tuple[re.Pattern[str], str]]:
    renames = []
    for pattern, replacement in pairs:
        try:
            renames.append((re.compile(pattern), replacement))
        except re.error as error:
            parser.error(f"argument --rename: {pattern!r} is not a regular expression: {error}")
    return renames


def _module(kind: str, path: Path | None) -> Any:
    """The format module of ``kind`` (None for a snapshot), checking its packages now."""
    if kind == "snapshot":
        return None
    module = imported(f"convert_{kind}", INSTALL[kind])
    if kind == "optax" and path is not None and path.is_dir():
        imported("convert_orbax", module.ORBAX_MISSING)
    return module
