"""``radam convert``'s ``.keras`` files: a model saved by ``model.save`` with its optimizer.

The model must have been compiled with [`radam_keras.RAdam`][radam_keras.RAdam]. It is
loaded with ``keras.saving.load_model`` on the backend ``KERAS_BACKEND`` names (Keras's
default otherwise), and its optimizer's state read with
[`export_state`][radam_keras.RAdam.export_state] or replaced with
[`import_state`][radam_keras.RAdam.import_state]: parameters are named by the loaded
model's variable paths (``model.trainable_variables``; a model loaded from a file names them
without a ``Sequential`` model's own name, such as ``dense/kernel``). A custom layer the
model uses must be registered with Keras (``keras.saving.register_keras_serializable``) in
code that runs before the load, as for any ``load_model``. A model saved before its
optimizer's first step has no optimizer state in the file: it reads as step 0, and it is a
model to write a state into.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import keras
import radam_keras

from radam_cli.convert_files import first_line, replacing
from radam_core import Snapshot


def read(path: Path) -> Snapshot:
    """The RAdam state of the optimizer of the model saved in ``path``.

    Raises:
        ValueError: Not a ``.keras`` file Keras loads, or its optimizer is not radam_keras's.
    """
    model = _load(path)
    return _optimizer(model, path).export_state(model.trainable_variables)


def write(snapshot: Snapshot, path: Path, into: Path) -> None:
    """Write a copy of the model saved in ``into`` to ``path``, its optimizer state the snapshot's.

    The model's optimizer keeps its own hyperparameters; its count and moments become the
    snapshot's. ``into`` may be a model saved before its first step (Keras then builds the
    optimizer when it loads the file).

    Raises:
        ValueError: ``into`` is not a ``.keras`` file with a radam_keras optimizer, or the
            snapshot does not fit it (names, shapes, conventions, counts).
    """
    model = _load(into)
    _optimizer(model, into).import_state(snapshot, model.trainable_variables)
    with replacing(path) as temporary:
        model.save(temporary)


def _load(path: Path) -> Any:
    try:
        with warnings.catch_warnings():
            # A model saved before its optimizer's first step has no optimizer variables to
            # load: Keras builds them (zeros, iterations 0, the state such a model has) and
            # warns that it skips loading them.
            warnings.filterwarnings("ignore", "Skipping variable loading for optimizer")
            return keras.saving.load_model(path)
    except Exception as error:  # Keras raises many kinds for a file it cannot read
        raise ValueError(
            f"{path} is not a .keras file that keras.saving.load_model reads: {first_line(error)}"
        ) from None


def _optimizer(model: Any, path: Path) -> Any:
    optimizer = getattr(model, "optimizer", None)
    if not isinstance(optimizer, radam_keras.RAdam):
        found = "no optimizer" if optimizer is None else type(optimizer).__name__
        raise ValueError(
            f"{path} holds a model compiled with {found}, not radam_keras.RAdam (Lookahead's "
            "state is not in a snapshot yet)"
        )
    return optimizer
