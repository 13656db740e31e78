"""``radam demo``: the paper's findings reproduced in miniature, on this machine.

Trains a tiny Post-LN Transformer on a generated task ([`demo_task`][radam_cli.demo_task])
with five optimizers ([`demo_optimizers`][radam_cli.demo_optimizers]) over a grid of
learning rates and seeds, prints the final losses, and writes a report folder: plots,
``report.md`` and ``results.json`` ([`demo_report`][radam_cli.demo_report]).

This module imports neither torch nor matplotlib at import time, so that ``radam`` and its
other commands work without them; [`run`][radam_cli.demo.run] says how to install what is
missing.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from radam_cli import options
from radam_cli.demo_config import NAMES
from radam_cli.options import (
    INSTALL_MATPLOTLIB,
    INSTALL_TORCH,
    MATPLOTLIB,
    beta,
    non_negative_int,
    positive_float,
    positive_int,
    writable_folder,
)
from radam_cli.progress import Progress

if TYPE_CHECKING:
    from radam_cli.demo_config import OptimizerSettings, RunResult, RunSpec, TaskConfig


@dataclass(frozen=True)
class RunSize:
    """The size of a demo run.

    Attributes:
        steps: Optimizer steps per run.
        seeds: Seeds per optimizer and learning rate.
        lrs: The learning-rate grid.
    """

    steps: int
    seeds: int
    lrs: tuple[float, ...]


FULL = RunSize(steps=250, seeds=5, lrs=(0.01, 0.02, 0.03, 0.05, 0.07, 0.1))
QUICK = RunSize(steps=150, seeds=2, lrs=(0.01, 0.07))
LRS_PER_RUN = 3
"""Learning rates whose models one run stacks: few enough to leave runs for every process."""
SHORT_WARMUP_SHARE = 0.05
"""The paper's shortest warm-up as a share of 2/(1 - beta2): 100 of 2000 steps."""
DEFAULT_OUT = "radam-demo"
TORCH_MISSING = f"radam demo needs PyTorch: {INSTALL_TORCH} (any torch >= 2.6 works)"
MATPLOTLIB_MISSING = (
    f"radam demo needs matplotlib for its plots: {INSTALL_MATPLOTLIB} (or run it with --no-plots)"
)
BOTH_MISSING = (
    f"radam demo needs PyTorch and matplotlib: {INSTALL_TORCH} {MATPLOTLIB} "
    "(any torch >= 2.6 works; with --no-plots matplotlib is not needed)"
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``demo`` and its options on the ``radam`` command."""
    parser = subparsers.add_parser(
        "demo",
        help="train a tiny Transformer with Adam, warm-ups, RAdam, Adam-2k and Adam-eps",
        description="Reproduce the paper's findings in miniature: train a tiny Post-LN "
        "Transformer to reverse generated sequences with Adam, Adam with a short and a long "
        "linear warm-up, RAdam, Adam-2k (K steps that only update the second moment, then "
        "Adam), Adam-eps (a large eps) and Adam without the first moment's bias correction, "
        "over a grid of learning rates and seeds; print how many seeds learned and the "
        "median final losses, and write plots (each the miniature of a figure of the paper), "
        "report.md and results.json to --out (--quick: a smaller, shorter run; the run "
        "times are in docs/demo.md); nothing is downloaded.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a smaller run: {QUICK.steps} steps, {QUICK.seeds} seeds, learning rates "
        f"{_floats(QUICK.lrs)} (options given explicitly still apply)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(DEFAULT_OUT),
        help=f"folder for the report, created if needed (default ./{DEFAULT_OUT})",
    )
    parser.add_argument(
        "--steps",
        type=positive_int,
        help=f"parameter updates per run, Adam-2k's K v-only steps not counted (default "
        f"{FULL.steps}, --quick {QUICK.steps})",
    )
    parser.add_argument(
        "--seeds",
        type=positive_int,
        help=f"seeds per optimizer and learning rate, 0..N-1 (default {FULL.seeds}, "
        f"--quick {QUICK.seeds})",
    )
    parser.add_argument(
        "--lrs",
        type=_learning_rates,
        help=f"learning rates, comma-separated (default {_floats(FULL.lrs)}; --quick "
        f"{_floats(QUICK.lrs)})",
    )
    parser.add_argument(
        "--optimizers",
        type=_optimizers,
        default=NAMES,
        help=f"optimizers to run, comma-separated, from {','.join(NAMES)} (default all)",
    )
    parser.add_argument(
        "--beta2",
        type=beta,
        default=0.98,
        help="second-moment decay of every optimizer, in [0, 1) (default 0.98: the run is "
        "scaled down from the paper's 0.999 with it)",
    )
    parser.add_argument(
        "--warmup-steps",
        type=non_negative_int,
        help="T_w of the long linear warm-up and K of Adam-2k (default 2/(1 - beta2), the "
        "paper's K = 2000 for beta2 = 0.999; 100 for 0.98)",
    )
    parser.add_argument(
        "--short-warmup-steps",
        type=non_negative_int,
        help=f"T_w of the short linear warm-up (default {SHORT_WARMUP_SHARE:g} x "
        "2/(1 - beta2), as the paper's 100 of 2000 steps; 5 for 0.98)",
    )
    parser.add_argument(
        "--large-eps",
        type=positive_float,
        help="eps of Adam-eps, added to the raw sqrt(v) as in the authors' code (default: "
        "the median |gradient| of the models at initialization, to one significant digit; "
        "the others use 1e-8)",
    )
    parser.add_argument(
        "--jobs",
        type=positive_int,
        default=_default_jobs(),
        help="runs trained in parallel processes, one CPU thread each (default: the CPU "
        "cores this process may use, at most 4; 1 trains in this process)",
    )
    parser.add_argument(
        "--no-plots",
        action="store_true",
        help="write report.md and results.json but no plots (matplotlib not needed)",
    )
    parser.set_defaults(run=run, parser=parser)


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Run the demo for ``args``, printing to ``out``; return the exit status.

    Progress shows on stderr (see [`Progress`][radam_cli.progress.Progress]).

    Returns:
        0; 1, with one line on stderr and nothing done, when torch or matplotlib is missing;
        130 when interrupted.

    Raises:
        SystemExit: With status 2 and nothing done, when ``--out`` cannot be written to.
    """
    missing = missing_dependency(args.no_plots)
    if missing is not None:
        print(missing, file=sys.stderr)
        return 1
    writable_folder(args.parser, args.out)
    from radam_cli import demo_report
    from radam_cli.demo_config import OptimizerSettings, TaskConfig

    start = time.perf_counter()
    preset = QUICK if args.quick else FULL
    steps = args.steps or preset.steps
    seeds = tuple(range(args.seeds or preset.seeds))
    lrs = args.lrs or preset.lrs
    warmup = args.warmup_steps
    if warmup is None:
        warmup = round(2 / (1 - args.beta2))
    short_warmup = args.short_warmup_steps
    if short_warmup is None:
        short_warmup = max(1, round(SHORT_WARMUP_SHARE * 2 / (1 - args.beta2)))
    task = TaskConfig()
    median_gradient = _median_gradient(task, seeds)
    large_eps = args.large_eps or float(f"{median_gradient:.1g}")
    settings = OptimizerSettings(
        lr=1.0,
        beta2=args.beta2,
        warmup_steps=warmup,
        short_warmup_steps=short_warmup,
        v_only_steps=warmup,
        large_eps=large_eps,
    )
    specs = _specs(args.optimizers, settings, steps, seeds, lrs, task)
    print(
        f"radam demo: {_count(len(args.optimizers), 'optimizer')} x "
        f"{_count(len(lrs), 'learning rate')} x {_count(len(seeds), 'seed')}, "
        f"{_count(steps, 'update')} each, on {_count(args.jobs, 'process', 'processes')}",
        file=out,
        flush=True,
    )
    if "adam-eps" in args.optimizers:
        print(
            f"Adam-eps: eps = {large_eps:.2g}, {large_eps / median_gradient:.2g} x the median "
            f"|gradient| at initialization ({median_gradient:.2g})",
            file=out,
            flush=True,
        )
    total = sum(spec.total_steps for spec in specs)
    try:
        with Progress(total, sys.stderr, "training", unit="step") as progress:
            results = train_all(specs, args.jobs, progress.advance)
    except KeyboardInterrupt:
        print("radam demo: interrupted", file=sys.stderr)
        return 130
    chance = task.chance_loss
    print(format_table(results, chance, args.optimizers), file=out)

    config = {
        **asdict(task),
        "steps": steps,
        "seeds": list(seeds),
        "lrs": list(lrs),
        "optimizers": list(args.optimizers),
        "beta1": settings.beta1,
        "beta2": args.beta2,
        "warmup_steps": warmup,
        "short_warmup_steps": short_warmup,
        "v_only_steps": warmup,
        "large_eps": large_eps,
        "median_gradient": median_gradient,
        "jobs": args.jobs,
    }
    written = [args.out / "results.json"]
    write_json(written[0], results, config, chance, time.perf_counter() - start)
    captions: list[tuple[str, str]] = []
    if not args.no_plots:
        from radam_cli import demo_plots

        plots = demo_plots.write_plots(args.out, results, chance, args.optimizers, config)
        written += [path for path, _ in plots]
        captions = [(path.name, caption) for path, caption in plots]
    report = args.out / "report.md"
    demo_report.write_markdown(report, results, config, chance, args.optimizers, captions)
    written.append(report)
    print(f"Wrote {', '.join(p.name for p in written)} to {args.out}/", file=out)
    print(f"Done in {time.perf_counter() - start:.0f} s. Summary: {report}", file=out)
    return 0


def missing_dependency(no_plots: bool) -> str | None:
    """The line to print when torch (or, for plots, matplotlib) cannot be imported.

    Args:
        no_plots: Whether the run draws no plots, and so needs no matplotlib.

    Returns:
        None when everything needed is installed; else one line naming the install command.
    """
    torch = options.importable("torch")
    matplotlib = no_plots or options.importable("matplotlib")
    if not torch:
        return TORCH_MISSING if matplotlib else BOTH_MISSING
    return None if matplotlib else MATPLOTLIB_MISSING


def _specs(
    optimizers: Sequence[str],
    settings: OptimizerSettings,
    steps: int,
    seeds: tuple[int, ...],
    lrs: Sequence[float],
    task: TaskConfig,
) -> list[RunSpec]:
    """The runs: per optimizer, one for each group of ``LRS_PER_RUN`` learning rates."""
    from radam_cli.demo_config import RunSpec, early_steps

    groups = [tuple(lrs[i : i + LRS_PER_RUN]) for i in range(0, len(lrs), LRS_PER_RUN)]
    return [
        RunSpec(
            optimizer=name,
            settings=settings,
            lrs=group,
            seeds=seeds,
            steps=steps,
            task=task,
            histogram_steps=early_steps(steps),
        )
        for group in groups
        for name in optimizers
    ]


def _median_gradient(task: TaskConfig, seeds: tuple[int, ...]) -> float:
    """[`median_gradient`][radam_cli.demo_train.median_gradient] on one torch thread."""
    import torch

    from radam_cli.demo_train import median_gradient

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return median_gradient(task, seeds)
    finally:
        torch.set_num_threads(threads)


def train_all(
    specs: Sequence[RunSpec], jobs: int, progress: Callable[[int], None]
) -> list[RunResult]:
    """Train every run, in ``jobs`` worker processes (or here when ``jobs`` is 1).

    Each process uses one torch thread: on a few cores, runs side by side in processes are
    faster than one run on several threads, since the model's operations are tiny.

    Args:
        specs: The runs.
        jobs: Worker processes.
        progress: Called with numbers of steps done, as they are done.

    Returns:
        The results, one per (run, learning rate), in the order of ``specs``.
    """
    if jobs == 1 or len(specs) == 1:
        import torch

        from radam_cli.demo_train import train

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return [result for spec in specs for result in train(spec, progress)]
        finally:
            torch.set_num_threads(threads)
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    steps_done = context.Queue()
    pool = context.Pool(min(jobs, len(specs)), initializer=_start_worker, initargs=(steps_done,))
    try:
        runs = [pool.apply_async(_train_in_worker, (spec,)) for spec in specs]
        while not all(run.ready() for run in runs):
            for run in runs:
                if run.ready() and not run.successful():
                    run.get()  # raises the run's error
            _report_progress(steps_done, progress, timeout=0.1)
        results = [result for run in runs for result in run.get()]
    except BaseException:
        pool.terminate()  # Ctrl-C or a failed run: stop every worker now, mid-run
        raise
    pool.close()
    pool.join()
    _report_progress(steps_done, progress, timeout=0.0)
    return results


def _report_progress(steps_done: Any, progress: Callable[[int], None], timeout: float) -> None:
    """Pass on the steps the workers have reported, waiting up to ``timeout`` for the first."""
    import queue

    try:
        progress(steps_done.get(timeout=timeout))
        while True:
            progress(steps_done.get_nowait())
    except queue.Empty:
        pass


_worker_progress: Any = None


def _start_worker(steps_done: Any) -> None:
    """Set up a worker process: one torch thread and the queue for progress.

    Ctrl-C is left to the parent, which stops the pool, rather than a traceback from every
    worker.
    """
    import signal

    import torch

    global _worker_progress
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    steps_done.cancel_join_thread()  # never wait at exit for a parent that stopped reading
    torch.set_num_threads(1)
    _worker_progress = steps_done


def _train_in_worker(spec: RunSpec) -> list[RunResult]:
    """Train ``spec`` in a worker, reporting the steps done on the queue."""
    from radam_cli.demo_train import train

    return train(spec, _worker_progress.put)


def format_table(results: Sequence[RunResult], chance: float, optimizers: Sequence[str]) -> str:
    """The summary tables: seeds that learned, and the median final held-out loss.

    Args:
        results: Every run.
        chance: The chance-level loss, which sets the threshold of "learned".
        optimizers: The columns, in order.

    Returns:
        The tables as text, under a line that states the threshold.
    """
    from radam_cli.demo_report import LEARNED, format_number, result_tables, summarize

    threshold = format_number(LEARNED * chance, 3)
    lines = [
        f"A seed learned the task when its held-out loss ended below {LEARNED:g} x chance "
        f"({chance:.3f}) = {threshold} nats/token.",
        *result_tables(summarize(results, chance), optimizers, markdown=False),
    ]
    return "\n".join(lines)


def write_json(
    path: Path,
    results: Sequence[RunResult],
    config: dict[str, Any],
    chance: float,
    seconds: float,
) -> None:
    """Write the raw numbers: settings, every run, the per-cell summary (NaN as null).

    Args:
        path: The file to write.
        results: Every run.
        config: The demo's settings.
        chance: The chance-level loss.
        seconds: Wall time so far.
    """
    from radam_cli.demo_config import GRADIENT_RANGE, UPDATE_RANGE, histogram_edges
    from radam_cli.demo_report import summarize

    document = {
        "config": config,
        "chance_loss": chance,
        "seconds": seconds,
        "histogram_edges_log10": {
            "gradient": histogram_edges(GRADIENT_RANGE).tolist(),
            "update_over_lr": histogram_edges(UPDATE_RANGE).tolist(),
        },
        "summary": [asdict(cell) for cell in summarize(results, chance).values()],
        "runs": [asdict(result) for result in results],
    }
    path.write_text(json.dumps(_finite_or_none(document)) + "\n", encoding="utf-8")


def _finite_or_none(value: Any) -> Any:
    """``value`` with floats to 7 significant digits and NaN or infinity as None."""
    if isinstance(value, float):
        return float(f"{value:.7g}") if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite_or_none(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_none(item) for item in value]
    return value


def _default_jobs() -> int:
    """The CPU cores this process may use (its affinity), at most 4."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


def _count(number: int, noun: str, plural: str | None = None) -> str:
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def _floats(values: Sequence[float]) -> str:
    return ",".join(f"{v:g}" for v in values)


def _learning_rates(text: str) -> tuple[float, ...]:
    parts = [part.strip() for part in text.split(",")]
    if not all(parts):
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}")
    values = tuple(positive_float(part) for part in parts)
    if len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"repeated learning rate in {text!r}")
    return values


def _optimizers(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(","))
    unknown = [name for name in names if name not in NAMES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown optimizer {unknown[0]!r}; choose from {','.join(NAMES)}"
        )
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"repeated optimizer in {text!r}")
    return names
