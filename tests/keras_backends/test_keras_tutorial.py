"""docs/tutorials/keras.md's code runs on this process's Keras backend."""

import textwrap

import pytest

from tests.markdown_code import ROOT, fenced_blocks

keras = pytest.importorskip("keras")
PAGE = ROOT / "docs" / "tutorials" / "keras.md"

# keras.ops.convert_to_numpy (in export_state) and Layer.get_weights, Keras's public host
# copies, call np.array on a backend tensor or variable whose __array__ takes no copy keyword,
# which NumPy 2 warns about: Keras's warning, not the page's.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)


def test_keras_tutorial_code_runs(tmp_path, monkeypatch):
    blocks = fenced_blocks(PAGE, "python")
    assert blocks
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(textwrap.dedent(block), "docs/tutorials/keras.md", "exec"), namespace)
