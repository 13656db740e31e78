"""radam_keras.RAdam on the Keras 3 backend chosen by KERAS_BACKEND (tensorflow, jax, torch).

Run once per backend::

    KERAS_BACKEND=tensorflow python -m pytest tests/keras_backends
    KERAS_BACKEND=jax python -m pytest tests/keras_backends
    KERAS_BACKEND=torch python -m pytest tests/keras_backends

Golden values come from the independent float64 oracle (tests/oracle.py). Keras's
variables are float32, so trajectories are compared within float32 tolerance:
``|keras - oracle| <= TOL (|oracle| + max|oracle|)`` with ``TOL = 1e-5`` (the core's own
float32 golden tests measure ~2e-7 over 25 fed-back steps); every convention the cases
tell apart moves the trajectory by far more (``test_golden_cases_are_distinguishable``).
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

keras = pytest.importorskip("keras")
from radam_keras import RAdam  # noqa: E402

import radam_core  # noqa: E402
from tests.conventions import preset_kwargs  # noqa: E402
from tests.oracle import (  # noqa: E402
    OracleState,
    is_rectified,
    oracle_step,
    oracle_trajectory,
    resolve,
)

BACKEND = keras.backend.backend()
TOL = 1e-5
LR = 0.05
KERAS_EPS = 1e-7  # Keras's default epsilon (keras.optimizers.Adam's), RAdam's default too

ops = keras.ops

# Keras's own BaseOptimizer.get_config does float(variable.numpy()) = np.array(Variable),
# which NumPy 2 warns about on JAX and torch (and keras.saving does it on TensorFlow):
# Keras's, not the adapter's, so ignored where the tests serialize.
keras_numpy2_warning = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)


# ----------------------------------------------------------------------------- helpers


def to_np(x: Any) -> np.ndarray:
    """A float64 NumPy copy of a Keras variable or tensor."""
    return np.asarray(to_np32(x), dtype=np.float64)


def to_np32(x: Any) -> np.ndarray:
    """A NumPy copy (half floats as float32) through a tensor.

    On TensorFlow, NumPy 2's ``np.array`` of a Keras variable or of a bfloat16 tensor
    raises a DeprecationWarning (their ``__array__`` takes no ``copy``); a float32 or
    integer tensor converts cleanly.
    """
    x = ops.copy(x)
    if keras.backend.standardize_dtype(x.dtype) in ("float16", "bfloat16"):
        x = ops.cast(x, "float32")
    if BACKEND == "torch":  # np.array(torch.Tensor) warns too
        return x.detach().cpu().numpy().copy()
    return np.array(ops.convert_to_numpy(x))


def variables(values: Sequence[Any], dtype: str = "float32") -> list[Any]:
    return [
        keras.Variable(np.asarray(v, dtype=np.float64), dtype=dtype, name=f"p{i}")
        for i, v in enumerate(values)
    ]


def apply(opt: Any, grads: Sequence[Any], vars_: Sequence[Any]) -> None:
    opt.apply_gradients(
        [
            (ops.convert_to_tensor(np.asarray(g), dtype=v.dtype), v)
            for g, v in zip(grads, vars_, strict=False)
        ]
    )


def assert_traj_close(actual: Any, expected: Any, tol: float = TOL, msg: str = "") -> None:
    """Arrays (or lists of arrays) within ``tol (|expected| + max|expected|)``."""
    a = np.concatenate([np.ravel(np.asarray(x, dtype=np.float64)) for x in _flat(actual)])
    e = np.concatenate([np.ravel(np.asarray(x, dtype=np.float64)) for x in _flat(expected)])
    assert a.shape == e.shape
    assert np.all(np.isfinite(a)), f"non-finite values {a} {msg}"
    scale = max(float(np.max(np.abs(e), initial=0.0)), 1e-30)
    np.testing.assert_allclose(a, e, rtol=tol, atol=tol * scale, err_msg=msg)


def _flat(x: Any) -> list[Any]:
    if isinstance(x, (list, tuple)):
        return [y for item in x for y in _flat(item)]
    return [x]


_rng = np.random.default_rng(1908_03265)
# A vector, a matrix, a 0-d scalar, and a leaf whose gradient is ~1e-6 (sqrt(v) ~ eps,
# so where eps goes shows).
P0 = [
    _rng.uniform(-2.0, 2.0, size=5),
    _rng.uniform(-2.0, 2.0, size=(2, 3)),
    np.asarray(1.25),
    _rng.uniform(0.5, 1.5, size=3),
]
P0 = [p.astype(np.float32).astype(np.float64) for p in P0]
_CENTERS = [_rng.uniform(-1.0, 1.0, size=np.shape(p)) for p in P0]
_TINY = (1.0, 1.0, 1.0, 1e-6)


def grad_fn(params: Sequence[np.ndarray], t: int) -> list[np.ndarray]:
    """A quadratic plus a cosine, ten times larger for t <= 3 (so v_t later shrinks and
    amsgrad's max(v) shows); the last leaf's gradient is ~1e-6."""
    scale = 10.0 if t <= 3 else 1.0
    return [
        scale * tiny * ((np.asarray(p, np.float64) - c) + 0.5 * np.cos(3.0 * np.asarray(p)))
        for p, c, tiny in zip(params, _CENTERS, _TINY, strict=False)
    ]


def keras_trajectory(
    steps: int, grads: Callable[..., Any] = grad_fn, p0: Sequence[Any] = P0, **kwargs: Any
) -> list[list[np.ndarray]]:
    """Parameters after each of ``steps`` apply_gradients calls of RAdam(**kwargs)."""
    opt = RAdam(**preset_kwargs(kwargs))
    vars_ = variables(p0)
    out = []
    for t in range(1, steps + 1):
        params = [to_np(v) for v in vars_]
        apply(opt, grads(params, t), vars_)
        out.append([to_np(v) for v in vars_])
    assert int(to_np(opt.iterations)) == steps
    return out


# (RAdam kwargs, oracle preset, oracle overrides). Keras's default epsilon is 1e-7 for
# every preset that sets none (tfa's is 1e-7 too).
GOLDEN_CASES: dict[str, tuple[dict[str, Any], str, dict[str, Any]]] = {
    "torch": ({}, "torch", {"eps": KERAS_EPS}),
    "torch-eps1e-8": ({"epsilon": 1e-8}, "torch", {}),
    "paper": ({"preset": "paper"}, "paper", {"eps": KERAS_EPS}),
    "authors": ({"preset": "authors"}, "authors", {"eps": KERAS_EPS}),
    "optax": ({"preset": "optax"}, "optax", {"eps": KERAS_EPS}),
    "tfa": ({"preset": "tfa"}, "tfa", {}),
    # beta2 = 0.95 so that v_t shrinks enough after t = 3 for max(v) to show.
    "beta2": ({"beta_2": 0.95}, "torch", {"eps": KERAS_EPS, "betas": (0.9, 0.95)}),
    "amsgrad": (
        {"amsgrad": True, "beta_2": 0.95},
        "torch",
        {"eps": KERAS_EPS, "amsgrad": True, "betas": (0.9, 0.95)},
    ),
    "nesterov": ({"nesterov": True}, "torch", {"eps": KERAS_EPS, "nesterov": True}),
    "optax-nesterov": (
        {"preset": "optax", "nesterov": True, "beta_1": 0.8},
        "optax",
        {"eps": KERAS_EPS, "nesterov": True, "betas": (0.8, 0.999)},
    ),
}
GOLDEN_STEPS = 12


def _oracle(case: str, steps: int = GOLDEN_STEPS) -> list[list[np.ndarray]]:
    _, preset, overrides = GOLDEN_CASES[case]
    return oracle_trajectory(P0, grad_fn, steps, preset=preset, lr=LR, **overrides)


# ----------------------------------------------------------------------------- 1. fit


def _regression_data(n: int = 256) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    w = np.array([[1.0], [-2.0], [0.5], [3.0]], dtype="float32")
    y = (x @ w + 0.1 * np.sin(3 * x[:, :1])).astype("float32")
    return x, y


def _small_model(seed: int = 0) -> Any:
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(16, activation="tanh"), keras.layers.Dense(1)]
    )


@pytest.mark.parametrize("preset", ["torch", "authors", "tfa"])
def test_compile_fit_loss_goes_down(preset: str) -> None:
    x, y = _regression_data()
    model = _small_model()
    model.compile(optimizer=RAdam(learning_rate=0.05, preset=preset), loss="mse")
    history = model.fit(x, y, batch_size=32, epochs=8, verbose=0, shuffle=False)
    losses = history.history["loss"]
    assert all(math.isfinite(loss) for loss in losses), losses
    assert losses[-1] < 0.3 * losses[0], losses
    assert int(to_np(model.optimizer.iterations)) == 8 * 256 // 32


@keras_numpy2_warning
@pytest.mark.parametrize("name", ["radam", "ranger"])
def test_compile_takes_the_short_name(name: str) -> None:
    """``compile(optimizer="radam")`` builds the default RAdam (Ranger), which trains as
    ``RAdam()`` itself does, and the model saves it under its registered class."""
    from radam_keras import Ranger

    x, y = _regression_data()
    model = _small_model()
    model.compile(optimizer=name, loss="mse")
    expected = {"radam": RAdam, "ranger": Ranger}[name]
    assert isinstance(model.optimizer, expected)
    assert model.optimizer.get_config() == {
        **expected().get_config(),
        "name": model.optimizer.name,
    }
    history = model.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False)
    reference = _small_model()
    reference.compile(optimizer=expected(), loss="mse")
    expected_history = reference.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False)
    assert history.history["loss"] == expected_history.history["loss"]
    saved = keras.saving.serialize_keras_object(model.optimizer)
    assert saved["registered_name"] == f"radam>{expected.__name__}"


def test_short_names_never_replace_a_user_s(monkeypatch: pytest.MonkeyPatch) -> None:
    from radam_keras import Ranger, register_short_names

    registry = keras.saving.get_custom_objects()
    monkeypatch.delitem(registry, "ranger")
    monkeypatch.setitem(registry, "radam", keras.optimizers.Adam)  # the user's "radam"
    assert register_short_names() == {"ranger": Ranger}
    assert isinstance(keras.optimizers.get("radam"), keras.optimizers.Adam)
    assert isinstance(keras.optimizers.get("ranger"), Ranger)
    assert register_short_names() == {}


# ----------------------------------------------------------------------------- 2. golden


def test_single_step_is_sgd_momentum_below_threshold() -> None:
    # t = 1 < 5: theta -= lr * m_hat = lr * g (torch's convention).
    g = [np.array([0.5, -1.0, 2.0]), np.array(3.0)]
    vars_ = variables([[1.0, 2.0, 3.0], 0.5])
    opt = RAdam(learning_rate=0.1)
    apply(opt, g, vars_)
    assert_traj_close([to_np(v) for v in vars_], [[0.95, 2.1, 2.8], 0.2], tol=1e-7)
    assert int(to_np(opt.iterations)) == 1


@pytest.mark.parametrize("case", list(GOLDEN_CASES))
def test_single_step_matches_oracle(case: str) -> None:
    kwargs = GOLDEN_CASES[case][0]
    actual = keras_trajectory(1, learning_rate=LR, **kwargs)
    assert_traj_close(actual, _oracle(case, 1), msg=case)


@pytest.mark.parametrize("case", list(GOLDEN_CASES))
def test_golden_trajectory(case: str) -> None:
    """12 fed-back steps crossing the threshold (t = 5 for paper, t = 6 for the others)."""
    kwargs = GOLDEN_CASES[case][0]
    actual = keras_trajectory(GOLDEN_STEPS, learning_rate=LR, **kwargs)
    expected = _oracle(case)
    for t, (a, e) in enumerate(zip(actual, expected, strict=False), start=1):
        assert_traj_close(a, e, msg=f"{case}, step {t}")


DISTINGUISHABLE = [
    *(("torch", case) for case in GOLDEN_CASES if case not in ("torch", "amsgrad")),
    ("beta2", "amsgrad"),
    ("optax", "optax-nesterov"),
    ("paper", "authors"),
]


@pytest.mark.parametrize(("a", "b"), DISTINGUISHABLE)
def test_golden_cases_are_distinguishable(a: str, b: str) -> None:
    """Each case moves the oracle trajectory from its neighbour by far more than TOL."""
    ta, tb = (np.concatenate([p.ravel() for p in _oracle(c)[-1]]) for c in (a, b))
    diff = np.max(np.abs(ta - tb) / (np.abs(tb) + np.max(np.abs(tb))))
    assert diff > 100 * TOL, (a, b, diff)


def test_golden_trajectories_cross_the_threshold() -> None:
    # The threshold is crossed inside the trajectory: steps 1..4 never rectify, 7.. always.
    for preset in ("torch", "paper", "authors", "optax", "tfa"):
        flags = [is_rectified(t, resolve(preset)) for t in range(1, GOLDEN_STEPS + 1)]
        assert not any(flags[:4]), (preset, flags)
        assert all(flags[6:]), (preset, flags)


def test_learning_rate_schedule_matches_oracle() -> None:
    """A schedule's lr (a tensor inside update_step) is the lr of step t = iterations + 1."""
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    steps = 9
    actual = keras_trajectory(steps, learning_rate=schedule)
    params = [p.copy() for p in P0]
    state = OracleState(params, amsgrad=False)
    for t in range(1, steps + 1):
        hp = resolve("torch", eps=KERAS_EPS, lr=0.1 * 0.5 ** ((t - 1) / 2))
        params = oracle_step(params, grad_fn(params, t), state, hp)
        assert_traj_close(actual[t - 1], params, msg=f"step {t}")


# ----------------------------------------------------------------------------- 3. serialization


def _configured() -> Any:
    return RAdam(
        learning_rate=0.01,
        beta_1=0.8,
        beta_2=0.99,
        epsilon=1e-6,
        preset=radam_core.PRESETS["optax"].replace(amsgrad=True, nesterov=True, eps_root=1e-12),
        weight_decay=0.01,
        clipnorm=1.5,
        name="my_radam",
    )


@keras_numpy2_warning
def test_get_config_from_config_round_trip() -> None:
    opt = _configured()
    config = opt.get_config()
    assert config["preset"] == "optax"
    assert config["beta_1"] == 0.8
    assert config["beta_2"] == 0.99
    assert config["epsilon"] == 1e-6
    assert config["amsgrad"] is True
    assert config["nesterov"] is True
    assert config["threshold_inclusive"] is True
    assert config["eps_placement"] == "corrected"
    assert config["eps_root"] == 1e-12
    assert config["weight_decay"] == 0.01
    assert config["clipnorm"] == 1.5
    clone = RAdam.from_config(config)
    assert type(clone) is type(opt)
    assert clone.get_config() == config
    json.dumps(config)  # plain JSON types only


@keras_numpy2_warning
@pytest.mark.parametrize("preset", ["torch", "tfa", "authors"])
def test_default_config_round_trip(preset: str) -> None:
    opt = RAdam(preset=preset)
    clone = RAdam.from_config(opt.get_config())
    assert clone.get_config() == opt.get_config()
    assert clone.epsilon == opt.epsilon == KERAS_EPS


@keras_numpy2_warning
def test_serialize_deserialize_round_trip() -> None:
    opt = _configured()
    serialized = keras.optimizers.serialize(opt)
    json.dumps(serialized)
    clone = keras.optimizers.deserialize(json.loads(json.dumps(serialized)))
    assert type(clone) is type(opt)
    assert clone.get_config() == opt.get_config()
    # Both take identical steps.
    grads = grad_fn(P0, 1)
    va, vb = variables(P0), variables(P0)
    for _ in range(7):
        apply(opt, grads, va)
        apply(clone, grads, vb)
    for a, b in zip(va, vb, strict=False):
        np.testing.assert_array_equal(to_np(a), to_np(b))


@keras_numpy2_warning
def test_serialize_with_schedule_round_trip() -> None:
    schedule = keras.optimizers.schedules.CosineDecay(0.1, decay_steps=100)
    opt = RAdam(learning_rate=schedule, preset="paper")
    clone = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert isinstance(clone._learning_rate, keras.optimizers.schedules.CosineDecay)
    assert clone.get_config() == opt.get_config()


def _batches(n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    x, y = _regression_data(32 * n)
    return [(x[i * 32 : (i + 1) * 32], y[i * 32 : (i + 1) * 32]) for i in range(n)]


@keras_numpy2_warning
@pytest.mark.parametrize("kwargs", [{}, {"preset": "paper", "amsgrad": True}])
def test_save_load_restores_optimizer_and_resumes_exactly(kwargs: dict, tmp_path: Any) -> None:
    before, after = 4, 8  # stop at t = 4 (below the threshold), resume across it
    batches = _batches(before + after)
    model = _small_model()
    model.compile(optimizer=RAdam(learning_rate=0.01, **preset_kwargs(kwargs)), loss="mse")
    for x, y in batches[:before]:
        model.train_on_batch(x, y)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)

    opt, new = model.optimizer, loaded.optimizer
    assert type(new) is type(opt)
    assert new.get_config() == opt.get_config()
    assert int(to_np(new.iterations)) == int(to_np(opt.iterations)) == before
    assert len(new.variables) == len(opt.variables)
    for a, b in zip(opt.variables, new.variables, strict=False):
        np.testing.assert_array_equal(to_np(a), to_np(b), err_msg=a.path)

    for x, y in batches[before:]:
        model.train_on_batch(x, y)
        loaded.train_on_batch(x, y)
    assert int(to_np(new.iterations)) == before + after
    for a, b in zip(model.weights, loaded.weights, strict=False):
        np.testing.assert_array_equal(to_np(a), to_np(b), err_msg=a.path)
    for a, b in zip(opt.variables, new.variables, strict=False):
        np.testing.assert_array_equal(to_np(a), to_np(b), err_msg=a.path)


# Loads a model saved on another backend, prints its optimizer's class, takes one step on
# the batch in the file given, prints the result and saves the model again.
CROSS_BACKEND_SCRIPT = """
import json, sys
import keras, numpy as np
import radam_keras

model = keras.models.load_model(sys.argv[1])
batch = np.load(sys.argv[2])
model.train_on_batch(batch["x"], batch["y"])
model.save(sys.argv[3])
opt = model.optimizer
print(json.dumps({
    "class": f"{type(opt).__module__}.{type(opt).__qualname__}",
    "is_radam": isinstance(opt, radam_keras.RAdam),
    "iterations": int(np.asarray(opt.iterations)),
    "weights": [np.asarray(w, np.float64).tolist() for w in model.weights],
    "variables": [np.asarray(v, np.float64).tolist() for v in opt.variables],
}))
"""


@keras_numpy2_warning
def test_each_backend_builds_its_variant() -> None:
    """As Keras does for its own optimizers: torch gets a subclass, the others the class."""
    from radam_keras import optimizer, torch_optimizer

    opt = RAdam(learning_rate=0.01)
    variant = torch_optimizer.RAdam if BACKEND == "torch" else optimizer.RAdam
    assert type(opt) is variant
    assert isinstance(opt, RAdam)
    serialized = keras.optimizers.serialize(opt)
    assert (serialized["class_name"], serialized["registered_name"]) == ("RAdam", "radam>RAdam")
    assert keras.saving.get_registered_object("radam>RAdam") is optimizer.RAdam
    assert type(keras.optimizers.deserialize(serialized)) is variant


def test_only_the_torch_variant_overrides_a_private_keras_method() -> None:
    """radam_keras.RAdam extends Keras through public methods; its torch variant overrides
    one private hook, ``_backend_update_step``, as Keras's own torch optimizers do. This
    fails loudly if Keras renames that hook or changes its arguments."""
    import inspect

    from radam_keras import optimizer, torch_optimizer

    def private_overrides(cls: type) -> set[str]:
        return {
            name
            for name in vars(cls)
            if name.startswith("_")
            and not name.startswith("__")
            and hasattr(keras.optimizers.Optimizer, name)
        }

    assert private_overrides(optimizer.RAdam) == set()
    assert private_overrides(torch_optimizer.RAdam) == {"_backend_update_step"}
    hook = inspect.signature(keras.optimizers.Optimizer._backend_update_step)
    assert list(hook.parameters) == ["self", "grads", "trainable_variables", "learning_rate"]


@keras_numpy2_warning
@pytest.mark.slow
@pytest.mark.skipif(
    BACKEND == "jax",
    reason="CI time: loading into torch's variant runs from TensorFlow, into JAX's from torch",
)
def test_a_model_saved_on_one_backend_resumes_on_another(tmp_path: Any) -> None:
    """Saved here, one step on another backend (torch, or JAX from torch), saved there,
    loaded here: the other backend builds its own variant, and both steps agree.

    Runs on TensorFlow (to torch) and torch (to JAX): together they load a file into each
    variant (torch's subclass, the neutral class) from a backend that built the other.
    """
    import os
    import subprocess
    import sys
    from pathlib import Path

    other = "jax" if BACKEND == "torch" else "torch"
    batches = _batches(4)
    model = _small_model()
    model.compile(optimizer=RAdam(learning_rate=0.01), loss="mse")
    for x, y in batches[:3]:
        model.train_on_batch(x, y)
    model.save(tmp_path / "here.keras")
    np.savez(tmp_path / "batch.npz", x=batches[3][0], y=batches[3][1])
    script = tmp_path / "resume.py"
    script.write_text(CROSS_BACKEND_SCRIPT)
    repo = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "KERAS_BACKEND": other,
        "CUDA_VISIBLE_DEVICES": "",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONPATH": os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")]),
    }
    args = [str(tmp_path / name) for name in ("here.keras", "batch.npz", "there.keras")]
    done = subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    there = json.loads(done.stdout.strip().splitlines()[-1])
    expected_class = (
        "radam_keras.torch_optimizer.RAdam" if other == "torch" else "radam_keras.optimizer.RAdam"
    )
    assert (there["class"], there["is_radam"], there["iterations"]) == (expected_class, True, 4)

    model.train_on_batch(*batches[3])  # the same step here
    for mine, theirs in zip(model.weights, there["weights"], strict=True):
        np.testing.assert_allclose(to_np(mine), theirs, rtol=1e-5, atol=1e-7)

    loaded = keras.models.load_model(tmp_path / "there.keras")
    assert type(loaded.optimizer) is type(model.optimizer)
    for mine, theirs in zip(loaded.optimizer.variables, there["variables"], strict=True):
        np.testing.assert_array_equal(to_np(mine), theirs)


# ----------------------------------------------------------------------------- 4. base class


def test_weight_decay_with_exclusions() -> None:
    """Decoupled, by the base class before the step: theta -= lr wd theta, except 'bias'."""
    wd, steps = 0.3, 9
    opt = RAdam(learning_rate=LR, weight_decay=wd)
    opt.exclude_from_weight_decay(var_names=["bias"])
    kernel = keras.Variable(P0[0], dtype="float32", name="kernel")
    bias = keras.Variable(P0[1], dtype="float32", name="bias")
    for t in range(1, steps + 1):
        g = grad_fn([to_np(kernel), to_np(bias)], t)[:2]
        apply(opt, g, [kernel, bias])
    # The oracle's torch convention with decoupled decay decays every step, before the update.
    decayed = oracle_trajectory(
        P0[:1],
        lambda p, t: grad_fn([p[0], P0[1]], t)[:1],
        steps,
        lr=LR,
        eps=KERAS_EPS,
        weight_decay=wd,
        decoupled_weight_decay=True,
    )[-1][0]
    plain = oracle_trajectory(
        P0[1:2], lambda p, t: grad_fn([P0[0], p[0]], t)[1:2], steps, lr=LR, eps=KERAS_EPS
    )[-1][0]
    assert_traj_close(to_np(kernel), decayed)
    assert_traj_close(to_np(bias), plain)


def test_weight_decay_alone_with_zero_gradients() -> None:
    opt = RAdam(learning_rate=0.1, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_names=["bias"])
    kernel = keras.Variable(np.ones(3), dtype="float32", name="kernel")
    bias = keras.Variable(np.ones(3), dtype="float32", name="bias")
    for _ in range(8):
        apply(opt, [np.zeros(3), np.zeros(3)], [kernel, bias])
    np.testing.assert_allclose(to_np(kernel), 0.95**8 * np.ones(3), rtol=1e-6)
    np.testing.assert_array_equal(to_np(bias), np.ones(3))


def _clip_norm(g: np.ndarray, c: float) -> np.ndarray:
    return g * c / max(float(np.linalg.norm(g)), c)


def _global_clip(gs: list[np.ndarray], c: float) -> list[np.ndarray]:
    norm = math.sqrt(sum(float(np.sum(g * g)) for g in gs))
    return [g * c / max(norm, c) for g in gs]


CLIP_CASES = {
    "clipnorm": ({"clipnorm": 1.0}, lambda gs: [_clip_norm(g, 1.0) for g in gs]),
    "clipvalue": ({"clipvalue": 0.5}, lambda gs: [np.clip(g, -0.5, 0.5) for g in gs]),
    "global_clipnorm": ({"global_clipnorm": 1.0}, lambda gs: _global_clip(gs, 1.0)),
}


@pytest.mark.parametrize("case", list(CLIP_CASES))
def test_gradient_clipping(case: str) -> None:
    kwargs, clip = CLIP_CASES[case]
    steps = 8
    actual = keras_trajectory(steps, learning_rate=LR, **kwargs)
    expected = oracle_trajectory(P0, lambda p, t: clip(grad_fn(p, t)), steps, lr=LR, eps=KERAS_EPS)
    unclipped = _oracle("torch", steps)
    assert_traj_close(actual, expected, msg=case)
    assert not np.allclose(
        np.concatenate([p.ravel() for p in expected[-1]]),
        np.concatenate([p.ravel() for p in unclipped[-1]]),
        rtol=100 * TOL,
    ), "the clipping did not bite"


@pytest.mark.parametrize("frequency", [None, 3])
def test_ema(frequency: int | None) -> None:
    """average_1 = theta_1, then average = 0.9 average + 0.1 theta; overwritten every 3."""
    steps, momentum = 7, 0.9
    opt = RAdam(
        learning_rate=LR, use_ema=True, ema_momentum=momentum, ema_overwrite_frequency=frequency
    )
    vars_ = variables(P0)
    params = [p.copy() for p in P0]
    state = OracleState(params, amsgrad=False)
    hp = resolve("torch", lr=LR, eps=KERAS_EPS)
    average = None
    for t in range(1, steps + 1):
        grads = grad_fn([to_np(v) for v in vars_], t)
        apply(opt, grads, vars_)
        params = oracle_step(params, grads, state, hp)
        if average is None:
            average = [p.copy() for p in params]
        else:
            average = [
                momentum * a + (1 - momentum) * p for a, p in zip(average, params, strict=False)
            ]
        if frequency is not None and t % frequency == 0:
            params = [a.copy() for a in average]
        assert_traj_close([to_np(v) for v in vars_], params, msg=f"step {t}")
    opt.finalize_variable_values(vars_)
    assert_traj_close([to_np(v) for v in vars_], average)


def test_gradient_accumulation_applies_every_k_calls() -> None:
    """The base class's accumulation: variables move only on every k-th call, with the mean."""
    k = 3
    opt = RAdam(learning_rate=LR, gradient_accumulation_steps=k)
    vars_ = variables(P0)
    grads = [grad_fn(P0, t) for t in range(1, k + 1)]
    for i, g in enumerate(grads[:-1], start=1):
        apply(opt, g, vars_)
        assert int(to_np(opt._iterations)) == i
        assert int(to_np(opt.iterations)) == 0  # counts updates: _iterations // k
        for v, p in zip(vars_, P0, strict=False):
            np.testing.assert_array_equal(to_np(v), p.astype(np.float32))
    apply(opt, grads[-1], vars_)
    assert int(to_np(opt._iterations)) == k
    assert int(to_np(opt.iterations)) == 1
    assert not np.allclose(to_np(vars_[0]), P0[0])


def test_gradient_accumulation_equals_steps_on_the_mean_gradient() -> None:
    """k micro-batches accumulated = one step on their mean: update n is RAdam step n.

    ``optimizer.iterations`` is ``_iterations // k`` with accumulation, so update_step's
    t = iterations + 1 counts updates, not micro-batches.
    """
    k, updates = 2, 8
    opt = RAdam(learning_rate=LR, gradient_accumulation_steps=k)
    vars_ = variables(P0)
    params = [p.copy() for p in P0]
    state = OracleState(params, amsgrad=False)
    hp = resolve("torch", lr=LR, eps=KERAS_EPS)
    for n in range(1, updates + 1):
        micro = [grad_fn(params, 2 * n - 1), grad_fn(params, 2 * n)]
        for g in micro:
            apply(opt, g, vars_)
        mean = [(a + b) / 2 for a, b in zip(*micro, strict=False)]
        params = oracle_step(params, mean, state, hp)
        assert_traj_close([to_np(v) for v in vars_], params, msg=f"update {n}")


def test_iterations_counter() -> None:
    opt = RAdam()
    vars_ = variables(P0)
    assert int(to_np(opt.iterations)) == 0
    for n in range(1, 4):
        apply(opt, grad_fn(P0, n), vars_)
        assert int(to_np(opt.iterations)) == n
    assert "int" in str(opt.iterations.dtype)


def test_empty_gradient_list_is_a_no_op() -> None:
    opt = RAdam()
    vars_ = variables(P0)
    opt.build(vars_)
    opt.apply([], vars_)
    assert int(to_np(opt.iterations)) == 0
    for v, p in zip(vars_, P0, strict=False):
        np.testing.assert_array_equal(to_np(v), p)


def test_none_gradients() -> None:
    """A None gradient leaves its variable (and moments) alone; the others still step."""
    opt = RAdam(learning_rate=LR)
    vars_ = variables(P0[:2])
    g = grad_fn(P0, 1)[0]
    with pytest.warns(UserWarning, match="Gradients do not exist for variables"):
        opt.apply_gradients([(ops.convert_to_tensor(g, "float32"), vars_[0]), (None, vars_[1])])
    np.testing.assert_array_equal(to_np(vars_[1]), P0[1])
    assert_traj_close(to_np(vars_[0]), P0[0] - LR * g, tol=1e-6)
    for m in opt._momentums[1:] + opt._velocities[1:]:
        np.testing.assert_array_equal(to_np(m), np.zeros_like(P0[1]))
    with pytest.raises(ValueError, match="No gradients provided"):
        opt.apply_gradients([(None, vars_[0]), (None, vars_[1])])


def test_more_gradients_than_variables_is_refused_and_nothing_changes() -> None:
    opt = RAdam(learning_rate=LR)
    vars_ = variables(P0[:1])
    g = ops.convert_to_tensor(grad_fn(P0, 1)[0], "float32")
    opt.apply([g], vars_)
    before = [to_np(v).copy() for v in vars_ + opt.variables]
    with pytest.raises(ValueError, match="grads has 2 tensors, but the variables are 1"):
        opt.apply([g, g], vars_)
    for a, b in zip(before, vars_ + opt.variables, strict=True):
        np.testing.assert_array_equal(a, to_np(b))


# ----------------------------------------------------------------------------- 5. JAX


@pytest.mark.skipif(BACKEND != "jax", reason="stateless_apply under jax.jit is JAX-only")
@pytest.mark.parametrize("case", ["torch", "amsgrad", "tfa"])
def test_jax_stateless_apply_under_jit(case: str) -> None:
    import jax

    opt = RAdam(learning_rate=LR, **preset_kwargs(GOLDEN_CASES[case][0]))
    vars_ = variables(P0)
    opt.build(vars_)
    opt_values = [v.value for v in opt.variables]
    values = [v.value for v in vars_]
    stateless = jax.jit(opt.stateless_apply)
    out = []
    for t in range(1, GOLDEN_STEPS + 1):
        grads = [
            jax.numpy.asarray(g, dtype="float32")
            for g in grad_fn([np.asarray(v, np.float64) for v in values], t)
        ]
        values, opt_values = stateless(opt_values, grads, values)
        out.append([np.asarray(v, np.float64) for v in values])
    assert_traj_close(out, _oracle(case))
    # The stateful variables are untouched; the returned count is the new iterations.
    for v, p in zip(vars_, P0, strict=False):
        np.testing.assert_array_equal(to_np(v), p)
    index = [v.path for v in opt.variables].index(opt.iterations.path)
    assert int(opt_values[index]) == GOLDEN_STEPS


# ----------------------------------------------------------------------------- 6. mixed precision


@pytest.fixture
def policy(request: pytest.FixtureRequest) -> Any:
    keras.mixed_precision.set_global_policy(request.param)
    try:
        yield request.param
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"], indirect=True)
def test_mixed_precision_fit(policy: str) -> None:
    x, y = _regression_data()
    model = _small_model()
    assert model.layers[0].compute_dtype == policy.removeprefix("mixed_")
    optimizer = RAdam(learning_rate=0.05)
    if policy == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model.compile(optimizer=optimizer, loss="mse")
    losses = model.fit(x, y, batch_size=32, epochs=8, verbose=0).history["loss"]
    assert all(math.isfinite(loss) for loss in losses), losses
    assert losses[-1] < 0.5 * losses[0], losses
    for w in model.weights:
        assert np.all(np.isfinite(to_np(w)))


def _lso_apply(opt: Any, grads: Sequence[Any], vars_: Sequence[Any]) -> None:
    """apply_gradients; on JAX, stateless_apply under jit (Keras's LossScaleOptimizer
    cannot apply_gradients eagerly on JAX: its cond leaks a tracer, with Adam too)."""
    if BACKEND != "jax":
        apply(opt, grads, vars_)
        return
    import jax

    new_values, new_opt_values = jax.jit(opt.stateless_apply)(
        [v.value for v in opt.variables],
        [jax.numpy.asarray(g, dtype="float32") for g in grads],
        [v.value for v in vars_],
    )
    for v, value in zip([*vars_, *opt.variables], [*new_values, *new_opt_values], strict=False):
        v.assign(value)


def test_loss_scale_optimizer_skips_non_finite_steps() -> None:
    inner = RAdam(learning_rate=LR)
    opt = keras.optimizers.LossScaleOptimizer(inner, initial_scale=2.0**10)
    vars_ = variables(P0[:2])
    opt.build(vars_)
    scale = float(to_np(opt.dynamic_scale))
    assert scale == 2.0**10
    for bad in (np.inf, np.nan):
        g = [np.full(np.shape(P0[0]), bad), np.ones(np.shape(P0[1]))]
        _lso_apply(opt, g, vars_)
        for v, p in zip(vars_, P0, strict=False):
            np.testing.assert_array_equal(to_np(v), p)
        assert int(to_np(inner.iterations)) == 0
        for m in inner.variables:
            assert np.all(np.isfinite(to_np(m)))
    assert float(to_np(opt.dynamic_scale)) == scale / 4
    # A finite (scaled) gradient then takes RAdam's first step with the unscaled gradient.
    g = grad_fn(P0, 1)[:2]
    _lso_apply(opt, [x * scale / 4 for x in g], vars_)
    assert int(to_np(inner.iterations)) == 1
    assert_traj_close(
        [to_np(v) for v in vars_], [p - LR * x for p, x in zip(P0, g, strict=False)], tol=1e-6
    )


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("case", ["torch", "tfa", "optax", "amsgrad"])
def test_zero_gradients_in_half_precision_never_nan(dtype: str, case: str) -> None:
    """eps = 1e-7 underflows in float16 (0/0 without the core's float32 arithmetic)."""
    opt = RAdam(learning_rate=LR, **preset_kwargs(GOLDEN_CASES[case][0]))
    vars_ = variables(P0[:3], dtype=dtype)
    start = [to_np(v) for v in vars_]
    for _ in range(8):  # across the threshold
        apply(opt, [np.zeros(np.shape(p)) for p in P0[:3]], vars_)
    for v, s in zip(vars_, start, strict=False):
        assert v.dtype == dtype
        np.testing.assert_array_equal(to_np(v), s)
    for m in opt.variables:
        assert np.all(np.isfinite(to_np(m)))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_steps_are_finite_and_close(dtype: str) -> None:
    opt = RAdam(learning_rate=LR)
    vars_ = variables(P0[:2], dtype=dtype)
    for t in range(1, 9):
        apply(opt, grad_fn([to_np(v) for v in vars_], t)[:2], vars_)
    expected = oracle_trajectory(P0[:2], lambda p, t: grad_fn(p, t)[:2], 8, lr=LR, eps=KERAS_EPS)
    half_ulp = 2.0**-8 if dtype == "bfloat16" else 2.0**-11
    assert_traj_close([to_np(v) for v in vars_], expected[-1], tol=16 * half_ulp)


# ----------------------------------------------------------------------------- 8. vs the core


def compiled_steps(
    opt: Any,
    vars_: Sequence[Any],
    grads_at: Callable[[list[np.ndarray], int], list[np.ndarray]],
    steps: int,
) -> None:
    """``steps`` steps of ``opt`` as ``fit`` takes them, the gradient of step t being
    ``grads_at(the float32 parameters, t)``: ``apply`` under ``tf.function`` on TensorFlow,
    ``stateless_apply`` under ``jax.jit`` on JAX (the results then assigned to ``vars_`` and
    ``opt.variables``), ``apply`` eagerly on torch."""
    opt.build(vars_)
    if BACKEND == "jax":
        import jax

        stateless = jax.jit(opt.stateless_apply)
        values = [v.value for v in vars_]
        opt_values = [v.value for v in opt.variables]
        for t in range(1, steps + 1):
            grads = grads_at([np.asarray(v) for v in values], t)
            values, opt_values = stateless(
                opt_values, [jax.numpy.asarray(g) for g in grads], values
            )
        for v, value in zip([*vars_, *opt.variables], [*values, *opt_values], strict=True):
            v.assign(value)
        return
    step: Callable[[list[Any]], Any] = lambda grads: opt.apply(grads, vars_)  # noqa: E731
    if BACKEND == "tensorflow":
        import tensorflow as tf

        step = tf.function(step)
    for t in range(1, steps + 1):
        grads = grads_at([to_np32(v) for v in vars_], t)
        step([ops.convert_to_tensor(g, dtype=v.dtype) for g, v in zip(grads, vars_, strict=True)])


@pytest.mark.slow
@pytest.mark.parametrize("case", ["torch", "authors", "tfa"])
def test_long_trajectory_agrees_with_radam_core_and_radam_torch(case: str) -> None:
    """1000 compiled steps of a small problem: Keras (float32) vs radam_core.step (NumPy,
    float32) and vs radam_torch.RAdam (float32), each fed the gradient at its own parameters."""
    torch = pytest.importorskip("torch")
    from radam_torch import RAdam as TorchRAdam

    steps = 1000
    kwargs, preset, _ = GOLDEN_CASES[case]
    p0 = [p.astype(np.float32) for p in P0[:2]]
    centers = [c.astype(np.float32) for c in _CENTERS[:2]]

    def grads32(params: Sequence[np.ndarray], t: int) -> list[np.ndarray]:
        return [
            ((np.asarray(p, np.float32) - c) + np.float32(0.5) * np.cos(np.float32(3) * p)).astype(
                np.float32
            )
            for p, c in zip(params, centers, strict=False)
        ]

    params = list(p0)
    state = radam_core.init_state(params)
    opt = RAdam(learning_rate=0.01, **preset_kwargs(kwargs))
    vars_ = variables(p0)
    compiled_steps(opt, vars_, grads32, steps)
    tensors = [torch.tensor(p, requires_grad=True) for p in p0]
    torch_opt = TorchRAdam(tensors, lr=0.01, preset=preset, eps=KERAS_EPS)
    for t in range(1, steps + 1):
        params, state = radam_core.step(
            params, grads32(params, t), state, preset=preset, lr=0.01, eps=KERAS_EPS
        )
        for tensor, grad in zip(
            tensors, grads32([x.detach().numpy() for x in tensors], t), strict=True
        ):
            tensor.grad = torch.from_numpy(grad)
        torch_opt.step()
    assert state.count == steps == int(to_np(opt.iterations))
    assert_traj_close([to_np(v) for v in vars_], params, tol=1e-5, msg=case)
    assert_traj_close([to_np(v) for v in vars_], [x.detach().numpy() for x in tensors], tol=1e-5)
    for mk, mc in zip(opt._momentums, state.exp_avg, strict=False):
        assert_traj_close(to_np(mk), mc, tol=1e-4)
    for vk, vc in zip(opt._velocities, state.exp_avg_sq, strict=False):
        assert_traj_close(to_np(vk), vc, tol=1e-4)


# ----------------------------------------------------------------------------- 9. step count


BIG_STEPS = [5, 6, 2**24 + 1, 2**31 - 1, 2**31, 2**33 + 1]


@pytest.mark.parametrize("t", BIG_STEPS)
@pytest.mark.parametrize("preset", ["torch", "paper"])
def test_step_uses_the_assigned_iteration_count(t: int, preset: str) -> None:
    """One step at t = iterations + 1 (assigned), from zero moments, against the oracle."""
    opt = RAdam(learning_rate=LR, preset=preset)
    vars_ = variables(P0[:2])
    opt.build(vars_)
    dtype = str(opt.iterations.dtype)
    limit = np.iinfo(dtype).max
    if t - 1 > limit:
        pytest.skip(f"iterations is {dtype} on {BACKEND}: t - 1 = {t - 1} does not fit")
    opt.iterations.assign(t - 1)
    grads = grad_fn(P0, 4)[:2]
    apply(opt, grads, vars_)

    state = OracleState(P0[:2], amsgrad=False)
    state.t = t - 1
    expected = oracle_step(P0[:2], grads, state, resolve(preset, lr=LR, eps=KERAS_EPS))
    assert_traj_close([to_np(v) for v in vars_], expected, msg=f"t = {t}")
    if t in (5, 6):  # the threshold decision itself: paper rectifies t = 5, torch from 6
        rectified = preset == "paper" or t == 6
        m_hat = [0.1 * g / (1.0 - 0.9**t) for g in grads]  # m_t = (1 - b1) g from m = 0
        sgd = [p - LR * m for p, m in zip(P0, m_hat, strict=False)]
        assert np.allclose(to_np(vars_[0]), sgd[0], rtol=1e-6) != rectified


# ----------------------------------------------------------------------------- 10. bad input


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"learning_rate": -1.0}, ValueError, "learning_rate must be finite and >= 0"),
        ({"learning_rate": -1}, ValueError, "learning_rate must be finite and >= 0"),
        ({"learning_rate": float("nan")}, ValueError, "learning_rate"),
        ({"beta_1": 1.0}, ValueError, r"beta_1 must be in \[0, 1\), got 1.0"),
        ({"beta_1": -0.1}, ValueError, r"beta_1 must be in \[0, 1\), got -0.1"),
        ({"beta_2": 1.5}, ValueError, r"beta_2 must be in \[0, 1\), got 1.5"),
        ({"epsilon": -1e-8}, ValueError, "epsilon must be finite and >= 0, got -1e-08"),
        ({"preset": "adamw"}, ValueError, "preset must be one of .*'torch'.*got 'adamw'"),
        ({"threshold": 3.0}, ValueError, "threshold must be finite and >= 4"),
        ({"below_threshold": "nothing"}, ValueError, "below_threshold must be one of"),
        ({"eps_placement": "inside"}, ValueError, "eps_placement must be one of"),
        ({"eps_root": -1.0}, ValueError, "eps_root must be finite and >= 0"),
        ({"amsgrad": 1}, TypeError, "amsgrad must be a bool"),
        ({"beta_1": "0.9"}, TypeError, r"beta_1 must be a real number"),
    ],
)
def test_bad_input_raises_when_built(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        RAdam(**kwargs)


# ----------------------------------------------------------------------------- 11. exact rho_t


def _exact_rho(t: int, beta2: float) -> float:
    """rho_t in 60-digit decimal arithmetic from the textbook formula."""
    import decimal

    with decimal.localcontext() as context:
        context.prec = 60
        b = decimal.Decimal(beta2)  # the float's exact binary value
        b_t = (b.ln() * t).exp()
        rho_inf = 2 / (1 - b) - 1
        return float(rho_inf - 2 * t * b_t / (1 - b_t))


# (t, beta2): the threshold, then t itself, small; a count past float32's 2**24; and the
# largest count an int32 counter holds (2**31 - 2 steps taken), with beta2 so close to 1
# that rho_t is still far from rho_inf there.
EXACT_CASES = [(6, 0.999), (2**24 + 3, 1 - 2.0**-26), (2**31 - 1, 1 - 2.0**-30)]


def _jax_float32() -> bool:
    """JAX without x64: the step's scalars are float32 (an int32 count)."""
    if BACKEND != "jax":
        return False
    import jax

    return not jax.config.jax_enable_x64


@pytest.mark.parametrize(("t", "beta2"), EXACT_CASES)
@pytest.mark.parametrize("side", [-1, 1])
def test_threshold_decision_is_exact_to_the_count_precision(
    t: int, beta2: float, side: int
) -> None:
    """A threshold just below rho_t rectifies step t, just above does not: 1e-12 relative
    where the scalars are float64 (TensorFlow, torch), which float32 cannot tell apart; on
    JAX without x64, whose scalars are float32, 3e-6 (the coefficients' float32 bound is
    4.5e-7, tests/test_rectification.py).
    """
    rho_t = _exact_rho(t, beta2)
    threshold = rho_t * (1 + side * (3e-6 if _jax_float32() else 1e-12))
    assert threshold != rho_t
    rectified = side < 0
    opt = RAdam(
        learning_rate=LR,
        beta_2=beta2,
        preset=radam_core.PRESETS["torch"].replace(threshold=threshold),
    )
    vars_ = variables(P0[:2])
    opt.build(vars_)
    opt.iterations.assign(t - 1)
    grads = grad_fn(P0, 4)[:2]
    apply(opt, grads, vars_)

    state = OracleState(P0[:2], amsgrad=False)
    state.t = t - 1
    hp = resolve("torch", lr=LR, eps=KERAS_EPS, betas=(0.9, beta2), threshold=threshold)
    expected = oracle_step(P0[:2], grads, state, hp)
    sgd = [p - LR * 0.1 * g / (1.0 - 0.9**t) for p, g in zip(P0, grads, strict=False)]
    assert np.allclose(expected[0], sgd[0], rtol=1e-4) != rectified
    assert_traj_close([to_np(v) for v in vars_], expected, msg=f"t = {t}, side {side}")


# ----------------------------------------------------------------------------- 12. backend paths


@pytest.mark.parametrize("case", ["authors", "amsgrad", "nesterov"])
def test_update_leaf_through_the_keras_namespace_never_writes_its_inputs(case: str) -> None:
    """for_adapters.update_leaf runs its equations in place on copies (astype(copy=True)):
    torch tensors are mutable, so the namespace must really copy there."""
    from radam_keras import namespace

    _, preset, overrides = GOLDEN_CASES[case]
    hp = radam_core.hyperparameters_for(preset, lr=LR, weight_decay=0.1, **overrides)
    inputs = [ops.convert_to_tensor(np.asarray(v, np.float32) + 0.5) for v in P0[:1] * 5]
    before = [to_np(x) for x in inputs]
    coefficients = radam_core.for_adapters.step_coefficients(7, hp, namespace).cast(
        "float32", None, namespace
    )
    new = radam_core.for_adapters.update_leaf(*inputs, coefficients, hp, namespace)
    for x, was in zip(inputs, before, strict=True):
        np.testing.assert_array_equal(to_np(x), was)
    assert not np.array_equal(to_np(new.param), before[0])


@pytest.mark.skipif(BACKEND != "jax", reason="jax.jit is JAX's")
def test_jax_step_makes_no_host_round_trip() -> None:
    """The jitted step stages no host callback: its scalars are computed on the device
    from the traced count (in float32 without x64), and seven steps still give the float64
    oracle's trajectory."""
    import jax

    opt = RAdam(learning_rate=LR)
    vars_ = variables(P0)
    opt.build(vars_)
    jitted = jax.jit(opt.stateless_apply)
    opt_values = [v.value for v in opt.variables]
    values = [v.value for v in vars_]
    grads = grad_fn(P0, 1)
    staged = str(jax.make_jaxpr(opt.stateless_apply)(opt_values, grads, values))
    assert "callback" not in staged
    assert "float32" in staged or jax.config.jax_enable_x64
    state, expected = OracleState(P0, amsgrad=False), P0
    hp = resolve("torch", lr=LR, eps=KERAS_EPS)
    for t in range(1, 8):
        grads = grad_fn([np.asarray(v) for v in values], t)
        values, opt_values = jitted(opt_values, grads, values)
        expected = oracle_step(expected, [np.asarray(g, np.float64) for g in grads], state, hp)
    assert_traj_close([np.asarray(v, np.float64) for v in values], expected)


@pytest.mark.skipif(BACKEND != "jax", reason="jax.jit is JAX's")
def test_jax_tracing_never_asks_a_tracer_for_its_device(monkeypatch: pytest.MonkeyPatch) -> None:
    """A tracer's ``device`` raises an error whose message walks the whole trace so far;
    asked once per variable, tracing a 1,000-variable step took minutes."""
    import jax

    opt = RAdam(learning_rate=LR)
    vars_ = variables(P0)
    opt.build(vars_)
    asked = []
    tracer_device = jax.core.Tracer.device

    def device(tracer: Any) -> Any:
        asked.append(type(tracer).__name__)
        return tracer_device.fget(tracer)

    monkeypatch.setattr(jax.core.Tracer, "device", property(device))
    opt_values = [v.value for v in opt.variables]
    jax.make_jaxpr(opt.stateless_apply)(opt_values, grad_fn(P0, 1), [v.value for v in vars_])
    assert asked == []


@pytest.mark.skipif(BACKEND != "torch", reason="radam_torch's kernels serve the torch backend")
@pytest.mark.parametrize("case", ["torch", "authors", "tfa", "amsgrad", "nesterov"])
def test_torch_backend_kernels_equal_the_per_variable_update(case: str) -> None:
    """The torch path (fused Adam when rectified, else the core's blocks) vs the per-variable
    ``update_step`` through ``keras.ops`` that the other backends run."""
    kwargs = GOLDEN_CASES[case][0]
    fast, reference = (
        RAdam(learning_rate=LR, **preset_kwargs(kwargs)),
        RAdam(learning_rate=LR, **preset_kwargs(kwargs)),
    )
    fast_vars, reference_vars = variables(P0), variables(P0)
    base = keras.optimizers.Optimizer._backend_update_step
    reference._backend_update_step = lambda g, v, lr: base(reference, g, v, lr)
    for t in range(1, 31):
        grads = grad_fn([to_np(v) for v in fast_vars], t)
        apply(fast, grads, fast_vars)
        apply(reference, grads, reference_vars)
        assert_traj_close(
            [to_np(v) for v in fast_vars], [to_np(v) for v in reference_vars], msg=f"t = {t}"
        )


@pytest.mark.skipif(BACKEND != "torch", reason="radam_torch's kernels serve the torch backend")
def test_torch_backend_uses_the_fused_kernel_when_rectified(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import radam_torch.functional as functional

    calls: list[str] = []
    for name in ("fused_adam_step", "core_step"):
        original = getattr(functional, name)
        monkeypatch.setattr(
            functional,
            name,
            lambda *a, _name=name, _original=original, **k: (
                calls.append(_name),
                _original(*a, **k),
            ),
        )
    opt = RAdam(learning_rate=LR)
    vars_ = variables(P0)
    for t in range(1, 9):
        apply(opt, grad_fn([to_np(v) for v in vars_], t), vars_)
    # torch's convention: steps 1-5 below the threshold, 6-8 rectified; one call per step
    assert calls == ["core_step"] * 5 + ["fused_adam_step"] * 3


def _meta_step_ops(scale: int, t: int) -> Any:
    """What the torch backend's update of step t dispatches for 26 meta-device variables
    (13 weights and biases, each ``scale`` times wider)."""
    import types

    import torch
    from radam_keras.torch_optimizer import update_variables

    from tests.test_radam_torch_fused_devices import DispatchedOps

    shapes = [shape for _ in range(13) for shape in ((64 * scale, 64), (64 * scale,))]

    def holders() -> list[Any]:
        return [types.SimpleNamespace(value=torch.zeros(s, device="meta")) for s in shapes]

    grads = [torch.zeros(s, device="meta") for s in shapes]
    hp = radam_core.hyperparameters_for("torch", lr=LR, eps=KERAS_EPS)
    count, lr = torch.tensor(t - 1, dtype=torch.int32), torch.tensor(LR)
    with DispatchedOps() as dispatched:
        update_variables(grads, holders(), holders(), holders(), [], count, lr, hp)
    return dispatched


@pytest.mark.skipif(BACKEND != "torch", reason="radam_torch's kernels serve the torch backend")
@pytest.mark.parametrize("fused_device", [True, False], ids=["fused-kernel", "no-fused-kernel"])
@pytest.mark.parametrize("t", [1, 7], ids=["below-threshold", "rectified"])
def test_torch_backend_off_the_cpu(
    monkeypatch: pytest.MonkeyPatch, fused_device: bool, t: int
) -> None:
    """On the meta device (an accelerator without data), patched into torch's list of
    fused-kernel devices or not: what a step dispatches does not grow with the elements,
    and a rectified step on a device with the kernel is one fused call for all 26
    variables, whose step tensors are on the device."""
    import radam_torch.functional

    from tests.test_radam_torch_fused_devices import FUSED

    if fused_device:
        devices = [*radam_torch.functional.fused_kernel_devices(), "meta"]
        monkeypatch.setattr(radam_torch.functional, "fused_kernel_devices", lambda: devices)
    small, large = _meta_step_ops(1, t), _meta_step_ops(64, t)
    assert small.counts == large.counts
    if fused_device and t == 7:
        (call,) = large.fused_calls
        assert large.counts[str(FUSED)] == 1
        assert len(call[0]) == len(call[5]) == 26
        assert all(step.device.type == "meta" for step in call[5])
    else:
        assert not large.fused_calls


@pytest.mark.skipif(BACKEND != "torch", reason="radam_torch's kernels serve the torch backend")
def test_torch_backend_graph_path_keeps_the_count_a_tensor(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside torch.compile nothing reads the count on the host."""
    import torch

    expected = keras_trajectory(8)
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)
    monkeypatch.setattr(torch.Tensor, "item", lambda self: pytest.fail("count read on host"))
    assert_traj_close(keras_trajectory(8), expected)


@keras_numpy2_warning
def test_preset_value_deprecated_keywords_and_old_configs() -> None:
    """A radam_core.Preset selects the convention; the old keywords warn and still apply; a
    config in the old flat form (every saved file) loads without a warning."""
    custom = radam_core.PRESETS["optax"].replace(amsgrad=True, nesterov=True)
    opt = RAdam(learning_rate=0.01, preset=custom)
    config = opt.get_config()
    assert (config["preset"], config["amsgrad"], config["nesterov"]) == ("optax", True, True)
    with pytest.warns(
        DeprecationWarning, match=r"radam_keras\.RAdam\(amsgrad=True, nesterov=True\)"
    ):
        old = RAdam(learning_rate=0.01, preset="optax", amsgrad=True, nesterov=True)
    assert old.get_config() == {**config, "name": old.name}
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        clone = RAdam.from_config(config)
    assert clone.get_config() == config
    with pytest.raises(ValueError, match="momentum"):  # Keras's own error, as for its Adam
        RAdam(momentum=0.9)
