"""radam_keras's contract on every input a user can hand it (docs/tutorials/keras.md, "Contract").

Run once per backend (``KERAS_BACKEND=tensorflow|jax|torch``), like the other Keras tests:
memory layouts (torch), sparse gradients, default names, and the bad-input matrix, where
every raise must leave the variables, the optimizer's variables and the count bit-identical.
Expected values come from a peer run in the test (torch.optim.RAdam, or the same optimizer
fed the equivalent dense, contiguous input), never from hard-coded numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

keras = pytest.importorskip("keras")
from radam_keras import Lookahead, RAdam, Ranger  # noqa: E402

import radam_core  # noqa: E402

AMSGRAD = radam_core.PRESETS["torch"].replace(amsgrad=True)

BACKEND = keras.backend.backend()
ops = keras.ops
LR = 0.05

# Keras's own BaseOptimizer.get_config does np.array(variable), which NumPy 2 warns about.
keras_numpy2_warning = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)


def to_np(x: Any) -> np.ndarray:
    """A NumPy copy of a Keras variable or tensor (through a fresh tensor: no warnings)."""
    x = ops.copy(x)
    if BACKEND == "torch":
        return x.detach().cpu().numpy().copy()
    return np.array(ops.convert_to_numpy(x))


def snapshot(opt: Any, variables: list[Any]) -> list[np.ndarray]:
    """Every model variable, every optimizer variable (the count among them)."""
    return [to_np(v) for v in [*variables, *opt.variables]]


def assert_unchanged(before: list[np.ndarray], opt: Any, variables: list[Any]) -> None:
    after = snapshot(opt, variables)
    assert len(after) == len(before)
    for was, now in zip(before, after, strict=True):
        np.testing.assert_array_equal(now, was)


# ----------------------------------------------------------------------------- 1. layouts (torch)

# (variable layout, gradient layout): "contiguous", "transposed" (a 2-d tensor's .t()),
# "strided" (every other row of a larger tensor), "channels_last" (4-d).
LAYOUTS = [
    ("contiguous", "transposed"),
    ("contiguous", "strided"),
    ("transposed", "contiguous"),
    ("transposed", "transposed"),
    ("transposed", "strided"),
    ("strided", "contiguous"),
    ("strided", "transposed"),
    ("channels_last", "contiguous"),
    ("contiguous", "channels_last"),
    ("channels_last", "channels_last"),
]


def _laid_out(values: np.ndarray, layout: str) -> Any:
    """A torch tensor holding ``values`` in ``layout`` (never contiguous unless asked)."""
    import torch

    if layout == "contiguous":
        return torch.tensor(values)
    if layout == "transposed":
        return torch.tensor(np.ascontiguousarray(values.T)).t()
    if layout == "strided":
        spread = np.zeros((2 * values.shape[0], *values.shape[1:]), values.dtype)
        spread[::2] = values
        return torch.tensor(spread)[::2]
    assert layout == "channels_last"
    return torch.tensor(values).to(memory_format=torch.channels_last)


def _torch_peer(p0: np.ndarray, grads: list[np.ndarray], amsgrad: bool) -> list[np.ndarray]:
    """Parameters after each step, on contiguous tensors: torch.optim.RAdam (Keras's
    epsilon), or with amsgrad (which torch.optim.RAdam lacks) RAdam itself."""
    import torch

    out = []
    if amsgrad:
        variable, opt = keras.Variable(p0), RAdam(learning_rate=LR, preset=AMSGRAD)
        for g in grads:
            opt.apply([torch.tensor(g)], [variable])
            out.append(to_np(variable))
        return out
    param = torch.nn.Parameter(torch.tensor(p0))
    peer = torch.optim.RAdam([param], lr=LR, eps=RAdam().epsilon)
    for g in grads:
        param.grad = torch.tensor(g)
        peer.step()
        out.append(param.detach().numpy().copy())
    return out


@pytest.mark.skipif(BACKEND != "torch", reason="only torch tensors have memory layouts")
@pytest.mark.parametrize(("variable_layout", "grad_layout"), LAYOUTS)
@pytest.mark.parametrize("amsgrad", [False, True])
def test_torch_layouts_give_contiguous_values(
    variable_layout: str, grad_layout: str, amsgrad: bool
) -> None:
    """Twelve steps (SGD below the threshold, rectified from t = 6) on any layout give
    the contiguous run's values, float32 to 1e-6."""
    rng = np.random.default_rng(14)
    shape = (2, 3, 4, 5) if "channels_last" in (variable_layout, grad_layout) else (6, 5)
    p0 = rng.uniform(-1.0, 1.0, size=shape).astype(np.float32)
    grads = [
        rng.standard_normal(shape).astype(np.float32) * (10.0 if t <= 3 else 1.0)
        for t in range(1, 13)
    ]
    variable = keras.Variable(_laid_out(p0, variable_layout))
    assert variable.value.is_contiguous() == (variable_layout == "contiguous")
    opt = RAdam(learning_rate=LR, preset=radam_core.PRESETS["torch"].replace(amsgrad=amsgrad))
    for t, (g, expected) in enumerate(zip(grads, _torch_peer(p0, grads, amsgrad), strict=True), 1):
        grad = _laid_out(g, grad_layout)
        assert grad.is_contiguous() == (grad_layout == "contiguous")
        opt.apply([grad], [variable])
        np.testing.assert_allclose(
            to_np(variable), expected, rtol=1e-6, atol=1e-7, err_msg=f"t={t}"
        )
    if variable_layout == "strided":  # the memory between its rows is not the variable's
        import torch

        storage = torch.tensor([], dtype=torch.float32).set_(variable.value.untyped_storage())
        assert not storage.view(-1, *shape[1:])[1::2].any()


@pytest.mark.skipif(BACKEND != "torch", reason="only torch tensors have memory layouts")
def test_torch_keras_transposed_gradient_from_ops_transpose() -> None:
    """The issue's case: a gradient computed as ``keras.ops.transpose`` of something."""
    import torch

    rng = np.random.default_rng(5)
    p0 = rng.uniform(-1.0, 1.0, size=(4, 3)).astype(np.float32)
    variable = keras.Variable(p0)
    opt = RAdam(learning_rate=LR)
    peer_param = torch.nn.Parameter(torch.tensor(p0))
    peer = torch.optim.RAdam([peer_param], lr=LR, eps=opt.epsilon)
    for t in range(1, 11):
        g = rng.standard_normal((3, 4)).astype(np.float32)
        opt.apply([ops.transpose(ops.convert_to_tensor(g))], [variable])
        peer_param.grad = torch.tensor(np.ascontiguousarray(g.T))
        peer.step()
        np.testing.assert_allclose(
            to_np(variable), peer_param.detach().numpy(), rtol=1e-6, atol=1e-7, err_msg=f"t={t}"
        )


# ----------------------------------------------------------------------------- 2. sparse gradients

SPARSE_OPTIMIZERS: dict[str, Callable[[], Any]] = {
    "radam": lambda: RAdam(learning_rate=LR),
    "amsgrad": lambda: RAdam(learning_rate=LR, preset=AMSGRAD, weight_decay=0.01),
    "ranger": lambda: Ranger(learning_rate=LR, k=3),
}


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.IndexedSlices are TensorFlow's")
@pytest.mark.parametrize("name", list(SPARSE_OPTIMIZERS))
def test_indexed_slices_step_is_the_dense_step(name: str) -> None:
    """A tf.IndexedSlices gradient (duplicate indices summed) gives the bits of its dense
    tensor: the variable, the moments and the count, through rectified steps."""
    import tensorflow as tf

    rng = np.random.default_rng(5)
    table = rng.uniform(-1.0, 1.0, size=(10, 3)).astype(np.float32)
    sparse_variable, dense_variable = keras.Variable(table), keras.Variable(table)
    sparse_opt, dense_opt = SPARSE_OPTIMIZERS[name](), SPARSE_OPTIMIZERS[name]()
    for _ in range(9):
        slices = tf.IndexedSlices(
            tf.constant(rng.standard_normal((6, 3)).astype(np.float32)),
            tf.constant(rng.integers(0, 10, size=6)),  # repeats some rows, misses others
            dense_shape=tf.constant([10, 3]),
        )
        sparse_opt.apply([slices], [sparse_variable])
        dense_opt.apply([tf.convert_to_tensor(slices)], [dense_variable])
    np.testing.assert_array_equal(to_np(sparse_variable), to_np(dense_variable))
    for a, b in zip(sparse_opt.variables, dense_opt.variables, strict=True):
        np.testing.assert_array_equal(to_np(a), to_np(b))


class OneHotEmbedding(keras.layers.Layer):
    """An Embedding as ``one_hot(x) @ table``: its gradient is dense on every backend."""

    def __init__(self, rows: int, width: int) -> None:
        super().__init__()
        self.rows = rows
        self.table = self.add_weight(shape=(rows, width), name="embeddings")

    def call(self, x: Any) -> Any:
        return ops.matmul(ops.one_hot(x, self.rows), self.table)


def _embedding_model(embedding: Any) -> Any:
    return keras.Sequential(
        [keras.Input((4,), dtype="int32"), embedding, keras.layers.Flatten(), keras.layers.Dense(1)]
    )


@pytest.mark.parametrize("name", list(SPARSE_OPTIMIZERS))
def test_embedding_model_fits_with_the_dense_gradients_results(name: str) -> None:
    """``fit`` with an Embedding (sparse gradients on TensorFlow) equals ``fit`` with the
    same lookup written as a dense matmul, to float32 rounding."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 10, size=(64, 4)).astype("int32")
    y = rng.standard_normal((64, 1)).astype("float32")
    keras.utils.set_random_seed(0)
    sparse = _embedding_model(keras.layers.Embedding(10, 3))
    dense = _embedding_model(OneHotEmbedding(10, 3))
    for source, target in zip(sparse.weights, dense.weights, strict=True):
        target.assign(to_np(source))
    for model in (sparse, dense):
        model.compile(optimizer=SPARSE_OPTIMIZERS[name](), loss="mse")
        model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)  # 12 steps
    assert int(to_np(sparse.optimizer.iterations)) == 12
    for a, b in zip(sparse.weights, dense.weights, strict=True):
        assert np.all(np.isfinite(to_np(a)))
        np.testing.assert_allclose(to_np(a), to_np(b), rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- 3. names


@pytest.mark.parametrize(
    ("make", "prefix"),
    [
        (lambda: RAdam(), "radam"),
        (lambda: Ranger(), "ranger"),
        (lambda: Lookahead(keras.optimizers.SGD()), "lookahead"),
    ],
)
def test_default_names_are_unique_as_keras_makes_them(make: Callable[[], Any], prefix: str) -> None:
    """Two instances get two names (``radam``, ``radam_1``, ...) and two variable paths."""
    first, second = make(), make()
    assert first.name != second.name
    for opt in (first, second):
        assert opt.name == prefix or opt.name.removeprefix(prefix + "_").isdigit(), opt.name
        opt.build([keras.Variable(np.ones(3, np.float32), name="w")])
    first_paths = {v.path for v in first.variables}
    assert first_paths.isdisjoint(v.path for v in second.variables)


@keras_numpy2_warning
@pytest.mark.parametrize("cls", [RAdam, Ranger])
def test_names_survive_the_config_round_trip(cls: Any) -> None:
    """A default name round-trips as it is; a config saved with the old fixed default
    (``"radam"``, ``"ranger"``) loads with that name."""
    opt = cls()
    assert cls.from_config(opt.get_config()).name == opt.name
    old = {**opt.get_config(), "name": cls.__name__.lower()}
    assert cls.from_config(old).name == cls.__name__.lower()
    assert RAdam(name="mine").name == "mine"


# ----------------------------------------------------------------------------- 4. bad input

BAD_LEARNING_RATES = [
    (float("inf"), ValueError, "learning_rate must be finite and >= 0, got inf"),
    (-float("inf"), ValueError, "learning_rate must be finite and >= 0, got -inf"),
    (float("nan"), ValueError, "learning_rate must be finite and >= 0, got nan"),
    (-1.0, ValueError, r"learning_rate must be finite and >= 0, got -1.0"),
    (np.float32(-1), ValueError, r"learning_rate must be finite and >= 0, got -1.0"),
    (np.float32("nan"), ValueError, "learning_rate must be finite and >= 0, got nan"),
    (np.float16("inf"), ValueError, "learning_rate must be finite and >= 0, got inf"),
    (True, TypeError, "learning_rate must be a real number, .* got True"),
    ("0.1", TypeError, "learning_rate must be a real number, .* got '0.1'"),
    (None, TypeError, "learning_rate must be a real number, .* got None"),
]


@pytest.mark.parametrize(("value", "error", "match"), BAD_LEARNING_RATES)
@pytest.mark.parametrize("cls", [RAdam, Ranger])
def test_bad_learning_rate_raises_at_construction(
    cls: Any, value: Any, error: type, match: str
) -> None:
    with pytest.raises(error, match=match):
        cls(learning_rate=value)


@pytest.mark.parametrize("value", [np.float32(0.01), np.float64(0.01), 1, np.int64(0)])
def test_numpy_and_int_learning_rates_are_accepted_as_floats(value: Any) -> None:
    opt = RAdam(learning_rate=value)
    assert float(to_np(opt.learning_rate)) == np.float32(value)


class _BadAt(keras.optimizers.schedules.LearningRateSchedule):
    """LR until the count reaches ``step``, then ``bad``."""

    def __init__(self, step: int, bad: float) -> None:
        self.step, self.bad = step, bad

    def __call__(self, count: Any) -> Any:
        return ops.where(ops.greater_equal(count, self.step), self.bad, LR)


def _two_variables() -> list[Any]:
    rng = np.random.default_rng(7)
    return [
        keras.Variable(rng.standard_normal(4).astype(np.float32), name="a"),
        keras.Variable(rng.standard_normal((2, 3)).astype(np.float32), name="b"),
    ]


def _good_grads(variables: list[Any]) -> list[Any]:
    rng = np.random.default_rng(8)
    return [
        ops.convert_to_tensor(rng.standard_normal(tuple(v.shape)).astype(np.float32))
        for v in variables
    ]


class _Rate:
    """A callable learning rate whose value the test sets (LR until told otherwise)."""

    def __init__(self) -> None:
        self.value = LR

    def __call__(self) -> float:
        return self.value


def _bad_rate(value: float) -> Callable[[Any, list[Any]], None]:
    def call(opt: Any, variables: list[Any]) -> None:
        rate = getattr(opt, "inner_optimizer", opt)._learning_rate
        if isinstance(rate, _Rate):
            rate.value = value
        elif not isinstance(rate, _BadAt):  # a schedule turns bad by itself at step 3
            rate.assign(value)
        opt.apply(_good_grads(variables), variables)

    return call


def _radam(learning_rate: Any = LR) -> Any:
    # Weight decay (applied by the base class before the update) and EMA (after it): a
    # check made after either would leave it behind.
    return RAdam(learning_rate=learning_rate, weight_decay=0.1, use_ema=True)


def _ranger(learning_rate: Any = LR) -> Any:
    return Ranger(learning_rate=learning_rate, k=2, weight_decay=0.1)


# Each case: (optimizer, the bad call after two good steps, error, match).
BAD_STEPS: dict[str, tuple[Callable[[], Any], Callable[[Any, list[Any]], None], type, str]] = {
    "more grads": (
        _radam,
        lambda opt, vs: opt.apply([*_good_grads(vs), _good_grads(vs)[0]], vs),
        ValueError,
        "grads has 3 tensors, but the variables are 2",
    ),
    "more grads than the built variables": (
        _radam,
        lambda opt, vs: opt.apply([*_good_grads(vs), _good_grads(vs)[0]]),
        ValueError,
        "grads has 3 tensors, but the variables are 2",
    ),
    "fewer grads": (
        _ranger,
        lambda opt, vs: opt.apply(_good_grads(vs)[:1], vs),
        ValueError,
        "grads has 1 tensors, but the variables are 2",
    ),
    "wrong shape, second variable": (
        _radam,
        lambda opt, vs: opt.apply([_good_grads(vs)[0], ops.ones((3, 2))], vs),
        ValueError,
        r"gradient of .*b.* has shape \(3, 2\), but the variable's is \(2, 3\)",
    ),
    "wrong rank": (
        _ranger,
        lambda opt, vs: opt.apply([ops.ones((4, 1)), _good_grads(vs)[1]], vs),
        ValueError,
        r"has shape \(4, 1\), but the variable's is \(4,\)",
    ),
    "int gradient": (
        _radam,
        lambda opt, vs: opt.apply([_good_grads(vs)[0], ops.ones((2, 3), dtype="int32")], vs),
        TypeError,
        "must be a real floating-point tensor, got dtype int32",
    ),
    "bool gradient": (
        _ranger,
        lambda opt, vs: opt.apply([_good_grads(vs)[0], ops.ones((2, 3), dtype="bool")], vs),
        TypeError,
        "must be a real floating-point tensor, got dtype bool",
    ),
    "callable returns inf": (
        lambda: _radam(_Rate()),
        _bad_rate(float("inf")),
        ValueError,
        "learning_rate must be finite and >= 0, got inf",
    ),
    "callable returns -1 (ranger)": (
        lambda: _ranger(_Rate()),
        _bad_rate(-1.0),
        ValueError,
        r"learning_rate must be finite and >= 0, got -1.0",
    ),
    "schedule returns nan at step 3": (
        lambda: _radam(_BadAt(2, float("nan"))),
        _bad_rate(float("nan")),
        ValueError,
        "learning_rate must be finite and >= 0, got nan",
    ),
    "learning_rate variable assigned inf": (
        _radam,
        _bad_rate(float("inf")),
        ValueError,
        "learning_rate must be finite and >= 0, got inf",
    ),
}


@pytest.mark.parametrize("case", list(BAD_STEPS))
def test_bad_step_raises_and_changes_nothing(case: str) -> None:
    """Two good steps, then the bad call: a clear error, and every variable, optimizer
    variable and the count bit-identical (a learning rate the case assigned aside)."""
    make, bad_call, error, match = BAD_STEPS[case]
    opt, variables = make(), _two_variables()
    for _ in range(2):
        opt.apply(_good_grads(variables), variables)
    before = snapshot(opt, variables)
    with pytest.raises(error, match=match):
        bad_call(opt, variables)
    state = [*variables, *opt.variables]
    for variable, was, now in zip(state, before, snapshot(opt, variables), strict=True):
        if not variable.path.endswith("learning_rate"):
            np.testing.assert_array_equal(now, was, err_msg=variable.path)
    if "grad" in case:  # the same optimizer still steps
        opt.apply(_good_grads(variables), variables)
        assert int(to_np(opt.iterations)) == 3


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.function graphs are TensorFlow's")
@pytest.mark.parametrize("make", [_radam, _ranger])
def test_bad_schedule_in_a_tf_function_raises_and_changes_nothing(make: Any) -> None:
    """In a graph (``fit``'s path on a CPU) the step waits for the learning rate's check."""
    import tensorflow as tf

    opt, variables = make(_BadAt(2, float("inf"))), _two_variables()
    grads = _good_grads(variables)
    step = tf.function(lambda: opt.apply(grads, variables), jit_compile=False)
    step()
    step()
    before = snapshot(opt, variables)
    with pytest.raises(tf.errors.InvalidArgumentError, match="learning_rate must be finite"):
        step()
    assert_unchanged(before, opt, variables)


@pytest.mark.skipif(BACKEND != "jax", reason="jax.jit is JAX's")
def test_bad_schedule_under_jax_jit_is_unchecked_as_with_keras_adam() -> None:
    """Under ``jax.jit`` nothing checks the rate (raising would take a host callback in
    every step): an inf rate gives the non-finite variables ``keras.optimizers.Adam`` gives
    and the step is counted (the docs' Contract)."""
    import jax

    results = []
    for opt in (_radam(_BadAt(2, float("inf"))), keras.optimizers.Adam(_BadAt(2, float("inf")))):
        variables = _two_variables()
        opt.build(variables)
        step = jax.jit(opt.stateless_apply)
        values, opt_values = [v.value for v in variables], [v.value for v in opt.variables]
        grads = _good_grads(variables)
        for _ in range(3):
            values, opt_values = step(opt_values, grads, values)
        counts = zip(opt_values, opt.variables, strict=True)
        count = next(value for value, v in counts if v is opt.iterations)
        results.append(([np.isfinite(np.asarray(v)) for v in values], int(count)))
    (finite, count), (adam_finite, adam_count) = results
    assert count == adam_count == 3
    assert not any(f.any() for f in finite)
    for ours, adam in zip(finite, adam_finite, strict=True):
        np.testing.assert_array_equal(ours, adam)


# ----------------------------------------------------------------------------- 5. complex

_CP0 = [np.array([1 + 2j, 3 - 1j, -0.5j]), np.array([[0.25 - 1j, 2 + 0.5j]])]
_CCENTERS = [np.array([-1 + 1j, 0.5 + 0.5j, 2.0]), np.array([[1j, -1 - 1j]])]


def _complex_grads(params: list[np.ndarray], t: int) -> list[np.ndarray]:
    scale = 10.0 if t <= 3 else 1.0
    return [scale * (np.asarray(p) - c) for p, c in zip(params, _CCENTERS, strict=True)]


@pytest.mark.skipif(BACKEND == "tensorflow", reason="complex variables: JAX and torch")
@pytest.mark.parametrize("amsgrad", [False, True])
def test_complex_variables_take_optax_convention(amsgrad: bool) -> None:
    """Twelve steps on complex64 variables agree with the float64 oracle's complex
    steps (v from |g|^2, real and non-negative); the same on every backend that takes them."""
    from tests.oracle import oracle_trajectory

    opt = RAdam(
        learning_rate=LR, preset=radam_core.PRESETS["torch"].replace(amsgrad=amsgrad), beta_2=0.95
    )
    variables = [keras.Variable(p.astype(np.complex64)) for p in _CP0]
    for t in range(1, 13):
        grads = _complex_grads([to_np(v) for v in variables], t)
        opt.apply([ops.convert_to_tensor(g.astype(np.complex64)) for g in grads], variables)
    expected = oracle_trajectory(
        [p.astype(np.complex64).astype(np.complex128) for p in _CP0],
        _complex_grads,
        12,
        lr=LR,
        eps=opt.epsilon,
        betas=(0.9, 0.95),
        amsgrad=amsgrad,
        storage_dtype=np.complex64,
        compute_dtype=np.float32,
    )[-1]
    for variable, want in zip(variables, expected, strict=True):
        np.testing.assert_allclose(to_np(variable), want, rtol=1e-5, atol=1e-5)
    for velocity in opt._velocities:
        v = to_np(velocity)
        assert np.all(v.imag == 0)
        assert np.all(v.real >= 0)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="TensorFlow refuses complex variables")
@pytest.mark.parametrize("make", [lambda: RAdam(), lambda: Ranger()])
def test_complex_variable_on_tensorflow_is_refused_and_nothing_is_built(make: Any) -> None:
    opt = make()
    variable = keras.Variable(_CP0[0].astype(np.complex64), name="z")
    before = to_np(variable)
    with pytest.raises(TypeError, match="z is complex64: radam_keras takes complex variables"):
        opt.apply([ops.convert_to_tensor(_CP0[0].astype(np.complex64))], [variable])
    assert not opt.built
    assert len(opt.variables) == len(make().variables)
    np.testing.assert_array_equal(to_np(variable), before)


def test_complex_gradient_for_a_real_variable_is_refused() -> None:
    opt, variables = _radam(), _two_variables()
    opt.apply(_good_grads(variables), variables)
    before = snapshot(opt, variables)
    grads = [ops.convert_to_tensor(np.ones(4, np.complex64)), _good_grads(variables)[1]]
    with pytest.raises(
        TypeError, match="must be a real floating-point tensor, got dtype complex64"
    ):
        opt.apply(grads, variables)
    assert_unchanged(before, opt, variables)


@pytest.mark.skipif(BACKEND == "tensorflow", reason="complex variables: JAX and torch")
def test_complex_and_real_variables_in_one_step_are_each_as_alone() -> None:
    """On torch the complex variable takes the core step and the real ones the fused
    kernel in the same step: each ends as it would alone."""
    rng = np.random.default_rng(3)
    z0, r0 = _CP0[0].astype(np.complex64), rng.standard_normal(5).astype(np.float32)
    z_grads = [(rng.standard_normal(3) + 1j * rng.standard_normal(3)).astype(np.complex64)] * 8
    r_grads = [rng.standard_normal(5).astype(np.float32) for _ in range(8)]
    both = [keras.Variable(z0), keras.Variable(r0)]
    alone = [keras.Variable(z0), keras.Variable(r0)]
    opt, z_opt, r_opt = RAdam(learning_rate=LR), RAdam(learning_rate=LR), RAdam(learning_rate=LR)
    for zg, rg in zip(z_grads, r_grads, strict=True):
        opt.apply([ops.convert_to_tensor(zg), ops.convert_to_tensor(rg)], both)
        z_opt.apply([ops.convert_to_tensor(zg)], alone[:1])
        r_opt.apply([ops.convert_to_tensor(rg)], alone[1:])
    for a, b in zip(both, alone, strict=True):
        np.testing.assert_array_equal(to_np(a), to_np(b))


@pytest.mark.skipif(BACKEND != "tensorflow", reason="XLA's asserts: TensorFlow")
def test_bad_schedule_under_xla_is_not_checked() -> None:
    """What the docs' Contract says of ``jit_compile=True`` (``fit`` on TensorFlow with a
    GPU): XLA compiles the assertion away, so an infinite rate steps, as Keras's Adam does."""
    import tensorflow as tf

    opt, variables = _radam(_BadAt(2, float("inf"))), _two_variables()
    opt.build(variables)  # XLA cannot create variables
    grads = _good_grads(variables)
    step = tf.function(lambda: opt.apply(grads, variables), jit_compile=True)
    for _ in range(3):
        step()
    assert int(to_np(opt.iterations)) == 3
    assert not np.any(np.isfinite(to_np(variables[0])))


# ----------------------------------------------------------------------------- 6. Keras's checks
# What Keras's own optimizer tests check of every optimizer, in our own words.


@keras_numpy2_warning
@pytest.mark.parametrize("make", [lambda: RAdam(preset=AMSGRAD, weight_decay=0.01), Ranger])
def test_pickle_round_trip(make: Any) -> None:
    import pickle

    opt = make()
    assert pickle.loads(pickle.dumps(opt)).get_config() == opt.get_config()


@pytest.mark.parametrize("make", [_radam, _ranger])
def test_set_weights_copies_every_optimizer_variable(make: Any) -> None:
    """Ranger's too: its own and its inner optimizer's, in ``variables``'s order."""
    variables = _two_variables()
    source, target = make(), make()
    for _ in range(3):
        source.apply(_good_grads(variables), variables)
    target.build(_two_variables())
    target.set_weights([to_np(v) for v in source.variables])
    for a, b in zip(source.variables, target.variables, strict=True):
        np.testing.assert_array_equal(to_np(a), to_np(b))


def test_constraints_are_applied_after_the_step() -> None:
    variable = keras.Variable(np.ones(3, np.float32))
    variable.constraint = keras.constraints.NonNeg()  # keras.Variable(constraint=) drops it
    RAdam(learning_rate=10.0).apply([ops.ones(3)], [variable])
    np.testing.assert_array_equal(to_np(variable), np.zeros(3, np.float32))


@pytest.mark.parametrize("make", [RAdam, Ranger])
def test_gradient_accumulation_with_weight_decay_equals_mean_gradient_steps(make: Any) -> None:
    """Three accumulated micro-batches, eight times: the steps of their mean gradients."""
    plain, accumulating = (
        make(weight_decay=0.05),
        make(weight_decay=0.05, gradient_accumulation_steps=3),
    )
    a, b = keras.Variable([[0.9], [0.5]]), keras.Variable([[0.9], [0.5]])
    rng = np.random.default_rng(2)
    for _ in range(8):
        micro = rng.random((3, 2, 1)).astype(np.float32)
        plain.apply([ops.convert_to_tensor(micro.mean(axis=0))], [a])
        for batch in micro:
            accumulating.apply([ops.convert_to_tensor(batch)], [b])
    np.testing.assert_allclose(to_np(a), to_np(b), rtol=1e-6, atol=1e-7)


def test_learning_rate_set_to_a_schedule_untracks_the_variable() -> None:
    opt = RAdam(learning_rate=0.001)
    assert len(opt.variables) == 2
    opt.learning_rate = keras.optimizers.schedules.PolynomialDecay(0.001, 4)
    assert len(opt.variables) == 1


@keras_numpy2_warning
def test_loss_scale_optimizer_around_radam_round_trips() -> None:
    inner = RAdam(
        learning_rate=0.5,
        beta_1=0.06,
        preset=radam_core.PRESETS["torch"].replace(nesterov=True),
        weight_decay=0.004,
    )
    opt = keras.optimizers.LossScaleOptimizer(inner)
    clone = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert type(clone.inner_optimizer) is type(inner)
    assert clone.inner_optimizer.get_config() == inner.get_config()


def test_overwrite_with_gradient_variables_take_the_gradient() -> None:
    """Keras's ``overwrite_with_gradient`` (float8 scales): the base class assigns the
    gradient and RAdam never sees the variable."""
    plain, special = _two_variables()
    special.overwrite_with_gradient = True
    opt = RAdam(learning_rate=LR)
    grads = _good_grads([plain, special])
    opt.apply(grads, [plain, special])
    np.testing.assert_array_equal(to_np(special), to_np(grads[1]))
    assert not np.array_equal(to_np(plain), to_np(_two_variables()[0]))


def test_ranger_weight_decay_exclusions_reach_the_inner_optimizer() -> None:
    opt = Ranger(learning_rate=1.0, weight_decay=0.004)
    kept, decayed = keras.Variable(2.0, name="exclude"), keras.Variable(2.0, name="other")
    opt.exclude_from_weight_decay(var_names=["exclude"])
    opt.apply([ops.zeros(()), ops.zeros(())], [kept, decayed])
    assert float(to_np(kept)) == 2.0
    assert float(to_np(decayed)) == pytest.approx(2.0 * (1 - 0.004), rel=1e-6)


def test_ranger_loss_scale_factor_is_the_inner_optimizers() -> None:
    """``fit`` scales the loss by the outer optimizer's factor and the inner optimizer
    unscales the gradients by its own: they must be one; a LossScaleOptimizer turns it off."""
    opt = Ranger(learning_rate=LR, loss_scale_factor=100.0)
    assert opt.loss_scale_factor == opt.inner_optimizer.loss_scale_factor == 100.0
    assert float(to_np(opt.scale_loss(ops.convert_to_tensor(2.0)))) == 200.0
    keras.optimizers.LossScaleOptimizer(opt)
    assert opt.inner_optimizer.loss_scale_factor is None


@pytest.mark.skipif(BACKEND != "tensorflow", reason="native tf.Variables: TensorFlow")
@pytest.mark.parametrize("make", [_radam, _ranger])
def test_native_tf_variables_alongside_keras_variables(make: Any) -> None:
    import tensorflow as tf

    opt = make()
    keras_variable, tf_variable = keras.Variable(np.ones(2, np.float32)), tf.Variable([1.0, 2.0])
    opt.apply([ops.ones(2), ops.ones(2)], [keras_variable, tf_variable])
    assert int(to_np(opt.iterations)) == 1
    assert not np.array_equal(tf_variable.numpy(), [1.0, 2.0])
    with pytest.raises(ValueError, match=r"the gradient of Variable:0 has shape \(3,\)"):
        opt.apply([ops.ones(2), ops.ones(3)], [keras_variable, tf_variable])
