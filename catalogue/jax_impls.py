"""JAX: radam_core.step on jax.numpy, radam_optax.radam and .ranger, optax's peers.

The peers are optax's own radam and lookahead.

Every step runs under ``jax.jit``, as JAX users run optimizers (eager JAX dispatch would
take ~1 ms a step): the core's step with a traced count, and optax's ``update`` +
``optax.apply_updates`` with the parameters and the optimizer state donated (their
buffers are reused in place); each step waits for its result. float64 runs with JAX's
x64 mode on (``jax.enable_x64(True)`` around each run) and float32 with it off, JAX's
default, as a user's would (even where ``JAX_ENABLE_X64`` is set). radam_optax mirrors
optax.radam: ``radam(learning_rate, b1, b2, eps, eps_root, threshold, *, nesterov,
preset, <the core's convention options>)``. Without a configuration (the benchmark) the
optax transformations run at :data:`DEFAULT_LEARNING_RATE`, and their Lookaheads sync
every :data:`~catalogue.implementation.RANGER_K` steps with a slow step size of 0.5.

With Lookahead: the core's jitted step is followed, in the same jitted function, by
``radam_core.lookahead_step`` with a traced 0-d count; radam_optax's transformation is
wrapped in ``radam_optax.lookahead(radam(...), sync_period=k, slow_step_size=alpha)``; and
the peer is ``optax.lookahead(optax.radam(...), k, alpha)`` over
``optax.LookaheadParams`` (see :func:`optax_lookahead_supports` for why it is one).

JAX is imported by the builders only: a process that has imported JAX runs torch's
small-operation steps several times slower.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from typing import Any

import numpy as np

from catalogue.core_impls import amsgrad
from catalogue.implementation import RANGER_K, BenchmarkRow, EquivalenceRows, Implementation
from catalogue.presets import preset_kwargs
from catalogue.stepper import Configuration, Setup

# The learning rate of the optax transformations without a configuration (torch's default).
DEFAULT_LEARNING_RATE = 1e-3
# optax.lookahead's slow step size without a configuration (radam_optax.ranger's default).
DEFAULT_SLOW_STEP_SIZE = 0.5


@contextlib.contextmanager
def x64(dtype: str) -> Iterator[None]:
    """JAX's 64-bit mode on for float64, off otherwise, only inside this context."""
    import jax

    with jax.enable_x64(dtype == "float64"):
        yield


def jax_device_check(device: str) -> str | None:
    """None where JAX can use ``device``, else why not."""
    import jax

    if device == "cuda":
        try:
            jax.devices("gpu")
        except RuntimeError:
            return "JAX has no GPU backend here"
    return None


def _device_put(array: np.ndarray, device: str) -> Any:
    import jax

    platform = "gpu" if device.split(":")[0] == "cuda" else "cpu"
    return jax.device_put(np.array(array, copy=True), jax.devices(platform)[0])


class CoreJitStepper:
    """``jax.jit(radam_core.step)`` with the step count a traced 0-d integer array.

    Under jit the count is never read on the host: the core computes rho_t, r_t and the
    bias corrections on the device, in float64 with x64 (the path a JAX user's jitted
    training step takes). With Lookahead, ``radam_core.lookahead_step`` follows in the
    same jitted function, its count a traced 0-d int32 array too (the sync selected by
    ``where``).
    """

    def __init__(self, setup: Setup) -> None:
        import jax
        import jax.numpy as jnp

        import radam_core

        self._device = setup.device
        self._params = tuple(_device_put(p, setup.device) for p in setup.initial_params)
        self._grads: tuple[Any, ...] = ()
        state = radam_core.init_state(self._params, amsgrad=amsgrad(setup))
        self._state = state._replace(count=jnp.asarray(0, dtype=jnp.int64))
        options, lookahead = setup.core_options, setup.lookahead
        self._slow: Any = None
        if lookahead is not None:
            slow = radam_core.init_lookahead(self._params)
            self._slow = slow._replace(count=jnp.asarray(0, dtype=jnp.int32))

        def step(params: Any, grads: Any, state: Any, slow: Any) -> Any:
            params, state = radam_core.step(params, grads, state, **options)
            if lookahead is not None:
                params, slow = radam_core.lookahead_step(
                    params, slow, lookahead.k, lookahead.alpha, jnp
                )
            return params, state, slow

        self._step = jax.jit(step)

    def params(self) -> list[np.ndarray]:
        """Copies of the parameters."""
        return [np.array(p, copy=True) for p in self._params]

    def set_gradients(self, grads: list[np.ndarray]) -> None:
        """Hold ``grads`` as arrays on the device."""
        self._grads = tuple(_device_put(g, self._device) for g in grads)

    def step(self) -> None:
        """One jitted step (and Lookahead's)."""
        self._params, self._state, self._slow = self._step(
            self._params, self._grads, self._state, self._slow
        )


class OptaxStepper:
    """An optax ``GradientTransformation``: ``update`` then ``optax.apply_updates``, jitted.

    Jitted together, with the parameters and the state donated, as optax is used.

    Args:
        setup: The initial parameters and the device.
        transformation: The gradient transformation.
        lookahead_params: The parameters are ``optax.LookaheadParams`` (fast and slow both
            theta_0, in two buffers: donating one array twice is an error), as
            ``optax.lookahead`` needs; the gradients are taken at, and the parameters
            are, the fast ones.
    """

    def __init__(self, setup: Setup, transformation: Any, lookahead_params: bool = False) -> None:
        import jax
        import optax

        def update(params: Any, state: Any, grads: Any) -> Any:
            updates, state = transformation.update(grads, state, params)
            return optax.apply_updates(params, updates), state

        self._device = setup.device
        self._lookahead_params = lookahead_params
        self._block_until_ready = jax.block_until_ready
        params: Any = [_device_put(p, setup.device) for p in setup.initial_params]
        if lookahead_params:
            slow = [_device_put(p, setup.device) for p in setup.initial_params]
            params = optax.LookaheadParams(params, slow)
        self._params = params
        self._grads: list[Any] = []
        self._state = transformation.init(self._params)
        self._update = jax.jit(update, donate_argnums=(0, 1))

    def params(self) -> list[np.ndarray]:
        """Copies of the (fast) parameters."""
        params = self._params.fast if self._lookahead_params else self._params
        return [np.array(p, copy=True) for p in params]

    def set_gradients(self, grads: list[np.ndarray]) -> None:
        """Hold ``grads`` as arrays on the device."""
        self._grads = [_device_put(g, self._device) for g in grads]

    def step(self) -> None:
        """One jitted update and apply, waited for."""
        self._params, self._state = self._update(self._params, self._state, self._grads)
        self._block_until_ready(self._params)


def optax_supports(config: Configuration) -> str | None:
    """optax.radam implements the optax convention (and its Nesterov momentum)."""
    if config.lookahead is not None:
        return "optax.radam alone has no Lookahead: see the optax.lookahead(optax.radam) row"
    if config.preset != "optax":
        return "optax.radam implements the optax convention only"
    return None


def optax_lookahead_supports(config: Configuration) -> str | None:
    """``optax.lookahead(optax.radam(...))``: the lookahead configurations of optax's convention.

    With ``reset_state=False`` (its default) optax's wrapper is the same rule: its
    ``steps_since_sync`` counts ``c`` and the k-th update (``steps_since_sync == k - 1``)
    syncs, giving ``fast = fast + u - (1 - alpha) (fast + u - slow)`` and
    ``slow = slow + alpha (fast + u - slow)``: both ``phi + alpha (theta - phi)`` with
    ``theta = fast + u``, in another arrangement of the arithmetic; on other updates
    ``fast + u`` and ``slow`` unchanged (updates times ``sync_next = False``, exact zeros).
    Fast and slow both start at theta_0 (``phi_0 = theta_0``), and the gradient is taken at
    the fast parameters, which are the row's parameters.
    """
    if config.lookahead is None:
        return "optax.lookahead wraps optax.radam in Lookahead: lookahead group only"
    if config.preset != "optax":
        return "optax.radam implements the optax convention only"
    return None


def _optax_radam(setup: Setup) -> Any:
    """optax.radam with the configuration's b1, b2, eps and nesterov (lr 1e-3 if none)."""
    import optax

    if setup.config is None:
        return optax.radam(DEFAULT_LEARNING_RATE)
    hp = setup.hyperparameters
    b1, b2 = hp["betas"]
    return optax.radam(
        hp["lr"], b1=b1, b2=b2, eps=hp["eps"], eps_root=hp["eps_root"], nesterov=hp["nesterov"]
    )


def optax_radam_stepper(setup: Setup) -> OptaxStepper:
    """optax.radam with the configuration's b1, b2, eps and nesterov."""
    return OptaxStepper(setup, _optax_radam(setup))


def optax_lookahead_stepper(setup: Setup) -> OptaxStepper:
    """``optax.lookahead(optax.radam(...), k, alpha)`` over ``optax.LookaheadParams``.

    Raises:
        ValueError: The configuration has no Lookahead.
    """
    import optax

    k, alpha = RANGER_K, DEFAULT_SLOW_STEP_SIZE
    if setup.config is not None:
        if setup.lookahead is None:
            raise ValueError(f"{setup.config.name} has no Lookahead")
        k, alpha = setup.lookahead.k, setup.lookahead.alpha
    transformation = optax.lookahead(
        _optax_radam(setup), sync_period=k, slow_step_size=alpha, reset_state=False
    )
    return OptaxStepper(setup, transformation, lookahead_params=True)


def radam_optax_supports(config: Configuration) -> str | None:
    """Configurations radam_optax maps exactly (see :func:`radam_optax_stepper`)."""
    if config.option("weight_decay") == 0.0 or _takes_weight_decay():
        return None
    if not config.option("decoupled_weight_decay"):
        return None
    return (
        "radam_optax.radam takes no decoupled weight decay, and optax.chain cannot decay "
        "only where the step updates (authors) or as theta *= 1 - lr wd before it (torch)"
    )


def _takes_weight_decay() -> bool:
    from radam_optax import radam

    parameters = inspect.signature(radam).parameters
    return "weight_decay" in parameters and "decoupled_weight_decay" in parameters


def radam_optax_stepper(setup: Setup) -> OptaxStepper:
    """radam_optax.radam with optax's arguments, ``preset=`` and the core's options.

    Without a configuration, ``radam(1e-3)``. Weight decay goes to radam's own
    ``weight_decay``/``decoupled_weight_decay`` where it takes them; otherwise L2 decay is
    ``optax.chain(optax.add_decayed_weights(wd), radam(...))``, which adds ``wd theta`` to
    the gradient before the moments, exactly. With Lookahead, the whole is wrapped in
    ``radam_optax.lookahead(..., k, alpha)``.
    """
    import optax

    from radam_optax import lookahead, radam

    if setup.config is None:
        return OptaxStepper(setup, radam(DEFAULT_LEARNING_RATE))
    hp = setup.hyperparameters
    b1, b2 = hp["betas"]
    options = {name: value for name, value in setup.config.options.items() if name != "betas"}
    chained_decay = 0.0
    if "weight_decay" in options and not _takes_weight_decay():
        chained_decay = options.pop("weight_decay")
        options.pop("decoupled_weight_decay", None)
    transformation = radam(
        hp["lr"],
        b1=b1,
        b2=b2,
        eps=hp["eps"],
        eps_root=hp["eps_root"],
        threshold=hp["threshold"],
        **preset_kwargs({"preset": setup.config.preset, **options}, "optax"),
    )
    if chained_decay:
        transformation = optax.chain(optax.add_decayed_weights(chained_decay), transformation)
    if setup.lookahead is not None:
        transformation = lookahead(
            transformation, sync_period=setup.lookahead.k, slow_step_size=setup.lookahead.alpha
        )
    return OptaxStepper(setup, transformation)


def radam_optax_ranger_stepper(setup: Setup) -> OptaxStepper:
    """``radam_optax.ranger(1e-3, sync_period=RANGER_K)``."""
    from radam_optax import ranger

    return OptaxStepper(setup, ranger(DEFAULT_LEARNING_RATE, sync_period=RANGER_K))


def _jax(build: Any, requires: tuple[str, ...], **fields: Any) -> Implementation:
    return Implementation(
        build,
        fields.pop("worker", "jax"),
        requires=requires,
        devices=("cpu", "cuda"),
        device_check=jax_device_check,
        context=x64,
        **fields,
    )


RADAM_OPTAX = ("jax", "optax", "radam_optax")
OPTAX = ("jax", "optax")

IMPLEMENTATIONS: tuple[Implementation, ...] = (
    _jax(
        CoreJitStepper,
        ("jax",),
        equivalence=EquivalenceRows("radam_core.step jax.numpy (jit)", ("float64",)),
    ),
    _jax(
        radam_optax_stepper,
        RADAM_OPTAX,
        worker="radam_optax",
        benchmark=BenchmarkRow("radam_optax.radam", "radam_optax.radam(1e-3), jit, donated"),
        equivalence=EquivalenceRows(
            "radam_optax.radam", ("float64", "float32"), supports=radam_optax_supports
        ),
    ),
    _jax(
        optax_radam_stepper,
        OPTAX,
        benchmark=BenchmarkRow("optax.radam", "optax's own radam(1e-3), jit, donated"),
        equivalence=EquivalenceRows(
            "peer: optax.radam", ("float64",), peer=True, supports=optax_supports
        ),
    ),
    _jax(
        radam_optax_ranger_stepper,
        RADAM_OPTAX,
        worker="radam_optax",
        benchmark=BenchmarkRow(
            "radam_optax.ranger",
            f"radam_optax.ranger(1e-3, sync_period={RANGER_K}), jit, donated: one timed step "
            f"is a whole k-cycle, {RANGER_K} updates and one sync",
            steps_per_timing=RANGER_K,
        ),
    ),
    _jax(
        optax_lookahead_stepper,
        OPTAX,
        benchmark=BenchmarkRow(
            "optax.lookahead",
            f"optax's own lookahead(optax.radam(1e-3), sync_period={RANGER_K}) on "
            "LookaheadParams, jit, donated: one timed step is a whole k-cycle",
            steps_per_timing=RANGER_K,
        ),
        equivalence=EquivalenceRows(
            "peer: optax.lookahead(optax.radam)",
            ("float64",),
            peer=True,
            supports=optax_lookahead_supports,
        ),
    ),
)
