"""The README's Keras example runs and prints on this process's Keras backend."""

import os

import pytest

from tests.markdown_code import README, fenced_blocks, framework_of
from tests.test_readme import assert_ran_and_printed, run_example

keras = pytest.importorskip("keras")


def test_readme_keras_example_runs_and_prints(tmp_path):
    (code,) = [b for b in fenced_blocks(README, "python") if framework_of(b) == "keras"]
    result = run_example(code, tmp_path)
    assert_ran_and_printed(
        result, f"the README's Keras example on {os.environ.get('KERAS_BACKEND')}"
    )
    assert result.stdout.startswith(keras.backend.backend())
