"""The harness's problems and configurations test what they claim to.

Gradients are right (finite differences); every run crosses the rectification threshold
and moves the parameters far; the Lookahead configurations sync before, at and after
it; and every two configurations give visibly different trajectories (far beyond the
float32 bound), so that a row which ran one configuration while claiming another (or
forgot its Lookahead) would fail, in float32 as in float64.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tests import oracle
from tests.equivalence.configs import CONFIGS, CONFIGS_BY_NAME, GROUPS, configs_in
from tests.equivalence.problems import PROBLEMS, Problem
from tests.equivalence.reference import OracleLookahead


def _trajectory(problem: Problem, config_name: str, steps: int) -> list[list[np.ndarray]]:
    """The float64 oracle's own run (gradients at its own parameters), Lookahead included."""
    config = CONFIGS_BY_NAME[config_name]
    hp = config.hyperparameters(problem.lr)
    params = [np.array(p, dtype=np.float64) for p in problem.initial_params]
    state = oracle.OracleState(params, hp["amsgrad"])
    lookahead = config.lookahead
    slow = None if lookahead is None else OracleLookahead(params, lookahead.k, lookahead.alpha)
    trajectory = []
    for _ in range(steps):
        params = oracle.oracle_step(params, problem.gradient(params), state, hp)
        if slow is not None:
            params = slow.after_step(params)
        trajectory.append(params)
    return trajectory


def _flat(params: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([np.ravel(p) for p in params])


@pytest.mark.parametrize("name", list(PROBLEMS))
def test_gradient_matches_finite_differences(name: str) -> None:
    problem = PROBLEMS[name]
    params = [np.array(p, dtype=np.float64) for p in problem.initial_params]
    gradient = problem.gradient(params)
    h = 1e-3
    for index, param in enumerate(params):
        for element in np.ndindex(param.shape):
            plus = [p.copy() for p in params]
            minus = [p.copy() for p in params]
            plus[index][element] += h
            minus[index][element] -= h
            estimate = (problem.loss(plus) - problem.loss(minus)) / (2 * h)
            exact = gradient[index][element]
            assert abs(estimate - exact) <= 1e-3 * abs(exact) + 1e-10, (index, element)


@pytest.mark.parametrize("name", list(PROBLEMS))
def test_every_configuration_crosses_the_threshold_early(name: str) -> None:
    steps = PROBLEMS[name].quick_steps
    for config in CONFIGS:
        hp = config.hyperparameters(PROBLEMS[name].lr)
        flags = [oracle.is_rectified(t, hp) for t in range(1, steps + 1)]
        assert not flags[0], config.name
        assert all(flags[6:]), config.name
        assert 4 <= flags.index(True) + 1 <= 6, config.name


def test_lookahead_syncs_before_at_and_after_the_threshold() -> None:
    """Each Lookahead configuration syncs before the first rectified step and after it;
    one syncs exactly at it (the syncs within the first 10 steps)."""
    at_threshold = []
    for config in configs_in("lookahead"):
        assert config.lookahead is not None
        hp = config.hyperparameters(1.0)
        first_rectified = next(t for t in range(1, 100) if oracle.is_rectified(t, hp))
        syncs = range(config.lookahead.k, 11, config.lookahead.k)
        assert min(syncs) < first_rectified < max(syncs), config.name
        at_threshold += [config.name for t in syncs if t == first_rectified]
    assert at_threshold


@pytest.mark.parametrize("name", list(PROBLEMS))
def test_parameters_move_and_stay_finite(name: str) -> None:
    problem = PROBLEMS[name]
    start = _flat(list(problem.initial_params))
    for config in CONFIGS:
        final_params = _trajectory(problem, config.name, problem.steps)[-1]
        final = _flat(final_params)
        assert np.all(np.isfinite(final)), config.name
        assert np.max(np.abs(final - start)) > 0.2, config.name
        assert problem.loss(final_params) < problem.loss(list(problem.initial_params))


def test_configurations_are_distinguishable() -> None:
    """Any two configurations end >= 1e-3 apart (relative) on the quadratic's quick run.

    The float32 bound there is ~1e-6 relative and the float64 one 1e-12: mixing up any
    two configurations (the eps placement of torch vs optax included, which the
    quadratic's tiny-gradient pair exposes) fails a row.
    """
    problem = PROBLEMS["quadratic"]
    finals = {c.name: _flat(_trajectory(problem, c.name, problem.quick_steps)[-1]) for c in CONFIGS}
    for a, b in itertools.combinations(finals, 2):
        difference = np.abs(finals[a] - finals[b]) / (np.abs(finals[b]) + np.abs(finals[b]).max())
        assert np.max(difference) > 1e-3, (a, b, np.max(difference))


def test_every_group_has_configurations() -> None:
    assert [c for g in GROUPS for c in configs_in(g)] == list(CONFIGS)
