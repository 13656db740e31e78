"""Every bad input raises TypeError/ValueError naming the argument and its value,
and nothing has changed afterwards."""

import copy
import math
import re

import array_api_compat.numpy
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
    before = [copy.deepcopy(a) for a in (*params, *grads, *state.exp_avg, *state.exp_avg_sq)]
    with pytest.raises(error, match=match):
        rc.step(params, grads, state, **hyperparameters)
    after = [*params, *grads, *state.exp_avg, *state.exp_avg_sq]
    for old, new in zip(before, after, strict=True):
        np.testing.assert_array_equal(old, new)


@pytest.mark.parametrize(
    ("lr", "error", "match"),
    [
        (-1.0, ValueError, "lr must be finite and >= 0, got -1.0"),
        (math.nan, ValueError, "lr must be finite and >= 0, got nan"),
        ("x", TypeError, "lr must be a real number"),
        (np.zeros(2), TypeError, r"lr must be .*shape \(2,\)"),
    ],
)
def test_with_lr_checks_the_new_lr(lr, error, match):
    with pytest.raises(error, match=match):
        rc.Hyperparameters().with_lr(lr)


def test_with_lr_replaces_lr_only():
    hp = rc.hyperparameters_for("optax", weight_decay=0.1)
    new = hp.with_lr(np.float32(0.25))
    assert type(new.lr) is float
    assert new.lr == 0.25
    assert new == rc.hyperparameters_for("optax", weight_decay=0.1, lr=0.25)
    assert hp.lr == 1e-3  # the original is unchanged


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
        TypeError,
        match=r"params\[0\] must have a real floating-point dtype \(or a complex .*\), "
        r"got (int|bool)",
    ):
        rc.step(params, params, rc.init_state(params))


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_complex_params_are_accepted(dtype):
    params = [np.zeros(3, dtype=dtype)]
    new, _ = rc.step(params, [np.full(3, 2j, dtype=dtype)], rc.init_state(params))
    assert new[0].dtype == dtype


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


# NumPy scalars are host numbers: checked for range and stored as Python numbers.


@pytest.mark.parametrize("scalar", [np.float32, np.float16, np.float64])
@pytest.mark.parametrize("value", [-1.0, math.nan, math.inf])
@pytest.mark.parametrize("name", ["lr", "eps", "weight_decay", "eps_root"])
def test_numpy_scalar_out_of_range(name, value, scalar):
    with pytest.raises(ValueError, match=rf"{name} must be finite and >= 0, got {value!r}"):
        rc.hyperparameters_for(**{name: scalar(value)})


@pytest.mark.parametrize("value", [np.float32(3.0), np.float16(math.inf)])
def test_numpy_scalar_threshold_out_of_range(value):
    with pytest.raises(ValueError, match=rf"threshold must be .*got {float(value)!r}"):
        rc.hyperparameters_for(threshold=value)


@pytest.mark.parametrize("beta", [np.float32(1.0), np.float64(-0.5)])
def test_numpy_scalar_beta_out_of_range(beta):
    with pytest.raises(ValueError, match=rf"betas\[1\] must be in \[0, 1\), got {float(beta)!r}"):
        rc.hyperparameters_for(betas=(0.9, beta))


def test_numpy_scalars_are_stored_as_python_numbers():
    hp = rc.hyperparameters_for(
        lr=np.float32(1e-3),
        betas=(np.float32(0.9), np.float64(0.999)),
        eps=np.float32(1e-8),
        weight_decay=np.int64(0),
        threshold=np.float16(5.0),
        eps_root=np.float64(0.0),
        maximize=np.True_,
        amsgrad=np.False_,
    )
    expected = {
        "lr": float(np.float32(1e-3)),
        "betas": (float(np.float32(0.9)), 0.999),
        "eps": float(np.float32(1e-8)),
        "weight_decay": 0,
        "threshold": 5.0,
        "eps_root": 0.0,
        "maximize": True,
        "amsgrad": False,
    }
    for name, value in expected.items():
        stored = getattr(hp, name)
        assert stored == value
        assert type(stored) is type(value), name
    assert all(type(beta) is float for beta in hp.betas)


def test_numpy_scalar_steps_as_the_python_number():
    params = _params()
    numbers = {"lr": 0.5, "eps": 0.25, "maximize": True, "betas": (0.5, 0.75)}
    scalars = {
        "lr": np.float64(0.5),
        "eps": np.float32(0.25),
        "maximize": np.True_,
        "betas": (np.float32(0.5), np.float16(0.75)),
    }
    state = rc.init_state(params)
    for _ in range(7):
        expected, expected_state = rc.step(params, _grads(), state, **numbers)
        got, state = rc.step(params, _grads(), state, **scalars)
        for a, b in zip(expected, got, strict=True):
            np.testing.assert_array_equal(a, b)
        params = got
        assert expected_state.count == state.count


@pytest.mark.parametrize("value", [np.complex64(1e-3), np.str_("0.1"), np.bool_(True)])
def test_numpy_scalar_of_wrong_kind(value):
    with pytest.raises(TypeError, match=r"lr must be a real number or a 0-d real floating-point"):
        rc.hyperparameters_for(lr=value)


@pytest.mark.parametrize(
    ("value", "dtype"),
    [
        (np.asarray(1), "int64"),
        (np.asarray(1, dtype=np.int32), "int32"),
        (np.asarray(True), "bool"),
        (np.asarray(1e-3 + 0j), "complex128"),
        (np.asarray("0.1"), "<U3"),
        (np.asarray(None), "object"),
        (np.ones(1), "float64"),
    ],
)
def test_lr_array_of_wrong_dtype_or_shape(value, dtype):
    with pytest.raises(TypeError, match=r"lr must be .* 0-d real floating-point array, got shape"):
        rc.hyperparameters_for(lr=value)
    with pytest.raises(TypeError, match=rf"lr .*dtype {dtype}"):
        rc.hyperparameters_for(lr=value)


@pytest.mark.parametrize("value", [np.asarray(1e-3), np.asarray(1e-3, dtype=np.float32)])
def test_lr_real_array_accepted(value):
    assert rc.hyperparameters_for(lr=value).lr is value


@pytest.mark.parametrize("preset", [["torch"], None, 1])
def test_preset_not_a_string(preset):
    with pytest.raises(
        TypeError, match=rf"preset must be a str, one of .*got {re.escape(repr(preset))}"
    ):
        rc.hyperparameters_for(preset)


@pytest.mark.parametrize("bad", [None, [1.0, -2.0], 0.5])
def test_grad_that_is_not_an_array(bad):
    params = _params()
    grads = [_grads()[0], bad]
    _assert_step_raises(
        TypeError,
        rf"grads\[1\] must be an array like its parameter, got {type(bad).__name__}",
        params,
        grads,
        rc.init_state(params),
    )


def test_param_that_is_not_an_array():
    with pytest.raises(TypeError, match=r"params\[1\] must be an array, got list"):
        rc.for_adapters.check_params([np.zeros(2), [1.0]], array_api_compat.numpy)


@pytest.mark.parametrize("dtype", [np.int32, np.int16, np.uint8])
def test_array_count_saturates_at_its_maximum(dtype):
    """An integer-array count counts as optax.safe_increment: to its maximum, then stays."""
    top = np.iinfo(dtype).max
    params = _params()
    state = rc.init_state(params)._replace(count=np.asarray(top - 1, dtype=dtype))
    with np.errstate(all="raise"):
        params, state = rc.step(params, _grads(), state)
        assert state.count.dtype == dtype
        assert state.count.shape == ()
        assert state.count == top
        again, _ = rc.step(params, _grads(), state._replace(count=np.asarray(state.count)))
        assert state.count == top
    # Both steps are step t = top, whose coefficients are those of a host count.
    host = rc.for_adapters.step_coefficients(int(top), rc.hyperparameters_for())
    array = rc.for_adapters.step_coefficients(
        np.asarray(top, dtype=dtype), rc.hyperparameters_for()
    )
    for h, a in zip(host, array, strict=True):
        assert h == float(a)
    assert all(np.isfinite(p).all() for p in again)


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_numpy_integer_count_saturates(dtype):
    top = np.iinfo(dtype).max
    params = _params()
    with np.errstate(all="raise"):
        _, state = rc.step(params, _grads(), rc.init_state(params)._replace(count=dtype(top)))
    assert state.count == top
    assert type(state.count) is dtype


def test_python_int_count_has_no_maximum():
    params = _params()
    _, state = rc.step(params, _grads(), rc.init_state(params)._replace(count=2**63 - 1))
    assert state.count == 2**63
    assert type(state.count) is int


def test_jax_int32_count_saturates():
    jnp = pytest.importorskip("jax.numpy")
    params = [jnp.asarray(p) for p in _params()]
    state = rc.init_state(params)._replace(count=jnp.asarray(2**31 - 1, dtype=jnp.int32))
    new, state = rc.step(params, [jnp.asarray(g) for g in _grads()], state)
    assert int(state.count) == 2**31 - 1
    assert state.count.dtype == jnp.int32
    assert all(bool(jnp.isfinite(p).all()) for p in new)


# The bad-input matrix of radam_core.step: each raises, and no input has changed ------------


def _state_with_history():
    params = _params()
    state = rc.init_state(params, amsgrad=True)
    for _ in range(3):
        params, state = rc.step(params, _grads(), state, amsgrad=True)
    return list(params), state


def _tiny_grads():
    return [np.full((2, 3), 1e-300), np.array([1e-300, 1.0])]


STEP_MATRIX = {
    "lr-numpy-negative": ({"lr": np.float32(-1)}, None, None, ValueError, r"lr must be finite"),
    "lr-int-array": ({"lr": np.asarray(1)}, None, None, TypeError, r"lr .*dtype int64"),
    "preset-list": ({"preset": ["torch"]}, None, None, TypeError, r"preset must be a str"),
    "grad-none": ({}, lambda g: [g[0], None], None, TypeError, r"grads\[1\] must be an array"),
    "grad-list": ({}, lambda g: [g[0], [1.0, 2.0]], None, TypeError, r"grads\[1\] must be an"),
    "grad-shape": ({}, lambda g: [g[0], np.ones(3)], None, ValueError, r"grads\[1\] has shape"),
    "grad-dtype": (
        {},
        lambda g: [g[0], g[1].astype(np.complex128)],
        None,
        ValueError,
        r"grads\[1\] has dtype complex128, expected float64",
    ),
    "count-negative": ({}, None, lambda s: s._replace(count=-2), ValueError, r"state.count"),
    "count-float-array": (
        {},
        None,
        lambda s: s._replace(count=np.asarray(3.0)),
        TypeError,
        r"state.count must be an int or a 0-d integer array",
    ),
    "state-max-missing": (
        {},
        None,
        lambda s: s._replace(max_exp_avg_sq=()),
        ValueError,
        r"state.max_exp_avg_sq has 0 arrays",
    ),
    "underflow-raise": ({}, lambda g: _tiny_grads(), None, FloatingPointError, r"underflow"),
}


@pytest.mark.parametrize("case", list(STEP_MATRIX))
def test_step_bad_input_matrix_writes_nothing(case):
    overrides, grads_of, state_of, error, match = STEP_MATRIX[case]
    params, state = _state_with_history()
    grads = _grads() if grads_of is None else grads_of(_grads())
    state = state if state_of is None else state_of(state)
    inputs = (params, grads, state)
    before = copy.deepcopy(inputs)
    with np.errstate(all="raise"), pytest.raises(error, match=match):
        rc.step(params, grads, state, **{"amsgrad": True, **overrides})
    for old, new in zip(_leaves(before), _leaves(inputs), strict=True):
        np.testing.assert_array_equal(np.asarray(old, dtype=object), np.asarray(new, dtype=object))


def _leaves(tree):
    """Every leaf of nested lists, tuples and RAdamStates: arrays, numbers, None."""
    if isinstance(tree, (list, tuple)):
        return [leaf for item in tree for leaf in _leaves(item)]
    return [tree]


def test_hyperparameters_built_again_from_the_same_values_are_not_validated_again(monkeypatch):
    """radam_core.step takes its hyperparameters as keyword arguments every step: the same
    plain values give the hyperparameters validated the first time; a value of another type
    (1 for True, a NumPy scalar, an array) is validated as usual."""
    validations = []
    original = rc.Hyperparameters.__post_init__

    def counting(self, argument_names):
        validations.append(1)
        original(self, argument_names)

    monkeypatch.setattr(rc.Hyperparameters, "__post_init__", counting)
    params, grads = (np.ones(3),), (np.full(3, 0.5),)
    state = rc.init_state(params, amsgrad=True)
    for _ in range(4):
        params, state = rc.step(params, grads, state, lr=0.0125, betas=(0.8, 0.95), amsgrad=True)
    assert len(validations) == 1
    assert rc.hyperparameters_for(lr=0.0125, betas=(0.8, 0.95), amsgrad=True).amsgrad is True
    with pytest.raises(TypeError, match="amsgrad must be a bool, got 1"):
        rc.hyperparameters_for(lr=0.0125, betas=(0.8, 0.95), amsgrad=1)
    rc.hyperparameters_for(lr=np.float64(0.0125), betas=(0.8, 0.95), amsgrad=True)
    assert len(validations) == 3  # the first step's, amsgrad=1's (refused), np.float64's


# Messages in the caller's argument names ---------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"lr": -1.0}, ValueError, r"^learning_rate must be finite and >= 0, got -1.0$"),
        ({"betas": (1.0, 0.999)}, ValueError, r"^beta_1 must be in \[0, 1\), got 1.0$"),
        ({"betas": (0.9, "x")}, TypeError, r"^beta_2 must be a real number"),
        ({"eps": -1e-8}, ValueError, r"^epsilon must be finite and >= 0"),
        ({"threshold": 3.0}, ValueError, r"^threshold must be finite and >= 4"),
    ],
)
def test_validators_name_the_callers_arguments(overrides, error, message):
    """An adapter passes its users' names; the core's own message names them (no rewriting)."""
    names = {"lr": "learning_rate", "betas[0]": "beta_1", "betas[1]": "beta_2", "eps": "epsilon"}
    with pytest.raises(error, match=message):
        rc.hyperparameters_for(argument_names=names, **overrides)


def test_check_lookahead_names_the_callers_arguments():
    names = ("sync_period", "slow_step_size")
    with pytest.raises(ValueError, match=r"^sync_period must be >= 1, got 0$"):
        rc.for_adapters.check_lookahead(0, 0.5, argument_names=names)
    with pytest.raises(ValueError, match=r"^slow_step_size must be in \[0, 1\], got 2.0$"):
        rc.for_adapters.check_lookahead(5, 2.0, argument_names=names)
