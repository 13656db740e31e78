"""radam_core: RAdam (Liu et al. 2019) once, pure and backend-neutral (Array API).

The only place in the project where the rectification and the update are written. For users:
[`step`][radam_core.step.step] and [`init_state`][radam_core.init_state], the presets
([`hyperparameters_for`][radam_core.hyperparameters_for]), the schedule without an update
([`rectify`][radam_core.rectify], [`schedule`][radam_core.schedule]), and Lookahead
([`lookahead_step`][radam_core.lookahead_step]), and the framework-neutral snapshot of a state
that adapters export and resume from ([`radam_core.snapshot`][radam_core.snapshot]). What
adapters assemble a step from (the step's scalars, one parameter's update, the checks) is
[`radam_core.for_adapters`][radam_core.for_adapters].
"""

import warnings
from typing import Any

from radam_core import for_adapters
from radam_core.diagnostics import ScheduleRow, first_rectified_step, schedule
from radam_core.hyperparameters import CONVENTION_FIELDS, Hyperparameters
from radam_core.lookahead import LookaheadState, init_lookahead, lookahead_step, lookahead_sync
from radam_core.presets import PRESETS, Preset, hyperparameters_for
from radam_core.rectification import Rectification, rectify, rho, rho_inf
from radam_core.snapshot import (
    LookaheadPosition,
    ParameterState,
    Snapshot,
    load_snapshot,
    save_snapshot,
)
from radam_core.state import RAdamState, init_state
from radam_core.step import step

__all__ = [
    "CONVENTION_FIELDS",
    "PRESETS",
    "Hyperparameters",
    "LookaheadPosition",
    "LookaheadState",
    "ParameterState",
    "Preset",
    "RAdamState",
    "Rectification",
    "ScheduleRow",
    "Snapshot",
    "first_rectified_step",
    "for_adapters",
    "hyperparameters_for",
    "init_lookahead",
    "init_state",
    "load_snapshot",
    "lookahead_step",
    "lookahead_sync",
    "rectify",
    "rho",
    "rho_inf",
    "save_snapshot",
    "schedule",
    "step",
]


def __getattr__(name: str) -> Any:
    """The adapters' parts under their old top-level names, with a ``DeprecationWarning``.

    They moved to [`radam_core.for_adapters`][radam_core.for_adapters]; the old names work for
    one more release.
    """
    if name in for_adapters.__all__:
        warnings.warn(
            f"radam_core.{name} moved to radam_core.for_adapters.{name}; the old name is "
            "deprecated and will be removed",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(for_adapters, name)
    raise AttributeError(f"module 'radam_core' has no attribute {name!r}")
