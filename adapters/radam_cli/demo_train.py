"""One training run of ``radam demo``: one optimizer, several learning rates and seeds.

The models of every (learning rate, seed) pair are trained at once
(`radam_cli.demo_task.StackedTransformer`), each on its own seed's data stream. The optimizer
runs at learning rate 1 and each model's parameter change is then scaled by its own learning
rate: the optimizers compared here (with their warm-up multipliers) change the parameters by
the learning rate times a step that does not depend on it, so each model takes the step it
would take alone, up to rounding. The run records each model's loss curve and held-out loss,
and, on a few early (and some later) steps, the distribution of the gradients' and the
updates' magnitudes for the first seed of each learning rate (the paper's Figure 2 in
miniature) and every model's median update.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

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


def train(spec: RunSpec, progress: Callable[[int], None] | None = None) -> list[RunResult]:
    """Train the models of ``spec`` and measure them.

    Args:
        spec: The run.
        progress: Called with a number of steps done, every few steps (all models at once).

    Returns:
        One `RunResult` per learning rate of ``spec``, in its order.
    """
    start = time.perf_counter()
    seeds = len(spec.seeds)
    model = StackedTransformer(spec.task, spec.seeds * len(spec.lrs))
    params = list(model.parameters())
    optimizer, scheduler = make_optimizer(spec.optimizer, params, replace(spec.settings, lr=1.0))
    lr = torch.tensor(spec.lrs).repeat_interleave(seeds)  # model m's learning rate
    firsts = range(0, len(model.seeds), seeds)  # the first seed's model of each lr
    rngs = [np.random.default_rng(seed) for seed in model.seeds]
    record = set(spec.histogram_steps)
    results = [RunResult(spec.optimizer, rate, list(spec.seeds)) for rate in spec.lrs]
    losses = []
    total = spec.total_steps
    report_every = max(1, total // 25)
    for taken in range(1, total + 1):
        t = taken - spec.v_only_steps  # Adam-2k's v-only steps are -K + 1 to 0
        tokens, targets = stacked_batch(rngs, spec.task)
        loss = model.losses(tokens, targets)
        optimizer.zero_grad(set_to_none=True)
        loss.sum().backward()
        before = [p.detach().clone() for p in params]
        if t in record:
            gradients = [_model((p.grad for p in params), m) for m in firsts]
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        with torch.no_grad():
            for param, old in zip(params, before, strict=True):
                scale = lr.reshape(-1, *[1] * (param.dim() - 1))
                param.copy_(old + scale * (param - old))
        if t in record:
            medians = _median_changes(params, before, lr)
            for index, (result, m, gradient) in enumerate(
                zip(results, firsts, gradients, strict=True)
            ):
                change = (_model(params, m) - _model(before, m)).abs() / float(lr[m])
                result.histogram_steps.append(t)
                result.gradient_histograms.append(_log_histogram(gradient.abs(), GRADIENT_RANGE))
                result.update_histograms.append(_log_histogram(change, UPDATE_RANGE))
                result.update_medians.append(medians[index * seeds : (index + 1) * seeds])
        losses.append(loss.detach())
        if progress is not None and (taken % report_every == 0 or taken == total):
            progress(report_every if taken % report_every == 0 else taken % report_every)
    curves = torch.stack(losses).double().numpy()
    held_out = reversal_batch(np.random.default_rng(EVAL_SEED), spec.task, spec.task.eval_size)
    final_loss, final_accuracy = model.evaluate(held_out)
    seconds = (time.perf_counter() - start) / len(spec.lrs)
    for index, result in enumerate(results):
        models = slice(index * seeds, (index + 1) * seeds)
        _store_curves(result, curves[:, models], spec.curve_points)
        result.curve_steps = [step - spec.v_only_steps for step in result.curve_steps]
        result.final_loss = [float(v) for v in final_loss[models]]
        result.final_accuracy = [float(v) for v in final_accuracy[models]]
        result.seconds = seconds
    return results


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


def _model(tensors: object, index: int) -> torch.Tensor:
    """Stacked model ``index``'s slice of each tensor, flattened into one vector."""
    return torch.cat([t[index].detach().reshape(-1) for t in tensors])  # type: ignore[attr-defined]


def _median_changes(
    params: Sequence[torch.Tensor], before: Sequence[torch.Tensor], lr: torch.Tensor
) -> list[float]:
    """Each stacked model's median |parameter change| / lr over all its entries."""
    models = len(lr)
    changes = [
        (p.detach() - old).abs().reshape(models, -1) for p, old in zip(params, before, strict=True)
    ]
    return (torch.cat(changes, dim=1) / lr[:, None]).median(dim=1).values.tolist()


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
