"""radam_optax: RAdam as an optax ``GradientTransformation`` whose math is radam_core.

``radam(learning_rate, b1, b2, eps, eps_root, threshold, *, nesterov)`` is a drop-in for
``optax.radam`` (the same arguments, defaults and results), and ``scale_by_radam`` for
``optax.scale_by_radam``; both also take ``preset=`` and radam_core's other conventions.
"""

from radam_optax.transform import ScaleByRAdamState, radam, scale_by_radam

__all__ = ["ScaleByRAdamState", "radam", "scale_by_radam"]
