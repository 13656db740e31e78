"""An independent RAdam oracle, written from the paper and the peers' formulas.

Nothing here imports ``radam_core``: the presets are written out again from the paper (Liu
et al. 2019, Algorithm 2) and the peers' sources (torch.optim.RAdam, optax.scale_by_radam,
the authors' class, TensorFlow Addons) and every step is the textbook sequence of operations
in plain NumPy (float64 by default), with the bias corrections ``1 - beta**t`` and ``rho_t =
rho_inf - 2 t beta2^t / (1 - beta2^t)`` computed naively. It is meant to be slow and
obvious, not clever.

One step t (``t`` counts from 1), for each parameter ``p`` with gradient ``g``::

    g      = -g                                   (maximize)
    g      = g + wd * p                           (L2 weight decay)
    m      = b1 m + (1 - b1) g
    v      = b2 v + (1 - b2) |g|^2                (|g|^2 = re(g)^2 + im(g)^2 if complex)
    vmax   = max(vmax, v); v_den = vmax           (amsgrad; else v_den = v)
    m_hat  = m / (1 - b1^t)                       or, with nesterov (optax's form),
    m_hat  = b1 m / (1 - b1^(t+1)) + (1 - b1) g / (1 - b1^t)
    rectified = rho_t > threshold  (>= when inclusive)
    updating  = rectified or below_threshold == "sgd"
    p      = p * (1 - lr * wd)                    (decoupled decay, only when updating)
    p      = p - lr r_t m_hat sqrt(bc2) / (sqrt(v_den + eps_root) + eps)      (raw)
    p      = p - lr r_t m_hat / (sqrt(v_den / bc2 + eps_root) + eps)          (corrected)
    p      = p - lr m_hat                         (below threshold, "sgd"; "skip": nothing)

Complex parameters (optax's convention): v is the real EMA of |g|^2, kept here in float64
(the real counterpart of the storage dtype); every other quantity is complex.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

DEFAULTS: dict[str, Any] = {
    "lr": 1e-3,
    "betas": (0.9, 0.999),
    "eps": 1e-8,
    "weight_decay": 0.0,
    "decoupled_weight_decay": False,
    "maximize": False,
    "threshold": 5.0,
    "threshold_inclusive": False,
    "below_threshold": "sgd",
    "eps_placement": "raw",
    "eps_root": 0.0,
    "amsgrad": False,
    "nesterov": False,
}

# Written from the peers' sources, independently of radam_core.presets.
PRESETS: dict[str, dict[str, Any]] = {
    # torch.optim.RAdam: rho_t > 5, SGD-momentum below, eps on the raw sqrt(v), eps 1e-8.
    "torch": {},
    # The paper's Algorithm 2: rho_t > 4, otherwise as torch.
    "paper": {"threshold": 4.0},
    # The authors' RAdam class: N_sma >= 5, no update below, decoupled decay when updating.
    "authors": {
        "threshold": 5.0,
        "threshold_inclusive": True,
        "below_threshold": "skip",
        "decoupled_weight_decay": True,
    },
    # optax.radam: rho_t >= 5, m_hat below, eps on sqrt(v_hat + eps_root).
    "optax": {"threshold": 5.0, "threshold_inclusive": True, "eps_placement": "corrected"},
    # TF Addons RectifiedAdam: sma_t >= 5, m_hat below, sqrt(v_hat) + 1e-7, decoupled decay.
    "tfa": {
        "threshold": 5.0,
        "threshold_inclusive": True,
        "eps_placement": "corrected",
        "eps": 1e-7,
        "decoupled_weight_decay": True,
    },
}

GradFn = Callable[[list[np.ndarray], int], Sequence[Any]]


def resolve(preset: str = "torch", **overrides: Any) -> dict[str, Any]:
    """The full hyperparameter dict of ``preset`` with ``overrides`` on top."""
    unknown = set(overrides) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"unknown hyperparameters {sorted(unknown)}")
    return {**DEFAULTS, **PRESETS[preset], **overrides}


def rho_inf(beta2: float) -> float:
    """``2 / (1 - beta2) - 1``."""
    return 2.0 / (1.0 - beta2) - 1.0


def rho_naive(t: int, beta2: float) -> float:
    """The paper's rho_t, evaluated literally in float64."""
    b2t = beta2**t
    return rho_inf(beta2) - 2.0 * t * b2t / (1.0 - b2t)


def r_naive(rho_t: float, beta2: float) -> float:
    """The paper's r_t, evaluated literally in float64 (only meaningful for rho_t >= 4)."""
    ri = rho_inf(beta2)
    return math.sqrt((rho_t - 4.0) * (rho_t - 2.0) * ri / ((ri - 4.0) * (ri - 2.0) * rho_t))


def is_rectified(t: int, hp: dict[str, Any]) -> bool:
    """The threshold decision of step ``t`` under ``hp``."""
    rho_t = rho_naive(t, hp["betas"][1])
    return rho_t >= hp["threshold"] if hp["threshold_inclusive"] else rho_t > hp["threshold"]


def real_dtype(dtype: Any) -> np.dtype:
    """float32 for complex64, float64 for complex128, a real dtype itself."""
    return np.finfo(dtype).dtype if np.issubdtype(dtype, np.complexfloating) else np.dtype(dtype)


class OracleState:
    """Moments of every parameter: m in the storage dtype, v in its real counterpart."""

    def __init__(self, params: Sequence[np.ndarray], amsgrad: bool) -> None:
        self.t = 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros(p.shape, real_dtype(p.dtype)) for p in params]
        self.vmax = [np.zeros(p.shape, real_dtype(p.dtype)) for p in params] if amsgrad else None


def oracle_step(
    params: Sequence[np.ndarray],
    grads: Sequence[Any],
    state: OracleState,
    hp: dict[str, Any],
    compute_dtype: Any = np.float64,
) -> list[np.ndarray]:
    """One step; updates ``state`` in place and returns the new parameters.

    Arrays are stored in the dtype of ``params`` (each step's results are rounded to it)
    and the arithmetic runs in ``compute_dtype`` (complex128 for complex parameters); the
    step's scalars are Python floats.
    """
    state.t += 1
    t = state.t
    lr = float(hp["lr"])
    b1, b2 = (float(b) for b in hp["betas"])
    eps, wd, eps_root = float(hp["eps"]), float(hp["weight_decay"]), float(hp["eps_root"])
    bc1 = 1.0 - b1**t
    bc2 = 1.0 - b2**t
    ri = rho_inf(b2)
    rho_t = ri - 2.0 * t * b2**t / bc2
    threshold = hp["threshold"]
    rectified = rho_t >= threshold if hp["threshold_inclusive"] else rho_t > threshold
    if rectified:
        r_t = math.sqrt((rho_t - 4.0) * (rho_t - 2.0) * ri / ((ri - 4.0) * (ri - 2.0) * rho_t))
    updating = rectified or hp["below_threshold"] == "sgd"

    new_params = []
    for i, p_stored in enumerate(params):
        storage = p_stored.dtype
        is_complex = np.issubdtype(storage, np.complexfloating)
        dtype = np.complex128 if is_complex else compute_dtype
        p = np.asarray(p_stored, dtype=dtype)
        g = np.asarray(np.asarray(grads[i], dtype=storage), dtype=dtype)
        if hp["maximize"]:
            g = -g
        if wd != 0.0 and not hp["decoupled_weight_decay"]:
            g = g + wd * p
        m = b1 * np.asarray(state.m[i], dtype=dtype) + (1.0 - b1) * g
        g_sq = g.real**2 + g.imag**2 if is_complex else g * g
        v = b2 * np.asarray(state.v[i], dtype=real_dtype(dtype)) + (1.0 - b2) * g_sq
        v_den = v
        if state.vmax is not None:
            vmax = np.maximum(np.asarray(state.vmax[i], dtype=real_dtype(dtype)), v)
            state.vmax[i] = vmax.astype(real_dtype(storage))
            v_den = vmax
        state.m[i] = m.astype(storage)
        state.v[i] = v.astype(real_dtype(storage))

        m_hat = m / bc1
        if hp["nesterov"]:
            m_hat = b1 * m / (1.0 - b1 ** (t + 1)) + (1.0 - b1) * g / bc1

        if updating and hp["decoupled_weight_decay"] and wd != 0.0:
            p = p * (1.0 - lr * wd)
        if rectified:
            if hp["eps_placement"] == "raw":
                denom = np.sqrt(v_den + eps_root) + eps
                p = p - lr * r_t * m_hat * math.sqrt(bc2) / denom
            else:
                denom = np.sqrt(v_den / bc2 + eps_root) + eps
                p = p - lr * r_t * m_hat / denom
        elif hp["below_threshold"] == "sgd":
            p = p - lr * m_hat
        new_params.append(np.asarray(p).astype(storage))
    return new_params


def oracle_trajectory(
    params0: Sequence[Any],
    grad_fn: GradFn,
    steps: int,
    *,
    preset: str = "torch",
    storage_dtype: Any = np.float64,
    compute_dtype: Any = np.float64,
    **overrides: Any,
) -> list[list[np.ndarray]]:
    """Parameters after each of ``steps`` steps (element k is after step k + 1).

    Args:
        params0: Initial parameters (anything ``np.asarray`` takes).
        grad_fn: ``grad_fn(params, t)``: the gradients at ``params`` (stored-dtype NumPy
            arrays) for step ``t``; they are rounded to the storage dtype.
        steps: Number of steps.
        preset: One of :data:`PRESETS`.
        storage_dtype: dtype params and moments are kept in between steps.
        compute_dtype: dtype of the elementwise arithmetic.
        **overrides: Hyperparameters on top of the preset.
    """
    hp = resolve(preset, **overrides)
    params = [np.array(p, dtype=storage_dtype) for p in params0]
    state = OracleState(params, hp["amsgrad"])
    trajectory = []
    for t in range(1, steps + 1):
        grads = grad_fn([p.copy() for p in params], t)
        params = oracle_step(params, grads, state, hp, compute_dtype)
        trajectory.append([p.copy() for p in params])
    return trajectory
