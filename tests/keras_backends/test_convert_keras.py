"""``radam convert`` with ``.keras`` files, and between every pair of frameworks.

Here every framework is installed. A Keras run saved with ``model.save``, converted to a
snapshot and into a fresh ``.keras`` file, resumes to exactly the uninterrupted run. A run
started in torch, Keras or optax and converted to each of the others (one command, through
the snapshot) resumes there to the uninterrupted run of that framework within float32
rounding (1e-5, test_golden's float32 bound): the same model in each framework, named
``dense/kernel``, ``dense/bias``, ``head/kernel``, ``head/bias`` (torch's ``dense.kernel``
with ``--rename``), with the same gradients, a function of the weights. Each with RAdam and
with Ranger, converted in the middle of a Lookahead cycle.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")
optax = pytest.importorskip("optax")
jax = pytest.importorskip("jax")

import radam_keras  # noqa: E402
import radam_torch  # noqa: E402
from radam_keras import RAdam, Ranger  # noqa: E402

import radam_optax  # noqa: E402
from radam_core import LookaheadPosition, load_snapshot  # noqa: E402
from tests.convert_cli import convert, refused  # noqa: E402

# Keras's BaseOptimizer.get_config and keras.ops.convert_to_numpy call np.array on a tensor
# whose __array__ takes no copy keyword, which NumPy 2 warns about: Keras's, not ours.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

STEPS, SPLIT = 14, 6
LR, EPS = 0.05, 1e-7  # Keras's epsilon, given to torch and optax too
K, ALPHA = 4, 0.6  # Ranger's: SPLIT is 2 fast steps into its second cycle
SHAPES = {"dense/kernel": (3, 4), "dense/bias": (4,), "head/kernel": (4, 2), "head/bias": (2,)}


def _start() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {name: rng.normal(size=shape).astype(np.float32) for name, shape in SHAPES.items()}


def _grad(value: np.ndarray, t: int) -> np.ndarray:
    return np.sin(value + np.float32(0.1 * t)).astype(np.float32)


class Keras:
    """A Keras run: a model whose variables are named as ``SHAPES``."""

    suffix, to_names, from_names = ".keras", (), ()

    def __init__(self, weights: dict[str, np.ndarray], ranger: bool, model: Any = None) -> None:
        if model is None:
            model = keras.Sequential(
                [
                    keras.Input((3,)),
                    keras.layers.Dense(4, name="dense"),
                    keras.layers.Dense(2, name="head"),
                ]
            )
            optimizer = (
                Ranger(LR, k=K, alpha=ALPHA, epsilon=EPS)
                if ranger
                else RAdam(learning_rate=LR, epsilon=EPS)
            )
            model.compile(optimizer=optimizer, loss="mse")
            for variable in model.trainable_variables:
                variable.assign(weights[_name(variable)])
        self.model = model

    def step(self, t: int) -> None:
        variables = self.model.trainable_variables
        grads = [_grad(keras.ops.convert_to_numpy(v.value), t) for v in variables]
        self.model.optimizer.apply(grads, variables)

    def weights(self) -> dict[str, np.ndarray]:
        return {
            _name(v): keras.ops.convert_to_numpy(v.value) for v in self.model.trainable_variables
        }

    def save(self, path: Path) -> None:
        self.model.save(path)

    @classmethod
    def resumed(cls, path: Path, weights: dict[str, np.ndarray], ranger: bool) -> Keras:
        del weights  # the target file holds them
        return cls({}, ranger, keras.saving.load_model(path))


def _name(variable: Any) -> str:
    """``dense/kernel`` of a live model's ``sequential/dense/kernel``, or of a loaded one's."""
    return "/".join(variable.path.split("/")[-2:])


class Torch:
    """A torch run: ``dense.kernel``, ... (``kernel`` as Keras lays it out, (in, out))."""

    suffix = ".pt"
    to_names = ("--rename", "\\.", "/")  # dense.kernel -> dense/kernel
    from_names = ("--rename", "/", ".")

    def __init__(
        self, weights: dict[str, np.ndarray], ranger: bool, state_dict: Any = None
    ) -> None:
        self.module = torch.nn.Module()
        for layer in ("dense", "head"):
            part = torch.nn.Module()
            for kind in ("kernel", "bias"):
                value = torch.from_numpy(weights[f"{layer}/{kind}"].copy())
                part.register_parameter(kind, torch.nn.Parameter(value))
            self.module.add_module(layer, part)
        named = self.module.named_parameters()
        self.opt = (
            radam_torch.Ranger(named, lr=LR, eps=EPS, k=K, alpha=ALPHA)
            if ranger
            else radam_torch.RAdam(named, lr=LR, eps=EPS)
        )
        if state_dict is not None:
            self.opt.load_state_dict(state_dict)

    def step(self, t: int) -> None:
        for p in self.module.parameters():
            p.grad = torch.from_numpy(_grad(p.detach().numpy(), t))
        self.opt.step()

    def weights(self) -> dict[str, np.ndarray]:
        return {
            n.replace(".", "/"): p.detach().numpy().copy()
            for n, p in self.module.named_parameters()
        }

    def save(self, path: Path) -> None:
        torch.save({"optimizer": self.opt.state_dict()}, path)

    @classmethod
    def resumed(cls, path: Path, weights: dict[str, np.ndarray], ranger: bool) -> Torch:
        return cls(weights, ranger, torch.load(path, weights_only=True)["optimizer"])


OPTAX_TX = {  # by ranger or not
    False: radam_optax.radam(LR, eps=EPS, preset="torch"),
    True: radam_optax.ranger(LR, eps=EPS, preset="torch", sync_period=K, slow_step_size=ALPHA),
}
_UPDATE = {ranger: jax.jit(tx.update) for ranger, tx in OPTAX_TX.items()}
OPTAX_OPTIONS = ("--preset", "torch", "--lr", str(LR), "--eps", str(EPS))
LOOKAHEAD_OPTIONS = ("--sync-period", str(K), "--slow-step-size", str(ALPHA))


class Optax:
    """An optax run over ``{"dense": {"kernel", "bias"}, "head": {...}}``."""

    suffix, to_names, from_names = ".pkl", (), ()

    def __init__(self, weights: dict[str, np.ndarray], ranger: bool, opt_state: Any = None) -> None:
        self.update = _UPDATE[ranger]
        self.params = {
            layer: {
                kind: jax.numpy.asarray(weights[f"{layer}/{kind}"]) for kind in ("kernel", "bias")
            }
            for layer in ("dense", "head")
        }
        self.opt_state = OPTAX_TX[ranger].init(self.params) if opt_state is None else opt_state

    def step(self, t: int) -> None:
        grads = jax.tree.map(lambda p: jax.numpy.asarray(_grad(np.asarray(p), t)), self.params)
        updates, self.opt_state = self.update(grads, self.opt_state, self.params)
        self.params = optax.apply_updates(self.params, updates)

    def weights(self) -> dict[str, np.ndarray]:
        return {
            f"{layer}/{kind}": np.asarray(value)
            for layer, part in self.params.items()
            for kind, value in part.items()
        }

    def save(self, path: Path) -> None:
        with path.open("wb") as file:
            pickle.dump({"params": self.params, "opt_state": self.opt_state}, file)

    @classmethod
    def resumed(cls, path: Path, weights: dict[str, np.ndarray], ranger: bool) -> Optax:
        with path.open("rb") as file:
            return cls(weights, ranger, pickle.load(file)["opt_state"])


FRAMEWORKS = {"torch": Torch, "keras": Keras, "optax": Optax}


def _run(run: Any, first: int, last: int) -> Any:
    for t in range(first, last + 1):
        run.step(t)
    return run


@pytest.mark.parametrize("ranger", [False, True], ids=["radam", "ranger"])
def test_a_keras_file_goes_to_a_snapshot_and_back_and_resumes_exactly(
    tmp_path: Path, ranger: bool
) -> None:
    reference = _run(Keras(_start(), ranger), 1, STEPS).weights()
    run = _run(Keras(_start(), ranger), 1, SPLIT)
    run.save(tmp_path / "run.keras")
    convert(tmp_path / "run.keras", tmp_path / "run.safetensors")
    snapshot = load_snapshot(tmp_path / "run.safetensors")
    assert list(snapshot.parameters) == list(SHAPES)  # a loaded Sequential's paths
    assert {state.count for state in snapshot.parameters.values()} == {SPLIT}
    assert snapshot.lookahead == (LookaheadPosition(K, ALPHA, SPLIT % K) if ranger else None)

    Keras(run.weights(), ranger).save(tmp_path / "fresh.keras")  # not stepped: no state
    convert(
        tmp_path / "run.safetensors", tmp_path / "resume.keras", "--into", tmp_path / "fresh.keras"
    )
    resumed = _run(Keras.resumed(tmp_path / "resume.keras", {}, ranger), SPLIT + 1, STEPS)
    for name, value in resumed.weights().items():
        np.testing.assert_array_equal(value, reference[name], err_msg=name)


# torch <-> optax does not depend on Keras's backend: it runs in the keras-jax session only.
PAIRS = [
    (source, target)
    for source in FRAMEWORKS
    for target in FRAMEWORKS
    if source != target and ("keras" in (source, target) or keras.backend.backend() == "jax")
]


@pytest.mark.parametrize("ranger", [False, True], ids=["radam", "ranger"])
@pytest.mark.parametrize(("source", "target"), PAIRS)
def test_a_run_moves_to_another_framework_in_one_command(
    tmp_path: Path, source: str, target: str, ranger: bool
) -> None:
    Source, Target = FRAMEWORKS[source], FRAMEWORKS[target]
    reference = _run(Target(_start(), ranger), 1, STEPS).weights()
    run = _run(Source(_start(), ranger), 1, SPLIT)
    weights = run.weights()
    run.save(tmp_path / f"run{Source.suffix}")
    Target(weights, ranger).save(tmp_path / f"into{Target.suffix}")
    argv = [tmp_path / f"run{Source.suffix}", tmp_path / f"resume{Target.suffix}"]
    argv += ["--into", tmp_path / f"into{Target.suffix}", *Source.to_names, *Target.from_names]
    if source == "optax":
        argv += [*OPTAX_OPTIONS, *(LOOKAHEAD_OPTIONS if ranger else ())]
    convert(*argv)
    resumed = Target.resumed(tmp_path / f"resume{Target.suffix}", weights, ranger)
    resumed = _run(resumed, SPLIT + 1, STEPS)
    for name, value in resumed.weights().items():
        np.testing.assert_allclose(value, reference[name], rtol=1e-5, atol=1e-6, err_msg=name)


def test_keras_files_that_do_not_fit_stop_with_one_line_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "text.keras").write_text("not a model")
    assert "text.keras is not a .keras file that keras.saving.load_model reads" in refused(
        capsys, tmp_path / "text.keras", tmp_path / "a.safetensors"
    )
    for name, optimizer in [
        ("Adam", keras.optimizers.Adam()),
        ("Lookahead(Adam)", radam_keras.Lookahead(keras.optimizers.Adam())),
    ]:
        adam = Keras(_start(), False)
        adam.model.compile(optimizer=optimizer, loss="mse")
        adam.model.optimizer.build(adam.model.trainable_variables)
        adam.save(tmp_path / "adam.keras")
        assert f"adam.keras holds a model compiled with {name}, not radam_keras.RAdam" in refused(
            capsys, tmp_path / "adam.keras", tmp_path / "a.safetensors"
        )
    assert not (tmp_path / "a.safetensors").exists()

    for ranger in (False, True):
        _run(Keras(_start(), ranger), 1, 2).save(tmp_path / f"run_{ranger}.keras")
        convert(tmp_path / f"run_{ranger}.keras", tmp_path / f"run_{ranger}.safetensors")
        Keras(_start(), ranger).save(tmp_path / f"target_{ranger}.keras")
    before = {path: path.read_bytes() for path in tmp_path.iterdir()}
    plain, lookahead = tmp_path / "run_False.safetensors", tmp_path / "run_True.safetensors"
    out = tmp_path / "out.keras"
    assert "missing parameters ['dense/kernel', 'dense/bias', 'head/kernel', 'head/bias']" in (
        refused(capsys, plain, tmp_path / "target_False.keras", "--rename", "^", "x")
    )
    assert (
        f"the snapshot holds Lookahead's state (k={K}), but the optimizer is not a Lookahead"
    ) in refused(capsys, lookahead, out, "--into", tmp_path / "target_False.keras")
    assert (
        f"the optimizer is a Lookahead (k={K}), but the snapshot holds no Lookahead state"
    ) in refused(capsys, plain, out, "--into", tmp_path / "target_True.keras")
    assert {path: path.read_bytes() for path in tmp_path.iterdir()} == before
