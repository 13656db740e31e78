"""docs/recipes.md runs: the code of its Hugging Face, Lightning, Flax and Orbax recipes.

The recipes session (``nox -s recipes``) installs those frameworks beside torch 2.13.0; the
timm recipe runs in tests/test_recipes_timm.py (its own session) and the Keras one in
tests/keras_backends/test_keras_recipes.py. Each test runs a section's code blocks from the page
in order, in one namespace, in a temporary directory, then checks that the framework trained
with radam's optimizer and, where the framework checkpoints, that the run resumed from its
checkpoint ends with exactly the parameters of the same run without the interruption.
"""

import os
import re
import shlex
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests.markdown_code import ROOT, section_blocks

pytestmark = pytest.mark.backend("recipes")
PAGE = ROOT / "docs" / "recipes.md"

# Lightning 2.6 on torch 2.13 (its own call of a torch API torch deprecates).
LIGHTNING_LEAFSPEC_WARNING = pytest.mark.filterwarnings(
    r"ignore:`isinstance\(treespec, LeafSpec\)` is deprecated:FutureWarning"
)


def recipe(title: str) -> list[str]:
    """The Python blocks of the page's section ``title``."""
    blocks = section_blocks(PAGE, title, "python")
    assert blocks, f"docs/recipes.md's '{title}' has no Python code"
    return blocks


def run(block: str, namespace: dict) -> None:
    exec(compile(textwrap.dedent(block), str(PAGE), "exec"), namespace)


def steps_taken(optimizer) -> set[int]:
    """The step counts of a torch optimizer's parameters (one value when all stepped alike)."""
    return {int(state["step"]) for state in optimizer.state.values()}


def assert_same_parameters(module, expected) -> None:
    import torch

    pairs = list(zip(module.parameters(), expected.parameters(), strict=True))
    assert pairs
    for p, q in pairs:
        assert torch.equal(p, q), (p, q)


@pytest.mark.filterwarnings(
    # Trainer's default pin_memory=True on a machine without an accelerator.
    "ignore:'pin_memory' argument is set as true but no accelerator is found:UserWarning"
)
def test_hugging_face_trainer_trains_with_radam_torch_and_resumes_exactly(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    pytest.importorskip("transformers")
    from radam_torch import RAdam

    monkeypatch.chdir(tmp_path)
    setup, with_optimizers, resume, with_class = recipe("Hugging Face Trainer")
    namespace: dict = {}
    run(setup, namespace)
    run(with_optimizers, namespace)
    trainer = namespace["trainer"]
    assert type(trainer.optimizer.optimizer) is RAdam
    assert steps_taken(trainer.optimizer.optimizer) == {16}
    assert (tmp_path / "hf-run" / "checkpoint-8" / "optimizer.pt").exists()

    (resumed_from,) = re.findall(r"checkpoint-(\d+)", resume)
    assert 0 < int(resumed_from) < 16  # a checkpoint with steps left to take
    run(resume, namespace)
    resumed = namespace["resumed"]
    assert steps_taken(resumed.optimizer.optimizer) == {16}  # from the checkpoint's count on
    assert_same_parameters(resumed.model, trainer.model)

    run(with_class, namespace)
    built = namespace["trainer"].optimizer.optimizer
    assert type(built) is RAdam
    assert [g["decoupled_weight_decay"] for g in built.param_groups] == [True, True]
    assert steps_taken(built) == {16}


@LIGHTNING_LEAFSPEC_WARNING
@pytest.mark.filterwarnings(
    # The resumed run writes its checkpoints where the interrupted one did, as intended.
    "ignore:Checkpoint directory .* exists and is not empty"
)
def test_lightning_trains_with_radam_torch_and_resumes_exactly(tmp_path, monkeypatch):
    pytest.importorskip("lightning")
    import lightning as L
    import torch
    from radam_torch import RAdam

    interrupted, uninterrupted = tmp_path / "interrupted", tmp_path / "uninterrupted"
    interrupted.mkdir()
    uninterrupted.mkdir()
    monkeypatch.chdir(interrupted)
    first_epochs, resume = recipe("Lightning")
    namespace: dict = {}
    run(first_epochs, namespace)
    last = torch.load(interrupted / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["global_step"] == 16  # 2 epochs of 8 batches: 2 left to take
    run(resume, namespace)
    trainer = namespace["trainer"]
    assert type(trainer.optimizers[0]) is RAdam
    assert steps_taken(trainer.optimizers[0]) == {32}  # 4 epochs of 8 batches

    monkeypatch.chdir(uninterrupted)
    L.seed_everything(0)  # as the recipe does before its first model
    model = namespace["Regression"]()
    namespace["make_trainer"](max_epochs=4).fit(model, namespace["loader"])
    assert_same_parameters(namespace["resumed"], model)


def test_lightning_cli_builds_radam_torch_from_the_command_line(tmp_path):
    pytest.importorskip("lightning")
    pytest.importorskip("jsonargparse")
    import torch
    import yaml
    from radam_torch import RAdam

    (script,) = recipe("LightningCLI")
    (command,) = section_blocks(PAGE, "LightningCLI", "bash")
    (tmp_path / "train.py").write_text(script)
    words = shlex.split(command)
    assert words[:2] == ["python", "train.py"]
    pythonpath = os.pathsep.join([str(ROOT), str(ROOT / "adapters")])
    done = subprocess.run(
        [sys.executable, *words[1:], "--trainer.enable_progress_bar=false"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": pythonpath},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    run_dir = tmp_path / "lightning_logs" / "version_0"
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["optimizer"]["class_path"] == "radam_torch.RAdam"
    assert config["optimizer"]["init_args"]["preset"] == "authors"
    (checkpoint,) = (run_dir / "checkpoints").glob("*.ckpt")
    (saved,) = torch.load(checkpoint, weights_only=True)["optimizer_states"]
    reference = RAdam([torch.zeros(1)], preset="authors").state_dict()["param_groups"][0]
    assert saved["param_groups"][0].keys() == reference.keys()  # RAdam's options, preset too
    assert saved["param_groups"][0]["preset"] == "authors"
    assert {float(state["step"]) for state in saved["state"].values()} == {16.0}


def radam_states(tree) -> list:
    """The radam_optax states in an optax state (a pytree)."""
    import jax

    from radam_optax import ScaleByRAdamState

    def is_state(x) -> bool:
        return isinstance(x, ScaleByRAdamState)

    return [leaf for leaf in jax.tree.leaves(tree, is_leaf=is_state) if is_state(leaf)]


def test_flax_nnx_optimizer_steps_with_radam_optax(tmp_path, monkeypatch):
    pytest.importorskip("flax")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    (code,) = recipe("Flax NNX")
    run(code, namespace)
    (state,) = radam_states(namespace["optimizer"].opt_state)
    assert int(state.count[...]) == 200
    losses = namespace["losses"]
    assert float(losses[-1]) < 0.01 * float(losses[0])


def test_orbax_restores_radam_optax_state_and_resumes_exactly(tmp_path, monkeypatch):
    pytest.importorskip("orbax.checkpoint")
    import jax
    import jax.numpy as jnp

    monkeypatch.chdir(tmp_path)
    first_steps, resume = recipe("Orbax checkpoints")
    namespace: dict = {}
    run(first_steps, namespace)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "10",
        "20",
        "30",
        "40",
        "50",
    ]
    run(resume, namespace)
    (state,) = radam_states(namespace["opt_state"])
    assert int(state.count) == 100

    optimizer, train_step = namespace["optimizer"], namespace["train_step"]
    params = {"w": jnp.zeros(8), "b": jnp.zeros(())}
    opt_state = optimizer.init(params)
    for _ in range(100):
        params, opt_state = train_step(params, opt_state, namespace["x"], namespace["y"])
    resumed = (namespace["params"], namespace["opt_state"])
    for leaf, expected in zip(
        jax.tree.leaves(resumed), jax.tree.leaves((params, opt_state)), strict=True
    ):
        assert np.array_equal(np.asarray(leaf), np.asarray(expected))
