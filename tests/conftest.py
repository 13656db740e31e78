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
import types
from collections.abc import Iterator
from typing import Any

import array_api_compat
import numpy as np
import pytest

XP_NAMES = ("numpy", "array_api_strict", "torch", "jax.numpy")
FLOAT_NAMES = ("float16", "float32", "float64")

# ``--backend``: each nox session runs the tests of its own environment once.
BACKENDS = ("numpy", "torch", "jax", "docs", "recipes", "timm")
BACKEND_OF_NAMESPACE = {
    "numpy": "numpy",
    "array_api_strict": "numpy",
    "torch": "torch",
    "jax.numpy": "jax",
}
# The packages each backend's session has, and a skip for lack of one is then a failure.
BACKEND_PACKAGES = {
    "numpy": (),
    "torch": ("torch",),
    "jax": ("jax", "optax"),
    "docs": ("mkdocs",),
    # docs/recipes.md: the frameworks of its recipes (timm's in a session of its own).
    "recipes": ("transformers", "lightning", "jsonargparse", "flax", "orbax.checkpoint"),
    "timm": ("timm",),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="run only the tests of one backend (numpy and array_api_strict, torch, jax, "
        "docs, the documentation site's, recipes or timm, docs/recipes.md's): "
        "a test's backend is its backend(...) mark, else that of the namespace it is "
        "parametrized with (xp or xp_name), else torch or jax if its module imports it "
        "(optax counts as jax), else numpy",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "backend(name): the backend whose session runs this test")


def backend_of(item: pytest.Item) -> str:
    """The backend a collected test belongs to (see ``--backend``)."""
    marker = item.get_closest_marker("backend")
    if marker is not None:
        return str(marker.args[0])
    params = getattr(getattr(item, "callspec", None), "params", {})
    for name in ("xp", "xp_name"):
        if params.get(name) in BACKEND_OF_NAMESPACE:
            return BACKEND_OF_NAMESPACE[params[name]]
    imported = {
        getattr(value, "__name__", "").split(".")[0]
        for value in vars(getattr(item, "module", None) or object()).values()
        if isinstance(value, types.ModuleType)
    }
    uses_torch, uses_jax = "torch" in imported, bool(imported & {"jax", "optax"})
    if uses_torch and uses_jax:
        raise pytest.UsageError(f"{item.nodeid}: its module imports torch and jax; mark it")
    return "torch" if uses_torch else "jax" if uses_jax else "numpy"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    wanted = config.getoption("--backend")
    if wanted is None:
        return
    selected = [item for item in items if backend_of(item) == wanted]
    config.hook.pytest_deselected(items=[item for item in items if item not in selected])
    items[:] = selected


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """Under ``--backend``, a skip for a package of `BACKEND_PACKAGES` is an error: either the
    test belongs to another backend and must say so with a backend(...) mark, or its own
    session lacks a package that session is meant to install."""
    report = yield
    wanted = item.config.getoption("--backend")
    if wanted is not None and report.skipped and isinstance(report.longrepr, tuple):
        message = str(report.longrepr[2])
        packages = [p for names in BACKEND_PACKAGES.values() for p in names]
        missing = [p for p in packages if f"could not import '{p}'" in message]
        if missing and missing[0] not in BACKEND_PACKAGES[wanted]:
            report.outcome = "failed"
            report.longrepr = (
                f"{item.nodeid} needs {missing[0]} but runs in the {wanted} session: "
                f"mark it @pytest.mark.backend(...)"
            )
        elif missing:
            report.outcome = "failed"
            report.longrepr = (
                f"{item.nodeid} skipped: the {wanted} session lacks {missing[0]}, "
                f"which it is meant to install"
            )
    return report


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
