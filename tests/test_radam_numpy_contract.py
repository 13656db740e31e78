"""radam_numpy's contract: after any raise, params, state and count are bit for bit as before.

The bad-input matrix runs on a problem whose large parameters span several blocks on the
pool's threads and whose small ones run in the caller's thread, so that a step that wrote
some blocks before raising would be seen.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import radam_numpy.optimizer
from radam_numpy import RAdam

LARGE = 1 << 17  # two blocks of 2^16 float32 elements each: pool threads
SMALL = 300  # one block in the caller's thread


def _problem() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [rng.standard_normal(n).astype(np.float32) for n in (LARGE, SMALL, LARGE, SMALL)]


def _grads(params: list[np.ndarray], t: int) -> list[np.ndarray]:
    return [np.sin(p + 0.1 * t).astype(np.float32) for p in params]


def _optimizer(**options: Any) -> tuple[RAdam, list[np.ndarray]]:
    params = _problem()
    opt = RAdam(params, lr=0.01, block_size=1 << 16, threads=2, amsgrad=True, **options)
    for t in range(1, 4):
        opt.step(_grads(params, t))
    return opt, params


def _snapshot(opt: RAdam) -> tuple[list[np.ndarray], dict[str, Any]]:
    return [p.copy() for p in opt.params], opt.state_dict()


def _assert_unchanged(opt: RAdam, params: list[np.ndarray], snapshot: Any) -> None:
    before_params, before_state = snapshot
    assert opt.params is not None
    for ours, before in zip(opt.params, before_params, strict=True):
        np.testing.assert_array_equal(ours, before, strict=True)
    for p, mine in zip(params, opt.params, strict=True):
        assert p is mine
    after = opt.state_dict()
    np.testing.assert_array_equal(after["count"], before_state["count"], strict=True)
    for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
        for ours, before in zip(after[key], before_state[key], strict=True):
            np.testing.assert_array_equal(ours, before, strict=True)


def _underflow_in(index: int) -> Callable[[list[np.ndarray]], list[np.ndarray]]:
    """Gradients with one parameter's tail at 1e-30, whose square underflows in float32."""

    def grads(params: list[np.ndarray]) -> list[np.ndarray]:
        g = _grads(params, 4)
        g[index][-5:] = 1e-30
        return g

    return grads


def _set(index: int, value: Any) -> Callable[[list[np.ndarray]], list[Any]]:
    def grads(params: list[np.ndarray]) -> list[Any]:
        g: list[Any] = _grads(params, 4)
        g[index] = value
        return g

    return grads


GRAD_CASES = {
    "wrong-shape": (_set(3, np.zeros(SMALL + 1, np.float32)), ValueError, r"grads\[3\] has shape"),
    "wrong-dtype": (_set(3, np.zeros(SMALL)), ValueError, r"grads\[3\] has dtype float64"),
    "none": (_set(3, None), TypeError, r"grads\[3\] is None"),
    "object": (_set(3, [None] * SMALL), TypeError, r"grads\[3\] is not numeric"),
    "too-few": (lambda p: _grads(p, 4)[:3], ValueError, r"grads has 3 arrays, but params has 4"),
    "single-array": (
        lambda p: np.zeros((4, SMALL), np.float32),
        TypeError,
        r"grads must be a sequence of arrays, got a single ndarray",
    ),
}


@pytest.mark.parametrize("case", list(GRAD_CASES))
def test_bad_gradients_change_nothing(case: str) -> None:
    make, error, match = GRAD_CASES[case]
    opt, params = _optimizer()
    snapshot = _snapshot(opt)
    with pytest.raises(error, match=match):
        opt.step(make(params))
    _assert_unchanged(opt, params, snapshot)


@pytest.mark.parametrize(
    ("count", "error", "match"),
    [
        (-1, ValueError, r"state.count must be >= 0, got -1"),
        (2.0, TypeError, r"state.count must be an int or a 0-d integer array, got 2.0"),
        (np.zeros(2, np.int64), TypeError, r"state.count must be an int or a 0-d integer"),
    ],
)
def test_bad_count_changes_nothing(count: Any, error: type, match: str) -> None:
    opt, params = _optimizer()
    good = opt.state
    opt.state = opt.state._replace(count=count)
    snapshot = _snapshot(opt)
    with pytest.raises(error, match=match):
        opt.step(_grads(params, 4))
    _assert_unchanged(opt, params, snapshot)
    opt.state = good


@pytest.mark.parametrize("slot", ["param", "exp_avg", "max_exp_avg_sq"])
def test_read_only_array_changes_nothing(slot: str) -> None:
    """The last parameter's array made read-only after construction: raised before any write."""
    opt, params = _optimizer()
    array = params[3] if slot == "param" else getattr(opt.state, slot)[3]
    array.flags.writeable = False
    snapshot = _snapshot(opt)
    with pytest.raises(ValueError, match=r"\[3\] is read-only; RAdam updates it in place"):
        opt.step(_grads(params, 4))
    _assert_unchanged(opt, params, snapshot)


def test_bad_hyperparameters_after_construction() -> None:
    opt, params = _optimizer()
    snapshot = _snapshot(opt)
    with pytest.raises(ValueError, match=r"lr must be finite and >= 0, got -1.0"):
        opt.hyperparameters = dataclasses.replace(opt.hyperparameters, lr=np.float32(-1))
    opt.hyperparameters, good = {"lr": 0.1}, opt.hyperparameters  # type: ignore[assignment]
    with pytest.raises(TypeError, match=r"hyperparameters must be a radam_core.Hyperparameters"):
        opt.step(_grads(params, 4))
    _assert_unchanged(opt, params, snapshot)
    opt.hyperparameters = good


@pytest.mark.parametrize("lr", [np.float32(-1), np.float32(np.nan), np.float16(np.inf)])
def test_numpy_scalar_lr_is_checked(lr: Any) -> None:
    with pytest.raises(ValueError, match=r"lr must be finite and >= 0, got"):
        RAdam([np.zeros(2)], lr=lr)


@pytest.mark.parametrize(
    ("where", "errstate"),
    [
        (2, {"all": "raise"}),  # a large parameter: blocks on the pool threads
        (3, {"all": "raise"}),  # the last small one: the caller's thread, after the pool
        (1, {"under": "raise"}),
    ],
)
def test_floating_point_error_changes_nothing(where: int, errstate: dict[str, str]) -> None:
    opt, params = _optimizer()
    snapshot = _snapshot(opt)
    with np.errstate(**errstate), pytest.raises(FloatingPointError, match="underflow"):
        opt.step(_underflow_in(where)(params))
    _assert_unchanged(opt, params, snapshot)


def test_overflow_raises_and_changes_nothing() -> None:
    opt, params = _optimizer()
    snapshot = _snapshot(opt)
    grads = _set(2, np.full(LARGE, 1e30, np.float32))(params)
    with np.errstate(over="raise"), pytest.raises(FloatingPointError, match="overflow"):
        opt.step(grads)
    _assert_unchanged(opt, params, snapshot)


def test_warnings_as_errors_change_nothing() -> None:
    opt, params = _optimizer()
    snapshot = _snapshot(opt)
    grads = _set(0, np.full(LARGE, 1e30, np.float32))(params)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with np.errstate(over="warn"), pytest.raises(RuntimeWarning, match="overflow"):
            opt.step(grads)
    _assert_unchanged(opt, params, snapshot)


def test_an_error_call_that_raises_changes_nothing() -> None:
    def handler(kind: str, flag: int) -> None:
        raise ArithmeticError(f"radam test: {kind}")

    opt, params = _optimizer()
    snapshot = _snapshot(opt)
    with (
        np.errstate(under="call", call=handler),
        pytest.raises(ArithmeticError, match="radam test: underflow"),
    ):
        opt.step(_underflow_in(2)(params))
    _assert_unchanged(opt, params, snapshot)


def test_after_an_error_the_same_step_succeeds_as_if_nothing_happened() -> None:
    opt, params = _optimizer()
    reference, reference_params = _optimizer()
    grads = _underflow_in(2)(params)
    with np.errstate(all="raise"), pytest.raises(FloatingPointError):
        opt.step(grads)
    opt.step(grads)
    reference.step(grads)
    for a, b in zip(params, reference_params, strict=True):
        np.testing.assert_array_equal(a, b, strict=True)
    assert opt.state.count == reference.state.count == 4


def test_warnings_reach_the_caller_from_pool_threads() -> None:
    """The caller's error state applies on the pool's threads too (they start from NumPy's
    default): an overflow in a large parameter warns once per kind, and the step completes."""
    opt, params = _optimizer()
    grads = _set(2, np.full(LARGE, 1e30, np.float32))(params)
    with np.errstate(over="warn"), pytest.warns(RuntimeWarning, match="overflow"):
        opt.step(grads)
    assert opt.state.count == 4


def test_one_pass_under_the_default_error_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """No check pass (no second computation) unless an error could raise."""
    calls = []
    real = radam_numpy.optimizer.update_leaf
    monkeypatch.setattr(
        radam_numpy.optimizer, "update_leaf", lambda *a: calls.append(1) or real(*a)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("default")  # this suite turns warnings into errors
        opt, params = _optimizer()
        opt.step(_grads(params, 4))
        assert not calls
        with np.errstate(all="raise"):
            opt.step(_grads(params, 5))
    assert len(calls) == 6  # 2 + 1 + 2 + 1 blocks


def test_check_pass_gives_the_same_results() -> None:
    opt, params = _optimizer()
    reference, reference_params = _optimizer()
    for t in range(4, 9):
        with np.errstate(all="raise"):
            opt.step(_grads(params, t))
        reference.step(_grads(reference_params, t))
    for a, b in zip(params, reference_params, strict=True):
        np.testing.assert_array_equal(a, b, strict=True)


# Ranger (Lookahead around RAdam): a sync step is all or nothing too ------------------------


def _ranger_before_a_sync() -> tuple[Any, list[np.ndarray]]:
    """A Ranger one step before a sync, whose sync underflows where its step does not:
    lr = 0 leaves theta alone, and phi sits one float32 ulp from a tiny theta, so that
    0.3 (theta - phi) is subnormal and inexact."""
    from radam_numpy import Ranger

    params = [np.full(n, 5e-32, np.float32) for n in (LARGE, SMALL, LARGE, SMALL)]
    opt = Ranger(params, k=2, alpha=0.3, lr=0.0, block_size=1 << 16, threads=2)
    ones = [np.ones_like(p) for p in params]
    opt.step(ones)
    for s in opt.slow:
        s[...] = np.nextafter(s, np.float32(1.0))
    return opt, params


def _ranger_snapshot(opt: Any) -> Any:
    return [p.copy() for p in opt.params], opt.state_dict()


def _assert_ranger_unchanged(opt: Any, snapshot: Any) -> None:
    params, state = snapshot
    for ours, before in zip(opt.params, params, strict=True):
        np.testing.assert_array_equal(ours, before, strict=True)
    after = opt.state_dict()
    assert after["count"] == state["count"]
    for ours, before in zip(after["slow"], state["slow"], strict=True):
        np.testing.assert_array_equal(ours, before, strict=True)
    assert after["optimizer"]["count"] == state["optimizer"]["count"]
    for key in ("exp_avg", "exp_avg_sq"):
        for ours, before in zip(after["optimizer"][key], state["optimizer"][key], strict=True):
            np.testing.assert_array_equal(ours, before, strict=True)


def test_ranger_sync_underflow_changes_nothing() -> None:
    opt, params = _ranger_before_a_sync()
    snapshot = _ranger_snapshot(opt)
    ones = [np.ones_like(p) for p in params]
    with np.errstate(under="raise"), pytest.raises(FloatingPointError, match="underflow"):
        opt.step(ones)
    _assert_ranger_unchanged(opt, snapshot)
    opt.step(ones)  # the same step, under the default error state, completes
    assert opt.count == 0
    assert opt.optimizer.state.count == 2


def test_ranger_bad_gradient_on_a_sync_step_changes_nothing() -> None:
    opt, params = _ranger_before_a_sync()
    snapshot = _ranger_snapshot(opt)
    grads: list[Any] = [np.ones_like(p) for p in params]
    grads[3] = None
    with pytest.raises(TypeError, match=r"grads\[3\] is None"):
        opt.step(grads)
    _assert_ranger_unchanged(opt, snapshot)
