"""Shared fixtures: the Array API namespaces, float dtypes and comparison helpers.

``xp`` runs a test once per namespace (NumPy and torch through ``array_api_compat``,
``array_api_strict``, ``jax.numpy``), skipping those not installed, as SciPy's and
array-api-extra's suites do. ``float_dtype`` runs it once per float dtype the namespace
has; for JAX float64 it turns on x64 for that test only (``jax.enable_x64`` as a context),
so the other JAX tests keep JAX's float32 default.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from typing import Any

import array_api_compat
import numpy as np
import pytest

XP_NAMES = ("numpy", "array_api_strict", "torch", "jax.numpy")
FLOAT_NAMES = ("float16", "float32", "float64")


def load_namespace(name: str) -> Any:
    """The namespace called ``name``, wrapped by array_api_compat where needed."""
    if name == "numpy":
        return array_api_compat.array_namespace(np.empty(0))
    if name == "torch":
        torch = pytest.importorskip("torch")
        return array_api_compat.array_namespace(torch.empty(0))
    if name == "jax.numpy":
        pytest.importorskip("jax")
        return importlib.import_module("jax.numpy")
    return pytest.importorskip(name)


@pytest.fixture(params=XP_NAMES)
def xp(request: pytest.FixtureRequest) -> Any:
    """Each Array API namespace in turn (skipped when not installed)."""
    return load_namespace(request.param)


def is_jax(xp: Any) -> bool:
    return xp.__name__.startswith("jax")


def is_strict(xp: Any) -> bool:
    return xp.__name__.startswith("array_api_strict")


def is_torch(xp: Any) -> bool:
    return array_api_compat.is_torch_namespace(xp)


@contextlib.contextmanager
def x64_if(xp: Any, dtype_name: str) -> Iterator[None]:
    """JAX float64 needs x64, turned on only inside this context; a no-op otherwise."""
    if is_jax(xp) and dtype_name == "float64":
        import jax

        with jax.enable_x64(True):
            yield
    else:
        yield


@pytest.fixture(params=FLOAT_NAMES)
def float_dtype(request: pytest.FixtureRequest, xp: Any) -> Iterator[Any]:
    """float16 (where the namespace has it), float32 and float64 of ``xp``."""
    name = request.param
    if name == "float16" and not hasattr(xp, "float16"):
        pytest.skip(f"{xp.__name__} has no float16")
    with x64_if(xp, name):
        yield getattr(xp, name)


def dtype_name(dtype: Any) -> str:
    """'float16', 'float32' or 'float64' for a dtype of any namespace."""
    text = str(dtype)
    for name in FLOAT_NAMES:
        if name in text:
            return name
    raise AssertionError(f"not a float dtype: {dtype!r}")


def numpy_dtype(dtype: Any) -> Any:
    return np.dtype(dtype_name(dtype))


def int_dtype(xp: Any) -> Any:
    """The widest integer dtype ``xp`` has right now (int32 for JAX without x64)."""
    if is_jax(xp):
        import jax

        return xp.int64 if jax.config.jax_enable_x64 else xp.int32
    return xp.int64


def asarray(xp: Any, values: Any, dtype: Any, device: Any = None) -> Any:
    """``values`` (NumPy or nested lists) as an ``xp`` array of ``dtype`` on ``device``."""
    host = np.array(values, dtype=numpy_dtype(dtype))
    if device is None:
        return xp.asarray(host, dtype=dtype)
    return xp.asarray(host, dtype=dtype, device=device)


def count_array(xp: Any, value: int, device: Any = None) -> Any:
    """A 0-d integer array count of ``xp``."""
    if device is None:
        return xp.asarray(value, dtype=int_dtype(xp))
    return xp.asarray(value, dtype=int_dtype(xp), device=device)


def to_numpy(x: Any, dtype: Any = np.float64) -> np.ndarray:
    """A NumPy copy of an array of any namespace (or a Python scalar), as ``dtype``.

    ``dtype=None`` keeps the array's own dtype.
    """
    if hasattr(x, "detach"):  # torch
        x = x.detach().cpu().numpy()
    elif type(x).__module__.startswith("array_api_strict"):
        # NumPy refuses strict arrays off the CPU device: move them there first.
        import array_api_strict

        x = np.from_dlpack(x.to_device(array_api_strict.Device("CPU_DEVICE")))
    result = np.array(x, copy=True)
    return result if dtype is None else result.astype(dtype)


def assert_like(out: Any, ref: Any) -> None:
    """``out`` has ``ref``'s namespace, dtype, device and shape."""
    assert array_api_compat.array_namespace(out) is array_api_compat.array_namespace(ref)
    assert out.dtype == ref.dtype, (out.dtype, ref.dtype)
    assert array_api_compat.device(out) == array_api_compat.device(ref)
    assert tuple(out.shape) == tuple(ref.shape)


def assert_close(actual: Any, expected: Any, rtol: float, atol: float, err_msg: str = "") -> None:
    """Elementwise ``|actual - expected| <= atol + rtol |expected|`` in float64, NaN never."""
    a, e = to_numpy(actual), to_numpy(expected)
    assert a.shape == e.shape, (a.shape, e.shape)
    assert np.all(np.isfinite(a)), f"non-finite result {a} {err_msg}"
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=err_msg)


def scaled_atol(arrays: Any, tol: float) -> float:
    """``tol`` times the largest magnitude in ``arrays`` (for elements near 0)."""
    largest = max((float(np.max(np.abs(to_numpy(a)), initial=0.0)) for a in arrays), default=0.0)
    return tol * max(largest, 1e-30)
