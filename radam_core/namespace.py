"""Array-namespace helpers: which namespace, host number or array, and the widest float."""

from __future__ import annotations

import operator
from typing import Any

import array_api_compat
import numpy as np

Array = Any
Namespace = Any


def namespace_of(*arrays: Array, xp: Namespace | None = None) -> Namespace:
    """Return ``xp`` if given, else the Array API namespace shared by ``arrays``.

    Args:
        *arrays: Arrays of one library.
        xp: An explicit namespace, returned unchanged.

    Returns:
        The namespace (``array_api_compat``'s wrapper where the library needs one).
    """
    if xp is not None:
        return xp
    return array_api_compat.array_namespace(*arrays)


def is_array(value: Any) -> bool:
    """True for an array of any namespace (0-d and traced ones included).

    False for Python numbers and NumPy scalars (``np.float64(0.9)``), which are host numbers.
    """
    return hasattr(value, "shape") and not isinstance(value, np.generic)


def is_host_count(t: Any) -> bool:
    """True for a Python (or NumPy scalar) integer, False for arrays (never read) and bools."""
    if isinstance(t, np.integer):
        return True
    if isinstance(t, (bool, np.bool_)) or hasattr(t, "shape"):
        return False
    try:
        operator.index(t)
    except TypeError:
        return False
    return True


def widest_float(xp: Namespace, device: Any = None) -> Any:
    """float64 where the namespace (and device) supports it, else float32.

    JAX without ``jax_enable_x64`` is the usual namespace without float64.
    """
    info = getattr(xp, "__array_namespace_info__", None)
    if info is None:
        return xp.float64
    supported = info().dtypes(kind="real floating", device=device)
    return supported.get("float64", xp.float32)
