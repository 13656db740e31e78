"""radam_keras.Lookahead and Ranger on the backend chosen by KERAS_BACKEND.

Run once per backend (tensorflow, jax, torch)::

    KERAS_BACKEND=jax python -m pytest tests/keras_backends/test_lookahead_keras.py

Golden values come from the float64 oracle of tests/test_lookahead.py (RAdam from
tests/oracle.py, Lookahead written out). Keras's variables are float32: trajectories are
compared within ``TOL (|oracle| + max|oracle|)``, ``TOL = 1e-5``, as radam_keras's own
golden tests; exact identities (Ranger = Lookahead(RAdam), k = 1 with alpha = 1, alpha = 0,
resuming from a checkpoint) are compared bit for bit.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

keras = pytest.importorskip("keras")
from radam_keras import Lookahead, RAdam, Ranger  # noqa: E402

from tests.conventions import preset_kwargs  # noqa: E402
from tests.test_lookahead import BAD, ranger_oracle  # noqa: E402

TOL = 1e-5
LR = 0.05
KERAS_EPS = 1e-7
ops = keras.ops

keras_numpy2_warning = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

_rng = np.random.default_rng(1907_08610)
P0 = [
    _rng.uniform(-2.0, 2.0, size=5),
    _rng.uniform(-2.0, 2.0, size=(2, 3)),
    np.asarray(1.25),
]
P0 = [p.astype(np.float32).astype(np.float64) for p in P0]


def grad_fn(params: Sequence[Any], t: int) -> list[np.ndarray]:
    return [np.sin(3.0 * np.asarray(p) + 0.1 * t) + 0.5 * np.asarray(p) for p in params]


def to_np(x: Any) -> np.ndarray:
    x = ops.copy(x)
    if keras.backend.backend() == "torch":
        return x.detach().cpu().numpy().astype(np.float64)
    return np.array(ops.convert_to_numpy(x), dtype=np.float64)


def variables(values: Sequence[Any]) -> list[Any]:
    return [
        keras.Variable(np.asarray(v), dtype="float32", name=f"p{i}") for i, v in enumerate(values)
    ]


def run(opt: Any, vars_: Sequence[Any], first: int, last: int) -> list[list[np.ndarray]]:
    out = []
    for t in range(first, last + 1):
        grads = grad_fn([to_np(v) for v in vars_], t)
        opt.apply_gradients(
            [
                (ops.convert_to_tensor(g.astype(np.float32)), v)
                for g, v in zip(grads, vars_, strict=True)
            ]
        )
        out.append([to_np(v) for v in vars_])
    return out


def assert_close(actual: Any, expected: Any, msg: str = "") -> None:
    a = np.concatenate([np.ravel(x) for x in actual])
    e = np.concatenate([np.ravel(x) for x in expected])
    scale = float(np.max(np.abs(e)))
    np.testing.assert_allclose(a, e, rtol=TOL, atol=TOL * scale, err_msg=msg)


@pytest.mark.parametrize(
    ("k", "alpha", "kwargs", "oracle"),
    [
        (6, 0.5, {}, {}),
        (5, 0.8, {"preset": "authors"}, {"preset": "authors"}),
        (3, 0.3, {"amsgrad": True}, {"amsgrad": True}),
    ],
)
def test_golden_trajectory(k, alpha, kwargs, oracle):
    opt = Ranger(learning_rate=LR, k=k, alpha=alpha, **preset_kwargs(kwargs))
    ours = run(opt, variables(P0), 1, 20)
    expected = ranger_oracle(P0, grad_fn, 20, k=k, alpha=alpha, lr=LR, eps=KERAS_EPS, **oracle)
    for t, (got, want) in enumerate(zip(ours, expected, strict=True), start=1):
        assert_close(got, want, f"step {t}")
    assert int(to_np(opt.lookahead_count)) == 20 % k
    assert int(to_np(opt.iterations)) == 20


def test_ranger_equals_lookahead_of_radam():
    a = run(Ranger(learning_rate=LR, k=4, alpha=0.4, preset="paper"), variables(P0), 1, 13)
    b = run(
        Lookahead(RAdam(learning_rate=LR, preset="paper"), k=4, alpha=0.4), variables(P0), 1, 13
    )
    for x, y in zip(a, b, strict=True):
        for p, q in zip(x, y, strict=True):
            np.testing.assert_array_equal(p, q)


def test_k1_alpha1_is_the_inner_optimizer():
    a = run(Lookahead(keras.optimizers.Adam(LR), k=1, alpha=1.0), variables(P0), 1, 10)
    b = run(keras.optimizers.Adam(LR), variables(P0), 1, 10)
    for x, y in zip(a, b, strict=True):
        for p, q in zip(x, y, strict=True):
            np.testing.assert_array_equal(p, q)


def test_alpha0_freezes_at_the_initial_weights():
    initial = [to_np(v) for v in variables(P0)]
    trajectory = run(Ranger(learning_rate=0.1, k=3, alpha=0.0), variables(P0), 1, 9)
    for t, params in enumerate(trajectory, start=1):
        same = all(np.array_equal(p, q) for p, q in zip(params, initial, strict=True))
        assert same == (t % 3 == 0), t


def _model(seed: int = 0) -> Any:
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(1)]
    )


def _batches(n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32 * n, 4)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5], [3.0]], dtype="float32")).astype("float32")
    return [(x[i * 32 : (i + 1) * 32], y[i * 32 : (i + 1) * 32]) for i in range(n)]


@keras_numpy2_warning
@pytest.mark.parametrize(
    "make",
    [
        lambda: Ranger(learning_rate=0.01, k=5),
        lambda: Lookahead(keras.optimizers.Adam(0.01), k=5, alpha=0.7),
    ],
    ids=["ranger", "lookahead-adam"],
)
def test_save_load_mid_cycle_resumes_exactly(make, tmp_path):
    before, after = 7, 9  # stop at count 2 of a 5-cycle, resume across two syncs
    batches = _batches(before + after)
    model = _model()
    model.compile(optimizer=make(), loss="mse")
    for x, y in batches[:before]:
        model.train_on_batch(x, y)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)

    opt, new = model.optimizer, loaded.optimizer
    assert type(new) is type(opt)
    assert new.get_config() == opt.get_config()
    assert int(to_np(new.lookahead_count)) == before % 5
    assert int(to_np(new.iterations)) == before
    assert len(new.variables) == len(opt.variables)
    for a, b in zip(opt.variables, new.variables, strict=True):
        np.testing.assert_array_equal(to_np(a), to_np(b), err_msg=a.path)
    slow = [to_np(v) for v in opt._slow_weights]
    assert any(not np.array_equal(s, to_np(w)) for s, w in zip(slow, model.weights, strict=True))

    for x, y in batches[before:]:
        model.train_on_batch(x, y)
        loaded.train_on_batch(x, y)
    for a, b in zip(model.weights, loaded.weights, strict=True):
        np.testing.assert_array_equal(to_np(a), to_np(b), err_msg=a.path)
    for a, b in zip(opt.variables, new.variables, strict=True):
        np.testing.assert_array_equal(to_np(a), to_np(b), err_msg=a.path)


@keras_numpy2_warning
def test_fit_loss_goes_down():
    batches = _batches(8)
    x, y = np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])
    model = _model()
    opt = Ranger(learning_rate=0.05, k=4)
    model.compile(optimizer=opt, loss="mse")
    history = model.fit(x, y, batch_size=32, epochs=10, verbose=0, shuffle=False)
    losses = history.history["loss"]
    assert losses[-1] < 0.7 * losses[0], losses
    assert int(to_np(opt.iterations)) == 80
    assert int(to_np(opt.lookahead_count)) == 0


@keras_numpy2_warning
def test_config_round_trips():
    schedule = keras.optimizers.schedules.CosineDecay(0.1, decay_steps=100)
    for opt in (
        Ranger(learning_rate=schedule, k=3, alpha=0.25, preset="tfa"),
        Lookahead(keras.optimizers.SGD(0.1, momentum=0.9), k=2, alpha=0.5),
        Lookahead(Ranger(learning_rate=0.01), k=2, alpha=1.0, name="nested"),
    ):
        serialized = keras.optimizers.serialize(opt)
        clone = keras.optimizers.deserialize(json.loads(json.dumps(serialized)))
        assert type(clone) is type(opt)
        assert clone.get_config() == opt.get_config()
    config = Ranger(k=3).get_config()
    assert (config["k"], config["alpha"], config["preset"]) == (3, 0.5, "torch")
    inner = Lookahead(keras.optimizers.Adam()).get_config()["inner_optimizer"]
    assert inner["class_name"] == "Adam"


@pytest.mark.parametrize(("kwargs", "error", "message"), BAD)
def test_bad_k_and_alpha(kwargs, error, message):
    with pytest.raises(error, match=message):
        Ranger(**kwargs)
    with pytest.raises(error, match=message):
        Lookahead(keras.optimizers.Adam(), **kwargs)


def test_refuses_non_optimizers_and_base_options():
    with pytest.raises(TypeError, match=r"inner_optimizer must be a keras\.optimizers\.Optimizer"):
        Lookahead(object())
    with pytest.raises(ValueError, match="Lookahead does not take clipnorm"):
        Lookahead(keras.optimizers.Adam(), clipnorm=1.0)


def test_learning_rate_is_the_inner_optimizers():
    opt = Ranger(learning_rate=0.02)
    assert float(to_np(opt.learning_rate)) == pytest.approx(0.02)
    opt.learning_rate = 0.5
    assert float(to_np(opt.inner_optimizer.learning_rate)) == pytest.approx(0.5)


def _apply(opt: Any, grads: Sequence[np.ndarray], vars_: Sequence[Any]) -> None:
    opt.apply_gradients(
        [
            (ops.convert_to_tensor(g.astype(np.float32)), v)
            for g, v in zip(grads, vars_, strict=True)
        ]
    )


def test_gradient_accumulation_counts_updates_not_calls():
    """Inner accumulation over 2 calls: Lookahead syncs every k *updates*, on the mean."""
    k, updates = 3, 7
    accumulating = Lookahead(RAdam(learning_rate=LR, gradient_accumulation_steps=2), k=k)
    plain = Lookahead(RAdam(learning_rate=LR), k=k)
    vars_a, vars_p = variables(P0), variables(P0)
    for n in range(1, updates + 1):
        params = [to_np(v) for v in vars_a]
        micro = [[g.astype(np.float32) for g in grad_fn(params, t)] for t in (2 * n - 1, 2 * n)]
        for g in micro:
            _apply(accumulating, g, vars_a)
        _apply(plain, [(a + b) / np.float32(2) for a, b in zip(*micro, strict=True)], vars_p)
        assert int(to_np(accumulating.lookahead_count)) == n % k, n
        assert_close([to_np(v) for v in vars_a], [to_np(v) for v in vars_p], f"update {n}")


def test_a_step_the_inner_optimizer_skips_is_not_counted():
    """LossScaleOptimizer skips a non-finite step: no fast step, so no count and no sync."""
    if keras.backend.backend() == "jax":
        with pytest.raises(ValueError, match="wrap it around Lookahead, not inside"):
            Lookahead(keras.optimizers.LossScaleOptimizer(RAdam()))
        return
    scaled = Lookahead(keras.optimizers.LossScaleOptimizer(RAdam(learning_rate=LR)), k=2)
    plain = Lookahead(RAdam(learning_rate=LR), k=2)
    vars_s, vars_p = variables(P0), variables(P0)
    grads = [grad_fn(P0, t) for t in (1, 2)]
    scale = scaled.inner_optimizer.initial_scale
    _apply(scaled, [g * scale for g in grads[0]], vars_s)
    _apply(plain, grads[0], vars_p)
    before = [to_np(v) for v in vars_s]
    _apply(scaled, [np.full_like(g, np.nan) for g in grads[1]], vars_s)
    assert int(to_np(scaled.lookahead_count)) == 1
    for p, q in zip([to_np(v) for v in vars_s], before, strict=True):
        np.testing.assert_array_equal(p, q)
    scale = float(to_np(scaled.inner_optimizer.dynamic_scale))  # halved by the skip
    _apply(scaled, [g * scale for g in grads[1]], vars_s)
    _apply(plain, grads[1], vars_p)
    assert int(to_np(scaled.lookahead_count)) == 0  # the second update synced
    assert_close([to_np(v) for v in vars_s], [to_np(v) for v in vars_p])


def test_fit_with_inner_gradient_accumulation_counts_updates():
    """Under model.fit (compiled), 10 batches accumulated in pairs are 5 fast steps."""
    model = _model()
    model.compile(
        optimizer=Lookahead(RAdam(learning_rate=0.01, gradient_accumulation_steps=2), k=3),
        loss="mse",
    )
    x, y = _batches(1)[0]
    model.fit(np.tile(x, (10, 1)), np.tile(y, (10, 1)), batch_size=len(x), verbose=0, shuffle=False)
    assert int(to_np(model.optimizer.inner_optimizer._iterations)) == 10
    assert int(to_np(model.optimizer.iterations)) == 5
    assert int(to_np(model.optimizer.lookahead_count)) == 5 % 3
