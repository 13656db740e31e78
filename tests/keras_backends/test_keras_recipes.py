"""docs/recipes.md's Keras callbacks recipe runs on this process's Keras backend.

BackupAndRestore and ModelCheckpoint resume a radam_keras run exactly: each resumed model ends
with the weights of the same run without the interruption, bit for bit.
"""

import textwrap

import numpy as np
import pytest

from tests.markdown_code import ROOT, section_blocks

keras = pytest.importorskip("keras")
PAGE = ROOT / "docs" / "recipes.md"


# keras.saving, here through ModelCheckpoint and load_model, does np.array(variable), which
# NumPy 2 warns about on the TensorFlow and torch backends: Keras's warning, not radam_keras's.
@pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)
def test_keras_callbacks_resume_a_radam_keras_run_exactly(tmp_path, monkeypatch):
    from radam_keras import RAdam

    monkeypatch.chdir(tmp_path)
    setup, backup_and_restore, model_checkpoint = section_blocks(PAGE, "Keras callbacks", "python")
    namespace: dict = {}
    for block in (setup, backup_and_restore, model_checkpoint):
        exec(compile(textwrap.dedent(block), str(PAGE), "exec"), namespace)

    uninterrupted = namespace["build_model"]()
    uninterrupted.fit(epochs=4, **namespace["fit_args"])
    for resumed in (namespace["model"], namespace["restored"]):
        assert resumed.history.epoch == [2, 3]  # resumed: only the last two epochs run
        assert isinstance(resumed.optimizer, RAdam)
        assert int(resumed.optimizer.iterations) == 32  # 4 epochs of 8 batches
        for weight, expected in zip(
            resumed.get_weights(), uninterrupted.get_weights(), strict=True
        ):
            assert np.array_equal(weight, expected)
