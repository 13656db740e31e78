"""The step count t: a Python int (host float64 math) or a 0-d integer array (traced)."""

from __future__ import annotations

import operator
from collections.abc import Iterable
from typing import Any, NamedTuple

import array_api_compat
import numpy as np

from radam_core.namespace import Array, Namespace, is_array, namespace_of, widest_float

HOST_NAMESPACE: Namespace = array_api_compat.array_namespace(np.empty(0))


class RealCount(NamedTuple):
    """A step count as a real 0-d array, ready for the rectification formulas.

    Attributes:
        t: The count as a 0-d float array: float64 on the host, else the widest float
            of the count's namespace and device.
        xp: The namespace ``t`` belongs to (NumPy for a host count).
        on_host: True when the count was a Python int (and no array hyperparameter came
            with it); results are then Python scalars.
    """

    t: Array
    xp: Namespace
    on_host: bool

    def result(self, value: Array) -> Any:
        """``value`` as a Python scalar for a host count, else unchanged."""
        return value[()].item() if self.on_host else value

    def real(self, value: Any) -> Any:
        """A hyperparameter ready to meet ``t``.

        A host number is returned unchanged (host float64 math, or a weak scalar in array
        math); an array becomes a 0-d array of ``t``'s namespace, dtype and device (a
        float32 beta thus computes in float64 where ``t`` does, exactly as it is).
        """
        if not is_array(value):
            return value
        if array_api_compat.array_namespace(value) is self.xp:
            return self.xp.astype(value, self.t.dtype)
        return self.xp.asarray(value, dtype=self.t.dtype, device=array_api_compat.device(self.t))


def is_host_count(t: Any) -> bool:
    """True for a Python (or NumPy scalar) integer, False for arrays (never read)."""
    if isinstance(t, np.integer):
        return True
    if isinstance(t, (bool, np.bool_)) or hasattr(t, "shape"):
        return False
    try:
        operator.index(t)
    except TypeError:
        return False
    return True


def increment(count: Any) -> Any:
    """The count after one more step, ``count + 1``, never wrapping around.

    A Python int has no maximum. An integer-typed count (a 0-d array, or a NumPy scalar)
    saturates at its dtype's maximum, as ``optax.safe_increment`` does (where every bias
    correction and rho_t have long reached their limits), without computing ``count + 1``
    there: ``count + (count < max)``, with no branch on its value (traced counts included).

    Args:
        count: ``state.count``: a Python int, a NumPy integer, or a 0-d integer array.

    Returns:
        A Python int, or an integer of ``count``'s namespace and dtype: a 0-d array, or
        for NumPy a scalar (NumPy's arithmetic on 0-d arrays gives scalars), which later
        steps take as a host count.
    """
    if isinstance(count, np.integer):
        return count + count.dtype.type(count < np.iinfo(count.dtype).max)
    if is_host_count(count):
        return operator.index(count) + 1
    xp = namespace_of(count)
    below_max = count < xp.iinfo(count.dtype).max
    return count + xp.astype(below_max, count.dtype)


def real_count(t: Any, xp: Namespace | None = None, meets: Iterable[Any] = ()) -> RealCount:
    """Validate a step count ``t >= 1`` and convert it to a real 0-d array.

    Args:
        t: A Python int, or a 0-d integer array of any namespace (a traced count under
            ``jax.jit`` or ``tf.function`` included; its value is never inspected).
        xp: The namespace of an array ``t``; inferred when omitted.
        meets: The hyperparameters the count's math will meet (numbers or 0-d arrays).
            If one is an array, a host ``t`` becomes a 0-d array in the widest float of
            the first such array's namespace and device (``on_host`` False), so that the
            results are arrays of that namespace.

    Returns:
        The ``RealCount``.

    Raises:
        TypeError: ``t`` is a bool, a float, or an array that is not 0-d integer.
        ValueError: A host ``t`` below 1.
    """
    if is_host_count(t):
        if operator.index(t) < 1:
            raise ValueError(f"step count t must be >= 1, got {t!r}")
        like = next((value for value in meets if is_array(value)), None)
        if like is not None:
            like_xp, device = namespace_of(like), array_api_compat.device(like)
            real = like_xp.asarray(
                float(operator.index(t)), dtype=widest_float(like_xp, device), device=device
            )
            return RealCount(real, like_xp, False)
        return RealCount(np.asarray(float(operator.index(t))), HOST_NAMESPACE, True)
    if isinstance(t, (bool, np.bool_)) or not hasattr(t, "shape"):
        raise TypeError(f"step count t must be an int or a 0-d integer array, got {t!r}")
    xp = namespace_of(t, xp=xp)
    if tuple(t.shape) != () or not xp.isdtype(t.dtype, "integral"):
        raise TypeError(
            f"step count t must be a 0-d integer array, got shape {tuple(t.shape)} "
            f"and dtype {t.dtype}"
        )
    device = array_api_compat.device(t)
    return RealCount(xp.astype(t, widest_float(xp, device)), xp, False)
