"""docs/tutorials/keras.md's code runs on this process's Keras backend."""

import re
import textwrap
from pathlib import Path

import pytest

keras = pytest.importorskip("keras")
PAGE = Path(__file__).resolve().parents[2] / "docs" / "tutorials" / "keras.md"


def test_keras_tutorial_code_runs(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S)
    assert blocks
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(textwrap.dedent(block), "docs/tutorials/keras.md", "exec"), namespace)
