"""radam_optax: optax's radam computed by radam_core, against optax.radam and the core.

The problem is ``test_golden``'s (a quadratic plus a cosine, fed back, with one leaf whose
gradient is ~1e-6 so that where eps goes matters), as a nested pytree, over 200 steps.

Tolerances, as ``|a - b| <= tol |b| + tol max|b|`` over the whole trajectory:

* float64 (jax x64): 1e-12 against ``optax.radam`` and against ``radam_core.step`` (the
  host-float path, run on NumPy). Measured: ~1e-15 against the core; against optax ~1e-15
  too, though optax evaluates the textbook rho_t, which is off by ~1e-13 relative at
  t = 6..7 for b2 = 0.999 (the core is exact to 1e-13).
* float32 (jax without x64) against the float64 core: 1e-5, ``test_golden``'s float32
  bound. Against ``optax.radam`` in float32: 1e-3, because optax's textbook rho_t in
  float32 is off by up to ~2e-3 near the threshold (rho_5 = 4.98645 against the exact
  4.995998: ``test_rectification.test_jax_float32_near_threshold``), which moves r_t by
  ~1e-3 relative on the first rectified steps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

optax = pytest.importorskip("optax")
jax = pytest.importorskip("jax")

import jax.numpy as jnp  # noqa: E402

import radam_core  # noqa: E402
import radam_optax.transform  # noqa: E402
from radam_optax import ScaleByRAdamState, radam, scale_by_radam  # noqa: E402
from tests.conventions import preset_kwargs  # noqa: E402

OPTAX_AMSGRAD = radam_core.PRESETS["optax"].replace(amsgrad=True)

STEPS = 200
LR = 0.01
F64 = 1e-12
F32 = 1e-5
F32_VS_OPTAX = 1e-3

_rng = np.random.default_rng(20190803)
_P0 = {
    "dense": {"kernel": _rng.uniform(-2.0, 2.0, (2, 3)), "bias": _rng.uniform(-2.0, 2.0, 5)},
    "scalar": np.asarray(1.25),
    "tiny": [_rng.uniform(-1.0, 1.0, 4)],
}
_CURVATURE = {
    "dense": {"kernel": np.linspace(0.3, 3.0, 6).reshape(2, 3), "bias": np.linspace(0.5, 2.0, 5)},
    "scalar": np.asarray(0.8),
    "tiny": [np.full(4, 1.5)],
}
_SCALE = {"dense": {"kernel": 1.0, "bias": 1.0}, "scalar": 1.0, "tiny": [1e-6]}


@pytest.fixture
def x64() -> Iterator[None]:
    """jax float64 (x64) for this test only."""
    with jax.enable_x64(True):
        yield


def params0(dtype: Any) -> Any:
    return jax.tree.map(lambda p: jnp.asarray(p, dtype=dtype), _P0)


def grad_fn(params: Any, xp: Any = jnp) -> Any:
    """Gradient of sum(a (p - 0.3)^2 / 2 + sin(3 p) / 3), scaled per leaf."""
    return jax.tree.map(
        lambda p, a, s: s * (a * (p - 0.3) + xp.cos(3.0 * p)), params, _CURVATURE, _SCALE
    )


def run(
    opt: Any, dtype: Any = jnp.float64, steps: int = STEPS, with_params: bool = True
) -> list[Any]:
    """Parameters after each step of ``opt`` under ``jax.jit``, as NumPy float64 pytrees."""

    @jax.jit
    def step(params: Any, state: Any) -> Any:
        updates, state = opt.update(grad_fn(params), state, params if with_params else None)
        return optax.apply_updates(params, updates), state

    params = params0(dtype)
    state = opt.init(params)
    trajectory = []
    for _ in range(steps):
        params, state = step(params, state)
        trajectory.append(jax.tree.map(lambda p: np.asarray(p, np.float64), params))
    return trajectory


def core_run(
    preset: str = "optax", lr: Callable[[int], Any] | float = LR, steps: int = STEPS, **hp: Any
) -> list[Any]:
    """The same run through ``radam_core.step`` on NumPy float64 (host count, host floats)."""
    params = jax.tree.map(lambda p: np.asarray(p, np.float64), _P0)
    leaves, treedef = jax.tree.flatten(params)
    state = radam_core.init_state(leaves, amsgrad=hp.get("amsgrad", False))
    trajectory = []
    for t in range(steps):
        grads = jax.tree.leaves(grad_fn(treedef.unflatten(leaves), np))
        step_lr = lr(t) if callable(lr) else lr
        leaves, state = radam_core.step(leaves, grads, state, preset=preset, lr=step_lr, **hp)
        trajectory.append(treedef.unflatten(list(leaves)))
    return trajectory


def assert_trajectories_close(actual: list[Any], expected: list[Any], tol: float) -> None:
    flat_expected = [jax.tree.leaves(step) for step in expected]
    scale = max(float(np.max(np.abs(leaf), initial=0.0)) for s in flat_expected for leaf in s)
    assert len(actual) == len(expected)
    for t, (got, want) in enumerate(zip(actual, flat_expected, strict=True), start=1):
        assert jax.tree.structure(got) == jax.tree.structure(expected[0])
        for i, (a, e) in enumerate(zip(jax.tree.leaves(got), want, strict=True)):
            assert np.all(np.isfinite(a)), (t, i)
            np.testing.assert_allclose(a, e, rtol=tol, atol=tol * scale, err_msg=f"step {t} {i}")


# Against optax.radam -------------------------------------------------------------------

OPTAX_CASES = {
    "default": {},
    "nesterov": {"nesterov": True},
    "eps-root": {"eps_root": 1e-12},
    "eps-root-large": {"eps_root": 1e-6, "eps": 0.0},
    "threshold-4": {"threshold": 4.0},
    "threshold-6.5": {"threshold": 6.5},
    "betas": {"b1": 0.8, "b2": 0.99},
    "b1-zero": {"b1": 0.0},
    "eps": {"eps": 1e-3},
}


@pytest.mark.parametrize("case", list(OPTAX_CASES))
def test_float64_matches_optax_radam(x64: None, case: str) -> None:
    kwargs = OPTAX_CASES[case]
    assert_trajectories_close(run(radam(LR, **kwargs)), run(optax.radam(LR, **kwargs)), F64)


@pytest.mark.parametrize("case", ["default", "nesterov", "betas"])
def test_scale_by_radam_matches_optax(x64: None, case: str) -> None:
    """scale_by_radam is optax's: the direction alone, and chained with the learning rate."""
    kwargs = OPTAX_CASES[case]
    ours = optax.chain(scale_by_radam(**kwargs), optax.scale_by_learning_rate(LR))
    theirs = optax.chain(optax.scale_by_radam(**kwargs), optax.scale_by_learning_rate(LR))
    assert_trajectories_close(run(ours), run(theirs), F64)
    assert_trajectories_close(run(ours), run(radam(LR, **kwargs)), F64)
    params = params0(jnp.float64)
    grads = grad_fn(params)
    state, reference = scale_by_radam(**kwargs).init(params), optax.scale_by_radam(**kwargs)
    ref_state = reference.init(params)
    # Step by step, both sides of the threshold (the first rectified step is 6). optax's
    # textbook rho_t in float64 is off by 9e-13 at t = 6 and 1.5e-11 at t = 7 for
    # b2 = 0.999 (the core's is exact), which moves r_t by up to ~1e-11 relative.
    for _ in range(10):
        u, state = scale_by_radam(**kwargs).update(grads, state)
        v, ref_state = reference.update(grads, ref_state)
        for a, b in zip(jax.tree.leaves(u), jax.tree.leaves(v), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=0.0)


# Against radam_core.step -----------------------------------------------------------------

CORE_CASES: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    # name: (preset, radam_optax kwargs, radam_core kwargs)
    "optax": ("optax", {}, {}),
    "optax-nesterov": ("optax", {"nesterov": True}, {"nesterov": True}),
    "optax-eps-root": ("optax", {"eps_root": 1e-10}, {"eps_root": 1e-10}),
    "optax-amsgrad": (
        "optax",
        {"amsgrad": True, "b2": 0.99},
        {"amsgrad": True, "betas": (0.9, 0.99)},
    ),
    "torch": ("torch", {}, {}),
    "paper": ("paper", {"threshold": 4.0}, {}),
    "authors": ("authors", {}, {}),
    "tfa": ("tfa", {"eps": 1e-7}, {}),
    "skip": ("optax", {"below_threshold": "skip"}, {"below_threshold": "skip"}),
    "raw-exclusive": (
        "optax",
        {"eps_placement": "raw", "threshold_inclusive": False},
        {"eps_placement": "raw", "threshold_inclusive": False},
    ),
    "l2": ("optax", {"weight_decay": 0.1}, {"weight_decay": 0.1}),
    "decoupled": (
        "optax",
        {"weight_decay": 0.1, "decoupled_weight_decay": True},
        {"weight_decay": 0.1, "decoupled_weight_decay": True},
    ),
    "authors-decoupled": ("authors", {"weight_decay": 0.1}, {"weight_decay": 0.1}),
    "tfa-decoupled": ("tfa", {"eps": 1e-7, "weight_decay": 0.1}, {"weight_decay": 0.1}),
}


@pytest.mark.parametrize("case", list(CORE_CASES))
def test_float64_matches_core(x64: None, case: str) -> None:
    preset, ours, core = CORE_CASES[case]
    expected = core_run(preset, **core)
    ours_kwargs = preset_kwargs({"preset": preset, **ours})
    assert_trajectories_close(run(radam(LR, **ours_kwargs)), expected, F64)


@pytest.mark.parametrize("case", ["optax", "torch", "authors-decoupled", "optax-amsgrad"])
def test_float32_matches_core(case: str) -> None:
    """float32 params, jax without x64 (float32 step scalars): the float64 core's
    trajectory to float32 tolerance."""
    preset, ours, core = CORE_CASES[case]
    with jax.enable_x64(False):
        actual = run(radam(LR, **preset_kwargs({"preset": preset, **ours})), jnp.float32)
    assert_trajectories_close(actual, core_run(preset, **core), F32)


def test_float32_against_optax_radam() -> None:
    """float32 against optax.radam in float32: close, and closer to the float64 truth."""
    with jax.enable_x64(False):
        ours, theirs = run(radam(LR), jnp.float32), run(optax.radam(LR), jnp.float32)
    assert_trajectories_close(ours, theirs, F32_VS_OPTAX)
    truth = core_run()

    def error(trajectory: list[Any]) -> float:
        return max(
            float(np.max(np.abs(a - e)))
            for got, want in zip(trajectory, truth, strict=True)
            for a, e in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True)
        )

    assert error(ours) <= error(theirs)


def test_update_is_exact_without_weight_decay(x64: None) -> None:
    """u = -(step terms), computed with theta = 0: apply_updates gives, bit for bit, the new
    parameters of radam_core.step run (jitted, the same count) on the same inputs."""
    params = params0(jnp.float64)
    opt = radam(LR)
    state = opt.init(params)
    leaves, treedef = jax.tree.flatten(params)
    core_state = radam_core.init_state(leaves)._replace(count=jnp.asarray(0, jnp.int32))
    core_step = jax.jit(lambda p, g, s: radam_core.step(p, g, s, preset="optax", lr=LR))
    ours = jax.jit(opt.update)
    for _ in range(10):
        grads = grad_fn(params)
        updates, state = ours(grads, state)
        new_leaves, core_state = core_step(leaves, jax.tree.leaves(grads), core_state)
        params = optax.apply_updates(params, updates)
        leaves = list(new_leaves)
        for a, b in zip(jax.tree.leaves(params), leaves, strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        params = treedef.unflatten(leaves)


# Composition ---------------------------------------------------------------------------


def test_chain_with_decayed_weights_and_clipping(x64: None) -> None:
    def chain(last: Any) -> Any:
        return optax.chain(optax.clip_by_global_norm(0.5), optax.add_decayed_weights(0.1), last)

    ours = run(chain(radam(LR)))
    assert_trajectories_close(ours, run(chain(optax.radam(LR))), F64)
    # add_decayed_weights before radam is the core's L2 weight decay, g += wd theta.
    l2 = optax.chain(optax.add_decayed_weights(0.1), radam(LR))
    assert_trajectories_close(run(l2), run(radam(LR, weight_decay=0.1)), F64)


def test_decoupled_weight_decay_is_adamw_style(x64: None) -> None:
    """decoupled_weight_decay: u = -lr (direction + wd theta), as optax.adamw forms it."""
    reference = optax.chain(
        optax.scale_by_radam(), optax.add_decayed_weights(0.1), optax.scale_by_learning_rate(LR)
    )
    ours = radam(LR, weight_decay=0.1, decoupled_weight_decay=True)
    assert_trajectories_close(run(ours), run(reference), F64)
    direction = optax.chain(
        scale_by_radam(weight_decay=0.1, decoupled_weight_decay=True),
        optax.scale_by_learning_rate(LR),
    )
    assert_trajectories_close(run(direction), run(reference), F64)


def test_weight_decay_needs_params() -> None:
    params = params0(jnp.float32)
    for opt in (radam(LR, weight_decay=0.1), scale_by_radam(weight_decay=1e-2)):
        state = opt.init(params)
        with pytest.raises(ValueError, match=r"weight_decay needs params"):
            opt.update(grad_fn(params), state)
    for opt in (radam(LR), radam(LR, weight_decay=0.0)):  # no decay: params not needed
        opt.update(grad_fn(params), opt.init(params))


def test_multisteps(x64: None) -> None:
    """MultiSteps accumulates k gradients per step of the inner radam: as optax.radam's."""
    ours = optax.MultiSteps(radam(LR), every_k_schedule=3)
    theirs = optax.MultiSteps(optax.radam(LR), every_k_schedule=3)
    assert_trajectories_close(run(ours, steps=60), run(theirs, steps=60), F64)
    state = ours.init(params0(jnp.float64))
    update = jax.jit(ours.update)
    for _ in range(7):
        _, state = update(grad_fn(params0(jnp.float64)), state, params0(jnp.float64))
    assert int(state.inner_opt_state.count) == 2


# inject_hyperparams, schedules and jit ----------------------------------------------------


def count_traces(opt: Any, steps: int = 20, dtype: Any = jnp.float32) -> tuple[int, int]:
    """(Python traces, jit cache entries) over ``steps`` jitted updates."""
    traces: list[None] = []

    @jax.jit
    def step(params: Any, state: Any) -> Any:
        traces.append(None)
        updates, state = opt.update(grad_fn(params), state, params)
        return optax.apply_updates(params, updates), state

    params = params0(dtype)
    state = opt.init(params)
    for _ in range(steps):
        params, state = step(params, state)
    jax.block_until_ready(params)
    return len(traces), step._cache_size()


@pytest.mark.parametrize(
    "make",
    [
        lambda: radam(LR),
        lambda: radam(optax.linear_schedule(LR, 0.0, 15)),
        lambda: radam(LR, weight_decay=0.1, nesterov=True, preset=OPTAX_AMSGRAD),
        lambda: optax.inject_hyperparams(radam)(learning_rate=LR),
        lambda: optax.inject_hyperparams(radam)(learning_rate=optax.cosine_decay_schedule(LR, 10)),
        lambda: optax.MultiSteps(radam(LR), every_k_schedule=2),
    ],
    ids=["plain", "schedule", "options", "inject", "inject-schedule", "multisteps"],
)
@pytest.mark.parametrize("use_x64", [False, True], ids=["x32", "x64"])
def test_jit_traces_once(make: Callable[[], Any], use_x64: bool) -> None:
    with jax.enable_x64(use_x64):
        traces, cache = count_traces(make(), dtype=jnp.float64 if use_x64 else jnp.float32)
    assert traces == 1
    assert cache == 1


def _core_step(params: Any, state: Any) -> Any:
    return radam_core.step(params, params, state)


@pytest.mark.parametrize(
    ("init", "update"),
    [
        (lambda params: radam_core.init_state(params)._replace(count=jnp.asarray(0)), _core_step),
        (
            radam(LR, weight_decay=0.1).init,
            lambda p, s: radam(LR, weight_decay=0.1).update(p, s, p),
        ),
    ],
    ids=["radam_core.step", "radam_optax"],
)
def test_tracing_never_asks_a_tracer_for_its_device(
    monkeypatch: pytest.MonkeyPatch, init: Callable[[Any], Any], update: Callable[[Any, Any], Any]
) -> None:
    """A tracer's ``device`` raises an error whose message walks the whole trace so far.

    Asked once per leaf, that made tracing quadratic in the number of leaves (minutes for
    Keras's 1,000-variable benchmark model), so the core never asks.
    """
    params = tuple(jnp.full((3,), float(i + 1)) for i in range(4))
    state = init(params)
    asked = []
    tracer_device = jax.core.Tracer.device

    def device(tracer: Any) -> Any:
        asked.append(type(tracer).__name__)
        return tracer_device.fget(tracer)

    monkeypatch.setattr(jax.core.Tracer, "device", property(device))
    jax.jit(update).lower(params, state)
    assert asked == []


@pytest.mark.parametrize("kwargs", [{}, {"nesterov": True, "eps_root": 1e-10, "threshold": 4.5}])
def test_inject_hyperparams_default_form(x64: None, kwargs: dict[str, Any]) -> None:
    """inject_hyperparams binds every numeric argument (b1, b2, eps, eps_root, threshold,
    learning_rate) and passes them traced: the same trajectory as the host floats."""
    injected = optax.inject_hyperparams(radam)(LR, **kwargs)
    state = injected.init(params0(jnp.float64))
    assert set(state.hyperparams) == {"learning_rate", "b1", "b2", "eps", "eps_root", "threshold"}
    assert all(v.dtype == jnp.float64 for v in state.hyperparams.values())
    assert_trajectories_close(run(injected), run(radam(LR, **kwargs)), F64)
    reference = optax.inject_hyperparams(optax.radam)(LR, **kwargs)
    assert_trajectories_close(run(injected), run(reference), F64)


def test_inject_hyperparams_change_mid_run(x64: None) -> None:
    """Changing the injected learning_rate and b2 in the state takes effect at once, with
    no retrace, and matches optax's inject_hyperparams(optax.radam) doing the same."""

    def trajectory(factory: Any) -> tuple[list[Any], int]:
        opt = optax.inject_hyperparams(factory)(learning_rate=LR)
        traces: list[None] = []

        @jax.jit
        def step(params: Any, state: Any) -> Any:
            traces.append(None)
            updates, state = opt.update(grad_fn(params), state, params)
            return optax.apply_updates(params, updates), state

        params = params0(jnp.float64)
        state = opt.init(params)
        out = []
        for t in range(40):
            if t == 20:
                state.hyperparams["learning_rate"] = jnp.asarray(0.1, jnp.float64)
                state.hyperparams["b2"] = jnp.asarray(0.99, jnp.float64)
            params, state = step(params, state)
            out.append(jax.tree.map(np.asarray, params))
        return out, len(traces)

    ours, traces = trajectory(radam)
    theirs, _ = trajectory(optax.radam)
    assert traces == 1
    assert_trajectories_close(ours, theirs, F64)
    unchanged = run(radam(LR), steps=40)
    # Identical up to the change, different after it.
    assert_trajectories_close(ours[:20], unchanged[:20], F64)
    assert not np.allclose(ours[25]["scalar"], unchanged[25]["scalar"], rtol=1e-3)


def test_inject_hyperparams_with_weight_decay_and_options(x64: None) -> None:
    make = optax.inject_hyperparams(radam)
    injected = make(LR, weight_decay=0.1, decoupled_weight_decay=True, preset="authors")
    expected = core_run("authors", weight_decay=0.1, decoupled_weight_decay=True)
    assert_trajectories_close(run(injected), expected, F64)


@pytest.mark.parametrize(
    "schedule",
    [
        optax.linear_schedule(LR, 0.0, 150),
        optax.exponential_decay(LR, 10, 0.9),
        optax.warmup_cosine_decay_schedule(0.0, LR, 20, 200),
    ],
    ids=["linear", "exponential", "warmup-cosine"],
)
def test_schedule(x64: None, schedule: Any) -> None:
    """A schedule is called with the int32 count before the step (0 first), as optax does.
    (optax's schedules then compute in float32, even with x64, and round differently under
    jit than eagerly: the core gets the jitted schedule's values.)"""
    ours = run(radam(schedule))
    assert_trajectories_close(ours, run(optax.radam(schedule)), F64)
    jitted = jax.jit(schedule)
    # A 0-d array lr: jitted linear_schedule ends at -2.4e-10, which a host lr may not be.
    expected = core_run(lr=lambda t: np.asarray(jitted(jnp.asarray(t, jnp.int32)), np.float64))
    assert_trajectories_close(ours, expected, F64)


# Pytrees, state and edge cases --------------------------------------------------------------


def test_pytrees_and_state(x64: None) -> None:
    params = {"a": [jnp.ones(3), (jnp.zeros((2, 2)), {"deep": jnp.asarray(2.0)})], "b": None}
    opt = radam(LR, preset=OPTAX_AMSGRAD)
    state = opt.init(params)
    assert isinstance(state, ScaleByRAdamState)
    assert state.count.dtype == jnp.int32
    assert state.count.shape == ()
    for field in (state.mu, state.nu, state.nu_max):
        assert jax.tree.structure(field) == jax.tree.structure(params)
    grads = jax.tree.map(lambda p: p + 0.5, params)
    updates, state = jax.jit(opt.update)(grads, state)
    assert jax.tree.structure(updates) == jax.tree.structure(params)
    assert state.count.dtype == jnp.int32
    assert int(optax.tree_utils.tree_get(state, "count")) == 1
    assert radam(LR).init(params).nu_max is None
    # optax's helpers see the state's fields.
    zeroed = optax.tree_utils.tree_set(state, count=jnp.zeros([], jnp.int32))
    assert int(zeroed.count) == 0


def test_empty_and_zero_gradients(x64: None) -> None:
    opt = radam(LR)
    updates, state = opt.update({}, opt.init({}))
    assert updates == {}
    assert int(state.count) == 1
    params = params0(jnp.float64)
    state = opt.init(params)
    zeros = jax.tree.map(jnp.zeros_like, params)
    for _ in range(8):  # both sides of the threshold
        updates, state = opt.update(zeros, state)
        for u in jax.tree.leaves(updates):
            np.testing.assert_array_equal(np.asarray(u), 0.0)
            assert u.dtype == jnp.float64


def test_count_saturates(x64: None) -> None:
    opt = radam(LR)
    params = params0(jnp.float64)
    state = opt.init(params)._replace(count=jnp.asarray(2**31 - 1, jnp.int32))
    updates, state = jax.jit(opt.update)(grad_fn(params), state)
    assert int(state.count) == 2**31 - 1
    assert state.count.dtype == jnp.int32
    assert all(np.all(np.isfinite(np.asarray(u))) for u in jax.tree.leaves(updates))


def test_dtypes_are_kept() -> None:
    """Updates and moments keep each leaf's dtype; float16/bfloat16 compute in float32."""
    params = {
        "h": jnp.linspace(-1.0, 1.0, 4, dtype=jnp.float16),
        "b": jnp.linspace(-1.0, 1.0, 4, dtype=jnp.bfloat16),
        "f": jnp.linspace(-1.0, 1.0, 4, dtype=jnp.float32),
    }
    opt = radam(LR)
    state = opt.init(params)
    step = jax.jit(opt.update)
    for _ in range(8):
        updates, state = step(jax.tree.map(jnp.cos, params), state)
        params = optax.apply_updates(params, updates)
    for name, dtype in (("h", jnp.float16), ("b", jnp.bfloat16), ("f", jnp.float32)):
        assert updates[name].dtype == dtype
        assert state.mu[name].dtype == dtype
        assert params[name].dtype == dtype
        assert np.all(np.isfinite(np.asarray(params[name], np.float32)))


def test_extra_args_are_accepted() -> None:
    opt = radam(LR)
    params = params0(jnp.float32)
    opt.update(grad_fn(params), opt.init(params), params, loss=jnp.asarray(1.0))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"learning_rate": -1.0}, ValueError, r"learning_rate must be finite and >= 0, got -1.0"),
        ({"learning_rate": "0.1"}, TypeError, r"learning_rate must be a real number, a 0-d"),
        ({"b1": 1.0}, ValueError, r"b1 must be in \[0, 1\), got 1.0"),
        ({"b2": -0.1}, ValueError, r"b2 must be in \[0, 1\), got -0.1"),
        ({"b1": "0.9"}, TypeError, r"b1 must be a real number"),
        ({"b2": jnp.ones(2)}, TypeError, r"b2 must be a real number or a 0-d real floating"),
        ({"eps": -1e-8}, ValueError, r"eps must be finite and >= 0, got -1e-08"),
        ({"eps_root": float("nan")}, ValueError, r"eps_root must be finite and >= 0"),
        ({"threshold": 3.0}, ValueError, r"threshold must be finite and >= 4"),
        ({"threshold": float("inf")}, ValueError, r"threshold must be finite"),
        ({"preset": "adam"}, ValueError, r"preset must be one of .*'optax'.*got 'adam'"),
        ({"below_threshold": "none"}, ValueError, r"below_threshold must be one of"),
        ({"eps_placement": "inside"}, ValueError, r"eps_placement must be one of"),
        ({"amsgrad": 1}, TypeError, r"amsgrad must be a bool"),
        ({"weight_decay": -0.1}, ValueError, r"weight_decay must be finite and >= 0"),
    ],
)
def test_bad_arguments_raise_with_optax_names(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    kwargs = {"learning_rate": LR, **kwargs}
    with pytest.raises(error, match=match):
        radam(**kwargs)
    if "learning_rate" not in kwargs or kwargs["learning_rate"] == LR:
        scale_kwargs = {k: v for k, v in kwargs.items() if k != "learning_rate"}
        with pytest.raises(error, match=match):
            scale_by_radam(**scale_kwargs)


def test_signature_mirrors_optax() -> None:
    import inspect

    ours = inspect.signature(radam).parameters
    theirs = inspect.signature(optax.radam).parameters
    for name, parameter in theirs.items():
        assert ours[name].kind == parameter.kind, name
        assert ours[name].default == parameter.default, name
    assert ours["preset"].default == "optax"
    assert set(radam_core.CONVENTION_FIELDS) <= set(ours)


def test_preset_value_and_deprecated_keywords(x64: None) -> None:
    """A radam_core.Preset selects the convention; optax's own arguments left at optax's
    defaults take the preset's values; the old keywords warn and still apply."""
    params = params0(jnp.float64)
    opt = radam(LR, preset=OPTAX_AMSGRAD)
    assert opt.init(params).nu_max is not None
    with pytest.warns(DeprecationWarning, match=r"radam_optax\.radam\(amsgrad=True\)") as record:
        old = radam(LR, amsgrad=True)
    assert record[0].filename == __file__  # the warning points at the caller's line
    assert_trajectories_close(run(old), run(opt), F64)
    paper = radam_core.hyperparameters_for("paper")
    assert (
        radam_optax.transform._hyperparameters(
            radam_core.PRESETS["paper"], LR, {"threshold": 5.0, "eps": 1e-8}
        ).threshold
        == paper.threshold
        == 4.0
    )
