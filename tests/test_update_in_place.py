"""for_adapters.update_leaf_in_place: update_leaf's results, bit for bit, in the arrays given.

Every golden case runs 25 fed-back steps twice, once through ``radam_core.step`` (pure)
and once through ``update_leaf_in_place`` on the namespaces whose arrays are mutable;
the two trajectories must agree exactly, and the in-place one must also meet the oracle.
"""

from __future__ import annotations

from typing import Any

import array_api_compat
import numpy as np
import pytest

import radam_core
from radam_core.for_adapters import compute_dtype
from tests.conftest import asarray, assert_like, dtype_name, is_jax, load_namespace, to_numpy
from tests.test_golden import (
    CASES,
    LR,
    TOLERANCE,
    assert_trajectories_close,
    core_trajectory,
    expected_trajectory,
    params0,
)


def _copy(xp: Any, arrays: Any) -> tuple[Any, ...]:
    return tuple(xp.asarray(a, copy=True) for a in arrays)


def in_place_step(xp: Any, preset: str, hp: dict[str, Any]) -> Any:
    """A step function for ``core_trajectory`` by update_leaf_in_place.

    Each step writes into copies of the previous step's arrays (the trajectory keeps
    every step's), and checks that it wrote into exactly those arrays.
    """
    full = radam_core.hyperparameters_for(preset, lr=LR, **hp)

    def step(params: Any, grads: Any, state: radam_core.RAdamState) -> Any:
        params = _copy(xp, params)
        state = radam_core.RAdamState(
            state.count,
            _copy(xp, state.exp_avg),
            _copy(xp, state.exp_avg_sq),
            _copy(xp, state.max_exp_avg_sq),
        )
        grads_before = [to_numpy(g, dtype=None) for g in grads]
        coefficients = radam_core.for_adapters.step_coefficients(state.count + 1, full)
        for index, param in enumerate(params):
            cast = coefficients.cast(
                compute_dtype(param.dtype, xp), array_api_compat.device(param), xp
            )
            max_sq = state.max_exp_avg_sq[index] if full.amsgrad else None
            result = radam_core.for_adapters.update_leaf_in_place(
                param,
                grads[index],
                state.exp_avg[index],
                state.exp_avg_sq[index],
                max_sq,
                cast,
                full,
                xp,
            )
            assert result is None
        for grad, before in zip(grads, grads_before, strict=True):
            np.testing.assert_array_equal(to_numpy(grad, dtype=None), before)
        return params, state._replace(count=state.count + 1)

    return step


@pytest.mark.parametrize("case", list(CASES))
def test_in_place_equals_pure_bit_for_bit(xp: Any, float_dtype: Any, case: str) -> None:
    if is_jax(xp):
        pytest.skip("JAX arrays are immutable: update_leaf_in_place refuses them (tested below)")
    preset, hp = CASES[case]
    pure, pure_states = core_trajectory(xp, float_dtype, preset, hp)
    in_place, in_place_states = core_trajectory(
        xp, float_dtype, preset, hp, step_fn=in_place_step(xp, preset, hp)
    )
    for t, (got, want, got_state, want_state) in enumerate(
        zip(in_place, pure, in_place_states, pure_states, strict=True), start=1
    ):
        got_arrays = (*got, *got_state.exp_avg, *got_state.exp_avg_sq, *got_state.max_exp_avg_sq)
        want_arrays = (
            *want,
            *want_state.exp_avg,
            *want_state.exp_avg_sq,
            *want_state.max_exp_avg_sq,
        )
        assert len(got_arrays) == len(want_arrays)
        for a, e in zip(got_arrays, want_arrays, strict=True):
            assert_like(a, e)
            np.testing.assert_array_equal(
                to_numpy(a, dtype=None), to_numpy(e, dtype=None), err_msg=f"step {t}"
            )
    name = dtype_name(float_dtype)
    expected = expected_trajectory(name, preset, hp)
    assert_trajectories_close(in_place, expected, TOLERANCE[name])


def test_numpy_arrays_are_written_not_replaced() -> None:
    xp = load_namespace("numpy")
    hp = radam_core.hyperparameters_for("torch", amsgrad=True)
    param, grad = np.array([1.0, -2.0], np.float32), np.array([0.5, 0.25], np.float32)
    m, v, v_max = (np.zeros(2, np.float32) for _ in range(3))
    addresses = [a.__array_interface__["data"][0] for a in (param, m, v, v_max)]
    expected = radam_core.for_adapters.update_leaf(
        param, grad, m, v, v_max, radam_core.for_adapters.step_coefficients(1, hp), hp, xp
    )
    radam_core.for_adapters.update_leaf_in_place(
        param, grad, m, v, v_max, radam_core.for_adapters.step_coefficients(1, hp), hp, xp
    )
    assert [a.__array_interface__["data"][0] for a in (param, m, v, v_max)] == addresses
    for got, want in zip((param, m, v, v_max), expected, strict=True):
        np.testing.assert_array_equal(got, want)
    assert np.all(v_max > 0)
    assert not np.array_equal(param, [1.0, -2.0])


@pytest.mark.parametrize("name", ["param", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"])
def test_read_only_array_is_refused_and_nothing_written(name: str) -> None:
    xp = load_namespace("numpy")
    hp = radam_core.hyperparameters_for("torch", amsgrad=True)
    arrays = {
        "param": np.array([1.0, -2.0]),
        "exp_avg": np.array([0.1, 0.2]),
        "exp_avg_sq": np.array([0.3, 0.4]),
        "max_exp_avg_sq": np.array([0.5, 0.6]),
    }
    arrays[name].flags.writeable = False
    before = {key: a.copy() for key, a in arrays.items()}
    with pytest.raises(ValueError, match=f"writes into {name}, but it is a read-only numpy"):
        radam_core.for_adapters.update_leaf_in_place(
            grad=np.array([1.0, 1.0]),
            coefficients=radam_core.for_adapters.step_coefficients(7, hp),
            hyperparameters=hp,
            xp=xp,
            **arrays,
        )
    for key, a in arrays.items():
        np.testing.assert_array_equal(a, before[key])


@pytest.mark.backend("jax")
def test_jax_arrays_are_refused() -> None:
    xp = load_namespace("jax.numpy")
    hp = radam_core.hyperparameters_for("torch")
    param, grad, m, v = (asarray(xp, p, xp.float32) for p in params0("float32")[:1] * 4)
    coefficients = radam_core.for_adapters.step_coefficients(1, hp).cast(xp.float32, None, xp)
    with pytest.raises(ValueError, match="writes into param, but it is a read-only jax"):
        radam_core.for_adapters.update_leaf_in_place(param, grad, m, v, None, coefficients, hp, xp)
