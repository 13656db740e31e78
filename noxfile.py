"""nox sessions: ``nox`` runs every CPU session; ``nox -l`` lists them all.

Each backend's tests run in an environment of their own, once: ``pytest --backend``
(tests/conftest.py) selects the tests of the session's backend, and a test that skips for a
package its session has fails instead, so that none is silently never run.

torch is installed as ``torch==2.13.0`` before the project, since a bare ``torch``
requirement would pull a multi-GB CUDA build on machines where the CPU build lies on disk.

Not in the default run: ``gpu`` (needs a CUDA device), ``bench``, and ``recipes`` and
``recipes-timm``, which install other frameworks to run docs/recipes.md's code.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nox

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "venv"
nox.options.error_on_missing_interpreters = True

PYPROJECT = nox.project.load_toml("pyproject.toml")
TORCH = "torch==2.13.0"
TENSORFLOW = "tensorflow-cpu"
NOT_HERE = ("--ignore=tests/keras_backends", "--ignore=tests/equivalence")
# Each session's tests on every core (at most 4 workers, pytest-xdist), and its ten slowest
# tests in its log, to keep CI's time in sight.
PYTEST_OPTIONS = ("--numprocesses=auto", "--maxprocesses=4", "--durations=10")
FULL_ENVIRONMENT = Path(".nox") / "full"
# docs/recipes.md's frameworks. Installed in one command with TORCH, so that pip refuses
# (rather than replaces torch 2.13.0 for) any release that asks for another torch.
RECIPE_FRAMEWORKS = (
    "transformers",
    "accelerate",
    "lightning",
    "jsonargparse[signatures]",
    "flax",
    "orbax-checkpoint",
)
# timm imports torchvision, and PyPI's torchvision imports only beside the torch it was built
# with: 0.28.0, torch 2.13.0's, is a CUDA build that fails beside the CPU torch 2.13.0
# ("operator torchvision::nms does not exist"). timm's recipe runs on the pair PyPI does have,
# a CUDA torch 2.14.1 (on the CPU here), in a session of its own.
TIMM_TORCH = ("torch==2.14.1", "torchvision==0.29.1")


def install_groups(session: nox.Session, *groups: str) -> None:
    for group in groups:
        session.install(*nox.project.dependency_groups(PYPROJECT, group))


@nox.session(default=True)
def lint(session: nox.Session) -> None:
    """ruff (lint and format) and mypy over the whole project (with torch's types)."""
    session.install(TORCH)
    install_groups(session, "lint")
    session.install("-e", ".[torch]")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")


@nox.session(default=True)
def numpy(session: nox.Session) -> None:
    """The core on numpy and array_api_strict, radam_numpy, the CLI, the benchmark smoke."""
    session.install("-e", ".", "matplotlib")
    install_groups(session, "test")
    session.run(
        "pytest", "tests", "--backend", "numpy", *NOT_HERE, *PYTEST_OPTIONS, *session.posargs
    )


@nox.session(default=True)
def torch(session: nox.Session) -> None:
    """The core on torch, radam_torch (eager, compiled, distributed), torch peers, the demo."""
    session.install(TORCH)
    session.install("-e", ".[torch,demo]")
    install_groups(session, "test")
    session.run(
        "pytest", "tests", "--backend", "torch", *NOT_HERE, *PYTEST_OPTIONS, *session.posargs
    )


@nox.session(default=True)
def optax(session: nox.Session) -> None:
    """The core on jax.numpy, radam_optax, and the optax.radam peer."""
    session.install("-e", ".[optax]")
    install_groups(session, "test")
    session.run("pytest", "tests", "--backend", "jax", *NOT_HERE, *PYTEST_OPTIONS, *session.posargs)


def full_environment(session: nox.Session) -> str:
    """The one environment with every backend (torch, TensorFlow, JAX, Keras, optax).

    Keras reads KERAS_BACKEND once per process, so the three Keras sessions and the
    equivalence harness share this environment soundly: it is created once (in
    ``.nox/full``) and each session only checks that its packages are in place.

    Returns:
        Its Python interpreter.
    """
    python = FULL_ENVIRONMENT / "bin" / "python"
    if not python.exists():
        session.run(sys.executable, "-m", "venv", str(FULL_ENVIRONMENT), external=True)
    pip = (str(python), "-m", "pip", "install", "--quiet")
    session.run(*pip, TORCH, external=True)
    test = nox.project.dependency_groups(PYPROJECT, "test")
    session.run(*pip, TENSORFLOW, "-e", ".[torch,keras,jax,optax]", *test, external=True)
    return str(python)


def _keras_session(backend: str) -> None:
    def run(session: nox.Session) -> None:
        python = full_environment(session)
        session.run(
            python,
            "-m",
            "pytest",
            "tests/keras_backends",
            *PYTEST_OPTIONS,
            *session.posargs,
            env={"KERAS_BACKEND": backend},
            external=True,
        )

    run.__doc__ = f"radam_keras on Keras's {backend} backend (KERAS_BACKEND={backend})."
    nox.session(run, name=f"keras-{backend}", venv_backend="none", default=True)


for _backend in ("tensorflow", "jax", "torch"):
    _keras_session(_backend)


@nox.session(venv_backend="none", default=True)
def equivalence(session: nox.Session) -> None:
    """The float64 oracle against every implementation (the report), and the snapshot matrix.

    The report runs the same seeded problems through every implementation; then the harness's
    own tests, and a run saved in each framework resumed in each other one. The report's
    problems run their quick lengths (40, 40 and 100 steps), which keeps CI within its time;
    ``nox -s equivalence -- --full`` runs the full ones (200, 300 and 1000 steps). Other
    arguments go to ``python -m tests.equivalence``.
    """
    python = full_environment(session)
    arguments = list(session.posargs)
    length = [] if "--full" in arguments else ["--quick"]
    arguments = [argument for argument in arguments if argument != "--full"]
    session.run(python, "-m", "tests.equivalence", *length, *arguments, external=True)
    tests = "harness or snapshot_matrix"
    session.run(python, "-m", "pytest", "tests/equivalence", "-k", tests, external=True)


@nox.session(default=True)
def docs(session: nox.Session) -> None:
    """The documentation site: mkdocs --strict, no raw Sphinx role, wrapped signatures."""
    # The project only for tests/conftest.py's imports: mkdocstrings reads the sources.
    session.install("-e", ".")
    install_groups(session, "docs", "test")
    session.run("pytest", "tests/test_docs_site.py", "--backend", "docs", *session.posargs)


@nox.session(default=False)
def recipes(session: nox.Session) -> None:
    """docs/recipes.md's Hugging Face Trainer, Lightning, LightningCLI, Flax NNX and Orbax code."""
    session.install(TORCH)
    session.install(TORCH, "-e", ".[torch,optax]", *RECIPE_FRAMEWORKS)
    install_groups(session, "test")
    session.run(
        "pytest",
        "tests",
        "--backend",
        "recipes",
        *NOT_HERE,
        *PYTEST_OPTIONS,
        *session.posargs,
        env={"HF_HUB_OFFLINE": "1"},  # nothing from the Hugging Face Hub
    )


@nox.session(name="recipes-timm", default=False)
def recipes_timm(session: nox.Session) -> None:
    """docs/recipes.md's timm code and radam_torch.register_with_timm, on torch 2.14.1."""
    session.install(*TIMM_TORCH)
    session.install(*TIMM_TORCH, "timm", "-e", ".[torch]")
    install_groups(session, "test")
    session.run(
        "pytest", "tests", "--backend", "timm", *NOT_HERE, *PYTEST_OPTIONS, *session.posargs
    )


GPU_FRAMEWORKS = {
    "torch": ("torch",),
    "jax": ("jax[cuda12]", "optax"),
    "tensorflow": ("tensorflow[and-cuda]", "keras"),
    "cupy": ("cupy-cuda12x",),
}


@nox.session(default=False)
@nox.parametrize("framework", list(GPU_FRAMEWORKS))
def gpu(session: nox.Session, framework: str) -> None:
    """The equivalence harness on a CUDA device, one framework per session; skips without one."""
    device = _cuda_device()
    if device is None:
        session.skip("no CUDA device here (nvidia-smi lists none): the GPU sessions need one")
    session.log(f"CUDA device: {device}")
    session.install(*GPU_FRAMEWORKS[framework])
    session.install("-e", ".")
    install_groups(session, "test")
    session.run("python", "-m", "tests.equivalence", "--device", "cuda", "--only", framework)
    if framework == "torch":
        session.run("pytest", "tests/test_radam_torch.py", "tests/test_radam_torch_compile.py")


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """The benchmark harness: step times as ratios to a naive step and to memory bandwidth."""
    session.install(TORCH)
    session.install(TENSORFLOW, "-e", ".[torch,keras,jax,optax]")
    session.run("python", "-m", "benchmarks", *session.posargs)


def _cuda_device() -> str | None:
    """The first GPU ``nvidia-smi -L`` lists, or None."""
    if shutil.which("nvidia-smi") is None or os.environ.get("CUDA_VISIBLE_DEVICES") == "":
        return None
    listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=False)
    lines = [line for line in listed.stdout.splitlines() if line.startswith("GPU")]
    return lines[0] if listed.returncode == 0 and lines else None
