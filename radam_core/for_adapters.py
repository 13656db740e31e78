"""What an adapter assembles a RAdam step from: the parts behind ``radam_core.step``.

A user calls [`radam_core.step`][radam_core.step.step] (or an adapter's optimizer). An adapter
that keeps its own state, or updates in place, calls these instead:

1. [`check_step_inputs`][radam_core.for_adapters.check_step_inputs] before it writes anything;
2. [`increment`][radam_core.for_adapters.increment] on the count, then
   [`step_scalars`][radam_core.for_adapters.step_scalars] once per step: the
   [`StepCoefficients`][radam_core.for_adapters.StepCoefficients] every parameter shares and,
   for a rectified step, its [`AdamForm`][radam_core.for_adapters.AdamForm] (for a fused Adam
   kernel);
3. [`update_leaf`][radam_core.for_adapters.update_leaf] (pure) or
   [`update_leaf_in_place`][radam_core.for_adapters.update_leaf_in_place] on each parameter, with
   the coefficients cast to its compute dtype
   ([`compute_dtype`][radam_core.for_adapters.compute_dtype]).

``preset=`` arguments become a [`Preset`][radam_core.Preset] through
[`preset_of`][radam_core.for_adapters.preset_of]; convention fields passed the old way, as
keyword arguments, through
[`with_deprecated_options`][radam_core.for_adapters.with_deprecated_options].

Lookahead's parts are [`check_lookahead`][radam_core.for_adapters.check_lookahead],
[`advance_lookahead`][radam_core.for_adapters.advance_lookahead] and
[`lookahead_leaf`][radam_core.for_adapters.lookahead_leaf].
"""

from radam_core.lookahead import advance_lookahead, check_lookahead, lookahead_leaf
from radam_core.presets import preset_of, with_deprecated_options
from radam_core.rectification import (
    AdamForm,
    StepScalars,
    adam_form,
    bias_correction,
    step_coefficients,
    step_scalars,
)
from radam_core.step import check_count, check_params, check_step_inputs, increment
from radam_core.update import (
    LeafUpdate,
    StepCoefficients,
    compute_dtype,
    real_dtype,
    update_leaf,
    update_leaf_in_place,
)

__all__ = [
    "AdamForm",
    "LeafUpdate",
    "StepCoefficients",
    "StepScalars",
    "adam_form",
    "advance_lookahead",
    "bias_correction",
    "check_count",
    "check_lookahead",
    "check_params",
    "check_step_inputs",
    "compute_dtype",
    "increment",
    "lookahead_leaf",
    "preset_of",
    "real_dtype",
    "step_coefficients",
    "step_scalars",
    "update_leaf",
    "update_leaf_in_place",
    "with_deprecated_options",
]
