"""radam_core: RAdam (Liu et al. 2019) once, pure and backend-neutral (Array API).

The only place in the project where the rectification and the update are written.
Adapters for torch, Keras, NumPy and optax call [`step`][radam_core.step.step] (or its parts,
[`step_coefficients`][radam_core.step_coefficients] and [`update_leaf`][radam_core.update_leaf], or
[`update_leaf_in_place`][radam_core.update_leaf_in_place]).
"""

from radam_core.coefficients import (
    AdamForm,
    StepCoefficients,
    adam_form,
    step_coefficients,
)
from radam_core.diagnostics import ScheduleRow, first_rectified_step, schedule
from radam_core.hyperparameters import CONVENTION_FIELDS, Hyperparameters
from radam_core.lookahead import (
    LookaheadState,
    check_lookahead,
    init_lookahead,
    lookahead_leaf,
    lookahead_step,
    lookahead_sync,
)
from radam_core.presets import PRESETS, Preset, hyperparameters_for
from radam_core.rectification import Rectification, rectify, rho, rho_inf
from radam_core.state import RAdamState, init_state
from radam_core.step import step
from radam_core.update import LeafUpdate, update_leaf, update_leaf_in_place
from radam_core.validation import check_params, check_step_inputs

__all__ = [
    "CONVENTION_FIELDS",
    "PRESETS",
    "AdamForm",
    "Hyperparameters",
    "LeafUpdate",
    "LookaheadState",
    "Preset",
    "RAdamState",
    "Rectification",
    "ScheduleRow",
    "StepCoefficients",
    "adam_form",
    "check_lookahead",
    "check_params",
    "check_step_inputs",
    "first_rectified_step",
    "hyperparameters_for",
    "init_lookahead",
    "init_state",
    "lookahead_leaf",
    "lookahead_step",
    "lookahead_sync",
    "rectify",
    "rho",
    "rho_inf",
    "schedule",
    "step",
    "step_coefficients",
    "update_leaf",
    "update_leaf_in_place",
]
