"""Named presets: the published RAdam conventions, each reproduced exactly.

=========  ==============  ===============  ===========================  ======================
preset     rectify when    below threshold  eps on (default)             weight decay
=========  ==============  ===============  ===========================  ======================
torch      rho_t > 5       lr * m_hat       sqrt(v_t) (1e-8)             L2 or decoupled, always
paper      rho_t > 4       lr * m_hat       sqrt(v_t) (1e-8)             as torch
authors    rho_t >= 5      no update        sqrt(v_t) (1e-8)             decoupled, updating steps
optax      rho_t >= 5      lr * m_hat       sqrt(v_t/bc2 + eps_root)     as torch (none by default)
tfa        rho_t >= 5      lr * m_hat       sqrt(v_t/bc2) (1e-7)         decoupled, every step
=========  ==============  ===============  ===========================  ======================
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping
from typing import Any

from radam_core.hyperparameters import (
    CONVENTION_FIELDS,
    BelowThreshold,
    EpsPlacement,
    Hyperparameters,
)


@dataclasses.dataclass(frozen=True)
class Preset:
    """A RAdam convention as one frozen value: a published one (``PRESETS``) or your own.

    ``preset=`` takes a name (``"optax"``) or such a value in every adapter. Change fields
    with [`replace`][radam_core.presets.Preset.replace], e.g.
    ``PRESETS["optax"].replace(nesterov=True)``.
    The fields are [`Hyperparameters`][radam_core.Hyperparameters]' seven convention fields
    (``CONVENTION_FIELDS``) and the preset's own default ``eps`` and weight-decay coupling;
    each is validated when the preset is built.

    Attributes:
        name: The preset's name (a published one's is its key in ``PRESETS``).
        description: Who uses it and its formulas.
        threshold: Rectify when ``rho_t > threshold`` (``>=`` with ``threshold_inclusive``).
        threshold_inclusive: Compare ``rho_t >= threshold``.
        below_threshold: ``"sgd"`` (``theta -= lr m_hat``) or ``"skip"`` (no update).
        eps_placement: ``"raw"`` (eps on ``sqrt(v_t)``) or ``"corrected"`` (on
            ``sqrt(v_t / bc2 + eps_root)``).
        eps_root: Added to v_t inside the square root.
        amsgrad: Use ``max(v_1, ..., v_t)`` in the denominator.
        nesterov: optax's Nesterov momentum.
        eps: The convention's default eps, or None for the optimizer's own default.
        decoupled_weight_decay: The convention's weight decay (``True``: decoupled), or None
            for the optimizer's own default.
    """

    name: str = "custom"
    description: str = ""
    threshold: float = 5.0
    threshold_inclusive: bool = False
    below_threshold: BelowThreshold = "sgd"
    eps_placement: EpsPlacement = "raw"
    eps_root: float = 0.0
    amsgrad: bool = False
    nesterov: bool = False
    eps: float | None = None
    decoupled_weight_decay: bool | None = None

    def __post_init__(self) -> None:
        """Validate the fields (a bad one raises ``TypeError``/``ValueError`` naming it)."""
        if not isinstance(self.name, str):
            raise TypeError(f"name must be a str, got {self.name!r}")
        Hyperparameters(**self.overrides)

    @property
    def overrides(self) -> dict[str, Any]:
        """The [`Hyperparameters`][radam_core.Hyperparameters] fields this preset sets.

        Those that differ from their defaults: an ``eps`` or ``decoupled_weight_decay`` of
        None is left to the optimizer.
        """
        overrides = {}
        for field in _PRESET_FIELDS:
            value = getattr(self, field)
            unchanged = type(value) in (bool, int, float, str) and value == _DEFAULTS[field]
            if value is not None and not unchanged:
                overrides[field] = value
        return overrides

    def replace(self, **changes: Any) -> Preset:
        """This preset with ``changes`` (any of its fields), validated.

        Raises:
            TypeError: An unknown field.
            ValueError: A value out of range.
        """
        unknown = sorted(set(changes) - _FIELD_NAMES)
        if unknown:
            raise TypeError(
                f"unknown preset field {unknown[0]!r}; expected one of "
                f"{', '.join(sorted(_FIELD_NAMES))}"
            )
        return dataclasses.replace(self, **changes)


_PRESET_FIELDS = (*CONVENTION_FIELDS, "eps", "decoupled_weight_decay")
_DEFAULTS = {field.name: field.default for field in dataclasses.fields(Hyperparameters)}
_FIELD_NAMES = frozenset(field.name for field in dataclasses.fields(Preset))

PRESETS: Mapping[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            "torch",
            "torch.optim.RAdam: rectify when rho_t > 5, else theta -= lr * m_hat; "
            "theta -= lr * r_t * m_hat * sqrt(bc2) / (sqrt(v_t) + eps); L2 weight decay "
            "g += wd * theta, or decoupled theta *= 1 - lr * wd on every step.",
        ),
        Preset(
            "paper",
            "Algorithm 2 of Liu et al. (2019): the torch convention, but rectify when rho_t > 4.",
            threshold=4.0,
        ),
        Preset(
            "authors",
            "The authors' released RAdam class: rectify when rho_t >= 5; below it no "
            "parameter update (the moments still advance); decoupled weight decay "
            "theta *= 1 - lr * wd only on steps that update; eps on the raw sqrt(v_t).",
            threshold_inclusive=True,
            below_threshold="skip",
            decoupled_weight_decay=True,
        ),
        Preset(
            "optax",
            "optax.radam: rectify when rho_t >= 5, else theta -= lr * m_hat; "
            "theta -= lr * r_t * m_hat / (sqrt(v_hat + eps_root) + eps) with "
            "v_hat = v_t / bc2; no weight decay of its own.",
            threshold_inclusive=True,
            eps_placement="corrected",
        ),
        Preset(
            "tfa",
            "TF Addons' RectifiedAdam: rectify when rho_t >= 5, else theta -= lr * m_hat; "
            "theta -= lr * (r_t * m_hat / (sqrt(v_hat) + eps) + wd * theta) with eps = 1e-7 "
            "and v_hat = v_t / bc2 (decoupled weight decay on every step).",
            threshold_inclusive=True,
            eps_placement="corrected",
            eps=1e-7,
            decoupled_weight_decay=True,
        ),
    )
}


def preset_of(preset: str | Preset) -> Preset:
    """The [`Preset`][radam_core.Preset] a ``preset=`` argument names (or is).

    Raises:
        TypeError: Neither a str nor a ``Preset``.
        ValueError: An unknown name.
    """
    if isinstance(preset, Preset):
        return preset
    if not isinstance(preset, str):
        raise TypeError(
            f"preset must be a str, one of {', '.join(map(repr, PRESETS))}, or a "
            f"radam_core.Preset, got {preset!r}"
        )
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {', '.join(map(repr, PRESETS))}, got {preset!r}")
    return PRESETS[preset]


def with_deprecated_options(
    preset: str | Preset, options: Mapping[str, Any], owner: str, stacklevel: int = 3
) -> Preset:
    """``preset`` with convention options passed the old way, as keyword arguments.

    For an adapter whose signature had one keyword argument per convention field: each one
    given (and not None) still works for a release, with a ``DeprecationWarning`` that names
    the new way (``preset=radam_core.PRESETS[...].replace(...)``).

    Args:
        preset: The ``preset=`` argument.
        options: The other keyword arguments the adapter did not take itself.
        owner: The adapter's name for the messages, e.g. ``"radam_torch.RAdam"``.
        stacklevel: The warning's ``stacklevel``: 3 points at the caller of a function that
            calls this one directly.

    Returns:
        The preset with those fields replaced.

    Raises:
        TypeError: A keyword that is not a convention field (as Python's own message).
        ValueError: An invalid value (the Preset's message), raised before any warning.
    """
    base = preset_of(preset)
    for name in options:
        if name not in CONVENTION_FIELDS:
            raise TypeError(f"{owner}() got an unexpected keyword argument {name!r}")
    changes = {name: value for name, value in options.items() if value is not None}
    if not changes:
        return base
    replaced = base.replace(**changes)  # an invalid value raises first, without a warning
    keywords = ", ".join(f"{name}={value!r}" for name, value in changes.items())
    warnings.warn(
        f"{owner}({keywords}) is deprecated: the convention is one argument now, "
        f"preset=radam_core.PRESETS[{base.name!r}].replace({keywords})",
        DeprecationWarning,
        stacklevel=stacklevel,
    )
    return replaced


def hyperparameters_for(
    preset: str | Preset = "torch",
    *,
    argument_names: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Hyperparameters:
    """Build validated hyperparameters: a preset's convention, then ``overrides`` on top.

    Args:
        preset: One of ``"torch"`` (default), ``"paper"``, ``"authors"``, ``"optax"``,
            ``"tfa"``, or a [`Preset`][radam_core.Preset].
        argument_names: The caller's name of each field in the messages (see
            [`Hyperparameters`][radam_core.Hyperparameters]), e.g. ``{"lr": "learning_rate"}``.
        **overrides: Any [`Hyperparameters`][radam_core.Hyperparameters] field, e.g. ``lr=3e-4``.

    Returns:
        The validated [`Hyperparameters`][radam_core.Hyperparameters].

    Raises:
        ValueError: Unknown preset, or a value out of range.
        TypeError: A preset that is neither a str nor a ``Preset``, an unknown hyperparameter
            name, or a value of the wrong type.
    """
    key = _arguments_key(preset, overrides)
    built = _BUILT.get(key) if key is not None else None
    if built is not None:
        return built
    convention = preset_of(preset)
    fields = {field.name for field in dataclasses.fields(Hyperparameters)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise TypeError(
            f"unknown hyperparameter {unknown[0]!r}; expected one of {', '.join(sorted(fields))}"
        )
    built = Hyperparameters(**{**convention.overrides, **overrides}, argument_names=argument_names)
    if key is not None:
        if len(_BUILT) >= _BUILT_SIZE:
            _BUILT.clear()
        _BUILT[key] = built
    return built


# Hyperparameters already validated, by their arguments: a step that passes the same host
# numbers again (radam_core.step's keyword arguments, every step) is not validated again.
_BUILT: dict[Any, Hyperparameters] = {}
_BUILT_SIZE = 256
_PLAIN = (bool, int, float, str)


def _arguments_key(preset: Any, overrides: dict[str, Any]) -> Any:
    """A hashable key of the arguments, their types included (``True`` is not ``1``).

    A preset is its name, or a [`Preset`][radam_core.Preset]'s values with the overrides on
    top (what the hyperparameters are built from). None where a value is not a plain Python
    one (an array, a NumPy scalar): never kept.
    """
    if type(preset) is Preset:
        preset, overrides = Preset, {**preset.overrides, **overrides}
    elif type(preset) is not str:
        return None
    items = []
    for name, value in sorted(overrides.items()):
        if type(value) in _PLAIN:
            items.append((name, type(value), value))
        elif type(value) is tuple and all(type(v) in _PLAIN for v in value):
            items.append((name, tuple, tuple((type(v), v) for v in value)))
        else:
            return None
    return preset, tuple(items)
