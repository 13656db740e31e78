"""The plain data of ``radam demo``: names, settings, run specifications and results.

Nothing here imports torch, so that the demo's parent process (which only plans the runs,
collects the results and writes the report) starts its worker processes without first
paying for importing torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

LABELS = {
    "adam": "Adam",
    "adam-warmup-short": "Adam + short warm-up",
    "adam-warmup": "Adam + warm-up",
    "radam": "RAdam",
    "adam-2k": "Adam-2k",
    "adam-eps": "Adam-eps",
    "adam-no-m-correction": "Adam, no m correction",
}
"""Each optimizer's name on the command line and its label in tables and plots."""

NAMES = tuple(LABELS)
"""The optimizers' names, as ``radam demo --optimizers`` takes them, in report order."""

V_ONLY = "adam-2k"
"""The optimizer whose first ``K`` steps only update the second moment, run ``K`` steps
longer than the others so that it makes as many parameter updates."""


@dataclass(frozen=True)
class OptimizerSettings:
    """The settings the optimizers share, and those of the variants.

    Attributes:
        lr: The learning rate (the peak one for the warm-ups).
        beta1: First-moment decay.
        beta2: Second-moment decay.
        warmup_steps: ``T_w`` of ``adam-warmup``'s linear warm-up.
        short_warmup_steps: ``T_w`` of ``adam-warmup-short``'s linear warm-up.
        v_only_steps: ``K`` of Adam-2k.
        large_eps: The ``eps`` of Adam-eps, on the raw ``sqrt(v)`` (the others use 1e-8).
    """

    lr: float
    beta1: float = 0.9
    beta2: float = 0.999
    warmup_steps: int = 2000
    short_warmup_steps: int = 100
    v_only_steps: int = 2000
    large_eps: float = 1e-4


@dataclass(frozen=True)
class TaskConfig:
    """The size of the task and of the model.

    Attributes:
        vocab: Symbols in the alphabet (the chance-level loss is ``log(vocab)``).
        seq_len: Tokens per sequence.
        d_model: Width of the Transformer.
        n_heads: Attention heads.
        n_layers: Encoder layers.
        d_ff: Hidden width of the feed-forward blocks.
        batch: Sequences per training step.
        eval_size: Sequences in the held-out set that scores the final loss.
    """

    vocab: int = 16
    seq_len: int = 16
    d_model: int = 32
    n_heads: int = 2
    n_layers: int = 2
    d_ff: int = 64
    batch: int = 32
    eval_size: int = 512

    @property
    def chance_loss(self) -> float:
        """The cross-entropy of the uniform prediction, ``log(vocab)`` nats."""
        return math.log(self.vocab)


GRADIENT_RANGE = (-10.0, 1.0)
"""log10 range of the |gradient| histograms; values outside go to the end bins."""
UPDATE_RANGE = (-8.0, 1.0)
"""log10 range of the |update| / lr histograms; zero updates go to the first bin."""
BINS_PER_DECADE = 4
EVAL_SEED = 20190808
"""Seed of the held-out set, shared by every run (arXiv:1908.03265 was posted in August 2019)."""


@dataclass(frozen=True)
class RunSpec:
    """What one run trains: one optimizer, one model per (learning rate, seed), stacked.

    Attributes:
        optimizer: A name of `NAMES`.
        settings: Its settings; their ``lr`` is not used, each model has its own in ``lrs``.
        lrs: The learning rates.
        seeds: The seeds, one model each per learning rate (initialization and data
            stream, the same for every learning rate).
        steps: Optimizer steps that may update the parameters (Adam-2k takes its
            `v_only_steps` first, on top of them).
        task: The task's and the model's size.
        curve_points: At most this many points per loss curve (means over windows).
        histogram_steps: Steps whose magnitudes are recorded, for the first seed of each
            learning rate, counted like ``steps`` from 1 (for Adam-2k, its first updates
            after the v-only ones).
    """

    optimizer: str
    settings: OptimizerSettings
    lrs: tuple[float, ...]
    seeds: tuple[int, ...]
    steps: int
    task: TaskConfig = field(default_factory=TaskConfig)
    curve_points: int = 150
    histogram_steps: tuple[int, ...] = ()

    @property
    def v_only_steps(self) -> int:
        """Steps taken before ``steps`` that only update ``v``: Adam-2k's ``K``, else 0."""
        return self.settings.v_only_steps if self.optimizer == V_ONLY else 0

    @property
    def total_steps(self) -> int:
        """Every step taken: the ``v_only_steps`` and then the ``steps`` that update."""
        return self.v_only_steps + self.steps


@dataclass
class RunResult:
    """What one run measured; NaN marks a value that stopped being finite.

    Attributes:
        optimizer: The optimizer's name.
        lr: Its learning rate.
        seeds: The seeds, in the order of the per-seed lists.
        curve_steps: The last step of each window of the loss curves, counted like
            [`RunSpec.steps`][radam_cli.demo_config.RunSpec]: Adam-2k's v-only steps are
            ``-K + 1`` to ``0``.
        curves: Per seed, the mean training loss over each window.
        final_loss: Per seed, the loss on the held-out set after the last step.
        final_accuracy: Per seed, the token accuracy on the held-out set.
        histogram_steps: The steps whose histograms follow.
        gradient_histograms: Counts of log10 |gradient| per step (first seed), in
            `histogram_edges` of `GRADIENT_RANGE`.
        update_histograms: Counts of log10 (|parameter change| / lr) per step (first seed).
        update_medians: Per step of ``histogram_steps``, each seed's median
            |parameter change| / lr over its parameter entries (the lower median).
        seconds: Wall time of its run, divided among the run's learning rates.
    """

    optimizer: str
    lr: float
    seeds: list[int]
    curve_steps: list[int] = field(default_factory=list)
    curves: list[list[float]] = field(default_factory=list)
    final_loss: list[float] = field(default_factory=list)
    final_accuracy: list[float] = field(default_factory=list)
    histogram_steps: list[int] = field(default_factory=list)
    gradient_histograms: list[list[int]] = field(default_factory=list)
    update_histograms: list[list[int]] = field(default_factory=list)
    update_medians: list[list[float]] = field(default_factory=list)
    seconds: float = 0.0


def histogram_edges(log_range: tuple[float, float]) -> np.ndarray:
    """The bin edges (log10) of a magnitude histogram over ``log_range``."""
    low, high = log_range
    return np.linspace(low, high, round((high - low) * BINS_PER_DECADE) + 1)


def early_steps(steps: int, count: int = 32) -> tuple[int, ...]:
    """Steps to record magnitudes at: each of the first ten, then spaced geometrically.

    The steps 30, 100, 300, ... are always among them (the plots label those rows).

    Args:
        steps: The run's length.
        count: About how many steps to return.

    Returns:
        Increasing steps in ``[1, steps]``.
    """
    chosen = {round(float(s)) for s in np.geomspace(1, steps, count)}
    chosen.update(range(1, min(steps, 10) + 1))
    chosen.update(m * 10**k for k in range(1, 7) for m in (1, 3))
    return tuple(sorted(s for s in chosen if 1 <= s <= steps))
