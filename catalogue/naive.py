"""The reference: a naive NumPy RAdam step that allocates a new array per operation.

It is torch.optim.RAdam's default convention (lr 1e-3, betas (0.9, 0.999), eps 1e-8 on
the raw sqrt(v), no weight decay; rectify when rho_t > 5, else theta -= lr * m_hat),
written the way a first NumPy port would be: every arithmetic operation returns a new
full-size array (fp32 throughout). Every "speedup vs naive" in the report is relative to this step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from catalogue.implementation import BenchmarkRow, Implementation
from catalogue.numpy_impls import NumpyOptimizerStepper

NAME = "naive-numpy"

LR = 1e-3
BETA1, BETA2 = 0.9, 0.999
EPS = 1e-8
THRESHOLD = 5.0


class NaiveRAdam:
    """torch's default RAdam in plain NumPy, one allocating operation at a time.

    Args:
        params: The parameters; replaced by new arrays on each step (never written).

    Attributes:
        params: The current parameters.
        exp_avg: m of each parameter.
        exp_avg_sq: v of each parameter.
        count: Steps taken so far.
    """

    def __init__(self, params: Sequence[np.ndarray]) -> None:
        self.params = list(params)
        self.exp_avg = [np.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [np.zeros_like(p) for p in self.params]
        self.count = 0

    def step(self, grads: Sequence[np.ndarray]) -> None:
        """Take one step with ``grads`` (one per parameter, same shapes and dtypes)."""
        self.count += 1
        t = self.count
        bias1 = 1.0 - BETA1**t
        bias2 = 1.0 - BETA2**t
        rho_inf = 2.0 / (1.0 - BETA2) - 1.0
        rho_t = rho_inf - 2.0 * t * BETA2**t / bias2
        rectified = rho_t > THRESHOLD
        r_t = (
            math.sqrt(
                (rho_t - 4.0)
                * (rho_t - 2.0)
                * rho_inf
                / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)
            )
            if rectified
            else 0.0
        )
        # Every intermediate is bound to a name: NumPy reuses the buffer of an unnamed
        # temporary ("temporary elision"), and this step must allocate per operation.
        for index, g in enumerate(grads):
            m_old = BETA1 * self.exp_avg[index]
            m_new = (1.0 - BETA1) * g
            m = m_old + m_new
            v_old = BETA2 * self.exp_avg_sq[index]
            g2 = g * g
            v_new = (1.0 - BETA2) * g2
            v = v_old + v_new
            m_hat = m / bias1
            if rectified:
                root = np.sqrt(v)
                denominator = root + EPS
                adaptive = math.sqrt(bias2) / denominator
                scaled = (LR * r_t) * m_hat
                update = scaled * adaptive
            else:
                update = LR * m_hat
            self.params[index] = self.params[index] - update
            self.exp_avg[index], self.exp_avg_sq[index] = m, v


NAIVE_NUMPY = Implementation(
    lambda setup: NumpyOptimizerStepper(setup, lambda params, _: NaiveRAdam(params)),
    "numpy",
    benchmark=BenchmarkRow(
        NAME, "torch's default RAdam in NumPy, a new array per operation (the reference)"
    ),
)
