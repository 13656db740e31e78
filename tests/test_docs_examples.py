"""The tutorials' code runs: each page's Python blocks, in order, in one namespace.

The Keras page runs in tests/keras_backends, once per backend.
"""

import textwrap

import pytest

from tests.markdown_code import ROOT, fenced_blocks

TUTORIALS = ROOT / "docs" / "tutorials"
PAGES = {"numpy.md": None, "torch.md": "torch", "optax.md": "optax"}  # page -> package needed


def tutorial_blocks(page: str) -> list[str]:
    """The fenced Python blocks of ``docs/tutorials/<page>``, in order."""
    return fenced_blocks(TUTORIALS / page, "python")


@pytest.mark.parametrize(
    "page",
    [
        "numpy.md",
        pytest.param("torch.md", marks=pytest.mark.backend("torch")),
        pytest.param("optax.md", marks=pytest.mark.backend("jax")),
    ],
)
def test_tutorial_code_runs(page, tmp_path, monkeypatch):
    if PAGES[page] is not None:
        pytest.importorskip(PAGES[page])
    blocks = tutorial_blocks(page)
    assert blocks, f"{page} has no Python code"
    monkeypatch.chdir(tmp_path)  # examples that save files write here
    namespace: dict = {}
    for block in blocks:
        exec(compile(textwrap.dedent(block), f"docs/tutorials/{page}", "exec"), namespace)
