"""A rectified RAdam step written as one Adam step, for frameworks with a fused Adam kernel.

Adam (torch's convention, which fused kernels implement) takes, with the same moments
``m_t``, ``v_t`` and ``bc1 = 1 - beta1^t``, ``bc2 = 1 - beta2^t``,

    theta -= (lr_A / bc1) m_t / (sqrt(v_t) / sqrt(bc2) + eps_A),   theta *= 1 - lr_A wd_A (AdamW)

while a rectified RAdam step takes ``theta -= lr r_t (m_t / bc1) sqrt(bc2) / (sqrt(v_t) + eps)``
(eps on the raw sqrt(v_t)) or ``theta -= lr r_t (m_t / bc1) / (sqrt(v_t / bc2) + eps)``
(eps on the bias-corrected one). The two coincide for

    lr_A  = lr r_t
    eps_A = eps / sqrt(bc2)   (raw)        eps_A = eps   (corrected)
    wd_A  = wd                (L2: g += wd theta, before the moments, as in Adam)
    wd_A  = wd / r_t          (decoupled: so that lr_A wd_A = lr wd)

Steps below the threshold, Nesterov momentum and eps_root have no Adam form.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from radam_core.coefficients import bias_correction
from radam_core.count import real_count
from radam_core.hyperparameters import Hyperparameters
from radam_core.namespace import is_array
from radam_core.rectification import rectify


class AdamForm(NamedTuple):
    """Adam hyperparameters under which an Adam step is RAdam's rectified step t.

    Attributes:
        lr: ``lr * r_t``: a float, or a 0-d array for an array ``lr``.
        eps: ``eps / sqrt(1 - beta2^t)`` (raw placement) or ``eps`` (corrected).
        weight_decay: ``wd`` (L2) or ``wd / r_t`` (decoupled, AdamW style).
    """

    lr: Any
    eps: float
    weight_decay: float


def adam_form(t: int, hyperparameters: Hyperparameters) -> AdamForm | None:
    """The [`AdamForm`][radam_core.AdamForm] of step ``t``, or None if the step is not an Adam step.

    Args:
        t: Step number ``t >= 1``, a Python int (host float64 arithmetic).
        hyperparameters: The step's hyperparameters; ``lr`` is a number, or a 0-d array
            (never read: ``lr_A`` is then the array ``lr * r_t``, computed in its dtype and
            on its device).

    Returns:
        None when step ``t`` is not rectified (or r_t = 0), or uses Nesterov momentum or
        ``eps_root``; else the [`AdamForm`][radam_core.AdamForm].
    """
    hp = hyperparameters
    if hp.nesterov or hp.eps_root != 0.0:
        return None
    _, r_t, rectified = rectify(t, hp.betas[1], hp.threshold, hp.threshold_inclusive)
    if not rectified or r_t == 0.0:
        return None
    eps = hp.eps
    if hp.eps_placement == "raw":
        count = real_count(t)
        eps = eps / math.sqrt(count.result(bias_correction(hp.betas[1], count.t, count.xp)))
    decay = hp.weight_decay / r_t if hp.decoupled_weight_decay else hp.weight_decay
    lr = hp.lr * r_t if is_array(hp.lr) else float(hp.lr) * r_t
    return AdamForm(lr=lr, eps=eps, weight_decay=decay)
