"""radam_numpy: in place, blockwise, threaded, and equal to radam_core.step."""

import pickle
import threading
import time
import tracemalloc

import numpy as np
import pytest

import radam_core as rc
from radam_numpy import RAdam, minimize
from radam_numpy.threads import SHARED_BYTES, share

OPTIONS = [
    {},
    {"preset": "paper", "weight_decay": 0.1},
    {"preset": "authors", "weight_decay": 0.1},
    {"preset": "optax", "nesterov": True, "eps_root": 1e-12},
    {"preset": "tfa", "amsgrad": True, "weight_decay": 0.05},
    {"decoupled_weight_decay": True, "weight_decay": 0.2, "maximize": True},
]


def _problem(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    shapes = [(37, 11), (5,), (), (0, 3), (300,)]
    return [rng.standard_normal(shape).astype(dtype) for shape in shapes]


def _grads(params, t):
    # A deterministic gradient that depends on the parameters, so trajectories feed back.
    return [np.sin(3.0 * p + 0.1 * t) + 0.5 * p for p in params]


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize(("block_size", "threads"), [(7, 2), (64, 1), (1 << 17, None)])
def test_equals_core_step_in_float64(options, block_size, threads):
    params = _problem()
    core_params = [p.copy() for p in params]
    hp = dict(options)
    opt = RAdam(params, block_size=block_size, threads=threads, lr=0.05, **hp)
    state = rc.init_state(core_params, amsgrad=hp.get("amsgrad", False))
    for t in range(1, 31):
        grads = _grads(params, t)
        opt.step(grads)
        core_params, state = rc.step(core_params, _grads(core_params, t), state, lr=0.05, **hp)
        for ours, expected in zip(params, core_params, strict=True):
            np.testing.assert_array_equal(ours, expected)  # elementwise: the same bits
    assert opt.state.count == state.count == 30
    for ours, expected in zip(opt.state.exp_avg_sq, state.exp_avg_sq, strict=True):
        np.testing.assert_array_equal(ours, expected)


def test_updates_the_same_arrays_in_place():
    params = _problem()
    ids = [id(p) for p in params]
    before = [p.copy() for p in params]
    opt = RAdam(params, lr=0.1)
    state_ids = [id(a) for a in opt.state.exp_avg]
    for t in range(1, 8):
        opt.step(_grads(params, t))
    assert [id(p) for p in opt.params] == ids
    assert [id(a) for a in opt.state.exp_avg] == state_ids
    assert all(not np.array_equal(b, p) for b, p in zip(before, params, strict=True) if p.size)


def test_allocates_no_full_size_temporaries():
    param = np.random.default_rng(1).standard_normal(1 << 22)  # 32 MiB of float64
    grad = np.cos(param)
    opt = RAdam([param], block_size=1 << 14, threads=2)  # blocks of 128 KiB
    opt.step([grad])
    tracemalloc.start()
    try:
        opt.step([grad])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < param.nbytes / 8, (
        f"peak {peak} bytes during a step of a {param.nbytes}-byte param"
    )


@pytest.mark.parametrize("threads", [1, 2])
def test_large_blocks_run_on_pool_threads_and_small_ones_in_the_callers(threads):
    large = [np.zeros(SHARED_BYTES // 4, np.float32) for _ in range(4)]
    small = [np.zeros(SHARED_BYTES // 4 - 1, np.float32), np.zeros(3)]
    ran_on: dict[int, threading.Thread] = {}

    def work(part):
        for (array,) in part:
            ran_on[id(array)] = threading.current_thread()

    share(work, [(a,) for a in (large[0], small[0], *large[1:], small[1])], threads)
    assert len(ran_on) == 6
    assert all(ran_on[id(a)] is threading.current_thread() for a in small)
    pool = {ran_on[id(a)] for a in large}
    assert threading.current_thread() not in pool
    assert len(pool) == threads


def test_an_error_on_a_pool_thread_reaches_the_caller_after_every_share_ends():
    blocks = [(np.zeros(SHARED_BYTES // 4, np.float32),) for _ in range(2)]
    finished = []

    def work(part):
        if part[0][0] is blocks[0][0]:
            raise RuntimeError(f"failed on {threading.current_thread().name}")
        time.sleep(0.2)
        finished.append(part)

    with pytest.raises(RuntimeError, match="failed on radam_numpy-0"):
        share(work, blocks, 2)
    assert finished == [[blocks[1]]]


def test_strided_grads_are_accepted():
    params = [np.zeros((4, 6))]
    grads = [np.ones((6, 4)).T]
    expected, _ = rc.step([np.zeros((4, 6))], [np.ones((4, 6))], rc.init_state(params))
    RAdam(params, block_size=5).step(grads)
    np.testing.assert_array_equal(params[0], expected[0])


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_low_precision_keeps_dtype_and_never_nans_on_zero_grads(dtype):
    params = [np.ones(1000, dtype=dtype)]
    opt = RAdam(params, block_size=256)
    for _ in range(10):
        opt.step([np.zeros(1000, dtype=dtype)])
    assert params[0].dtype == dtype
    assert opt.state.exp_avg_sq[0].dtype == dtype
    np.testing.assert_array_equal(params[0], np.ones(1000, dtype=dtype))


def test_state_dict_round_trip_continues_identically():
    params_a = _problem(2)
    opt_a = RAdam(params_a, amsgrad=True)
    for t in range(1, 6):
        opt_a.step(_grads(params_a, t))
    saved = pickle.loads(pickle.dumps(opt_a.state_dict()))
    params_b = [p.copy() for p in params_a]
    opt_b = RAdam(params_b, amsgrad=True)
    opt_b.load_state_dict(saved)
    for t in range(6, 12):
        opt_a.step(_grads(params_a, t))
        opt_b.step(_grads(params_b, t))
    for a, b in zip(params_a, params_b, strict=True):
        np.testing.assert_array_equal(a, b)


def test_load_state_dict_with_wrong_shapes_changes_nothing():
    params = _problem()
    opt = RAdam(params)
    opt.step(_grads(params, 1))
    good = opt.state_dict()
    bad = opt.state_dict()
    bad["exp_avg"][1] = np.zeros(7)
    with pytest.raises(ValueError, match=r"state.exp_avg\[1\] has shape \(7,\), expected \(5,\)"):
        opt.load_state_dict(bad)
    after = opt.state_dict()
    assert after["count"] == good["count"] == 1
    for a, b in zip(after["exp_avg"], good["exp_avg"], strict=True):
        np.testing.assert_array_equal(a, b)


def test_bad_grads_leave_everything_unchanged():
    params = _problem()
    opt = RAdam(params)
    opt.step(_grads(params, 1))
    snapshot = [p.copy() for p in params], opt.state_dict()
    grads = _grads(params, 2)
    grads[3] = np.zeros((3, 0))
    with pytest.raises(ValueError, match=r"grads\[3\] has shape \(3, 0\), expected \(0, 3\)"):
        opt.step(grads)
    for before, now in zip(snapshot[0], params, strict=True):
        np.testing.assert_array_equal(before, now)
    assert opt.state.count == 1
    for before, now in zip(snapshot[1]["exp_avg"], opt.state.exp_avg, strict=True):
        np.testing.assert_array_equal(before, now)


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        (np.zeros(3), TypeError, r"params must be an iterable of arrays, got a single ndarray"),
        ([[0.0, 1.0]], TypeError, r"params\[0\] must be a numpy.ndarray, got list"),
        ([np.zeros((3, 4)).T], ValueError, r"params\[0\] must be writeable and C-contiguous"),
        (
            [np.zeros(3, dtype=np.int64)],
            TypeError,
            r"params\[0\] must have a real floating-point dtype",
        ),
    ],
)
def test_bad_params(params, error, match):
    with pytest.raises(error, match=match):
        RAdam(params)


def test_read_only_and_shared_params():
    frozen = np.zeros(3)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match=r"params\[0\] must be writeable"):
        RAdam([frozen])
    x = np.zeros(10)
    with pytest.raises(ValueError, match=r"params\[0\] and params\[1\] share memory"):
        RAdam([x[:6], x[4:]])


@pytest.mark.parametrize(
    ("name", "value", "error"), [("block_size", 0, ValueError), ("threads", 1.5, TypeError)]
)
def test_bad_block_size_or_threads(name, value, error):
    with pytest.raises(error, match=rf"{name} must be"):
        RAdam([np.zeros(2)], **{name: value})


def test_repr_names_the_hyperparameters():
    text = repr(RAdam([np.zeros(2)], preset="authors"))
    assert "below_threshold='skip'" in text
    assert "step=0" in text


def _rosenbrock(x):
    return (1.0 - x[0]) ** 2 + 100.0 * (x[1] - x[0] ** 2) ** 2


def _rosenbrock_grad(x):
    return np.array(
        [-2.0 * (1.0 - x[0]) - 400.0 * x[0] * (x[1] - x[0] ** 2), 200.0 * (x[1] - x[0] ** 2)]
    )


@pytest.mark.parametrize(("x0", "preset"), [([-1.0, 1.0], "torch"), ([-1.2, 1.0], "authors")])
def test_minimize_rosenbrock(x0, preset):
    # From (-1.2, 1) the torch convention's SGD-momentum steps before rectification overshoot
    # (|g| = 216, lr * |g| = 2.2) and diverge; the authors' convention skips those steps.
    result = minimize(
        _rosenbrock, x0, jac=_rosenbrock_grad, preset=preset, lr=0.01, maxiter=20000, gtol=1e-6
    )
    assert result.success, result.message
    np.testing.assert_allclose(result.x, [1.0, 1.0], atol=1e-4)
    assert result.nit < 20000
    assert len(result.history) == result.nit + 1
    assert result.history[-1] < result.history[0]


def test_minimize_with_value_and_grad_and_with_finite_differences():
    def both(x, a):
        return float(np.sum((x - a) ** 2)), 2.0 * (x - a)

    target = np.array([0.5, -1.5, 2.0])
    exact = minimize(both, np.zeros(3), jac=True, args=(target,), lr=0.05, maxiter=3000, gtol=1e-8)
    approx = minimize(
        lambda x, a: both(x, a)[0], np.zeros(3), args=(target,), lr=0.05, maxiter=3000, gtol=1e-5
    )
    np.testing.assert_allclose(exact.x, target, atol=1e-7)
    np.testing.assert_allclose(approx.x, target, atol=1e-4)
    assert approx.nfev == 4 * (approx.nit + 1)


def test_minimize_stops_at_maxiter_and_on_callback():
    result = minimize(_rosenbrock, [-1.2, 1.0], jac=_rosenbrock_grad, maxiter=5)
    assert not result.success
    assert result.nit == 5
    assert "maximum" in result.message
    stopped = minimize(
        _rosenbrock, [-1.2, 1.0], jac=_rosenbrock_grad, callback=lambda r: r.nit == 3
    )
    assert stopped.nit == 3
    assert "callback" in stopped.message


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"maxiter": -1}, r"maxiter must be an int >= 0, got -1"),
        ({"gtol": float("nan")}, r"gtol must be >= 0, got nan"),
        ({"x0": [np.inf]}, r"x0 must be finite"),
        ({"jac": "2-point"}, r"jac must be a callable, True or None"),
    ],
)
def test_minimize_rejects_bad_arguments(kwargs, match):
    arguments = {"x0": [1.0]} | kwargs
    x0 = arguments.pop("x0")
    with pytest.raises((ValueError, TypeError), match=match):
        minimize(lambda x: float(x @ x), x0, **arguments)
