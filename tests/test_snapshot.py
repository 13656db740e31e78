"""The framework-neutral snapshot: its file, its checks, and radam_numpy's export and import
(RAdam, and Lookahead's slow weights and k-cycle position).

The file's layout is parsed here independently, from the format the module documents (an
8-byte little-endian header length, a JSON header, the arrays' little-endian bytes), so a
change of layout fails here. A resumed run must equal the uninterrupted one bit for bit.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

import radam_core
import radam_numpy
from radam_core import LookaheadPosition, ParameterState, Snapshot, load_snapshot, save_snapshot

NAMES = ["encoder/dense/kernel", "head.bias"]
K = 5  # Ranger: a k-cycle the tests cut in the middle


def _params(dtype: str = "float64") -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.normal(size=(3, 4)).astype(dtype), rng.normal(size=5).astype(dtype)]


def _grads(params: list[np.ndarray], t: int) -> list[np.ndarray]:
    return [np.sin(p + 0.1 * t) for p in params]


def _run(opt: radam_numpy.RAdam | radam_numpy.Lookahead, first: int, last: int) -> None:
    for t in range(first, last + 1):
        opt.step(_grads(opt.params, t))


@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_run_resumed_from_the_file_equals_the_uninterrupted_run(
    tmp_path: Path, dtype: str, amsgrad: bool
) -> None:
    uninterrupted = radam_numpy.RAdam(_params(dtype), lr=0.05, amsgrad=amsgrad, weight_decay=0.1)
    _run(uninterrupted, 1, 20)

    first = radam_numpy.RAdam(_params(dtype), lr=0.05, amsgrad=amsgrad, weight_decay=0.1)
    _run(first, 1, 8)  # through the threshold (t = 6 rectifies first)
    save_snapshot(first.export_state(NAMES), tmp_path / "state.safetensors")
    resumed = radam_numpy.RAdam(
        [p.copy() for p in first.params], lr=0.05, amsgrad=amsgrad, weight_decay=0.1
    )
    resumed.import_state(load_snapshot(tmp_path / "state.safetensors"), NAMES)
    assert resumed.state.count == 8
    _run(resumed, 9, 20)
    for mine, theirs in zip(resumed.params, uninterrupted.params, strict=True):
        assert mine.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(mine, theirs)
    for mine, theirs in zip(resumed.state[1:], uninterrupted.state[1:], strict=True):
        for a, b in zip(mine, theirs, strict=True):
            np.testing.assert_array_equal(a, b)


def test_the_file_is_in_the_documented_layout(tmp_path: Path) -> None:
    opt = radam_numpy.RAdam(_params("float32"), preset="optax", lr=0.01)
    _run(opt, 1, 3)
    path = tmp_path / "state.safetensors"
    save_snapshot(opt.export_state(NAMES), path)
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + length])
    data = raw[8 + length :]
    metadata = header.pop("__metadata__")
    assert metadata["format"] == "radam-snapshot"
    assert metadata["version"] == "1"
    assert json.loads(metadata["counts"]) == {name: 3 for name in NAMES}
    saved = json.loads(metadata["hyperparameters"])
    assert saved["eps_placement"] == "corrected"
    assert saved["threshold_inclusive"] is True
    assert saved["lr"] == 0.01
    assert sorted(header) == sorted(f"{n}/{s}" for n in NAMES for s in ("exp_avg", "exp_avg_sq"))
    entry = header["encoder/dense/kernel/exp_avg_sq"]
    assert entry["dtype"] == "F32"
    assert entry["shape"] == [3, 4]
    begin, end = entry["data_offsets"]
    stored = np.frombuffer(data[begin:end], dtype="<f4").reshape(3, 4)
    np.testing.assert_array_equal(stored, opt.state.exp_avg_sq[0])
    assert (8 + length) % 8 == 0


def test_the_snapshot_keeps_the_hyperparameters_and_names(tmp_path: Path) -> None:
    opt = radam_numpy.RAdam(_params(), preset="authors", lr=0.02, betas=(0.8, 0.99))
    _run(opt, 1, 2)
    save_snapshot(opt.export_state(NAMES), tmp_path / "s")
    loaded = load_snapshot(tmp_path / "s")
    assert loaded.hyperparameters == opt.hyperparameters
    assert list(loaded.parameters) == NAMES
    assert all(s.count == 2 for s in loaded.parameters.values())


def test_a_0d_parameter_keeps_its_shape(tmp_path: Path) -> None:
    opt = radam_numpy.RAdam([np.array(1.5), np.zeros(2)], lr=0.1)
    opt.step([np.array(0.5), np.ones(2)])
    save_snapshot(opt.export_state(["scale", "bias"]), tmp_path / "s")
    loaded = load_snapshot(tmp_path / "s")
    assert loaded.parameters["scale"].exp_avg.shape == ()
    np.testing.assert_array_equal(loaded.parameters["scale"].exp_avg_sq, opt.state.exp_avg_sq[0])
    resumed = radam_numpy.RAdam([np.array(1.5), np.zeros(2)], lr=0.1)
    resumed.import_state(loaded, ["scale", "bias"])
    assert resumed.state.count == 1


def _saved(tmp_path: Path) -> Path:
    opt = radam_numpy.RAdam(_params(), lr=0.05)
    _run(opt, 1, 3)
    path = tmp_path / "state.safetensors"
    save_snapshot(opt.export_state(NAMES), path)
    return path


@pytest.mark.parametrize("keep", [0, 5, 20, -1, -100])
def test_a_file_cut_short_is_refused(tmp_path: Path, keep: int) -> None:
    path = _saved(tmp_path)
    raw = path.read_bytes()
    path.write_bytes(raw[:keep])
    with pytest.raises(ValueError, match="is cut short"):
        load_snapshot(path)


def test_a_file_that_is_not_a_snapshot_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.safetensors"
    header = json.dumps({"__metadata__": {"format": "pt"}}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    with pytest.raises(ValueError, match="is not a radam snapshot of version 1"):
        load_snapshot(path)
    path.write_bytes(struct.pack("<Q", 4) + b"\xff\xfe{]")
    with pytest.raises(ValueError, match="is not a radam snapshot: its header is not JSON"):
        load_snapshot(path)
    for header in (
        {"x": 1},  # no metadata
        {"__metadata__": {"format": "radam-snapshot", "version": "1"}},  # no counts
        {"__metadata__": "radam"},  # metadata that is not a mapping
    ):
        encoded = json.dumps(header).encode()
        path.write_bytes(struct.pack("<Q", len(encoded)) + encoded)
        with pytest.raises(ValueError, match="is not a readable radam snapshot"):
            load_snapshot(path)


def test_a_file_whose_arrays_do_not_add_up_is_refused(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + length])
    header["head.bias/exp_avg"]["shape"] = [6]
    encoded = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + raw[8 + length :])
    with pytest.raises(
        ValueError, match=r"head.bias/exp_avg has bytes \d+ to \d+ for shape \(6,\)"
    ):
        load_snapshot(path)


def _mismatch(snapshot: Snapshot, **changes: object) -> Snapshot:
    parameters = dict(snapshot.parameters)
    for name, state in changes.items():
        if state is None:
            del parameters[name.replace("__", "/")]
        else:
            parameters[name.replace("__", "/")] = state  # type: ignore[assignment]
    return Snapshot(snapshot.hyperparameters, parameters)


def test_a_snapshot_that_does_not_fit_is_refused_and_nothing_changes() -> None:
    source = radam_numpy.RAdam(_params(), lr=0.05)
    _run(source, 1, 3)
    snapshot = source.export_state(NAMES)
    target = radam_numpy.RAdam(_params(), lr=0.05)
    _run(target, 1, 1)
    before = target.state
    state = snapshot.parameters["head.bias"]
    cases = {
        "missing parameters \\['head.bias'\\]": _mismatch(snapshot, **{"head.bias": None}),
        "parameters the optimizer does not have \\['extra'\\]": Snapshot(
            snapshot.hyperparameters, {**snapshot.parameters, "extra": state}
        ),
        r"head.bias/exp_avg has shape \(6,\), expected \(5,\)": _mismatch(
            snapshot,
            **{"head.bias": ParameterState(3, np.zeros(6), state.exp_avg_sq[:5].copy())},
        ),
        "head.bias/exp_avg_sq has dtype float32, expected float64": _mismatch(
            snapshot,
            **{"head.bias": ParameterState(3, state.exp_avg, state.exp_avg_sq.astype(np.float32))},
        ),
        "convention eps_placement is 'corrected' in the snapshot, 'raw' here": Snapshot(
            radam_core.hyperparameters_for("optax"), snapshot.parameters
        ),
        "head.bias has max_exp_avg_sq, but the optimizer's amsgrad is False": _mismatch(
            snapshot,
            **{"head.bias": ParameterState(3, state.exp_avg, state.exp_avg_sq, state.exp_avg)},
        ),
        r"one step count, but the snapshot's parameters have \[3, 4\]": _mismatch(
            snapshot, **{"head.bias": ParameterState(4, state.exp_avg, state.exp_avg_sq)}
        ),
    }
    for message, bad in cases.items():
        with pytest.raises(ValueError, match=message):
            target.import_state(bad, NAMES)
        assert target.state is before
    with pytest.raises(ValueError, match="names must be 2 distinct names"):
        target.import_state(snapshot, ["a", "a"])
    assert target.state is before


# Lookahead and Ranger: a run saved mid-cycle resumes with the same phi and position.


def _ranger(params: list[np.ndarray] | None = None, k: int = K) -> radam_numpy.Ranger:
    return radam_numpy.Ranger(_params() if params is None else params, lr=0.05, k=k, alpha=0.6)


def _header(path: Path) -> dict:
    raw = path.read_bytes()
    (length,) = struct.unpack_from("<Q", raw)
    return json.loads(raw[8 : 8 + length])


@pytest.mark.parametrize("stop", [3, 5, 8])  # mid-cycle, just after a sync, mid-second cycle
def test_a_ranger_run_resumed_from_the_file_equals_the_uninterrupted_run(
    tmp_path: Path, stop: int
) -> None:
    uninterrupted = _ranger()
    _run(uninterrupted, 1, 17)

    first = _ranger()
    _run(first, 1, stop)
    save_snapshot(first.export_state(NAMES), tmp_path / "ranger.safetensors")
    resumed = _ranger([p.copy() for p in first.params])
    resumed.import_state(load_snapshot(tmp_path / "ranger.safetensors"), NAMES)
    assert resumed.count == stop % K
    _run(resumed, stop + 1, 17)
    for mine, theirs in zip(resumed.params, uninterrupted.params, strict=True):
        np.testing.assert_array_equal(mine, theirs)
    for mine, theirs in zip(resumed.slow, uninterrupted.slow, strict=True):
        np.testing.assert_array_equal(mine, theirs)


def test_the_file_holds_the_slow_weights_and_the_position(tmp_path: Path) -> None:
    opt = _ranger()
    _run(opt, 1, 7)
    save_snapshot(opt.export_state(NAMES), tmp_path / "ranger.safetensors")
    header = _header(tmp_path / "ranger.safetensors")
    assert json.loads(header["__metadata__"]["lookahead"]) == {"k": K, "alpha": 0.6, "count": 2}
    raw = (tmp_path / "ranger.safetensors").read_bytes()
    data = raw[8 + struct.unpack_from("<Q", raw)[0] :]
    for name, slow in zip(NAMES, opt.slow, strict=True):
        entry = header[f"{name}/slow"]
        begin, end = entry["data_offsets"]
        stored = np.frombuffer(data[begin:end], dtype="<f8").reshape(entry["shape"])
        np.testing.assert_array_equal(stored, slow)
    assert not np.array_equal(opt.slow[0], opt.params[0])  # phi is not theta mid-cycle


def test_the_inner_part_resumes_radam_alone() -> None:
    ranger = _ranger()
    _run(ranger, 1, 7)
    snapshot = ranger.export_state(NAMES)
    plain = radam_numpy.RAdam([p.copy() for p in ranger.params], lr=0.05)
    plain.import_state(snapshot.inner(), NAMES)
    for mine, theirs in zip(plain.state[1:3], ranger.optimizer.state[1:3], strict=True):
        for a, b in zip(mine, theirs, strict=True):
            np.testing.assert_array_equal(a, b)
    assert plain.state.count == ranger.optimizer.state.count == 7


def test_a_lookahead_snapshot_that_does_not_fit_is_refused_and_nothing_changes() -> None:
    source = _ranger()
    _run(source, 1, 3)
    snapshot = source.export_state(NAMES)
    target = _ranger()
    _run(target, 1, 1)
    before = (target.optimizer.state, target.count, [s.copy() for s in target.slow])
    plain = radam_numpy.RAdam(_params(), lr=0.05)
    plain_state = plain.state
    with pytest.raises(ValueError, match=r"holds Lookahead's state \(k=5\).*snapshot.inner\(\)"):
        plain.import_state(snapshot, NAMES)
    assert plain.state is plain_state
    cases = {
        "the optimizer is a Lookahead \\(k=5\\), but the snapshot holds no Lookahead": (
            snapshot.inner()
        ),
        "Lookahead's k is 4 in the snapshot, 5 here": Snapshot(
            snapshot.hyperparameters, snapshot.parameters, LookaheadPosition(4, 0.6, 3)
        ),
        r"parameters \['head.bias'\] lack slow weights": Snapshot(
            snapshot.hyperparameters,
            {**snapshot.parameters, "head.bias": snapshot.inner().parameters["head.bias"]},
            snapshot.lookahead,
        ),
    }
    for message, bad in cases.items():
        with pytest.raises(ValueError, match=message):
            target.import_state(bad, NAMES)
        assert target.optimizer.state is before[0]
        assert target.count == before[1]
        for mine, saved in zip(target.slow, before[2], strict=True):
            np.testing.assert_array_equal(mine, saved)


@pytest.mark.parametrize(
    ("k", "alpha", "count", "error", "message"),
    [
        (5, 0.5, 5, ValueError, r"count must be in \[0, k=5\), got 5"),
        (5, 0.5, -1, ValueError, r"count must be in \[0, k=5\), got -1"),
        (5, 0.5, 1.0, TypeError, "count must be an int, got 1.0"),
        (0, 0.5, 0, ValueError, "k must be >= 1, got 0"),
        (5, 1.5, 0, ValueError, r"alpha must be in \[0, 1\], got 1.5"),
    ],
)
def test_an_invalid_position_is_refused(k, alpha, count, error, message) -> None:
    with pytest.raises(error, match=message):
        LookaheadPosition(k, alpha, count)


def _rewrite_metadata(path: Path, **changes: str | None) -> None:
    """Rewrite the file's metadata in place (the header keeps its length class)."""
    raw = path.read_bytes()
    (length,) = struct.unpack_from("<Q", raw)
    header = json.loads(raw[8 : 8 + length])
    for key, value in changes.items():
        if value is None:
            header["__metadata__"].pop(key)
        else:
            header["__metadata__"][key] = value
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + raw[8 + length :])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"lookahead": json.dumps({"k": 5, "alpha": 0.6, "count": 7})}, "invalid Lookahead state"),
        ({"lookahead": None}, r"holds slow weights for \['encoder/dense/kernel', 'head.bias'\]"),
        ({"lookahead": json.dumps({"k": 5, "alpha": 0.6})}, "not a readable radam snapshot"),
    ],
)
def test_a_file_with_a_broken_lookahead_part_is_refused(
    tmp_path: Path, changes: dict, message: str
) -> None:
    opt = _ranger()
    _run(opt, 1, 2)
    path = tmp_path / "ranger.safetensors"
    save_snapshot(opt.export_state(NAMES), path)
    _rewrite_metadata(path, **changes)
    with pytest.raises(ValueError, match=message) as raised:
        load_snapshot(path)
    assert str(path) in str(raised.value)
