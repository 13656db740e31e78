"""radam_keras's export and import of the framework-neutral snapshot, on the KERAS_BACKEND.

RAdam, Ranger (its slow weights and k-cycle position) and complex states.

A run resumed in Keras equals the uninterrupted one bit for bit; one that moves to NumPy and
back equals it to float32 rounding (1e-5, test_golden's float32 bound).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from radam_keras import Lookahead, RAdam, Ranger  # noqa: E402

import radam_numpy  # noqa: E402
from radam_core import (  # noqa: E402
    PRESETS,
    ParameterState,
    Snapshot,
    hyperparameters_for,
    load_snapshot,
    save_snapshot,
)

# keras.ops.convert_to_numpy, Keras's public host copy, calls np.array on a backend tensor or
# variable whose __array__ takes no copy keyword (torch, TensorFlow), which NumPy 2 warns about:
# Keras's warning, not the adapter's.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

STEPS, SPLIT = 20, 8
K, ALPHA = 5, 0.6  # Ranger: a k-cycle that SPLIT cuts in the middle
NAMES = ["net/hidden/kernel", "net/hidden/bias", "net/out/kernel", "net/out/bias"]


def _model() -> Any:
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(4, activation="tanh", name="hidden"),
            keras.layers.Dense(2, name="out"),
        ],
        name="net",
    )


def _grads(values: list[np.ndarray], t: int) -> list[np.ndarray]:
    return [np.sin(v + np.float32(0.1 * t)).astype(np.float32) for v in values]


def _values(model: Any) -> list[np.ndarray]:
    return [keras.ops.convert_to_numpy(v.value) for v in model.trainable_variables]


def _run(opt: Any, model: Any, first: int, last: int) -> None:
    for t in range(first, last + 1):
        opt.apply(_grads(_values(model), t), model.trainable_variables)


def _set(model: Any, values: list[np.ndarray]) -> None:
    for variable, value in zip(model.trainable_variables, values, strict=True):
        variable.assign(value)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_a_keras_run_resumes_exactly_from_the_file(tmp_path: Path, amsgrad: bool) -> None:
    preset = PRESETS["torch"].replace(amsgrad=amsgrad)
    model = _model()
    start = _values(model)
    _run(RAdam(learning_rate=0.05, preset=preset), model, 1, STEPS)
    reference = _values(model)

    _set(model, start)
    opt = RAdam(learning_rate=0.05, preset=preset)
    _run(opt, model, 1, SPLIT)
    snapshot = opt.export_state(model.trainable_variables)
    assert list(snapshot.parameters) == NAMES
    save_snapshot(snapshot, tmp_path / "s.safetensors")
    resumed = RAdam(learning_rate=0.05, preset=preset)
    resumed.import_state(load_snapshot(tmp_path / "s.safetensors"), model.trainable_variables)
    assert int(keras.ops.convert_to_numpy(resumed.iterations.value)) == SPLIT
    _run(resumed, model, SPLIT + 1, STEPS)
    for mine, theirs in zip(_values(model), reference, strict=True):
        np.testing.assert_array_equal(mine, theirs)


def test_a_run_moves_from_keras_to_numpy_and_back() -> None:
    model = _model()
    start = _values(model)
    _run(RAdam(learning_rate=0.05), model, 1, STEPS)
    reference = _values(model)

    _set(model, start)
    opt = RAdam(learning_rate=0.05)
    _run(opt, model, 1, SPLIT)
    numpy_opt = radam_numpy.RAdam([v.copy() for v in _values(model)], lr=0.05, eps=1e-7)
    numpy_opt.import_state(opt.export_state(model.trainable_variables), NAMES)
    for t in range(SPLIT + 1, 15):
        numpy_opt.step(_grads(numpy_opt.params, t))
    _set(model, numpy_opt.params)
    back = RAdam(learning_rate=0.05)
    back.import_state(numpy_opt.export_state(NAMES), model.trainable_variables)
    _run(back, model, 15, STEPS)
    for mine, theirs in zip(_values(model), reference, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-5)


def test_a_snapshot_that_does_not_fit_changes_nothing() -> None:
    model = _model()
    with pytest.raises(ValueError, match="the optimizer is not built yet"):
        RAdam().export_state(model.trainable_variables)
    opt = RAdam(learning_rate=0.05)
    _run(opt, model, 1, 3)
    snapshot = opt.export_state(model.trainable_variables)
    target = RAdam(learning_rate=0.05)
    _run(target, model, 1, 1)
    before = [keras.ops.convert_to_numpy(v.value) for v in target.variables]

    optax_like = Snapshot(hyperparameters_for("optax"), snapshot.parameters)
    with pytest.raises(ValueError, match="convention eps_placement is 'corrected' in the snapshot"):
        target.import_state(optax_like, model.trainable_variables)
    bias = snapshot.parameters["net/out/bias"]
    uneven = Snapshot(
        snapshot.hyperparameters,
        {**snapshot.parameters, "net/out/bias": ParameterState(4, bias.exp_avg, bias.exp_avg_sq)},
    )
    with pytest.raises(ValueError, match=r"Keras keeps one step count, .* \[3, 4\]"):
        target.import_state(uneven, model.trainable_variables)
    partial = Snapshot(
        snapshot.hyperparameters,
        {k: v for k, v in snapshot.parameters.items() if k != "net/hidden/bias"},
    )
    with pytest.raises(ValueError, match=r"missing parameters \['net/hidden/bias'\]"):
        target.import_state(partial, model.trainable_variables)
    after = [keras.ops.convert_to_numpy(v.value) for v in target.variables]
    for a, b in zip(after, before, strict=True):
        np.testing.assert_array_equal(a, b)

    target.import_state(snapshot, model.trainable_variables)
    assert int(keras.ops.convert_to_numpy(target.iterations.value)) == 3


@pytest.mark.skipif(
    keras.backend.backend() == "tensorflow", reason="complex variables: JAX and torch"
)
def test_a_complex_run_moves_from_keras_to_numpy_and_back() -> None:
    rng = np.random.default_rng(5)
    start = (rng.normal(size=(3, 2)) + 1j * rng.normal(size=(3, 2))).astype(np.complex64)

    def grads(value: np.ndarray, t: int) -> list[Any]:
        g = (np.sin(value + np.float32(0.1 * t)) + 0.3j * value).astype(np.complex64)
        return [keras.ops.convert_to_tensor(g)]

    def run(opt: Any, variable: Any, first: int, last: int) -> None:
        for t in range(first, last + 1):
            opt.apply(grads(keras.ops.convert_to_numpy(variable.value), t), [variable])

    preset = PRESETS["optax"]
    reference = keras.Variable(start, name="phase")
    run(RAdam(learning_rate=0.05, preset=preset), reference, 1, STEPS)

    phase = keras.Variable(start, name="phase")
    opt = RAdam(learning_rate=0.05, preset=preset)
    run(opt, phase, 1, SPLIT)
    snapshot = opt.export_state([phase])
    assert snapshot.parameters["phase"].is_complex
    numpy_opt = radam_numpy.RAdam([keras.ops.convert_to_numpy(phase.value)], preset=preset, lr=0.05)
    numpy_opt.import_state(snapshot, ["phase"])
    for t in range(SPLIT + 1, 14):
        numpy_opt.step([keras.ops.convert_to_numpy(g) for g in grads(numpy_opt.params[0], t)])
    phase.assign(numpy_opt.params[0])
    back = RAdam(learning_rate=0.05, preset=preset)
    back.import_state(numpy_opt.export_state(["phase"]), [phase])
    run(back, phase, 14, STEPS)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(phase.value),
        keras.ops.convert_to_numpy(reference.value),
        rtol=1e-5,
        atol=1e-6,
    )


def test_the_snapshot_records_the_learning_rate_in_force() -> None:
    model = _model()
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    opt = RAdam(learning_rate=schedule)
    _run(opt, model, 1, 3)
    assert opt.export_state(model.trainable_variables).hyperparameters.lr == pytest.approx(
        0.1 * 0.5**3
    )
    constant = RAdam(learning_rate=0.05)
    _run(constant, model, 1, 1)
    constant.learning_rate = 0.02
    assert constant.export_state(model.trainable_variables).hyperparameters.lr == pytest.approx(
        0.02
    )


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
