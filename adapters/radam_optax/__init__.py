"""radam_optax: RAdam as an optax ``GradientTransformation`` whose math is radam_core.

``radam(learning_rate, b1, b2, eps, eps_root, threshold, *, nesterov)`` is a drop-in for
``optax.radam`` (the same arguments, defaults, state fields and update dtypes; results
equal up to optax's float32 rho_t, see [`radam`][radam_optax.radam]), and ``scale_by_radam`` for
``optax.scale_by_radam``; both also take ``preset=`` and radam_core's other conventions.
``lookahead(inner, sync_period, slow_step_size)`` wraps any transformation in Lookahead
and ``ranger(learning_rate, ...)`` is ``lookahead(radam(...))``. ``export_state`` and
``import_state`` move the state to and from the framework-neutral snapshot
([`radam_optax.snapshot`][radam_optax.snapshot]).
"""

from radam_optax.lookahead import LookaheadTransformState, lookahead, ranger
from radam_optax.snapshot import export_state, import_state
from radam_optax.transform import ScaleByRAdamState, radam, scale_by_radam

__all__ = [
    "LookaheadTransformState",
    "ScaleByRAdamState",
    "export_state",
    "import_state",
    "lookahead",
    "radam",
    "ranger",
    "scale_by_radam",
]
