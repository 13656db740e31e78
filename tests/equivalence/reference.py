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
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tests import oracle

Trajectory = list[list[np.ndarray]]


def oracle_replay(
    initial_params: Sequence[np.ndarray],
    gradients: Sequence[Sequence[np.ndarray]],
    hyperparameters: dict[str, Any],
) -> Trajectory:
    """The float64 oracle's parameters after each step, fed ``gradients`` in order.

    Args:
        initial_params: The parameters before step 1 (any float dtype; used as float64).
        gradients: ``gradients[t - 1]``: the gradients of step t (used as float64).
        hyperparameters: The full hyperparameter dict (``tests.oracle.resolve``).

    Returns:
        ``trajectory[t - 1]``: the float64 parameters after step t.
    """
    params = [np.array(p, dtype=np.float64) for p in initial_params]
    state = oracle.OracleState(params, hyperparameters["amsgrad"])
    trajectory = []
    for step_grads in gradients:
        grads = [np.asarray(g, dtype=np.float64) for g in step_grads]
        params = oracle.oracle_step(params, grads, state, hyperparameters)
        trajectory.append([p.copy() for p in params])
    return trajectory
