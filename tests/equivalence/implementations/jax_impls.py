"""JAX rows: radam_core.step on jax.numpy, radam_optax.radam, and optax.radam (peer).

Every step runs under ``jax.jit``, as JAX users run optimizers (and eager JAX dispatch
would take ~1 ms a step here): the core's step with a traced count, and optax's
``update`` + ``apply_updates``. float64 rows run with JAX's x64 mode on
(``jax.enable_x64(True)`` around each run) and float32 rows with it off, JAX's default,
as a user's would (even where ``JAX_ENABLE_X64`` is set). radam_optax mirrors optax.radam:
``radam(learning_rate, b1, b2, eps, eps_root, threshold, *, nesterov, preset, <the
core's convention options>)``; its rows say "radam_optax not installed" where the
package is missing.

With Lookahead: the core's jitted step is followed, in the same jitted function, by
``radam_core.lookahead_step`` with a traced 0-d count; radam_optax's transformation is
wrapped in ``radam_optax.lookahead(radam(...), sync_period=k, slow_step_size=alpha)``; and
the peer is ``optax.lookahead(optax.radam(...), k, alpha)`` over
``optax.LookaheadParams`` (see :func:`optax_lookahead_supports` for why it is one).
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from typing import Any

import numpy as np

from tests.conventions import preset_kwargs
from tests.equivalence.configs import Config
from tests.equivalence.implementations.base import Implementation, Setup


@contextlib.contextmanager
def x64(enabled: bool) -> Iterator[None]:
    """JAX's 64-bit mode on (float64 rows) or off (float32 rows), only inside this context."""
    import jax

    with jax.enable_x64(enabled):
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

    platform = "gpu" if device == "cuda" else "cpu"
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
        state = radam_core.init_state(self._params, amsgrad=setup.config.option("amsgrad"))
        self._state = state._replace(count=jnp.asarray(0, dtype=jnp.int64))
        options, lookahead = setup.core_options, setup.config.lookahead
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

    def step(self, grads: list[np.ndarray]) -> None:
        """One jitted step (and Lookahead's)."""
        arrays = tuple(_device_put(g, self._device) for g in grads)
        self._params, self._state, self._slow = self._step(
            self._params, arrays, self._state, self._slow
        )


class OptaxStepper:
    """An optax ``GradientTransformation``: ``update`` then ``optax.apply_updates``,
    jitted together, as optax is used.

    Args:
        setup: The initial parameters and the device.
        transformation: The gradient transformation.
    """

    def __init__(self, setup: Setup, transformation: Any) -> None:
        import jax
        import optax

        def update(grads: Any, state: Any, params: Any) -> Any:
            updates, state = transformation.update(grads, state, params)
            return optax.apply_updates(params, updates), state

        self._device = setup.device
        self._params = [_device_put(p, setup.device) for p in setup.initial_params]
        self._state = transformation.init(self._params)
        self._update = jax.jit(update)

    def params(self) -> list[np.ndarray]:
        """Copies of the parameters."""
        return [np.array(p, copy=True) for p in self._params]

    def step(self, grads: list[np.ndarray]) -> None:
        """One jitted update and apply."""
        arrays = [_device_put(g, self._device) for g in grads]
        self._params, self._state = self._update(arrays, self._state, self._params)


def optax_supports(config: Config) -> str | None:
    """optax.radam implements the optax convention (and its Nesterov momentum)."""
    if config.lookahead is not None:
        return "optax.radam alone has no Lookahead: see the optax.lookahead(optax.radam) row"
    if config.preset != "optax":
        return "optax.radam implements the optax convention only"
    return None


def optax_lookahead_supports(config: Config) -> str | None:
    """``optax.lookahead(optax.radam(...))``: the lookahead configurations of optax's convention.

    With ``reset_state=False`` (its default) optax's wrapper is the same rule: its
    ``steps_since_sync`` counts ``c`` and the k-th update (``steps_since_sync == k - 1``)
    syncs, giving ``fast = fast + u - (1 - alpha) (fast + u - slow)`` and
    ``slow = slow + alpha (fast + u - slow)``: both ``phi + alpha (theta - phi)`` with
    ``theta = fast + u``, in another arrangement of the arithmetic; on other updates
    ``fast + u`` and ``slow`` unchanged (updates times ``sync_next = False``, exact zeros).
    ``LookaheadParams.init_synced`` gives ``phi_0 = theta_0``, and the gradient is taken at
    the fast parameters, which are the row's parameters.
    """
    if config.lookahead is None:
        return "optax.lookahead wraps optax.radam in Lookahead: lookahead group only"
    if config.preset != "optax":
        return "optax.radam implements the optax convention only"
    return None


def _optax_radam(setup: Setup) -> Any:
    """optax.radam with the configuration's b1, b2, eps and nesterov."""
    import optax

    hp = setup.hyperparameters
    b1, b2 = hp["betas"]
    return optax.radam(
        hp["lr"], b1=b1, b2=b2, eps=hp["eps"], eps_root=hp["eps_root"], nesterov=hp["nesterov"]
    )


def optax_peer_stepper(setup: Setup) -> OptaxStepper:
    """optax.radam with the configuration's b1, b2, eps and nesterov."""
    return OptaxStepper(setup, _optax_radam(setup))


class OptaxLookaheadStepper:
    """``optax.lookahead(optax.radam(...), k, alpha)`` over ``optax.LookaheadParams``.

    The parameters are ``LookaheadParams.init_synced(params)`` (fast and slow both
    theta_0); gradients are taken at, and the row's parameters are, the fast ones.
    ``update`` and ``apply_updates`` are jitted together, as optax is used.
    """

    def __init__(self, setup: Setup) -> None:
        import jax
        import optax

        lookahead = setup.config.lookahead
        if lookahead is None:
            raise ValueError(f"{setup.config.name} has no Lookahead")
        transformation = optax.lookahead(
            _optax_radam(setup),
            sync_period=lookahead.k,
            slow_step_size=lookahead.alpha,
            reset_state=False,
        )

        def update(grads: Any, state: Any, params: Any) -> Any:
            updates, state = transformation.update(grads, state, params)
            return optax.apply_updates(params, updates), state

        self._device = setup.device
        initial = [_device_put(p, setup.device) for p in setup.initial_params]
        self._params = optax.LookaheadParams.init_synced(initial)
        self._state = transformation.init(self._params)
        self._update = jax.jit(update)

    def params(self) -> list[np.ndarray]:
        """Copies of the fast parameters."""
        return [np.array(p, copy=True) for p in self._params.fast]

    def step(self, grads: list[np.ndarray]) -> None:
        """One jitted update and apply."""
        arrays = [_device_put(g, self._device) for g in grads]
        self._params, self._state = self._update(arrays, self._state, self._params)


def radam_optax_supports(config: Config) -> str | None:
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

    Weight decay goes to radam's own ``weight_decay``/``decoupled_weight_decay`` where it
    takes them; otherwise L2 decay is ``optax.chain(optax.add_decayed_weights(wd),
    radam(...))``, which adds ``wd theta`` to the gradient before the moments, exactly.
    With Lookahead, the whole is wrapped in ``radam_optax.lookahead(..., k, alpha)``.
    """
    import optax

    from radam_optax import lookahead, radam

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
    if setup.config.lookahead is not None:
        transformation = lookahead(
            transformation,
            sync_period=setup.config.lookahead.k,
            slow_step_size=setup.config.lookahead.alpha,
        )
    return OptaxStepper(setup, transformation)


def _jax(name: str, dtype: str, build: Any, requires: tuple[str, ...], **fields: Any) -> Any:
    return Implementation(
        name,
        fields.pop("worker", "jax"),
        dtype,
        build,
        requires=requires,
        devices=("cpu", "cuda"),
        device_check=jax_device_check,
        context=lambda: x64(dtype == "float64"),
        **fields,
    )


IMPLEMENTATIONS: tuple[Implementation, ...] = (
    _jax("radam_core.step jax.numpy (jit)", "float64", CoreJitStepper, ("jax",)),
    _jax(
        "radam_optax.radam",
        "float64",
        radam_optax_stepper,
        ("jax", "optax", "radam_optax"),
        worker="radam_optax",
        supports=radam_optax_supports,
    ),
    _jax(
        "radam_optax.radam",
        "float32",
        radam_optax_stepper,
        ("jax", "optax", "radam_optax"),
        worker="radam_optax",
        supports=radam_optax_supports,
    ),
    _jax(
        "peer: optax.radam",
        "float64",
        optax_peer_stepper,
        ("jax", "optax"),
        peer=True,
        supports=optax_supports,
    ),
    _jax(
        "peer: optax.lookahead(optax.radam)",
        "float64",
        OptaxLookaheadStepper,
        ("jax", "optax"),
        peer=True,
        supports=optax_lookahead_supports,
    ),
)
