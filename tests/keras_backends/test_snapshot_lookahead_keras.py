"""radam_keras's Ranger in the framework-neutral snapshot, on the KERAS_BACKEND.

A run saved mid-cycle resumes with the same slow weights and position in the k-cycle: bit
for bit in Keras, to float32 rounding in NumPy (1e-5, test_golden's float32 bound).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from radam_keras import Lookahead, RAdam, Ranger  # noqa: E402

import radam_numpy  # noqa: E402
from radam_core import load_snapshot, save_snapshot  # noqa: E402

# Keras's own __array__ warning under NumPy 2 (see test_snapshot_keras).
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

STEPS, SPLIT, K, ALPHA = 16, 8, 5, 0.6


def _model() -> Any:
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4, activation="tanh", name="hidden")], name="net"
    )


def _values(model: Any) -> list[np.ndarray]:
    return [keras.ops.convert_to_numpy(v.value) for v in model.trainable_variables]


def _grads(values: list[np.ndarray], t: int) -> list[np.ndarray]:
    return [np.sin(v + np.float32(0.1 * t)).astype(np.float32) for v in values]


def _run(opt: Any, model: Any, first: int, last: int) -> None:
    for t in range(first, last + 1):
        opt.apply(_grads(_values(model), t), model.trainable_variables)


def _set(model: Any, values: list[np.ndarray]) -> None:
    for variable, value in zip(model.trainable_variables, values, strict=True):
        variable.assign(value)


def _ranger(k: int = K) -> Ranger:
    return Ranger(learning_rate=0.05, k=k, alpha=ALPHA)


def test_a_ranger_run_resumes_exactly_from_the_file(tmp_path: Path) -> None:
    model = _model()
    start = _values(model)
    _run(_ranger(), model, 1, STEPS)
    reference = _values(model)

    _set(model, start)
    opt = _ranger()
    _run(opt, model, 1, SPLIT)
    save_snapshot(opt.export_state(model.trainable_variables), tmp_path / "r.safetensors")
    resumed = _ranger()
    resumed.import_state(load_snapshot(tmp_path / "r.safetensors"), model.trainable_variables)
    assert int(keras.ops.convert_to_numpy(resumed.lookahead_count.value)) == SPLIT % K
    assert int(keras.ops.convert_to_numpy(resumed.iterations.value)) == SPLIT
    _run(resumed, model, SPLIT + 1, STEPS)
    for mine, theirs in zip(_values(model), reference, strict=True):
        np.testing.assert_array_equal(mine, theirs)


def test_a_ranger_run_moves_from_keras_to_numpy() -> None:
    model = _model()
    start = _values(model)
    _run(_ranger(), model, 1, STEPS)
    reference = _values(model)

    _set(model, start)
    opt = _ranger()
    _run(opt, model, 1, SPLIT)
    snapshot = opt.export_state(model.trainable_variables)
    names = [v.path for v in model.trainable_variables]
    numpy_opt = radam_numpy.Ranger(_values(model), lr=0.05, k=K, alpha=ALPHA)
    numpy_opt.import_state(snapshot, names)
    for t in range(SPLIT + 1, STEPS + 1):
        numpy_opt.step(_grads(numpy_opt.params, t))
    for mine, theirs in zip(numpy_opt.params, reference, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)


def test_a_lookahead_snapshot_that_does_not_fit_changes_nothing() -> None:
    model = _model()
    source = _ranger()
    _run(source, model, 1, 3)
    snapshot = source.export_state(model.trainable_variables)

    target = _ranger(k=4)
    _run(target, model, 1, 1)
    before = [keras.ops.convert_to_numpy(v.value) for v in target.variables]
    with pytest.raises(ValueError, match="Lookahead's k is 5 in the snapshot, 4 here"):
        target.import_state(snapshot, model.trainable_variables)
    with pytest.raises(ValueError, match="holds no Lookahead state"):
        target.import_state(snapshot.inner(), model.trainable_variables)
    for mine, saved in zip(target.variables, before, strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(mine.value), saved)

    plain = RAdam(learning_rate=0.05)
    with pytest.raises(ValueError, match=r"snapshot\.inner\(\)"):
        plain.import_state(snapshot, model.trainable_variables)
    plain.import_state(snapshot.inner(), model.trainable_variables)
    assert int(keras.ops.convert_to_numpy(plain.iterations.value)) == 3

    sgd = Lookahead(keras.optimizers.SGD(0.1))
    with pytest.raises(TypeError, match=r"radam_keras\.RAdam has a portable state, not around SGD"):
        sgd.export_state(model.trainable_variables)
