"""``radam convert``'s ``.keras`` files: a model saved by ``model.save`` with its optimizer.

The model must have been compiled with [`radam_keras.RAdam`][radam_keras.RAdam], or with
[`radam_keras.Ranger`][radam_keras.Ranger] or [`Lookahead`][radam_keras.Lookahead] around
``RAdam``, whose slow weights and Lookahead's count (and k and alpha, from the optimizer's
config) move too. It is loaded with ``keras.saving.load_model`` on the backend
``KERAS_BACKEND`` names (Keras's default otherwise), and its optimizer's state read with
[`export_state`][radam_keras.RAdam.export_state] (``Lookahead``'s
[`export_state`][radam_keras.lookahead.Lookahead.export_state]) or replaced with
[`import_state`][radam_keras.RAdam.import_state] (likewise): a snapshot with Lookahead's
state goes only into a model compiled with a Lookahead of the same k (which keeps its own
alpha), a snapshot without into one compiled with RAdam alone. Parameters are named by the loaded
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
    """The RAdam (or Lookahead) state of the optimizer of the model saved in ``path``.

    Raises:
        ValueError: Not a ``.keras`` file Keras loads, or its optimizer is not radam_keras's
            RAdam, Ranger or Lookahead around RAdam.
    """
    model = _load(path)
    return _optimizer(model, path).export_state(model.trainable_variables)


def write(snapshot: Snapshot, path: Path, into: Path) -> None:
    """Write a copy of the model saved in ``into`` to ``path``, its optimizer state the snapshot's.

    The model's optimizer keeps its own hyperparameters (and a Lookahead its alpha); its
    count and moments (and slow weights, and Lookahead's count) become the snapshot's.
    ``into`` may be a model saved before its first step (Keras then builds the optimizer
    when it loads the file).

    Raises:
        ValueError: ``into`` is not a ``.keras`` file with a radam_keras optimizer, or the
            snapshot does not fit it (names, shapes, conventions, counts, Lookahead's state
            where it has none or none where it has one, another k).
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
    """The model's radam_keras ``RAdam``, or ``Lookahead`` around one (``Ranger``)."""
    optimizer = getattr(model, "optimizer", None)
    inner = getattr(optimizer, "inner_optimizer", None)
    if isinstance(optimizer, radam_keras.RAdam) or (
        isinstance(optimizer, radam_keras.Lookahead) and isinstance(inner, radam_keras.RAdam)
    ):
        return optimizer
    found = "no optimizer" if optimizer is None else type(optimizer).__name__
    if isinstance(optimizer, radam_keras.Lookahead):
        found = f"Lookahead({type(inner).__name__})"
    raise ValueError(
        f"{path} holds a model compiled with {found}, not radam_keras.RAdam, Ranger or "
        "Lookahead(RAdam)"
    )
