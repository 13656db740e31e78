"""``python -m benchmarks --device DEVICE``: the torch and Keras optimizers on one device.

The host benchmark (the default run) times NumPy, torch, Keras and optax on the CPU against a
naive NumPy step. This one times the optimizers users train with on an accelerator (a CUDA,
XPU or MPS device; or the CPU, the same code path) against their peers on that device:

- radam_torch.RAdam against torch.optim.Adam(fused=True) and torch.optim.RAdam(foreach=True);
- radam_keras.RAdam against keras.optimizers.Adam, on Keras's JAX and torch backends (Keras
  places variables on its backend's default device, which must be of the chosen type).

Each pair runs in one fresh process (``benchmarks.worker --pair``), timed in alternating
rounds that wait for the device after each step, and its ratio is the median of the rounds'
ratios. Each step's bytes (``problems.BYTES_PER_PARAM`` per parameter) over its median time,
divided by the device's triad bandwidth (``torch.add(b, c, alpha=s, out=a)`` on the device),
give the fraction of the bandwidth it reaches.
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.problems import BYTES_PER_PARAM, PROBLEMS, Problem
from benchmarks.registry import DEVICE_VARIABLE, implementations
from benchmarks.targets import TIME_RATIO, Target
from benchmarks.worker import measure_pair

BYTES_PER_TRIAD_ELEMENT = 12  # fp32: read b and c, write a
TRIAD_ELEMENTS = 1 << 26  # 256 MiB per array: far beyond any GPU's cache
QUICK_TRIAD_ELEMENTS = 1 << 20
TRIAD_RUNS = 20

RADAM_TORCH, FUSED_ADAM, TORCH_RADAM = (
    "radam_torch.RAdam",
    "torch.optim.Adam(fused)",
    "torch.optim.RAdam(foreach)",
)
# Per problem: radam_torch within 1.1x of fused Adam and at least 5x faster than
# torch.optim.RAdam(foreach); radam_keras within 1.1x of Keras's Adam on each backend.
DEVICE_TARGETS: tuple[Target, ...] = tuple(
    target
    for problem in PROBLEMS
    for target in (
        Target(RADAM_TORCH, problem, TIME_RATIO, 1.1, FUSED_ADAM),
        Target(RADAM_TORCH, problem, TIME_RATIO, 0.2, TORCH_RADAM),
        Target("radam_keras.RAdam[jax]", problem, TIME_RATIO, 1.1, "keras.optimizers.Adam[jax]"),
        Target(
            "radam_keras.RAdam[torch]", problem, TIME_RATIO, 1.1, "keras.optimizers.Adam[torch]"
        ),
    )
)


@dataclasses.dataclass(frozen=True)
class PairResult:
    """One target's pair, timed on the device.

    Attributes:
        implementation: The implementation timed.
        reference: Its peer.
        problem: The problem's name.
        n_params: Parameters in the problem.
        ratio: Median over the rounds of ``implementation / reference``; None if not run.
        median_s: The implementation's median step (None if not run).
        reference_median_s: The peer's median step (None if not run).
        bandwidth_fraction: The implementation's bytes per second over the triad's.
        reference_bandwidth_fraction: The same for the peer.
        note: Why the pair did not run, or "".
    """

    implementation: str
    reference: str
    problem: str
    n_params: int
    ratio: float | None = None
    median_s: float | None = None
    reference_median_s: float | None = None
    bandwidth_fraction: float | None = None
    reference_bandwidth_fraction: float | None = None
    note: str = ""


def unavailable(device: str) -> str | None:
    """Why torch cannot run on ``device``, or None when it can.

    Args:
        device: A torch device string: ``"cuda"``, ``"cuda:1"``, ``"xpu"``, ``"mps"``,
            ``"cpu"``.
    """
    try:
        import torch
    except ImportError:
        return "the device benchmark needs torch: python -m pip install torch"
    try:
        kind = torch.device(device).type
    except RuntimeError as error:
        return f"--device {device!r} is not a torch device: {error}"
    if kind == "cpu":
        return None
    module = getattr(torch, kind, None)
    if module is None or not module.is_available():
        return f"no {kind} device here (torch.{kind}.is_available() is False)"
    return None


def triad_bytes_per_second(device: str, elements: int) -> float:
    """The device's memory bandwidth: the median of ``TRIAD_RUNS`` timed triads.

    Args:
        device: The torch device.
        elements: fp32 elements per array.

    Returns:
        ``BYTES_PER_TRIAD_ELEMENT * elements`` over the median run's seconds.

    Raises:
        RuntimeError: The triad computed a wrong value.
    """
    import torch

    a = torch.zeros(elements, device=device)
    b, c = torch.full_like(a, 1.0), torch.full_like(a, 2.0)
    times = []
    for run in range(TRIAD_RUNS + 1):
        synchronize(device)
        start = time.perf_counter()
        torch.add(b, c, alpha=3.0, out=a)
        synchronize(device)
        if run:  # the first run is untimed: first touches, kernel loading
            times.append(time.perf_counter() - start)
    if float(a[-1]) != 7.0:
        raise RuntimeError(f"the device triad computed {float(a[-1])}, expected 7.0")
    return BYTES_PER_TRIAD_ELEMENT * elements / statistics.median(times)


def synchronize(device: Any) -> None:
    """Wait for the work queued on a torch device (nothing to wait for on the CPU)."""
    import torch

    kind = torch.device(device).type
    if kind != "cpu":
        getattr(torch, kind).synchronize()


def time_pair(
    target: Target, problem: Problem, repeats: int, quick: bool, bandwidth: float
) -> PairResult:
    """Time one target's pair on ``problem`` in a fresh process (see the module).

    Returns:
        The ``PairResult``; a pair that cannot run (a package missing, Keras on another
        device) has its reason in ``note``.
    """
    reference = target.reference or ""
    base = PairResult(target.implementation, reference, problem.name, problem.n_params)
    registered = {impl.name for impl in implementations()}
    missing = [name for name in (target.implementation, reference) if name not in registered]
    if missing:
        return dataclasses.replace(base, note=f"not installed: {', '.join(missing)}")
    try:
        times, reference_times = measure_pair(
            target.implementation, reference, problem, repeats, quick=quick
        )
    except RuntimeError as error:
        return dataclasses.replace(base, note=str(error).strip().splitlines()[-1])
    mine, theirs = statistics.median(times), statistics.median(reference_times)
    return dataclasses.replace(
        base,
        ratio=statistics.median(a / b for a, b in zip(times, reference_times, strict=True)),
        median_s=mine,
        reference_median_s=theirs,
        bandwidth_fraction=BYTES_PER_PARAM * problem.n_params / mine / bandwidth,
        reference_bandwidth_fraction=BYTES_PER_PARAM * problem.n_params / theirs / bandwidth,
    )


def run(device: str, problems: Sequence[Problem], repeats: int, quick: bool, path: Path) -> int:
    """Time every target's pair on ``device``, print the report, write the JSON.

    Args:
        device: The torch device.
        problems: The problems.
        repeats: Rounds of each pair.
        quick: The problems are the tiny ones.
        path: Where to write the JSON.

    Returns:
        0 (a missed target is reported, never an error), or 2 when torch cannot run on
        ``device`` (the reason is printed).
    """
    reason = unavailable(device)
    if reason is not None:
        print(f"python -m benchmarks --device {device}: {reason}")
        return 2
    import torch

    kind = torch.device(device).type
    name = f"{device}: {torch.cuda.get_device_name(device)}" if kind == "cuda" else device
    bandwidth = triad_bytes_per_second(device, QUICK_TRIAD_ELEMENTS if quick else TRIAD_ELEMENTS)
    os.environ[DEVICE_VARIABLE] = device  # the workers' torch and Keras setups read it
    chosen = [(p, t) for p in problems for t in DEVICE_TARGETS if t.problem == p.name]
    pairs = [time_pair(t, p, repeats, quick, bandwidth) for p, t in chosen]
    statuses = [
        "NOT RUN" if pair.ratio is None else "PASS" if target.passes(pair.ratio) else "FAIL"
        for pair, (_, target) in zip(pairs, chosen, strict=True)
    ]
    print(f"device {name}, torch {torch.__version__}, triad {bandwidth / 1e9:.1f} GB/s")
    print("time ratio (median of paired rounds); fraction of the triad bandwidth of each")
    for pair, (_, target), status in zip(pairs, chosen, statuses, strict=True):
        label = f"{pair.problem:<10} {pair.implementation} / {pair.reference}"
        if pair.ratio is None:
            print(f"  {status:<8} {label}: {pair.note}")
        else:
            print(
                f"  {status:<8} {label}: {pair.ratio:.3f} ({target.describe()}); bandwidth "
                f"{pair.bandwidth_fraction:.2f} / {pair.reference_bandwidth_fraction:.2f}"
            )
    if quick:
        print("(--quick: tiny problems, a smoke test: the ratios mean nothing)")
    document = {
        "device": {"name": name, "torch": torch.__version__, "triad_bytes_per_second": bandwidth},
        "settings": {"quick": quick, "repeats": repeats, "bytes_per_param": BYTES_PER_PARAM},
        "pairs": [
            {**dataclasses.asdict(pair), "bound": target.bound, "status": status}
            for pair, (_, target), status in zip(pairs, chosen, statuses, strict=True)
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nwrote {path}")
    return 0
