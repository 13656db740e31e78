"""Array-namespace helpers: which namespace, and which float dtype to compute in."""

from __future__ import annotations

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


def compute_dtype(dtype: Any, xp: Namespace) -> Any:
    """The dtype arithmetic on ``dtype`` arrays runs in: at least float32.

    float16 and bfloat16 compute in float32; float32 and float64 in themselves.
    """
    if xp.finfo(dtype).bits < 32:
        return xp.float32
    return dtype


def real_dtype(dtype: Any, xp: Namespace) -> Any:
    """The real dtype of a complex one (complex64: float32, complex128: float64), else ``dtype``.

    ``xp.isdtype`` is the only call for a real ``dtype``, so namespaces without complex
    dtypes (the Keras view) work unchanged.
    """
    if not xp.isdtype(dtype, "complex floating"):
        return dtype
    return xp.float32 if dtype == xp.complex64 else xp.float64


def widest_float(xp: Namespace, device: Any = None) -> Any:
    """float64 where the namespace (and device) supports it, else float32.

    JAX without ``jax_enable_x64`` is the usual namespace without float64.
    """
    info = getattr(xp, "__array_namespace_info__", None)
    if info is None:
        return xp.float64
    supported = info().dtypes(kind="real floating", device=device)
    return supported.get("float64", xp.float32)
