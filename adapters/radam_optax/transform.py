r"""``radam`` and ``scale_by_radam``: optax transformations over radam_core on jax.numpy.

Every leaf's step t (``t = count + 1``) is [`update_leaf`][radam_core.for_adapters.update_leaf] with
the step's scalars from [`step_coefficients`][radam_core.for_adapters.step_coefficients], computed
once per update from the int32 count (traced under ``jax.jit``; nothing branches on it) and cast
once per dtype. With optax's convention (the default preset ``"optax"``), ``bc1 = 1 - b1^t``,
``bc2 = 1 - b2^t`` and rho_t, r_t from [`radam_core.rectification`][radam_core.rectification]:

    m_t = b1 m + (1 - b1) g            v_t = b2 v + (1 - b2) |g|^2
    rho_t >= threshold:   u = -lr r_t (m_t / bc1) / (sqrt(v_t / bc2 + eps_root) + eps)
    otherwise:            u = -lr m_t / bc1

How the update is computed. optax returns an update ``u`` that ``optax.apply_updates`` adds
to the parameters; the core computes the new parameters ``theta_t = decay theta_{t-1} -
(step terms)``. Without weight decay (``decay = 1``, and no ``wd theta`` in the gradient)
the step terms do not depend on theta, so ``update_leaf`` runs with ``theta_{t-1} = 0`` (in
the update's dtype: the gradient's promoted with the parameters', as optax's) and returns
``u = -(step terms)`` exactly (of the adaptive and the momentum term one is an exact 0 on
every step): ``theta + u`` is then bit for bit the core's ``theta - (step terms)``. With
weight decay the step needs theta, and ``u = theta_t - theta_{t-1}`` (the core's new
parameter minus the old one, in the parameter's dtype), so ``theta + u`` equals the
core's ``theta_t`` to within one rounding of the parameter.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

import radam_core
from radam_core.for_adapters import compute_dtype

DEFAULT_PRESET = "optax"

# optax's names of the core's hyperparameters, for its messages.
ARGUMENT_NAMES = {"lr": "learning_rate", "betas[0]": "b1", "betas[1]": "b2"}


# optax.radam's defaults: an argument left at one takes the preset's value.
OPTAX_DEFAULTS: dict[str, Any] = {"eps": 1e-8, "eps_root": 0.0, "threshold": 5.0, "nesterov": False}


class ScaleByRAdamState(NamedTuple):
    """The state of [`radam`][radam_optax.radam], a pytree.

    [`scale_by_radam`][radam_optax.scale_by_radam] keeps the same state.

    Attributes:
        count: Steps taken so far, ``t - 1`` before step t: a 0-d int32 array that
            saturates at ``2**31 - 1`` (``optax.safe_increment``), where every bias
            correction and rho_t have long reached their limits.
        mu: m, the first-moment EMA, shaped like the parameters.
        nu: v, the second-moment EMA, shaped like the parameters.
        nu_max: ``max(v_1, ..., v_t)`` with ``amsgrad``, else None (an empty subtree).
    """

    count: Any
    mu: Any
    nu: Any
    nu_max: Any = None


def radam(
    learning_rate: optax.ScalarOrSchedule,
    b1: Any = 0.9,
    b2: Any = 0.999,
    eps: Any = 1e-8,
    eps_root: Any = 0.0,
    threshold: Any = 5.0,
    *,
    nesterov: bool = False,
    preset: str | radam_core.Preset = DEFAULT_PRESET,
    threshold_inclusive: bool | None = None,
    below_threshold: str | None = None,
    eps_placement: str | None = None,
    amsgrad: bool | None = None,
    weight_decay: Any = None,
    decoupled_weight_decay: bool | None = None,
) -> optax.GradientTransformationExtraArgs:
    """RAdam (Liu et al. 2019), a drop-in for ``optax.radam`` computed by radam_core.

    With the defaults (preset ``"optax"``), step t of each leaf is, with ``bc1 = 1 - b1^t``,
    ``bc2 = 1 - b2^t`` and the rectification term
    ``r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))``:

        rho_t >= threshold:  u = -lr r_t (m_t / bc1) / (sqrt(v_t / bc2 + eps_root) + eps)
        otherwise:           u = -lr m_t / bc1           (SGD with momentum)

    ``nesterov=True`` replaces ``m_t / bc1`` with optax's
    ``b1 m_t / (1 - b1^(t+1)) + (1 - b1) g_t / bc1``. The update is exact (see
    [`radam_optax.transform`][radam_optax.transform]): ``apply_updates`` gives the core's new
    parameters.

    The same as ``optax.radam``: the signature, defaults and the annotation of
    ``learning_rate`` (``optax.ScalarOrSchedule``; a schedule is called with the count
    before the step); the formulas above and the threshold rule ``rho_t >= threshold``;
    the state's ``count`` (int32, saturating), ``mu`` and ``nu`` (shaped and typed like the
    parameters); the updates' dtype (the gradient's promoted with the parameters': bfloat16
    gradients of float32 parameters give float32 updates, bfloat16 ones of bfloat16
    parameters bfloat16 updates); complex parameters (``nu`` from ``|g|^2``, optax's
    ``abs_sq``, stored in the complex dtype with a zero imaginary part); composition with
    ``optax.chain``, ``inject_hyperparams`` and ``MultiSteps``; extra ``update`` arguments
    are ignored.

    Deliberately more exact: rho_t, r_t and the bias corrections are computed without
    cancellation ([`radam_core.rectification`][radam_core.rectification]) in the widest float the
    count's namespace has, where optax evaluates ``rho_inf - 2 t b2^t / (1 - b2^t)`` in float32
    (for b2 = 0.999: rho_6 = 5.955 against 5.994, which makes optax's r_t 1.15% low at
    t = 6, 0.37% at t = 10, 0.05% at t = 50). Rectified updates thus differ from optax's
    by that much early on (and a float32 rounding or two otherwise), and ``lr`` enters the
    core's step instead of a separate scaling (one rounding fewer).

    Deliberately different: a leaf whose gradient is None gets a None update and keeps
    its moments (optax replaces them with None, after which its state no longer fits the
    parameters); the state is a [`ScaleByRAdamState`][radam_optax.ScaleByRAdamState]
    (``optax.ScaleByAdamState``'s fields and ``nu_max``); and bad input raises a ``TypeError`` or
    ``ValueError`` that names the leaf, in ``init`` or in ``update`` before any work (when
    ``jax.jit`` traces).

    Every numeric argument may be a 0-d array, traced ones included, so that
    ``optax.inject_hyperparams(radam)`` works in its default form (it passes them all,
    defaults included, as arrays); only host numbers are range-checked.

    Args:
        learning_rate: ``lr >= 0``: a number, a 0-d array, or an optax schedule (a
            callable of the step count, called with the count before the step, from 0).
        b1: Decay rate of the first moment, in ``[0, 1)``.
        b2: Decay rate of the second moment, in ``[0, 1)``.
        eps: Added to the square root in the denominator (on the bias-corrected
            ``sqrt(v_t / bc2 + eps_root)`` with the ``"optax"`` preset).
        eps_root: Added to the (bias-corrected) ``v_t`` inside the square root.
        threshold: Rectify when ``rho_t >= threshold`` (``>`` unless the preset or
            ``threshold_inclusive`` says ``>=``); at least 4 (r_t is real only above 4).
        nesterov: Use Nesterov momentum (optax's form).
        preset: The convention: a name of [`radam_core.presets`][radam_core.presets]
            (``"optax"``, the default, ``"torch"``, ``"paper"``, ``"authors"``, ``"tfa"``) or a
            [`radam_core.Preset`][radam_core.Preset], e.g.
            ``radam_core.PRESETS["optax"].replace(amsgrad=True)``. The arguments above are
            optax's: one left at optax's default (``eps=1e-8``, ``eps_root=0.0``,
            ``threshold=5.0``, ``nesterov=False``) takes the preset's value, so
            ``radam(lr, preset="paper")`` is the paper's Algorithm 2 and
            ``radam(lr, preset="tfa")`` TF Addons' RectifiedAdam.
        threshold_inclusive: Deprecated (``DeprecationWarning``): the preset's field.
        below_threshold: Deprecated (``DeprecationWarning``): the preset's field.
        eps_placement: Deprecated (``DeprecationWarning``): the preset's field.
        amsgrad: Deprecated (``DeprecationWarning``): the preset's field; e.g.
            ``preset=radam_core.PRESETS["optax"].replace(amsgrad=True)``.
        weight_decay: ``wd >= 0`` or None (no weight decay, as ``optax.radam``). Given,
            ``update`` needs ``params``: L2 ``g += wd theta`` before the moments, or with
            ``decoupled_weight_decay`` ``u -= lr wd theta`` (``optax.adamw``'s form, the
            core's ``theta *= 1 - lr wd``) on every step that updates.
        decoupled_weight_decay: Decoupled instead of L2 weight decay.

    Returns:
        An ``optax.GradientTransformationExtraArgs`` with state
        [`ScaleByRAdamState`][radam_optax.ScaleByRAdamState].

    Raises:
        ValueError, TypeError: An invalid argument, named with optax's name
            (``learning_rate``, ``b1``, ``b2``, ``eps``, ...), when called.
    """
    return _transformation(
        learning_rate,
        negate=False,
        owner="radam_optax.radam",
        preset=preset,
        deprecated={
            "threshold_inclusive": threshold_inclusive,
            "below_threshold": below_threshold,
            "eps_placement": eps_placement,
            "amsgrad": amsgrad,
        },
        betas=(b1, b2),
        eps=eps,
        eps_root=eps_root,
        threshold=threshold,
        nesterov=nesterov,
        weight_decay=weight_decay,
        decoupled_weight_decay=decoupled_weight_decay,
    )


def scale_by_radam(
    b1: Any = 0.9,
    b2: Any = 0.999,
    eps: Any = 1e-8,
    eps_root: Any = 0.0,
    threshold: Any = 5.0,
    *,
    nesterov: bool = False,
    preset: str | radam_core.Preset = DEFAULT_PRESET,
    threshold_inclusive: bool | None = None,
    below_threshold: str | None = None,
    eps_placement: str | None = None,
    amsgrad: bool | None = None,
    weight_decay: Any = None,
    decoupled_weight_decay: bool | None = None,
) -> optax.GradientTransformationExtraArgs:
    """RAdam's direction without the learning rate, a drop-in for ``optax.scale_by_radam``.

    This is [`radam`][radam_optax.radam] with ``lr = 1``, negated: ``r_t m_hat / (sqrt(v_hat +
    eps_root) + eps)`` on rectified steps, ``m_hat`` below the threshold (preset
    ``"optax"``), plus ``wd theta`` with decoupled weight decay. Follow it with
    ``optax.scale_by_learning_rate(lr)`` as ``optax.radam`` does; that product rounds
    once more than [`radam`][radam_optax.radam], which puts lr into the core's step.

    Args:
        b1: Decay rate of the first moment, in ``[0, 1)``.
        b2: Decay rate of the second moment, in ``[0, 1)``.
        eps: Added to the square root in the denominator.
        eps_root: Added to the (bias-corrected) ``v_t`` inside the square root.
        threshold: Rectify when rho_t reaches it (see [`radam`][radam_optax.radam]); at least 4.
        nesterov: Use Nesterov momentum (optax's form).
        preset: The convention, as for [`radam`][radam_optax.radam] (default ``"optax"``).
        threshold_inclusive: Deprecated: the preset's field.
        below_threshold: Deprecated: the preset's field.
        eps_placement: Deprecated: the preset's field.
        amsgrad: Deprecated: the preset's field.
        weight_decay: ``wd >= 0`` or None; given, ``update`` needs ``params``.
        decoupled_weight_decay: Add ``wd theta`` to the direction instead of the
            gradient (L2).

    Returns:
        An ``optax.GradientTransformationExtraArgs`` with state
        [`ScaleByRAdamState`][radam_optax.ScaleByRAdamState].

    Raises:
        ValueError, TypeError: An invalid argument, named with optax's name.
    """
    return _transformation(
        1.0,
        negate=True,
        owner="radam_optax.scale_by_radam",
        preset=preset,
        deprecated={
            "threshold_inclusive": threshold_inclusive,
            "below_threshold": below_threshold,
            "eps_placement": eps_placement,
            "amsgrad": amsgrad,
        },
        betas=(b1, b2),
        eps=eps,
        eps_root=eps_root,
        threshold=threshold,
        nesterov=nesterov,
        weight_decay=weight_decay,
        decoupled_weight_decay=decoupled_weight_decay,
    )


def _transformation(
    learning_rate: optax.ScalarOrSchedule,
    *,
    negate: bool,
    owner: str,
    preset: str | radam_core.Preset,
    deprecated: dict[str, Any],
    **options: Any,
) -> optax.GradientTransformationExtraArgs:
    """The transformation of [`radam`][radam_optax.radam] (``negate=False``).

    With ``negate=True``, that of [`scale_by_radam`][radam_optax.scale_by_radam]. ``owner``
    names the caller in the warning for ``deprecated`` (the convention fields passed the old
    way), which points at the caller's caller.
    """
    convention = radam_core.for_adapters.with_deprecated_options(
        preset, deprecated, owner, stacklevel=4
    )
    schedule: Callable[[Any], Any] | None = learning_rate if callable(learning_rate) else None
    hp = _hyperparameters(convention, 0.0 if schedule is not None else learning_rate, options)
    needs_params = not _host_zero(hp.weight_decay)

    def init_fn(params: Any) -> ScaleByRAdamState:
        _check_leaves("params", params)

        def zeros() -> Any:
            return jax.tree.map(jnp.zeros_like, params)

        return ScaleByRAdamState(
            count=jnp.zeros([], jnp.int32),
            mu=zeros(),
            nu=zeros(),
            nu_max=zeros() if hp.amsgrad else None,
        )

    def update_fn(
        updates: Any, state: ScaleByRAdamState, params: Any = None, **extra_args: Any
    ) -> tuple[Any, ScaleByRAdamState]:
        del extra_args
        if needs_params and params is None:
            raise ValueError(
                "radam_optax with weight_decay needs params: call update(updates, state, params)"
            )
        leaves = _checked_update_inputs(updates, state, params if needs_params else None, hp)
        step_hp = hp if schedule is None else dataclasses.replace(hp, lr=schedule(state.count))
        t = optax.safe_increment(state.count)
        coefficients = radam_core.for_adapters.step_coefficients(t, step_hp, jnp)

        cast: dict[Any, radam_core.for_adapters.StepCoefficients] = {}
        new_updates: list[Any] = []
        new_mus: list[Any] = []
        new_nus: list[Any] = []
        new_nu_maxes: list[Any] = []
        for g, m, v, v_max, param in leaves.zipped():
            if g is None:  # no gradient: no update, and the moments are kept
                new_updates.append(None)
                new_mus.append(m)
                new_nus.append(v)
                new_nu_maxes.append(v_max)
                continue
            # optax's dtype: the gradient's promoted with the state's (the parameters').
            dtype = jnp.result_type(g, m)
            theta = jnp.zeros(g.shape, dtype) if param is None else param
            key = compute_dtype(theta.dtype, jnp)
            if key not in cast:
                cast[key] = coefficients.cast(key, None, jnp)
            new = radam_core.for_adapters.update_leaf(
                theta, g, m, v, v_max, cast[key], step_hp, jnp
            )
            update = new.param if param is None else new.param - theta
            new_updates.append((-update if negate else update).astype(dtype))
            new_mus.append(new.exp_avg)
            new_nus.append(new.exp_avg_sq)
            new_nu_maxes.append(new.max_exp_avg_sq)
        new_state = ScaleByRAdamState(
            count=t,
            mu=leaves.unflatten(new_mus),
            nu=leaves.unflatten(new_nus),
            nu_max=leaves.unflatten(new_nu_maxes) if hp.amsgrad else None,
        )
        return leaves.unflatten(new_updates), new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


class _Leaves(NamedTuple):
    """The leaves of one update, aligned, and the structure of ``updates``.

    Gradients are None where a leaf has none; parameters are None without weight decay.
    """

    grads: list[Any]
    mus: list[Any]
    nus: list[Any]
    nu_maxes: list[Any]
    thetas: list[Any]
    treedef: Any  # jaxlib's PyTreeDef, whose methods mypy does not see

    def zipped(self) -> Any:
        return zip(self.grads, self.mus, self.nus, self.nu_maxes, self.thetas, strict=True)

    def unflatten(self, leaves: list[Any]) -> Any:
        return self.treedef.unflatten(leaves)


def _is_none(x: Any) -> bool:
    return x is None


def _checked_update_inputs(
    updates: Any, state: Any, params: Any, hp: radam_core.Hyperparameters
) -> _Leaves:
    """The update's leaves, once every check has passed; else a clear error, before any work.

    Shapes and dtypes are static under ``jax.jit``: these checks run when it traces.

    Raises:
        TypeError: A state that is not a [`ScaleByRAdamState`][radam_optax.ScaleByRAdamState], a
            count that is not a 0-d integer array, or a gradient that is not a float (or complex)
            array of a kind its moment can hold.
        ValueError: ``updates`` (or ``params``) and the state of different structures, or
            a gradient whose shape is not its moment's.
    """
    if not isinstance(state, ScaleByRAdamState):
        raise TypeError(
            f"state must be a ScaleByRAdamState (from init), got {type(state).__name__}"
        )
    count = state.count
    if not (
        hasattr(count, "shape") and count.shape == () and jnp.issubdtype(count.dtype, jnp.integer)
    ):
        raise TypeError(f"state.count must be a 0-d integer array, got {count!r}")
    paths_and_grads, structure = jax.tree_util.tree_flatten_with_path(updates, is_leaf=_is_none)
    treedef: Any = structure  # jaxlib's PyTreeDef, whose methods mypy does not see
    paths = [jax.tree_util.keystr(path) for path, _ in paths_and_grads]
    grads = [g for _, g in paths_and_grads]

    def aligned(name: str, tree: Any) -> list[Any]:
        try:
            return list(treedef.flatten_up_to(tree))
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"updates and {name} differ in structure: {treedef} against "
                f"{jax.tree.structure(tree)} ({error})"
            ) from None

    mus, nus = aligned("state.mu", state.mu), aligned("state.nu", state.nu)
    nu_maxes = aligned("state.nu_max", state.nu_max) if hp.amsgrad else [None] * len(grads)
    thetas = aligned("params", params) if params is not None else [None] * len(grads)
    for path, g, m, theta in zip(paths, grads, mus, thetas, strict=True):
        if g is None:
            continue
        name = f"updates{path}"
        if not (hasattr(g, "shape") and hasattr(g, "dtype")) or not jnp.issubdtype(
            g.dtype, jnp.inexact
        ):
            raise TypeError(
                f"{name} must be a floating-point (or complex) array, got "
                f"{getattr(g, 'dtype', type(g).__name__)}"
            )
        if tuple(g.shape) != tuple(m.shape):
            raise ValueError(
                f"{name} has shape {tuple(g.shape)}, but its state.mu has {tuple(m.shape)}"
            )
        if jnp.issubdtype(g.dtype, jnp.complexfloating) and not jnp.issubdtype(
            m.dtype, jnp.complexfloating
        ):
            raise TypeError(f"{name} is complex ({g.dtype}), but its parameter is {m.dtype}")
        if theta is not None and tuple(theta.shape) != tuple(g.shape):
            raise ValueError(
                f"params{path} has shape {tuple(theta.shape)}, expected {tuple(g.shape)}"
            )
    return _Leaves(grads, mus, nus, nu_maxes, thetas, treedef)


def _check_leaves(name: str, tree: Any) -> None:
    """Raise ``TypeError`` unless every leaf is a floating-point (or complex) array."""
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        dtype = getattr(leaf, "dtype", None)
        if dtype is None or not jnp.issubdtype(dtype, jnp.inexact):
            raise TypeError(
                f"{name}{jax.tree_util.keystr(path)} must be a floating-point (or complex) "
                f"array, got {dtype if dtype is not None else type(leaf).__name__}"
            )


def _hyperparameters(
    preset: radam_core.Preset, lr: Any, options: dict[str, Any]
) -> radam_core.Hyperparameters:
    """The core's validated hyperparameters, named as optax's users write them.

    None options, and optax's own arguments left at optax's defaults, take the preset's value.

    Raises:
        TypeError, ValueError: An invalid value, named with optax's name.
    """
    if isinstance(lr, (bool, str)) or not (isinstance(lr, (int, float)) or hasattr(lr, "shape")):
        raise TypeError(
            "learning_rate must be a real number, a 0-d real floating-point array or a "
            f"schedule, got {lr!r}"
        )
    given = {
        key: value
        for key, value in options.items()
        if value is not None and not _is_optax_default(key, value)
    }
    return radam_core.hyperparameters_for(preset, argument_names=ARGUMENT_NAMES, lr=lr, **given)


def _is_optax_default(name: str, value: Any) -> bool:
    """Whether ``value`` is optax's default for argument ``name`` (a host value, exactly)."""
    return (
        name in OPTAX_DEFAULTS
        and type(value) is type(OPTAX_DEFAULTS[name])
        and (value == OPTAX_DEFAULTS[name])
    )


def _host_zero(value: object) -> bool:
    """True for a host number equal to 0 (no weight decay); an array never is."""
    return isinstance(value, (int, float)) and value == 0
