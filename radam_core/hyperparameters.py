"""The hyperparameters of one RAdam configuration, validated when built."""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Mapping
from typing import Any, Literal

import array_api_compat
import numpy as np

from radam_core.namespace import Array, is_array

BelowThreshold = Literal["sgd", "skip"]
EpsPlacement = Literal["raw", "corrected"]

BELOW_THRESHOLD_MODES: tuple[str, ...] = ("sgd", "skip")
EPS_PLACEMENTS: tuple[str, ...] = ("raw", "corrected")

# The paper's r_t = sqrt((rho_t - 4)(rho_t - 2) ...) is real only for rho_t >= 4.
MIN_THRESHOLD = 4.0

# The fields beyond torch.optim.RAdam's arguments: the conventions presets choose between,
# which every adapter takes as options of its own.
CONVENTION_FIELDS: tuple[str, ...] = (
    "threshold",
    "threshold_inclusive",
    "below_threshold",
    "eps_placement",
    "eps_root",
    "amsgrad",
    "nesterov",
)


@dataclasses.dataclass(frozen=True)
class Hyperparameters:
    """Every choice one RAdam step depends on; invalid values raise when it is built.

    With ``m_t``, ``v_t`` the moments, ``bc1 = 1 - beta1^t``, ``bc2 = 1 - beta2^t`` and
    ``r_t`` the rectification term, a rectified step is:

        raw:       theta -= lr * r_t * (m_t / bc1) * sqrt(bc2) / (sqrt(v_t + eps_root) + eps)
        corrected: theta -= lr * r_t * (m_t / bc1) / (sqrt(v_t / bc2 + eps_root) + eps)

    and a step below the threshold is ``theta -= lr * m_t / bc1`` (``"sgd"``) or leaves
    theta unchanged (``"skip"``).

    ``betas``, ``eps``, ``weight_decay``, ``threshold`` and ``eps_root``, like ``lr``, may
    also be 0-d real floating-point arrays (traced ones included, such as the values
    ``optax.inject_hyperparams`` passes under ``jax.jit``): their shape and dtype are
    checked here, their values are not (that would read a device value, or a traced one);
    the formulas take them without branching on their values. Host numbers are checked
    for range, and betas are stored as Python floats. NumPy scalars (``np.float32(1e-3)``,
    ``np.True_``) are host numbers: they are stored as the Python float, int or bool they
    hold and checked exactly as one.

    Attributes:
        lr: Learning rate, ``>= 0``. A 0-d array is accepted (a schedule's traced value).
        betas: ``(beta1, beta2)``, each in ``[0, 1)``.
        eps: Added to the square root in the denominator, ``>= 0``.
        weight_decay: Decay coefficient ``wd >= 0``.
        decoupled_weight_decay: ``True``: ``theta *= 1 - lr * wd`` on every step that
            updates (AdamW style). ``False``: ``g += wd * theta`` before the moments (L2).
        maximize: Ascend instead of descend: the gradient is negated first.
        threshold: Rectify when ``rho_t > threshold`` (``>=`` with ``threshold_inclusive``).
            At least 4, since r_t is real only for ``rho_t >= 4``.
        threshold_inclusive: Compare ``rho_t >= threshold`` instead of ``>``.
        below_threshold: ``"sgd"``: SGD with momentum, ``theta -= lr * m_hat``;
            ``"skip"``: no parameter change at all (weight decay included); the moments
            still advance.
        eps_placement: ``"raw"``: ``eps`` on the raw ``sqrt(v_t)`` (torch, the authors);
            ``"corrected"``: on ``sqrt(v_t / bc2 + eps_root)`` (optax, TF Addons).
        eps_root: Added to the (raw or bias-corrected) ``v_t`` inside the square root.
        amsgrad: Use ``max(v_1, ..., v_t)`` in place of ``v_t`` in the denominator.
        nesterov: Use optax's Nesterov momentum,
            ``m_hat = beta1 m_t / (1 - beta1^(t+1)) + (1 - beta1) g_t / (1 - beta1^t)``.
    """

    lr: Any = 1e-3
    betas: tuple[float | Array, float | Array] = (0.9, 0.999)
    eps: float | Array = 1e-8
    weight_decay: float | Array = 0.0
    decoupled_weight_decay: bool = False
    maximize: bool = False
    threshold: float | Array = 5.0
    threshold_inclusive: bool = False
    below_threshold: BelowThreshold = "sgd"
    eps_placement: EpsPlacement = "raw"
    eps_root: float | Array = 0.0
    amsgrad: bool = False
    nesterov: bool = False

    argument_names: dataclasses.InitVar[Mapping[str, str] | None] = None

    def __post_init__(self, argument_names: Mapping[str, str] | None) -> None:
        """Validate every field; raise ``TypeError``/``ValueError`` naming it and its value.

        ``argument_names`` (not stored) gives the caller's name of a field (or of
        ``"betas[0]"``, ``"betas[1]"``) for the messages: an adapter whose users write
        ``learning_rate`` or ``beta_1`` passes ``{"lr": "learning_rate", "betas[0]":
        "beta_1"}``, and the messages name what its users wrote.
        """
        names = argument_names or {}
        for field in dataclasses.fields(self):
            object.__setattr__(self, field.name, _python_scalar(getattr(self, field.name)))
        lr = names.get("lr", "lr")
        if _is_number(self.lr):
            _check_non_negative(lr, self.lr)
        else:
            _is_real_array(lr, self.lr, _REAL)
        betas = self.betas
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(
                f"{names.get('betas', 'betas')} must be a pair (beta1, beta2), got {betas!r}"
            )
        betas = tuple(_python_scalar(beta) for beta in betas)
        for index, beta in enumerate(betas):
            name = names.get(f"betas[{index}]", f"betas[{index}]")
            if _is_real_array(name, beta):
                continue
            if not _is_number(beta):
                raise TypeError(f"{name} must be {_REAL}, got {beta!r}")
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {beta!r}")
        object.__setattr__(self, "betas", tuple(b if is_array(b) else float(b) for b in betas))
        for field_name in ("eps", "weight_decay", "eps_root"):
            name, value = names.get(field_name, field_name), getattr(self, field_name)
            if not _is_real_array(name, value):
                _check_non_negative(name, value)
        name = names.get("threshold", "threshold")
        if _is_real_array(name, self.threshold):
            pass
        elif not _is_number(self.threshold):
            raise TypeError(f"{name} must be {_REAL}, got {self.threshold!r}")
        elif not MIN_THRESHOLD <= self.threshold < math.inf:
            raise ValueError(
                f"{name} must be finite and >= {MIN_THRESHOLD} (r_t is real only for "
                f"rho_t >= 4), got {self.threshold!r}"
            )
        for field_name in (
            "decoupled_weight_decay",
            "maximize",
            "threshold_inclusive",
            "amsgrad",
            "nesterov",
        ):
            if not isinstance(getattr(self, field_name), bool):
                name = names.get(field_name, field_name)
                raise TypeError(f"{name} must be a bool, got {getattr(self, field_name)!r}")
        for field_name, choices in (
            ("below_threshold", BELOW_THRESHOLD_MODES),
            ("eps_placement", EPS_PLACEMENTS),
        ):
            _check_choice(names.get(field_name, field_name), getattr(self, field_name), choices)

    def with_lr(self, lr: Any) -> Hyperparameters:
        """These hyperparameters with the learning rate ``lr``, checking ``lr`` only.

        For an optimizer that keeps its validated hyperparameters while a scheduler changes
        the learning rate every step: the other fields are not checked again.

        Raises:
            TypeError, ValueError: As for ``lr`` when built.
        """
        lr = _python_scalar(lr)
        if _is_number(lr):
            _check_non_negative("lr", lr)
        else:
            _is_real_array("lr", lr, _REAL)
        new = copy.copy(self)
        object.__setattr__(new, "lr", lr)
        return new


_REAL = "a real number or a 0-d real floating-point array"
_REAL_FLOAT_NAMES = frozenset({"float16", "bfloat16", "float32", "float64"})


def _python_scalar(value: Any) -> Any:
    """A NumPy scalar as the Python bool, int, float or complex it holds; else ``value``."""
    return value.item() if isinstance(value, np.generic) else value


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_real_array(name: str, value: object, other: str | None = None) -> bool:
    """True for a 0-d real floating-point array (never read), False for a non-array.

    Args:
        name: The argument's name, for the message.
        value: The argument.
        other: If given, a non-array raises too, told that it must be this.

    Raises:
        TypeError: An array of another shape or dtype (a 0-d int, bool, complex, str or
            object array), or a non-array where ``other`` is given.
    """
    if not is_array(value):
        if other is not None:
            raise TypeError(f"{name} must be {other}, got {value!r}")
        return False
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    shape = None if shape is None else tuple(shape)
    if shape != () or not _is_real_floating(value, dtype):
        raise TypeError(f"{name} must be {_REAL}, got shape {shape} and dtype {dtype}")
    return True


def _is_real_floating(value: object, dtype: Any) -> bool:
    """Whether an array's dtype is real floating: by its namespace, else by its name.

    Tensors outside array-api-compat (TensorFlow's, Keras variables) name their dtype
    (``"float32"``, ``tf.float32.name``).
    """
    if array_api_compat.is_array_api_obj(value):
        return bool(array_api_compat.array_namespace(value).isdtype(dtype, "real floating"))
    return str(getattr(dtype, "name", dtype)) in _REAL_FLOAT_NAMES


def _check_non_negative(name: str, value: object) -> None:
    if not _is_number(value):
        raise TypeError(f"{name} must be {_REAL}, got {value!r}")
    if not 0.0 <= value < math.inf:  # type: ignore[operator]
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}")


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
