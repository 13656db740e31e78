"""docs/tutorials/keras.md's code runs on this process's Keras backend."""

import textwrap

import pytest

from tests.markdown_code import ROOT, fenced_blocks

keras = pytest.importorskip("keras")
PAGE = ROOT / "docs" / "tutorials" / "keras.md"


def test_keras_tutorial_code_runs(tmp_path, monkeypatch):
    blocks = fenced_blocks(PAGE, "python")
    assert blocks
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(textwrap.dedent(block), "docs/tutorials/keras.md", "exec"), namespace)
