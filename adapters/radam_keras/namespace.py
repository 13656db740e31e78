"""An Array API view of ``keras.ops``: the functions radam_core calls, on any Keras backend.

array-api-compat does not cover TensorFlow, and Keras tensors of every backend (TensorFlow,
JAX, torch, traced or not) go through ``keras.ops`` anyway, so the adapter hands the core
this small namespace. It implements only what the core uses, with the standard's
signatures; dtypes are Keras's standardized names (``"float32"``, ...).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from keras import backend, ops

Tensor = Any

float32 = "float32"
float64 = "float64"
complex64 = "complex64"
complex128 = "complex128"

_KINDS = {
    "real floating": ("float16", "bfloat16", "float32", "float64"),
    "complex floating": ("complex64", "complex128"),
    "integral": ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"),
}


def _name(dtype: Any) -> str:
    return str(backend.standardize_dtype(dtype))


def isdtype(dtype: Any, kind: str) -> bool:
    """Whether ``dtype`` is of ``kind`` (``"real floating"``, ``"integral"``, ...)."""
    return _name(dtype) in _KINDS[kind]


def finfo(dtype: Any) -> Any:
    """Machine limits of a float dtype (``bits`` among them); bfloat16 has 16 bits."""
    name = _name(dtype)
    if name == "bfloat16":
        return np.finfo(np.float16)  # the same width; only .bits is read
    return np.finfo(name)


def astype(x: Tensor, dtype: Any, /, *, copy: bool = True, device: Any = None) -> Tensor:
    """``x`` cast to ``dtype`` (``keras.ops.cast``); with ``copy``, never ``x`` itself.

    radam_core runs its equations with the in-place operators on such copies: a torch
    tensor would otherwise be written, and a TensorFlow variable refuses them. Compiled
    steps (XLA) do not copy for it.
    """
    cast = ops.cast(x, _name(dtype))
    return ops.copy(x) if copy and cast is x else cast


def asarray(obj: Any, /, *, dtype: Any = None, device: Any = None, copy: Any = None) -> Tensor:
    """``obj`` as a tensor of ``dtype`` (``keras.ops.convert_to_tensor``)."""
    return ops.convert_to_tensor(obj, dtype=None if dtype is None else _name(dtype))


def clip(x: Tensor, /, min: float | None = None, max: float | None = None) -> Tensor:
    """``x`` clamped to ``[min, max]``; either bound may be omitted."""
    if min is not None:
        x = ops.maximum(x, min)
    if max is not None:
        x = ops.minimum(x, max)
    return x


def where(condition: Tensor, x1: Tensor | float, x2: Tensor | float, /) -> Tensor:
    """Elementwise ``x1`` where ``condition`` holds, else ``x2``."""
    return ops.where(condition, x1, x2)


def sqrt(x: Tensor, /) -> Tensor:
    """Elementwise square root."""
    return ops.sqrt(x)


def exp(x: Tensor, /) -> Tensor:
    """Elementwise e^x."""
    return ops.exp(x)


def expm1(x: Tensor, /) -> Tensor:
    """Elementwise e^x - 1, accurate near 0."""
    return ops.expm1(x)


def real(x: Tensor, /) -> Tensor:
    """Elementwise real part."""
    return ops.real(x)


def conj(x: Tensor, /) -> Tensor:
    """Elementwise complex conjugate."""
    return ops.conj(x)


def maximum(x1: Tensor, x2: Tensor, /) -> Tensor:
    """Elementwise maximum."""
    return ops.maximum(x1, x2)


def zeros_like(x: Tensor, /, *, dtype: Any = None, device: Any = None) -> Tensor:
    """Zeros shaped like ``x``."""
    return ops.zeros_like(x, dtype=None if dtype is None else _name(dtype))


def ones_like(x: Tensor, /, *, dtype: Any = None, device: Any = None) -> Tensor:
    """Ones shaped like ``x``."""
    return ops.ones_like(x, dtype=None if dtype is None else _name(dtype))


class _Info:
    """The standard's inspection object: which float dtypes the backend has."""

    def dtypes(self, *, device: Any = None, kind: Any = None) -> dict[str, str]:
        """float64 unless the backend is JAX without x64 (whose float64 is float32)."""
        if backend.backend() == "jax":
            import jax

            if not jax.config.read("jax_enable_x64"):
                return {"float32": "float32"}
        return {"float32": "float32", "float64": "float64"}


def __array_namespace_info__() -> _Info:
    """The namespace's inspection object."""
    return _Info()
