"""A framework-neutral snapshot of RAdam's state, and the file that holds it.

Every adapter keeps the same things in its framework's own format; a snapshot holds them once,
as NumPy arrays keyed by each parameter's name (torch's ``named_parameters``, a Keras
variable's path, an optax pytree path), so that a run saved in one framework resumes in
another. Per parameter, a [`ParameterState`][radam_core.snapshot.ParameterState]: the steps
it has taken, ``count = t - 1`` before step t, and m_t, v_t (and max v with amsgrad); for all
of them, the [`Hyperparameters`][radam_core.Hyperparameters], conventions included. Around
Lookahead (Ranger), also each parameter's slow weights phi and Lookahead's
[`LookaheadPosition`][radam_core.snapshot.LookaheadPosition]: k, alpha, and the fast steps
taken since the last sync.

Complex parameters come in two conventions, which are two different algorithms, so a state
moves only between optimizers of the same one:

- torch's: a complex tensor is its real view, each real and imaginary part a coordinate with
  its own v. Its state is the real view's, shape ``(*shape, 2)``, as a real parameter's.
- optax's (and radam_core's, radam_numpy's and radam_keras's): v is the average of
  ``|g|^2``, one real number per complex element. The snapshot marks such a parameter
  ([`ParameterState.is_complex`][radam_core.snapshot.ParameterState]) and holds m (and phi)
  as real views, shape ``(*shape, 2)``, and v (and max v) as real arrays of the parameter's
  shape.

The file is in the safetensors layout, which the ``safetensors`` package reads too:

- 8 bytes: ``N``, the header's length, an unsigned little-endian 64-bit integer;
- ``N`` bytes: a JSON header mapping each array's name, ``"{parameter}/{slot}"``, to its
  ``dtype`` (``F16``, ``F32`` or ``F64``), ``shape`` and ``data_offsets`` in the data, and
  ``"__metadata__"`` to ``{"format": "radam-snapshot", "version": "1", "hyperparameters":
  JSON, "counts": JSON}`` (and ``"lookahead": JSON``, ``{"k": k, "alpha": alpha, "count":
  c}``, with the slot ``slow`` for every parameter, around Lookahead; and ``"complex":
  JSON``, the list of the parameters in optax's complex convention, if any);
- the arrays' bytes, little-endian and in C order, back to back.

A file that is cut short or is not a snapshot raises a ``ValueError`` that says so; loading
reads the whole file before it returns anything.
"""

from __future__ import annotations

import dataclasses
import json
import math
import struct
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from radam_core.hyperparameters import CONVENTION_FIELDS, Hyperparameters
from radam_core.lookahead import check_lookahead

FORMAT = "radam-snapshot"
VERSION = "1"
SLOTS = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq", "slow")
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
        slow: phi, Lookahead's slow weights, around Lookahead; else None.
        is_complex: Whether the parameter is complex in optax's convention (see the module):
            then ``exp_avg`` and ``slow`` are real views, shape ``(*shape, 2)``, and
            ``exp_avg_sq`` and ``max_exp_avg_sq`` real arrays of the parameter's shape.
    """

    count: int
    exp_avg: np.ndarray
    exp_avg_sq: np.ndarray
    max_exp_avg_sq: np.ndarray | None = None
    slow: np.ndarray | None = None
    is_complex: bool = False

    @classmethod
    def of_complex(
        cls,
        count: int,
        exp_avg: np.ndarray,
        exp_avg_sq: np.ndarray,
        max_exp_avg_sq: np.ndarray | None = None,
        slow: np.ndarray | None = None,
    ) -> ParameterState:
        """The neutral form of a complex parameter's state in optax's convention.

        Args:
            count: Steps taken.
            exp_avg: m, complex.
            exp_avg_sq: v, complex with a zero imaginary part, or real.
            max_exp_avg_sq: max v with amsgrad (like v), else None.
            slow: phi (complex) around Lookahead, else None.

        Returns:
            The state with ``is_complex`` set, in real arrays (see the class).
        """
        return cls(
            count,
            _pairs(exp_avg),
            np.array(np.real(exp_avg_sq)),
            None if max_exp_avg_sq is None else np.array(np.real(max_exp_avg_sq)),
            None if slow is None else _pairs(slow),
            is_complex=True,
        )

    def complex_slots(self) -> dict[str, np.ndarray]:
        """The arrays of an ``is_complex`` state back in complex form, by slot name.

        Returns:
            m and phi complex, v and max v complex with a zero imaginary part (as optax
            keeps them), of the complex dtype of the stored real one.
        """
        dtype = np.result_type(self.exp_avg.dtype, np.complex64)
        arrays = {}
        for slot, array in self.slots().items():
            if slot in ("exp_avg", "slow"):
                arrays[slot] = (array[..., 0] + 1j * array[..., 1]).astype(dtype)
            else:
                arrays[slot] = array.astype(dtype)
        return arrays

    def slots(self) -> dict[str, np.ndarray]:
        """The arrays by slot name (``max_exp_avg_sq`` with amsgrad, ``slow`` with Lookahead)."""
        arrays = {"exp_avg": self.exp_avg, "exp_avg_sq": self.exp_avg_sq}
        if self.max_exp_avg_sq is not None:
            arrays["max_exp_avg_sq"] = self.max_exp_avg_sq
        if self.slow is not None:
            arrays["slow"] = self.slow
        return arrays


@dataclasses.dataclass(frozen=True)
class LookaheadPosition:
    """Lookahead's settings, and where the run stands in its cycle of k fast steps.

    Attributes:
        k: The sync period, an int ``>= 1``.
        alpha: The slow step size, in ``[0, 1]``.
        count: Fast steps taken since the last sync (or the start), ``c`` in ``[0, k)``: the
            next sync comes after ``k - c`` more steps.

    Raises:
        TypeError, ValueError: An invalid k or alpha, or a count outside ``[0, k)``.
    """

    k: int
    alpha: float
    count: int

    def __post_init__(self) -> None:
        check_lookahead(self.k, self.alpha)
        if not isinstance(self.count, int) or isinstance(self.count, bool):
            raise TypeError(f"Lookahead's count must be an int, got {self.count!r}")
        if not 0 <= self.count < self.k:
            raise ValueError(f"Lookahead's count must be in [0, k={self.k}), got {self.count}")


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """An optimizer's state, keyed by parameter name.

    Attributes:
        hyperparameters: The optimizer's hyperparameters (with a 0-d array ``lr`` as a float).
        parameters: Each parameter's state, by name, in the optimizer's order.
        lookahead: Around Lookahead, its settings and position (and every parameter has its
            ``slow`` weights); else None.
    """

    hyperparameters: Hyperparameters
    parameters: Mapping[str, ParameterState]
    lookahead: LookaheadPosition | None = None

    def inner(self) -> Snapshot:
        """The inner optimizer's part: this snapshot without Lookahead's state.

        Returns:
            The same hyperparameters and moments, without slow weights and position.
        """
        parameters = {
            name: dataclasses.replace(state, slow=None) for name, state in self.parameters.items()
        }
        return Snapshot(self.hyperparameters, parameters)

    def with_lookahead(
        self, lookahead: LookaheadPosition, slow: Mapping[str, np.ndarray]
    ) -> Snapshot:
        """This (inner optimizer's) snapshot with Lookahead's state added.

        Args:
            lookahead: Lookahead's k, alpha and count.
            slow: phi for every parameter, by name (a complex phi is stored as its real
                view, shape ``(*shape, 2)``).

        Returns:
            The snapshot of the Lookahead optimizer.
        """
        parameters = {
            name: dataclasses.replace(
                state, slow=_pairs(slow[name]) if np.iscomplexobj(slow[name]) else slow[name]
            )
            for name, state in self.parameters.items()
        }
        return Snapshot(self.hyperparameters, parameters, lookahead)

    def check(
        self,
        shapes: Mapping[str, tuple[tuple[int, ...], Any]],
        hyperparameters: Hyperparameters,
        *,
        k: int | None = None,
        complex_names: Collection[str] = (),
    ) -> None:
        """Raise unless this snapshot fits an optimizer with these parameters and conventions.

        Args:
            shapes: The optimizer's parameters: ``name -> (shape, dtype)``, the dtype its
                state is kept in (a NumPy dtype or its name); for a complex parameter in
                optax's convention, its shape and real dtype.
            hyperparameters: The optimizer's hyperparameters; the seven convention fields
                must equal the snapshot's (lr, betas, eps and weight decay may differ).
            k: Lookahead's sync period, for a Lookahead optimizer; None for RAdam alone. A
                Lookahead snapshot fits only a Lookahead of the same k (its count is a
                position in the k-cycle); alpha may differ.
            complex_names: The parameters that are complex in optax's convention.

        Raises:
            ValueError: Missing or extra parameters, a shape or a dtype that differs, a
                convention that differs, Lookahead's state where there is no Lookahead (or
                none where there is one, or another k), a complex parameter that is not
                complex in the same convention; every mismatch is named.
        """
        problems = self._lookahead_problems(k)
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
            wanted_complex = name in complex_names
            if state.is_complex != wanted_complex:
                problems.append(
                    f"{name} is {_complex_form(state.is_complex)} in the snapshot, "
                    f"{_complex_form(wanted_complex)} here"
                )
                continue
            for slot, array in state.slots().items():
                paired = wanted_complex and slot in ("exp_avg", "slow")
                expected = (*shape, 2) if paired else tuple(shape)
                if tuple(array.shape) != expected:
                    problems.append(f"{name}/{slot} has shape {array.shape}, expected {expected}")
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

    def _lookahead_problems(self, k: int | None) -> list[str]:
        """What in Lookahead's state does not fit an optimizer with this k (None: none)."""
        saved = self.lookahead
        if saved is None and k is not None:
            return [
                f"the optimizer is a Lookahead (k={k}), but the snapshot holds no Lookahead "
                "state (slow weights, position in the k-cycle)"
            ]
        if saved is not None and k is None:
            return [
                f"the snapshot holds Lookahead's state (k={saved.k}), but the optimizer is not "
                "a Lookahead (snapshot.inner() is the inner optimizer's part)"
            ]
        if saved is not None and saved.k != k:
            return [f"Lookahead's k is {saved.k} in the snapshot, {k} here"]
        lacking = [name for name, s in self.parameters.items() if (s.slow is None) != (k is None)]
        if lacking:
            return [f"parameters {lacking} {'lack' if k is not None else 'have'} slow weights"]
        return []


def _pairs(z: np.ndarray) -> np.ndarray:
    """A complex array's real view, shape ``(*shape, 2)``: real and imaginary parts."""
    return np.stack([z.real, z.imag], axis=-1)


def _complex_form(is_complex: bool) -> str:
    if is_complex:
        return "complex in optax's convention (v of |g|^2)"
    return "real (or complex in torch's convention, as real pairs)"


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
    if snapshot.lookahead is not None:
        header["__metadata__"]["lookahead"] = json.dumps(dataclasses.asdict(snapshot.lookahead))
    complex_names = [name for name, s in snapshot.parameters.items() if s.is_complex]
    if complex_names:
        header["__metadata__"]["complex"] = json.dumps(complex_names)
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
    complex_names = _json(metadata.get("complex", "[]"), "complex", where)
    parameters = {}
    for name, count in counts.items():
        slots = arrays[name]
        if "exp_avg" not in slots or "exp_avg_sq" not in slots:
            raise ValueError(f"{where} lacks {name}'s exp_avg or exp_avg_sq")
        parameters[name] = ParameterState(
            count,
            slots["exp_avg"],
            slots["exp_avg_sq"],
            slots.get("max_exp_avg_sq"),
            slots.get("slow"),
            is_complex=name in complex_names,
        )
    fields = _json(metadata["hyperparameters"], "hyperparameters", where)
    lookahead = None
    if "lookahead" in metadata:
        try:
            lookahead = LookaheadPosition(**_json(metadata["lookahead"], "lookahead", where))
        except ValueError as error:
            raise ValueError(f"{where} holds an invalid Lookahead state: {error}") from error
    with_slow = [name for name, state in parameters.items() if state.slow is not None]
    if len(with_slow) != (0 if lookahead is None else len(counts)):
        raise ValueError(f"{where} holds slow weights for {with_slow} of {list(counts)}")
    return Snapshot(Hyperparameters(**_tuples(fields)), parameters, lookahead)


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
