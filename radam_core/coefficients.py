"""The scalars of step t that every parameter shares: step sizes, scales and decay.

With ``bc1 = 1 - beta1^t``, ``bc2 = 1 - beta2^t``, r_t and the threshold decision from
[`radam_core.rectification`][radam_core.rectification] (``rectified`` is 1 or 0), and ``updating`` 1
unless the step is skipped below the threshold:

    adaptive_step       = lr * r_t * rectified * sqrt(bc2) / bc1      (eps on raw sqrt(v_t))
                        = lr * r_t * rectified / bc1                  (eps on sqrt(v_t / bc2))
    momentum_step       = lr * (1 - rectified) / bc1                  ("sgd" below threshold)
                        = 0                                           ("skip")
    second_moment_scale = 1 (raw) or 1 / bc2 (corrected)
    nesterov_momentum   = beta1 * bc1 / (1 - beta1^(t+1))
    decay               = 1 - lr * wd * updating (decoupled weight decay), else 1

These are Python floats for a Python-int step count (computed in float64 on the host)
and 0-d arrays for an array count, with no branch on its value. Array betas, threshold or
weight decay (0-d, traced or not) make them 0-d arrays too, computed in the count's
precision (the count joins the arrays' namespace), again without reading their values.

**The Adam form.** For frameworks with a fused Adam kernel, a rectified step is also one Adam
step. Adam (torch's convention, which fused kernels implement) takes, with the same moments,

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

from radam_core.count import real_count
from radam_core.hyperparameters import Hyperparameters
from radam_core.namespace import Array, Namespace, is_array, real_dtype
from radam_core.rectification import rectification, rectify


class StepCoefficients(NamedTuple):
    """The per-step scalars of the update.

    Their formulas are in [`radam_core.coefficients`][radam_core.coefficients].

    One parameter's update, with ``n_t = m_t`` (or ``nesterov_momentum * m_t +
    (1 - beta1) g_t`` with Nesterov momentum, which is ``bc1 * m_hat``), is:

        theta_t = decay * theta_{t-1}
                  - adaptive_step * n_t / (sqrt(second_moment_scale * v_t + eps_root) + eps)
                  - momentum_step * n_t

    Attributes:
        adaptive_step: Step size of the rectified adaptive update; 0 when not rectified.
        momentum_step: Step size of the SGD-with-momentum update below the threshold.
        second_moment_scale: Multiplies v_t inside the square root.
        nesterov_momentum: Weight of m_t in n_t with Nesterov momentum.
        decay: Multiplies theta_{t-1}: decoupled weight decay on updating steps.
    """

    adaptive_step: Any
    momentum_step: Any
    second_moment_scale: Any
    nesterov_momentum: Any
    decay: Any

    def cast(self, dtype: Any, device: Any, xp: Namespace) -> StepCoefficients:
        """Array coefficients converted to ``dtype`` on ``device``; floats unchanged.

        A complex ``dtype`` (a complex parameter's) gives its real dtype: the coefficients
        are real, and so is the denominator they meet
        ([`radam_core.update_leaf`][radam_core.update_leaf]).
        """
        real = real_dtype(dtype, xp)
        return StepCoefficients(
            *(
                value if isinstance(value, float) else xp.asarray(value, dtype=real, device=device)
                for value in self
            )
        )


def bias_correction(beta: Any, t: Array, xp: Namespace) -> Array:
    """``1 - beta^t`` as ``-expm1(t ln beta)``, exact to rounding for beta near 1.

    ``beta`` is a float or a 0-d array of ``t``'s dtype; ``beta = 0`` gives 1 (``t >= 1``),
    for an array by ``where``, with ln 0 never computed.
    """
    if is_array(beta):
        positive = beta > 0.0
        return xp.where(positive, -xp.expm1(t * xp.log(xp.where(positive, beta, 0.5))), 1.0)
    if beta == 0.0:
        return xp.ones_like(t)
    return -xp.expm1(t * math.log(beta))


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


def step_coefficients(
    t: Any, hyperparameters: Hyperparameters, xp: Namespace | None = None
) -> StepCoefficients:
    """The [`StepCoefficients`][radam_core.StepCoefficients] of step ``t``.

    Args:
        t: Step number ``t >= 1`` (the count after the increment): a Python int, or a
            0-d integer array of any namespace, traced or not.
        hyperparameters: The step's validated hyperparameters.
        xp: Namespace of an array ``t``; inferred when omitted.

    Returns:
        Python floats for an int ``t`` with a float lr and host-number betas, threshold
        and weight decay; 0-d arrays otherwise.
    """
    hp = hyperparameters
    decay_rate = hp.weight_decay if hp.decoupled_weight_decay else 0.0
    count = real_count(t, xp, meets=(*hp.betas, hp.threshold, decay_rate))
    t_real, xp = count.t, count.xp
    beta1, beta2 = (count.real(beta) for beta in hp.betas)
    threshold, decay_rate = count.real(hp.threshold), count.real(decay_rate)
    rect = rectification(t_real, beta2, threshold, hp.threshold_inclusive, xp)
    rectified = xp.astype(rect.rectified, t_real.dtype)
    bc1 = bias_correction(beta1, t_real, xp)
    bc2 = bias_correction(beta2, t_real, xp)

    adaptive_step = rect.r_t * rectified / bc1
    if hp.eps_placement == "raw":
        adaptive_step = adaptive_step * xp.sqrt(bc2)
        second_moment_scale = xp.ones_like(t_real)
    else:
        second_moment_scale = 1.0 / bc2
    if hp.below_threshold == "sgd":
        momentum_step = (1.0 - rectified) / bc1
        updating = xp.ones_like(t_real)
    else:
        momentum_step = xp.zeros_like(t_real)
        updating = rectified
    nesterov_momentum = beta1 * bc1 / bias_correction(beta1, t_real + 1.0, xp)

    lr = hp.lr
    if not count.on_host and not isinstance(lr, (int, float)):
        lr = xp.astype(lr, t_real.dtype)  # an array lr (a schedule's) joins the count's math
    return StepCoefficients(
        adaptive_step=lr * count.result(adaptive_step),
        momentum_step=lr * count.result(momentum_step),
        second_moment_scale=count.result(second_moment_scale),
        nesterov_momentum=count.result(nesterov_momentum),
        decay=1.0 - lr * decay_rate * count.result(updating),
    )


def adam_form(t: int, hyperparameters: Hyperparameters) -> AdamForm | None:
    """The [`AdamForm`][radam_core.AdamForm] of step ``t``, or None if it is not an Adam step.

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
