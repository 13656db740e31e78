"""A framework-neutral snapshot of RAdam's state, and the file that holds it.

Every adapter keeps the same things in its framework's own format; a snapshot holds them once,
as NumPy arrays keyed by each parameter's name (torch's ``named_parameters``, a Keras
variable's path, an optax pytree path), so that a run saved in one framework resumes in
another. Per parameter, a [`ParameterState`][radam_core.snapshot.ParameterState]: the steps
it has taken, ``count = t - 1`` before step t, and m_t, v_t (and max v with amsgrad); for all
of them, the [`Hyperparameters`][radam_core.Hyperparameters], conventions included.

The file is in the safetensors layout, which the ``safetensors`` package reads too:

- 8 bytes: ``N``, the header's length, an unsigned little-endian 64-bit integer;
- ``N`` bytes: a JSON header mapping each array's name, ``"{parameter}/{slot}"``, to its
  ``dtype`` (``F16``, ``F32`` or ``F64``), ``shape`` and ``data_offsets`` in the data, and
  ``"__metadata__"`` to ``{"format": "radam-snapshot", "version": "1", "hyperparameters":
  JSON, "counts": JSON}``;
- the arrays' bytes, little-endian and in C order, back to back.

A file that is cut short or is not a snapshot raises a ``ValueError`` that says so; loading
reads the whole file before it returns anything.
"""

from __future__ import annotations

import dataclasses
import json
import math
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from radam_core.hyperparameters import CONVENTION_FIELDS, Hyperparameters

FORMAT = "radam-snapshot"
VERSION = "1"
SLOTS = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
DTYPES: dict[str, np.dtype[Any]] = {
    "F16": np.dtype("<f2"),
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
}
_CODES = {dtype: code for code, dtype in DTYPES.items()}
_HEADER_LENGTH = struct.Struct("<Q")


@dataclasses.dataclass(frozen=True)
class ParameterState:
    """One parameter's RAdam state, framework-neutral.

    Attributes:
        count: Steps this parameter has taken: ``t - 1`` before step t.
        exp_avg: m, as a NumPy array of the parameter's shape.
        exp_avg_sq: v, likewise.
        max_exp_avg_sq: max(v_1, ..., v_t) with amsgrad, else None.
    """

    count: int
    exp_avg: np.ndarray
    exp_avg_sq: np.ndarray
    max_exp_avg_sq: np.ndarray | None = None

    def slots(self) -> dict[str, np.ndarray]:
        """The arrays by slot name (``max_exp_avg_sq`` only with amsgrad)."""
        arrays = {"exp_avg": self.exp_avg, "exp_avg_sq": self.exp_avg_sq}
        if self.max_exp_avg_sq is not None:
            arrays["max_exp_avg_sq"] = self.max_exp_avg_sq
        return arrays


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """An optimizer's state, keyed by parameter name.

    Attributes:
        hyperparameters: The optimizer's hyperparameters (with a 0-d array ``lr`` as a float).
        parameters: Each parameter's state, by name, in the optimizer's order.
    """

    hyperparameters: Hyperparameters
    parameters: Mapping[str, ParameterState]

    def check(
        self, shapes: Mapping[str, tuple[tuple[int, ...], Any]], hyperparameters: Hyperparameters
    ) -> None:
        """Raise unless this snapshot fits an optimizer with these parameters and conventions.

        Args:
            shapes: The optimizer's parameters: ``name -> (shape, dtype)``, the dtype its
                state is kept in (a NumPy dtype or its name).
            hyperparameters: The optimizer's hyperparameters; the seven convention fields
                must equal the snapshot's (lr, betas, eps and weight decay may differ).

        Raises:
            ValueError: Missing or extra parameters, a shape or a dtype that differs, a
                convention that differs; every mismatch is named.
        """
        problems = []
        missing = [name for name in shapes if name not in self.parameters]
        extra = [name for name in self.parameters if name not in shapes]
        if missing:
            problems.append(f"missing parameters {missing}")
        if extra:
            problems.append(f"parameters the optimizer does not have {extra}")
        for name, (shape, dtype) in shapes.items():
            state = self.parameters.get(name)
            if state is None:
                continue
            for slot, array in state.slots().items():
                if tuple(array.shape) != tuple(shape):
                    problems.append(f"{name}/{slot} has shape {array.shape}, expected {shape}")
                elif array.dtype != np.dtype(dtype):
                    problems.append(f"{name}/{slot} has dtype {array.dtype}, expected {dtype}")
            if (state.max_exp_avg_sq is not None) != hyperparameters.amsgrad:
                problems.append(
                    f"{name} {'has' if state.max_exp_avg_sq is not None else 'lacks'} "
                    f"max_exp_avg_sq, but the optimizer's amsgrad is {hyperparameters.amsgrad}"
                )
        for field in CONVENTION_FIELDS:
            saved, wanted = getattr(self.hyperparameters, field), getattr(hyperparameters, field)
            if saved != wanted:
                problems.append(f"convention {field} is {saved!r} in the snapshot, {wanted!r} here")
        if problems:
            raise ValueError("the snapshot does not fit this optimizer: " + "; ".join(problems))


def save_snapshot(snapshot: Snapshot, path: str | Path) -> None:
    """Write ``snapshot`` to ``path`` in the safetensors layout (see the module).

    Args:
        snapshot: The snapshot; its arrays are float16, float32 or float64.
        path: The file to write.

    Raises:
        TypeError: An array of another dtype.
    """
    header: dict[str, Any] = {
        "__metadata__": {
            "format": FORMAT,
            "version": VERSION,
            "hyperparameters": json.dumps(_plain(snapshot.hyperparameters)),
            "counts": json.dumps({name: s.count for name, s in snapshot.parameters.items()}),
        }
    }
    chunks, offset = [], 0
    for name, state in snapshot.parameters.items():
        for slot, array in state.slots().items():
            stored = np.asarray(array, dtype=np.asarray(array).dtype.newbyteorder("<"))
            if stored.dtype not in _CODES:
                raise TypeError(
                    f"{name}/{slot} has dtype {stored.dtype}; a snapshot holds "
                    "float16, float32 or float64"
                )
            data = stored.tobytes(order="C")  # any layout, 0-d included
            header[f"{name}/{slot}"] = {
                "dtype": _CODES[stored.dtype],
                "shape": list(stored.shape),
                "data_offsets": [offset, offset + len(data)],
            }
            chunks.append(data)
            offset += len(data)
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)  # the data starts 8-byte aligned, as safetensors writes
    Path(path).write_bytes(_HEADER_LENGTH.pack(len(encoded)) + encoded + b"".join(chunks))


def load_snapshot(path: str | Path) -> Snapshot:
    """Read a snapshot written by [`save_snapshot`][radam_core.snapshot.save_snapshot].

    Args:
        path: The file.

    Returns:
        The [`Snapshot`][radam_core.snapshot.Snapshot], its arrays NumPy arrays of their own.

    Raises:
        ValueError: The file is cut short, is not a radam snapshot, or is inconsistent.
    """
    raw = Path(path).read_bytes()
    try:
        return _parse(raw, str(path))
    except (KeyError, TypeError, AttributeError) as error:
        raise ValueError(
            f"{path} is not a readable radam snapshot ({type(error).__name__}: {error})"
        ) from error


def _parse(raw: bytes, where: str) -> Snapshot:
    """The snapshot in ``raw``; a ValueError names what is wrong with the file ``where``."""
    if len(raw) < _HEADER_LENGTH.size:
        raise ValueError(f"{where} is cut short: {len(raw)} bytes, not even a header length")
    (length,) = _HEADER_LENGTH.unpack_from(raw)
    start = _HEADER_LENGTH.size + length
    if len(raw) < start:
        raise ValueError(f"{where} is cut short: its header needs {start} bytes, it has {len(raw)}")
    header = _json(raw[_HEADER_LENGTH.size : start], "header", where)
    metadata = header.pop("__metadata__")
    if metadata.get("format") != FORMAT or metadata.get("version") != VERSION:
        raise ValueError(
            f"{where} is not a radam snapshot of version {VERSION}: its metadata says "
            f"format {metadata.get('format')!r}, version {metadata.get('version')!r}"
        )
    data = memoryview(raw)[start:]
    counts: dict[str, int] = _json(metadata["counts"], "counts", where)
    arrays: dict[str, dict[str, np.ndarray]] = {name: {} for name in counts}
    for key, entry in header.items():
        name, _, slot = key.rpartition("/")
        if name not in arrays or slot not in SLOTS or entry.get("dtype") not in DTYPES:
            raise ValueError(f"{where} holds an unexpected array {key!r}")
        begin, end = entry["data_offsets"]
        dtype = DTYPES[entry["dtype"]]
        shape = tuple(entry["shape"])
        if end > len(data):
            raise ValueError(
                f"{where} is cut short: {key} ends at byte {end} of the data, which has {len(data)}"
            )
        if not 0 <= begin <= end or end - begin != dtype.itemsize * math.prod(shape):
            raise ValueError(f"{where}: {key} has bytes {begin} to {end} for shape {shape}")
        array = np.frombuffer(data[begin:end], dtype=dtype).reshape(shape)
        arrays[name][slot] = array.astype(dtype.newbyteorder("="), copy=True)
    parameters = {}
    for name, count in counts.items():
        slots = arrays[name]
        if "exp_avg" not in slots or "exp_avg_sq" not in slots:
            raise ValueError(f"{where} lacks {name}'s exp_avg or exp_avg_sq")
        parameters[name] = ParameterState(
            count, slots["exp_avg"], slots["exp_avg_sq"], slots.get("max_exp_avg_sq")
        )
    fields = _json(metadata["hyperparameters"], "hyperparameters", where)
    return Snapshot(Hyperparameters(**_tuples(fields)), parameters)


def _json(text: str | bytes, what: str, where: str) -> Any:
    try:
        return json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{where} is not a radam snapshot: its {what} is not JSON") from error


def _plain(hyperparameters: Hyperparameters) -> dict[str, Any]:
    """The hyperparameters as JSON values (a 0-d array as the float it holds)."""
    fields = dataclasses.asdict(hyperparameters)
    return {
        key: [float(v) for v in value] if key == "betas" else _number(value)
        for key, value in fields.items()
    }


def _number(value: Any) -> Any:
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    return float(value)


def _tuples(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: tuple(value) if key == "betas" else value for key, value in fields.items()}
