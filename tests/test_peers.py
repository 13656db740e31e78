"""The presets against the peers they reproduce: torch.optim.RAdam and optax.radam.

Both run in float64 for 30 steps with a gradient that depends on the parameters (so the
trajectories feed back), crossing the threshold at step 6, and must agree with the core to
1e-12 relative (with an absolute floor of 1e-12 times the largest magnitude). The peers
compute rho_t with the textbook formula, which loses ~3 digits in float64 (~1e-12 relative
on rho_5): that moves the parameters by ~1e-15 here, far inside the tolerance.

optax runs with JAX's x64 turned on only inside ``jax.enable_x64(True)``, so the other JAX
tests in the same process keep JAX's float32 default.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import radam_core
from tests.conftest import assert_like, load_namespace, scaled_atol, to_numpy

STEPS = 30
LR = 0.03
TOL = 1e-12

_rng = np.random.default_rng(1908_03265)
P0 = [_rng.uniform(-2.0, 2.0, size=(3, 4)), _rng.uniform(-2.0, 2.0, size=5), np.asarray(0.7)]
CURVATURE = [np.linspace(0.2, 2.5, 12).reshape(3, 4), np.linspace(0.5, 1.5, 5), 1.1]


def grad_fn(params: list[np.ndarray]) -> list[np.ndarray]:
    """Gradient of a quadratic plus a sine, in float64."""
    return [a * (p - 0.25) + np.cos(2.0 * p) for p, a in zip(params, CURVATURE, strict=True)]


def assert_steps_close(actual: list[list[np.ndarray]], expected: list[list[np.ndarray]]) -> None:
    atol = scaled_atol([p for step in expected for p in step], TOL)
    for t, (got, want) in enumerate(zip(actual, expected, strict=True), start=1):
        for i, (a, e) in enumerate(zip(got, want, strict=True)):
            np.testing.assert_allclose(a, e, rtol=TOL, atol=atol, err_msg=f"step {t}, leaf {i}")


def assert_not_trivially_equal(trajectory: list[list[np.ndarray]]) -> None:
    """The parameters really moved (a no-op on both sides would agree too)."""
    moved = max(np.max(np.abs(a - b)) for a, b in zip(trajectory[-1], P0, strict=True))
    assert moved > 0.1


TORCH_CASES = {
    "default": {},
    "l2": {"weight_decay": 0.05},
    "decoupled": {"weight_decay": 0.05, "decoupled_weight_decay": True},
    "maximize": {"maximize": True},
    "maximize-l2": {"maximize": True, "weight_decay": 0.05},
    "maximize-decoupled": {"maximize": True, "weight_decay": 0.05, "decoupled_weight_decay": True},
    "betas": {"betas": (0.8, 0.99), "eps": 1e-6},
}


def torch_optim_trajectory(options: dict[str, Any], foreach: bool = False) -> Any:
    torch = pytest.importorskip("torch")
    reference = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in P0]
    optimizer = torch.optim.RAdam(reference, lr=LR, foreach=foreach, **options)
    expected = []
    for _ in range(STEPS):
        grads = grad_fn([p.detach().numpy().copy() for p in reference])
        for p, g in zip(reference, grads, strict=True):
            p.grad = torch.tensor(g, dtype=torch.float64)
        optimizer.step()
        expected.append([p.detach().numpy().copy() for p in reference])
    return expected


def core_trajectory(xp: Any, preset: str, options: dict[str, Any], count: Any = 0) -> Any:
    params = tuple(xp.asarray(p, dtype=xp.float64) for p in P0)
    state = radam_core.init_state(params)._replace(count=count)
    actual = []
    for _ in range(STEPS):
        grads = tuple(
            xp.asarray(g, dtype=xp.float64) for g in grad_fn([to_numpy(p) for p in params])
        )
        new_params, state = radam_core.step(params, grads, state, preset=preset, lr=LR, **options)
        for new, old in zip(new_params, params, strict=True):
            assert_like(new, old)
        params = new_params
        actual.append([to_numpy(p) for p in params])
    return actual


@pytest.mark.backend("torch")
@pytest.mark.parametrize("foreach", [False, True], ids=["for-loop", "foreach"])
@pytest.mark.parametrize("case", list(TORCH_CASES))
def test_torch_preset_matches_torch_optim_radam(case: str, foreach: bool) -> None:
    pytest.importorskip("torch")
    options = TORCH_CASES[case]
    expected = torch_optim_trajectory(options, foreach)
    actual = core_trajectory(load_namespace("torch"), "torch", options)
    assert_not_trivially_equal(expected)
    assert_steps_close(actual, expected)


@pytest.mark.backend("torch")
@pytest.mark.parametrize("preset", ["paper", "authors", "optax", "tfa"])
def test_other_presets_do_not_match_torch(preset: str) -> None:
    """Negative control: the comparison resolves even the eps placement (~1e-8 here)."""
    pytest.importorskip("torch")
    expected = torch_optim_trajectory({})
    actual = core_trajectory(load_namespace("torch"), preset, {})
    with pytest.raises(AssertionError):
        assert_steps_close(actual, expected)


OPTAX_CASES = {
    "default": {},
    "nesterov": {"nesterov": True},
    "eps-root": {"eps_root": 1e-10, "eps": 1e-6},
    "betas": {"betas": (0.8, 0.99)},
    "l2": {"weight_decay": 0.05},
    "decoupled": {"weight_decay": 0.05, "decoupled_weight_decay": True},
}


def _optax_transform(optax: Any, options: dict[str, Any]) -> Any:
    """optax.radam for the options, with optax.add_decayed_weights where they decay."""
    b1, b2 = options.get("betas", (0.9, 0.999))
    kwargs = {
        "b1": b1,
        "b2": b2,
        "eps": options.get("eps", 1e-8),
        "eps_root": options.get("eps_root", 0.0),
        "nesterov": options.get("nesterov", False),
    }
    wd = options.get("weight_decay", 0.0)
    if not wd:
        return optax.radam(LR, **kwargs)
    if options.get("decoupled_weight_decay", False):
        # theta -= lr * (update + wd * theta), i.e. theta *= 1 - lr * wd every step.
        return optax.chain(
            optax.scale_by_radam(**kwargs),
            optax.add_decayed_weights(wd),
            optax.scale_by_learning_rate(LR),
        )
    # L2: the decay joins the gradient before the moments.
    return optax.chain(optax.add_decayed_weights(wd), optax.radam(LR, **kwargs))


@pytest.mark.backend("jax")
@pytest.mark.parametrize("array_count", [False, True], ids=["int-count", "array-count"])
@pytest.mark.parametrize("case", list(OPTAX_CASES))
def test_optax_preset_matches_optax_radam(case: str, array_count: bool) -> None:
    jax = pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    jnp = load_namespace("jax.numpy")
    options = OPTAX_CASES[case]

    x64_before = jax.config.jax_enable_x64
    with jax.enable_x64(True):
        transform = _optax_transform(optax, options)
        reference = [jnp.asarray(p, dtype=jnp.float64) for p in P0]
        opt_state = transform.init(reference)
        expected = []
        for _ in range(STEPS):
            grads = [
                jnp.asarray(g, dtype=jnp.float64)
                for g in grad_fn([np.asarray(p) for p in reference])
            ]
            updates, opt_state = transform.update(grads, opt_state, reference)
            reference = optax.apply_updates(reference, updates)
            assert all(p.dtype == jnp.float64 for p in reference)
            expected.append([np.asarray(p, dtype=np.float64) for p in reference])

        count = jnp.asarray(0, dtype=jnp.int64) if array_count else 0
        actual = core_trajectory(jnp, "optax", options, count)
        # Negative control: torch's convention (eps on the raw sqrt(v), "> 5") differs.
        other = core_trajectory(jnp, "torch", options, count)

    # The x64 context is scoped: the rest of the process keeps its own setting.
    assert jax.config.jax_enable_x64 == x64_before
    assert_not_trivially_equal(expected)
    assert_steps_close(actual, expected)
    with pytest.raises(AssertionError):
        assert_steps_close(other, expected)
