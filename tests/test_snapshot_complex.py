"""Complex parameters in the framework-neutral snapshot (radam_numpy, optax's convention).

optax's convention (v of |g|^2, one real number per complex element) is marked in the file:
m and phi as real views ``(*shape, 2)``, v as a real array of the parameter's shape. A run
resumed from the file equals the uninterrupted one bit for bit. torch's convention (a complex
tensor as real pairs) is a different algorithm: a state in one is refused by the other.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

import radam_numpy
from radam_core import load_snapshot, save_snapshot

NAMES = ["phase", "bias"]


def _params() -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    return [rng.normal(size=(3, 2)) + 1j * rng.normal(size=(3, 2)), rng.normal(size=4)]


def _grads(params: list[np.ndarray], t: int) -> list[np.ndarray]:
    return [np.sin(p + 0.1 * t) + (0.3j * p if np.iscomplexobj(p) else 0) for p in params]


def _run(opt, first: int, last: int) -> None:
    for t in range(first, last + 1):
        opt.step(_grads(opt.params, t))


@pytest.mark.parametrize("kind", ["radam", "amsgrad", "ranger"])
def test_a_complex_run_resumes_exactly_from_the_file(tmp_path: Path, kind: str) -> None:
    def make(params: list[np.ndarray]):
        if kind == "ranger":
            return radam_numpy.Ranger(params, lr=0.05, k=5, alpha=0.6)
        return radam_numpy.RAdam(params, lr=0.05, amsgrad=kind == "amsgrad")

    uninterrupted = make(_params())
    _run(uninterrupted, 1, 16)
    first = make(_params())
    _run(first, 1, 8)
    save_snapshot(first.export_state(NAMES), tmp_path / "c.safetensors")
    resumed = make([p.copy() for p in first.params])
    resumed.import_state(load_snapshot(tmp_path / "c.safetensors"), NAMES)
    _run(resumed, 9, 16)
    for mine, theirs in zip(resumed.params, uninterrupted.params, strict=True):
        assert mine.dtype == theirs.dtype
        np.testing.assert_array_equal(mine, theirs)


def test_the_file_marks_complex_parameters_and_holds_real_arrays(tmp_path: Path) -> None:
    opt = radam_numpy.RAdam(_params(), lr=0.05)
    _run(opt, 1, 3)
    save_snapshot(opt.export_state(NAMES), tmp_path / "c.safetensors")
    raw = (tmp_path / "c.safetensors").read_bytes()
    (length,) = struct.unpack_from("<Q", raw)
    header = json.loads(raw[8 : 8 + length])
    data = raw[8 + length :]
    assert json.loads(header["__metadata__"]["complex"]) == ["phase"]

    def stored(key: str) -> np.ndarray:
        begin, end = header[key]["data_offsets"]
        assert header[key]["dtype"] == "F64"
        return np.frombuffer(data[begin:end], "<f8").reshape(header[key]["shape"])

    m, v = opt.state.exp_avg[0], opt.state.exp_avg_sq[0]
    np.testing.assert_array_equal(stored("phase/exp_avg"), np.stack([m.real, m.imag], -1))
    np.testing.assert_array_equal(stored("phase/exp_avg_sq"), v.real)
    assert np.all(v.imag == 0)
    assert header["bias/exp_avg"]["shape"] == [4]


def test_a_complex_state_does_not_move_to_real_pairs_or_back() -> None:
    complex_opt = radam_numpy.RAdam(_params(), lr=0.05)
    _run(complex_opt, 1, 3)
    pairs = [np.stack([p.real, p.imag], -1) if np.iscomplexobj(p) else p for p in _params()]
    pairs_opt = radam_numpy.RAdam(pairs, lr=0.05)
    _run(pairs_opt, 1, 3)
    before = complex_opt.state
    with pytest.raises(ValueError, match=r"phase is real .*in the snapshot, complex in optax's"):
        complex_opt.import_state(pairs_opt.export_state(NAMES), NAMES)
    assert complex_opt.state is before
    with pytest.raises(ValueError, match=r"phase is complex in optax's convention .* in the snap"):
        pairs_opt.import_state(complex_opt.export_state(NAMES), NAMES)
