"""The float64 reference trajectory: the oracle fed the gradients an implementation got.

Why in lockstep, and not the oracle's own closed-loop trajectory: when each computes its
gradients from its own parameters, the training dynamics can amplify last-bit
differences far beyond any rounding tolerance. Measured here, on the MLP with Nesterov momentum,
radam_core.step and the oracle (both float64; they differ in how rho_t and the bias
corrections are rounded) are 2e-14 apart after 500 steps, 3e-7 after 700 and 2e-3 after
1000; a closed-loop comparison would measure the problem's chaos, not the optimizer. So
the oracle (``tests/oracle.py``) replays the exact gradient sequence the implementation
received, from the implementation's own (dtype-rounded) initial parameters: any
difference is then the optimizer's alone, it does not grow with the dynamics, and it
first shows at the step and element where the two disagree. Since the oracle is a fixed
function of the gradient sequence, implementations that each agree with it in lockstep
implement the same step function (peers and ours alike).

With Lookahead (Zhang et al. 2019) the oracle's steps are followed by
:class:`OracleLookahead`, written here from the paper's rule, never from radam_core:
after each step ``c <- (c + 1) mod k``; when ``c == 0``,
``phi <- phi + alpha (theta - phi)`` and ``theta <- phi`` (``phi_0 = theta_0``). The
trajectory is then the parameters after each step and its sync, if any.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tests import oracle
from tests.equivalence.configs import Lookahead

Trajectory = list[list[np.ndarray]]


class OracleLookahead:
    """Lookahead's slow weights and count, in the dtype of the parameters it is given.

    Args:
        params: theta_0; the slow weights start as copies (``phi_0 = theta_0``).
        k: The sync period.
        alpha: The slow step size.
    """

    def __init__(self, params: Sequence[np.ndarray], k: int, alpha: float) -> None:
        self.k, self.alpha = k, alpha
        self.count = 0
        self.slow = [np.array(p, copy=True) for p in params]

    def after_step(self, params: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The parameters to continue from after an inner step that gave ``params``.

        ``c <- (c + 1) mod k``; when ``c == 0``: ``phi <- phi + alpha (theta - phi)`` and
        ``theta <- phi``. Arithmetic runs in the parameters' dtype (with a float32
        parameter, ``alpha`` is rounded to float32 first).
        """
        self.count = (self.count + 1) % self.k
        if self.count != 0:
            return list(params)
        self.slow = [
            np.asarray(phi + phi.dtype.type(self.alpha) * (theta - phi))
            for phi, theta in zip(self.slow, params, strict=True)
        ]
        return [phi.copy() for phi in self.slow]


def oracle_replay(
    initial_params: Sequence[np.ndarray],
    gradients: Sequence[Sequence[np.ndarray]],
    hyperparameters: dict[str, Any],
    lookahead: Lookahead | None = None,
) -> Trajectory:
    """The float64 oracle's parameters after each step, fed ``gradients`` in order.

    Args:
        initial_params: The parameters before step 1 (any float dtype; used as float64).
        gradients: ``gradients[t - 1]``: the gradients of step t (used as float64).
        hyperparameters: The full hyperparameter dict (``tests.oracle.resolve``).
        lookahead: Lookahead's ``k`` and ``alpha`` after every step, or None.

    Returns:
        ``trajectory[t - 1]``: the float64 parameters after step t (and its sync).
    """
    params = [np.array(p, dtype=np.float64) for p in initial_params]
    state = oracle.OracleState(params, hyperparameters["amsgrad"])
    slow = None if lookahead is None else OracleLookahead(params, lookahead.k, lookahead.alpha)
    trajectory = []
    for step_grads in gradients:
        grads = [np.asarray(g, dtype=np.float64) for g in step_grads]
        params = oracle.oracle_step(params, grads, state, hyperparameters)
        if slow is not None:
            params = slow.after_step(params)
        trajectory.append([p.copy() for p in params])
    return trajectory
