"""Every bad input raises TypeError/ValueError naming the argument and its value,
and nothing has changed afterwards."""

import math

import numpy as np
import pytest

import radam_core as rc


def _params():
    return [np.linspace(-1.0, 1.0, 6).reshape(2, 3), np.array([0.5, -0.25])]


def _grads():
    return [np.full((2, 3), 0.1), np.array([1.0, -2.0])]


@pytest.mark.parametrize("name", ["lr", "eps", "weight_decay", "eps_root"])
@pytest.mark.parametrize("value", [-1e-3, math.nan, math.inf])
def test_negative_or_nan_scalar(name, value):
    with pytest.raises(ValueError, match=rf"{name} must be finite and >= 0, got {value!r}"):
        rc.hyperparameters_for(**{name: value})


@pytest.mark.parametrize("name", ["lr", "eps", "weight_decay"])
def test_scalar_of_wrong_type(name):
    with pytest.raises(TypeError, match=rf"{name} must be a real number.*, got .0.1."):
        rc.hyperparameters_for(**{name: "0.1"})


@pytest.mark.parametrize(
    ("betas", "index", "bad"),
    [
        ((1.0, 0.999), 0, 1.0),
        ((-0.1, 0.999), 0, -0.1),
        ((0.9, 1.0), 1, 1.0),
        ((0.9, math.nan), 1, math.nan),
    ],
)
def test_betas_outside_unit_interval(betas, index, bad):
    with pytest.raises(ValueError, match=rf"betas\[{index}\] must be in \[0, 1\), got {bad!r}"):
        rc.hyperparameters_for(betas=betas)


def test_betas_not_a_pair():
    with pytest.raises(TypeError, match=r"betas must be a pair \(beta1, beta2\), got 0.9"):
        rc.hyperparameters_for(betas=0.9)


def test_unknown_preset():
    with pytest.raises(ValueError, match=r"preset must be one of .*'tfa', got 'keras'"):
        rc.hyperparameters_for("keras")


@pytest.mark.parametrize(
    ("name", "value"), [("below_threshold", "adam"), ("eps_placement", "inside")]
)
def test_unknown_mode(name, value):
    with pytest.raises(ValueError, match=rf"{name} must be one of .*, got '{value}'"):
        rc.hyperparameters_for(**{name: value})


def test_unknown_hyperparameter():
    with pytest.raises(TypeError, match=r"unknown hyperparameter 'beta1'"):
        rc.hyperparameters_for(beta1=0.9)


@pytest.mark.parametrize("value", [3.9, math.inf, math.nan])
def test_threshold_below_four(value):
    with pytest.raises(ValueError, match=rf"threshold must be finite and >= 4.0 .*got {value!r}"):
        rc.hyperparameters_for(threshold=value)


@pytest.mark.parametrize("name", ["maximize", "amsgrad", "nesterov", "decoupled_weight_decay"])
def test_flags_must_be_bool(name):
    with pytest.raises(TypeError, match=rf"{name} must be a bool, got 1"):
        rc.hyperparameters_for(**{name: 1})


def _assert_step_raises(error, match, params, grads, state, **hyperparameters):
    before = [a.copy() for a in (*params, *grads, *state.exp_avg, *state.exp_avg_sq)]
    with pytest.raises(error, match=match):
        rc.step(params, grads, state, **hyperparameters)
    after = [*params, *grads, *state.exp_avg, *state.exp_avg_sq]
    for old, new in zip(before, after, strict=True):
        np.testing.assert_array_equal(old, new)


def test_step_rejects_bad_hyperparameter_before_touching_anything():
    params = _params()
    _assert_step_raises(
        ValueError,
        r"lr must be finite and >= 0, got -1",
        params,
        _grads(),
        rc.init_state(params),
        lr=-1,
    )


def test_grads_of_different_length():
    params = _params()
    _assert_step_raises(
        ValueError,
        r"grads has 1 arrays, but params has 2",
        params,
        _grads()[:1],
        rc.init_state(params),
    )


def test_grad_of_different_shape():
    params = _params()
    grads = [_grads()[0], np.zeros(3)]
    _assert_step_raises(
        ValueError,
        r"grads\[1\] has shape \(3,\), expected \(2,\)",
        params,
        grads,
        rc.init_state(params),
    )


def test_grad_of_different_dtype():
    params = _params()
    grads = [_grads()[0], np.zeros(2, dtype=np.float32)]
    _assert_step_raises(
        ValueError,
        r"grads\[1\] has dtype float32, expected float64",
        params,
        grads,
        rc.init_state(params),
    )


def test_state_of_different_length_shape_and_dtype():
    params = _params()
    state = rc.init_state(params)
    _assert_step_raises(
        ValueError,
        r"state.exp_avg has 1 arrays",
        params,
        _grads(),
        state._replace(exp_avg=state.exp_avg[:1]),
    )
    bad_shape = state._replace(exp_avg_sq=(state.exp_avg_sq[0], np.zeros(5)))
    _assert_step_raises(
        ValueError, r"state.exp_avg_sq\[1\] has shape \(5,\)", params, _grads(), bad_shape
    )
    bad_dtype = state._replace(exp_avg=(state.exp_avg[0].astype(np.float32), state.exp_avg[1]))
    _assert_step_raises(
        ValueError, r"state.exp_avg\[0\] has dtype float32", params, _grads(), bad_dtype
    )


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_])
def test_integer_or_boolean_params(dtype):
    params = [np.zeros(3, dtype=dtype)]
    with pytest.raises(
        TypeError, match=r"params\[0\] must have a real floating-point dtype, got (int|bool)"
    ):
        rc.step(params, params, rc.init_state(params))


def test_complex_params_point_to_the_real_view():
    params = [np.zeros(3, dtype=np.complex128)]
    with pytest.raises(TypeError, match=r"got complex128 \(pass its real view\)"):
        rc.step(params, params, rc.init_state(params))


def test_state_must_be_radam_state():
    params = _params()
    with pytest.raises(TypeError, match=r"state must be a RAdamState .*got dict"):
        rc.step(params, _grads(), {"count": 0})


@pytest.mark.parametrize(
    ("count", "error", "match"),
    [
        (-1, ValueError, r"state.count must be >= 0, got -1"),
        (1.0, TypeError, r"state.count must be an int or a 0-d integer array, got 1.0"),
        (
            np.zeros(2, dtype=np.int64),
            TypeError,
            r"state.count must be an int or a 0-d integer array",
        ),
        (np.asarray(1.0), TypeError, r"state.count must be an int or a 0-d integer array"),
    ],
)
def test_bad_count(count, error, match):
    params = _params()
    _assert_step_raises(error, match, params, _grads(), rc.init_state(params)._replace(count=count))


def test_amsgrad_needs_its_state():
    params = _params()
    _assert_step_raises(
        ValueError,
        r"state.max_exp_avg_sq has 0 arrays",
        params,
        _grads(),
        rc.init_state(params),
        amsgrad=True,
    )
    with_max = rc.init_state(params, amsgrad=True)
    _assert_step_raises(
        ValueError, r"amsgrad=False but the state has max_exp_avg_sq", params, _grads(), with_max
    )


@pytest.mark.parametrize(
    ("t", "error"),
    [(0, ValueError), (True, TypeError), (2.0, TypeError), (np.asarray([3]), TypeError)],
)
def test_diagnostics_reject_bad_step(t, error):
    with pytest.raises(error, match=r"step count t must be"):
        rc.rectify(t, 0.999)


@pytest.mark.parametrize(("steps", "error"), [(0, ValueError), (2.5, TypeError)])
def test_schedule_rejects_bad_steps(steps, error):
    with pytest.raises(error, match=rf"steps must be .*got {steps!r}"):
        rc.schedule(steps)
