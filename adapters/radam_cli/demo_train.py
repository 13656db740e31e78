"""One training run of ``radam demo``: one optimizer, one learning rate, several seeds.

The seeds' models are trained at once (`radam_cli.demo_task.StackedTransformer`),
each on its own data stream; the run records each seed's loss curve and held-out loss, and
for the first seed the distribution of the gradients' and the updates' magnitudes on a few
early (and some later) steps, the paper's Figure 2 in miniature.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import torch

from radam_cli.demo_config import (
    EVAL_SEED,
    GRADIENT_RANGE,
    UPDATE_RANGE,
    RunResult,
    RunSpec,
    TaskConfig,
    histogram_edges,
)
from radam_cli.demo_optimizers import make_optimizer
from radam_cli.demo_task import StackedTransformer, reversal_batch, stacked_batch


def train(spec: RunSpec, progress: Callable[[int], None] | None = None) -> RunResult:
    """Train the seeds' models of ``spec`` and measure them.

    Args:
        spec: The run.
        progress: Called with a number of steps done, every few steps (all seeds at once).

    Returns:
        The run's `RunResult`.
    """
    start = time.perf_counter()
    model = StackedTransformer(spec.task, spec.seeds)
    params = list(model.parameters())
    optimizer, scheduler = make_optimizer(spec.optimizer, params, spec.settings)
    rngs = [np.random.default_rng(seed) for seed in spec.seeds]
    record = set(spec.histogram_steps)
    result = RunResult(spec.optimizer, spec.settings.lr, list(spec.seeds))
    losses = []
    total = spec.total_steps
    report_every = max(1, total // 25)
    for taken in range(1, total + 1):
        t = taken - spec.v_only_steps  # Adam-2k's v-only steps are -K + 1 to 0
        tokens, targets = stacked_batch(rngs, spec.task)
        loss = model.losses(tokens, targets)
        optimizer.zero_grad(set_to_none=True)
        loss.sum().backward()
        if t in record:
            gradients = _first_model(p.grad for p in params)
            before = _first_model(params)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        if t in record:
            change = (_first_model(params) - before).abs() / spec.settings.lr
            result.histogram_steps.append(t)
            result.gradient_histograms.append(_log_histogram(gradients.abs(), GRADIENT_RANGE))
            result.update_histograms.append(_log_histogram(change, UPDATE_RANGE))
        losses.append(loss.detach())
        if progress is not None and (taken % report_every == 0 or taken == total):
            progress(report_every if taken % report_every == 0 else taken % report_every)
    _store_curves(result, torch.stack(losses).double().numpy(), spec.curve_points)
    result.curve_steps = [step - spec.v_only_steps for step in result.curve_steps]
    held_out = reversal_batch(np.random.default_rng(EVAL_SEED), spec.task, spec.task.eval_size)
    final_loss, final_accuracy = model.evaluate(held_out)
    result.final_loss = [float(v) for v in final_loss]
    result.final_accuracy = [float(v) for v in final_accuracy]
    result.seconds = time.perf_counter() - start
    return result


def median_gradient(task: TaskConfig, seeds: tuple[int, ...]) -> float:
    """The median |gradient| entry of the seeds' models on their first batch, at initialization.

    It is the scale that Adam-eps's eps is set to: an eps much below it changes almost nothing
    (Liu et al. 2019 used 1e-4 on their own models' gradients).

    Args:
        task: The task's and the model's size.
        seeds: The seeds, whose models and first batches are those of the training runs.

    Returns:
        The median over every parameter entry of every seed's model.
    """
    model = StackedTransformer(task, seeds)
    rngs = [np.random.default_rng(seed) for seed in seeds]
    model.losses(*stacked_batch(rngs, task)).sum().backward()
    magnitudes = torch.cat([p.grad.abs().reshape(-1) for p in model.parameters()])  # type: ignore[union-attr]
    return float(magnitudes.double().median())


def _first_model(tensors: object) -> torch.Tensor:
    """The first stacked model's slice of each tensor, flattened into one vector."""
    return torch.cat([t[0].detach().reshape(-1) for t in tensors])  # type: ignore[attr-defined]


def _log_histogram(magnitudes: torch.Tensor, log_range: tuple[float, float]) -> list[int]:
    """Counts of log10 ``magnitudes`` in the bins of ``log_range``; the ends take the rest.

    Zeros count in the first bin; NaN and infinity in the last.
    """
    low, high = log_range
    bins = len(histogram_edges(log_range)) - 1
    logs = torch.log10(magnitudes.double().clamp_min(10.0**low))
    logs = torch.nan_to_num(logs, nan=high, posinf=high).clamp(low, high - 1e-9)
    return [int(c) for c in torch.histc(logs, bins=bins, min=low, max=high)]


def _store_curves(result: RunResult, losses: np.ndarray, points: int) -> None:
    """Window means of ``losses`` (steps x seeds) into ``result``'s curves."""
    steps = losses.shape[0]
    width = max(1, math.ceil(steps / points))
    ends = [*range(width, steps, width), steps]
    result.curve_steps = ends
    starts = [0, *ends[:-1]]
    result.curves = [
        [float(losses[a:b, seed].mean()) for a, b in zip(starts, ends, strict=True)]
        for seed in range(losses.shape[1])
    ]
