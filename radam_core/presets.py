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
from collections.abc import Mapping
from typing import Any

from radam_core.hyperparameters import Hyperparameters


@dataclasses.dataclass(frozen=True)
class Preset:
    """A published convention: a description and the hyperparameters it changes.

    Attributes:
        name: The preset's name, as passed to
            [`hyperparameters_for`][radam_core.hyperparameters_for].
        description: Who uses it and its formulas.
        overrides: Fields that differ from [`Hyperparameters`][radam_core.Hyperparameters]'
            defaults.
    """

    name: str
    description: str
    overrides: Mapping[str, Any]


PRESETS: Mapping[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            "torch",
            "torch.optim.RAdam: rectify when rho_t > 5, else theta -= lr * m_hat; "
            "theta -= lr * r_t * m_hat * sqrt(bc2) / (sqrt(v_t) + eps); L2 weight decay "
            "g += wd * theta, or decoupled theta *= 1 - lr * wd on every step.",
            {},
        ),
        Preset(
            "paper",
            "Algorithm 2 of Liu et al. (2019): the torch convention, but rectify when rho_t > 4.",
            {"threshold": 4.0},
        ),
        Preset(
            "authors",
            "The authors' released RAdam class: rectify when rho_t >= 5; below it no "
            "parameter update (the moments still advance); decoupled weight decay "
            "theta *= 1 - lr * wd only on steps that update; eps on the raw sqrt(v_t).",
            {
                "threshold_inclusive": True,
                "below_threshold": "skip",
                "decoupled_weight_decay": True,
            },
        ),
        Preset(
            "optax",
            "optax.radam: rectify when rho_t >= 5, else theta -= lr * m_hat; "
            "theta -= lr * r_t * m_hat / (sqrt(v_hat + eps_root) + eps) with "
            "v_hat = v_t / bc2; no weight decay of its own.",
            {"threshold_inclusive": True, "eps_placement": "corrected"},
        ),
        Preset(
            "tfa",
            "TF Addons' RectifiedAdam: rectify when rho_t >= 5, else theta -= lr * m_hat; "
            "theta -= lr * (r_t * m_hat / (sqrt(v_hat) + eps) + wd * theta) with eps = 1e-7 "
            "and v_hat = v_t / bc2 (decoupled weight decay on every step).",
            {
                "threshold_inclusive": True,
                "eps_placement": "corrected",
                "eps": 1e-7,
                "decoupled_weight_decay": True,
            },
        ),
    )
}


def hyperparameters_for(
    preset: str = "torch",
    *,
    argument_names: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Hyperparameters:
    """Build validated hyperparameters: a preset's convention, then ``overrides`` on top.

    Args:
        preset: One of ``"torch"`` (default), ``"paper"``, ``"authors"``, ``"optax"``, ``"tfa"``.
        argument_names: The caller's name of each field in the messages (see
            [`Hyperparameters`][radam_core.Hyperparameters]), e.g. ``{"lr": "learning_rate"}``.
        **overrides: Any [`Hyperparameters`][radam_core.Hyperparameters] field, e.g. ``lr=3e-4``.

    Returns:
        The validated [`Hyperparameters`][radam_core.Hyperparameters].

    Raises:
        ValueError: Unknown preset, or a value out of range.
        TypeError: A preset that is not a str, an unknown hyperparameter name, or a
            value of the wrong type.
    """
    key = _arguments_key(preset, overrides)
    built = _BUILT.get(key) if key is not None else None
    if built is not None:
        return built
    if not isinstance(preset, str):
        raise TypeError(
            f"preset must be a str, one of {', '.join(map(repr, PRESETS))}, got {preset!r}"
        )
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {', '.join(map(repr, PRESETS))}, got {preset!r}")
    fields = {field.name for field in dataclasses.fields(Hyperparameters)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise TypeError(
            f"unknown hyperparameter {unknown[0]!r}; expected one of {', '.join(sorted(fields))}"
        )
    built = Hyperparameters(
        **{**PRESETS[preset].overrides, **overrides}, argument_names=argument_names
    )
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

    None where one is not a plain Python value (an array, a NumPy scalar): never kept.
    """
    if type(preset) is not str:
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
