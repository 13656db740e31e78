"""``minimize``: a small teaching loop in the style of ``scipy.optimize.minimize``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from radam_numpy.optimizer import RAdam

Objective = Callable[..., Any]


@dataclasses.dataclass
class MinimizeResult:
    """The outcome of [`minimize`][radam_numpy.minimize.minimize].

    Named like ``scipy.optimize.OptimizeResult``.

    Attributes:
        x: The final parameters.
        fun: The objective at ``x``.
        jac: The gradient at ``x``.
        nit: Steps taken.
        nfev: Objective evaluations.
        success: True when the gradient norm fell to ``gtol``.
        message: Why the loop stopped.
        history: The objective before each step, then at ``x``.
    """

    x: np.ndarray
    fun: float
    jac: np.ndarray
    nit: int
    nfev: int
    success: bool
    message: str
    history: list[float]


def minimize(
    fun: Objective,
    x0: Any,
    jac: Objective | bool | None = None,
    args: tuple[Any, ...] = (),
    *,
    maxiter: int = 1000,
    gtol: float = 1e-6,
    callback: Callable[[MinimizeResult], Any] | None = None,
    **hyperparameters: Any,
) -> MinimizeResult:
    """Minimize ``fun(x, *args)`` with RAdam from ``x0``: ``x_t = x_{t-1} - RAdam step``.

    Each iteration evaluates the gradient ``g = jac(x)``, stops if ``||g||_2 <= gtol``,
    and otherwise takes one [`RAdam`][radam_numpy.RAdam] step.

    Example:
        >>> res = minimize(lambda x: (x**2).sum(), [3.0, -1.0], jac=lambda x: 2 * x, lr=0.1)
        >>> res.success
        True

    Args:
        fun: The objective ``fun(x, *args) -> float``; with ``jac=True`` it returns
            ``(value, gradient)``.
        x0: The starting point (any array-like of reals); copied to float64.
        jac: The gradient ``jac(x, *args)``; ``True`` if ``fun`` returns it; ``None`` for
            forward differences with step ``sqrt(machine eps) * max(1, |x_i|)``.
        args: Extra arguments to ``fun`` and ``jac``.
        maxiter: Most steps to take, ``>= 0``.
        gtol: Stop when the gradient's 2-norm is at most this.
        callback: Called after each step with the current
            [`MinimizeResult`][radam_numpy.MinimizeResult]; returning True stops the loop.
        **hyperparameters: Passed to [`RAdam`][radam_numpy.RAdam] (``lr``, ``betas``, ``preset``,
            ...).

    Returns:
        The [`MinimizeResult`][radam_numpy.MinimizeResult].

    Raises:
        ValueError, TypeError: Invalid ``x0``, ``maxiter``, ``gtol`` or hyperparameters.
    """
    if not isinstance(maxiter, int) or isinstance(maxiter, bool) or maxiter < 0:
        raise ValueError(f"maxiter must be an int >= 0, got {maxiter!r}")
    if not gtol >= 0:
        raise ValueError(f"gtol must be >= 0, got {gtol!r}")
    x = np.array(x0, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"x0 must be finite, got {x0!r}")
    evaluate = _value_and_grad(fun, jac, args)
    optimizer = RAdam([x], **hyperparameters)
    result = MinimizeResult(x, np.nan, np.zeros_like(x), 0, 0, False, "", [])
    while True:
        value, grad, evaluations = evaluate(x)
        result.fun, result.jac, result.nfev = value, grad, result.nfev + evaluations
        result.history.append(value)
        if not np.all(np.isfinite(grad)):
            result.message = "the gradient is not finite"
            break
        if np.linalg.norm(grad) <= gtol:
            result.success, result.message = True, "gradient norm <= gtol"
            break
        if result.nit == maxiter:
            result.message = "maximum number of iterations reached"
            break
        optimizer.step([grad])
        result.nit += 1
        if callback is not None and callback(result):
            result.message = "stopped by the callback"
            break
    return result


def _value_and_grad(
    fun: Objective, jac: Objective | bool | None, args: tuple[Any, ...]
) -> Callable[[np.ndarray], tuple[float, np.ndarray, int]]:
    """(f(x), grad f(x), objective evaluations) by the route ``jac`` selects."""
    if jac is True:

        def both(x: np.ndarray) -> tuple[float, np.ndarray, int]:
            value, grad = fun(x, *args)
            return float(value), np.asarray(grad, dtype=np.float64).reshape(x.shape), 1

        return both
    if callable(jac):

        def separate(x: np.ndarray) -> tuple[float, np.ndarray, int]:
            grad = np.asarray(jac(x, *args), dtype=np.float64).reshape(x.shape)
            return float(fun(x, *args)), grad, 1

        return separate
    if jac not in (None, False):
        raise TypeError(f"jac must be a callable, True or None, got {jac!r}")

    def forward_differences(x: np.ndarray) -> tuple[float, np.ndarray, int]:
        value = float(fun(x, *args))
        grad = np.empty_like(x)
        h = np.sqrt(np.finfo(np.float64).eps) * np.maximum(1.0, np.abs(x))
        for i in np.ndindex(x.shape):
            shifted = x.copy()
            shifted[i] += h[i]
            grad[i] = (float(fun(shifted, *args)) - value) / h[i]
        return value, grad, 1 + x.size

    return forward_differences
