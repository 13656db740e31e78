"""nox sessions: ``nox`` runs lint and the test suite; ``nox -s bench`` the benchmarks.

torch is installed as ``torch==2.13.0`` before the project, since a bare ``torch``
requirement would pull a multi-GB CUDA build on machines where the CPU build lies on disk.
"""

import nox

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "venv"
nox.options.error_on_missing_interpreters = True

PYPROJECT = nox.project.load_toml("pyproject.toml")
TORCH = "torch==2.13.0"


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
def tests(session: nox.Session) -> None:
    """The test suite: the core on numpy, array_api_strict, torch and jax; radam_numpy; CLI."""
    session.install(TORCH)
    session.install("-e", ".[torch,jax]", "optax")
    install_groups(session, "test")
    session.run("pytest", *session.posargs)


KERAS_BACKENDS = ("tensorflow", "jax", "torch")


@nox.session(default=True)
def keras(session: nox.Session) -> None:
    """radam_keras on each Keras backend, one process per backend (KERAS_BACKEND).

    One environment serves the three backends: Keras reads KERAS_BACKEND per process.
    """
    session.install(TORCH)
    session.install("-e", ".[torch,keras,jax]", "tensorflow-cpu")
    install_groups(session, "test")
    for backend in KERAS_BACKENDS:
        session.run("pytest", "tests/keras", *session.posargs, env={"KERAS_BACKEND": backend})


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """The benchmark harness: step times as ratios to a naive step and to memory bandwidth."""
    session.install(TORCH)
    session.install("-e", ".[torch]")
    session.run("python", "-m", "benchmarks", *session.posargs)
