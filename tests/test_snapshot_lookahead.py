"""Lookahead's state in the framework-neutral snapshot: slow weights and the k-cycle position.

A Ranger run saved mid-cycle and resumed must equal the uninterrupted run bit for bit (the
next sync comes at the same step, from the same phi); the file's Lookahead part is parsed
here from the documented layout.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

import radam_numpy
from radam_core import LookaheadPosition, Snapshot, load_snapshot, save_snapshot

NAMES = ["encoder/kernel", "head.bias"]
K = 5


def _params() -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [rng.normal(size=(3, 4)), rng.normal(size=5)]


def _run(opt: radam_numpy.Lookahead, first: int, last: int) -> None:
    for t in range(first, last + 1):
        opt.step([np.sin(p + 0.1 * t) for p in opt.params])


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
        ({"lookahead": None}, r"holds slow weights for \['encoder/kernel', 'head.bias'\]"),
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
