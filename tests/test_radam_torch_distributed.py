"""radam_torch.RAdam under torch.distributed: DDP, FSDP2 (DTensor parameters) and ZeRO.

Each test runs two CPU processes on the gloo backend (``python -m tests._radam_torch_dist``,
TCP rendezvous on 127.0.0.1 at a free port, gloo pinned to the loopback interface), each
bounded by a timeout. The children write their results to files in a temporary directory;
every assertion is made here, in the parent, against a single-process run that sees the
whole batch with the same optimizer (:func:`tests._radam_torch_dist.reference_run`).

Tolerances (float64 throughout): DDP and ZeRO average the same gradients as the full batch
up to the order of a two-term sum, and take the same steps, so they match the reference to
1e-10. FSDP2 reduce-scatters flattened shards and steps each shard as a DTensor: 1e-10 too
(measured differences are 0 to 4e-18).

The model has an evenly sharded layer (Linear(6, 8): 4 rows per rank) and an unevenly
sharded one (Linear(8, 3): 2 rows and 1 row), as real models do. The blocked core step
(steps 1..5) never flattens a tensor subclass, so DTensors are updated whole there; the
rectified steps run the fused Adam kernel on DTensors; both give the single-process result.

Warnings: the children record warnings and the parent requires none, except that importing
torch.distributed.optim (for ZeRO) is done under a filter for torch's own DeprecationWarnings
"`torch.jit.script` / `torch.jit.interface` is deprecated" (torch's functional optimizers).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from tests import _radam_torch_dist as workers  # noqa: E402

pytestmark = pytest.mark.skipif(
    not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
    reason="torch.distributed with the gloo backend is not available",
)

WORLD = 2
TIMEOUT_S = 60  # per job, both ranks (they take ~3-6 s); gloo's own timeout is 30 s
ROOT = Path(__file__).resolve().parent.parent
ATOL = RTOL = 1e-10
WORKER = (sys.executable, "-m", "tests._radam_torch_dist")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_job(scenario: str, out_dir: Path) -> list[dict[str, Any]]:
    """Run ``scenario`` on WORLD processes; their results, or fail with their output."""
    env = dict(os.environ)
    env["GLOO_SOCKET_IFNAME"] = "lo"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("MASTER_ADDR", None)
    env.pop("MASTER_PORT", None)
    port = str(free_port())
    procs = [
        subprocess.Popen(
            [*WORKER, scenario, str(rank), str(WORLD), port, str(out_dir)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in range(WORLD)
    ]
    outputs = []
    deadline = time.monotonic() + TIMEOUT_S
    try:
        for proc in procs:
            output, _ = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
            outputs.append(output)
    except subprocess.TimeoutExpired:
        for proc in procs:
            proc.kill()
        logs = [proc.communicate()[0] for proc in procs]
        pytest.fail(f"{scenario}: no result within {TIMEOUT_S} s\n" + "\n".join(logs))
    results = []
    for rank, (proc, output) in enumerate(zip(procs, outputs, strict=True)):
        path = out_dir / f"{scenario}-rank{rank}.pt"
        assert proc.returncode == 0, (
            f"{scenario} rank {rank} exited with {proc.returncode}:\n{output}"
        )
        assert path.exists(), f"{scenario} rank {rank} wrote no result:\n{output}"
        result = torch.load(path, weights_only=False)
        assert "error" not in result, result.get("error")
        results.append(result)
    return results


@pytest.fixture(scope="module")
def reference() -> tuple[dict[str, torch.Tensor], list[float]]:
    return workers.reference_run()


def assert_params_close(
    actual: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], what: str
) -> None:
    assert actual.keys() == expected.keys(), (what, actual.keys(), expected.keys())
    for name, value in expected.items():
        assert actual[name].dtype == torch.float64, (what, name, actual[name].dtype)
        torch.testing.assert_close(
            actual[name], value, atol=ATOL, rtol=RTOL, msg=lambda m, n=name: f"{what} {n}: {m}"
        )


def assert_ranks_identical(results: list[dict[str, Any]], scenario: str) -> None:
    first = results[0]["params"]
    for rank, result in enumerate(results[1:], start=1):
        for name, value in first.items():
            assert torch.equal(result["params"][name], value), (scenario, rank, name)


def assert_no_warnings(results: list[dict[str, Any]], scenario: str) -> None:
    """The children record warnings instead of failing on them: none is expected."""
    for rank, result in enumerate(results):
        assert result["warnings"] == [], (scenario, rank, result["warnings"])


def test_ddp_matches_single_process(tmp_path: Path, reference: Any) -> None:
    expected, expected_losses = reference
    results = run_job("ddp", tmp_path)
    assert_ranks_identical(results, "ddp")
    for rank, result in enumerate(results):
        assert_params_close(result["params"], expected, f"ddp rank {rank}")
        torch.testing.assert_close(result["losses"], expected_losses, atol=ATOL, rtol=RTOL)
    assert_no_warnings(results, "ddp")


def test_fsdp2_dtensor_params_match_single_process(tmp_path: Path, reference: Any) -> None:
    expected, expected_losses = reference
    results = run_job("fsdp2", tmp_path)
    for rank, result in enumerate(results):
        # The optimizer really stepped DTensor shards (its state is DTensor too) ...
        assert result["params_are_dtensors"], rank
        assert "DTensor" in result["state_types"], (rank, result["state_types"])
        # ... of the parameters' dim-0 shards: Linear(6, 8).weight evenly (4 rows per rank),
        # Linear(8, 3).weight unevenly (2 rows and 1 row).
        assert result["local_shapes"][0] == (workers.HIDDEN // WORLD, workers.IN_FEATURES)
        assert result["local_shapes"][2] == ((2, workers.HIDDEN), (1, workers.HIDDEN))[rank]
        losses = result["losses"]
        assert losses[-1] < losses[0], losses
        assert_params_close(result["params"], expected, f"fsdp2 rank {rank}")
        torch.testing.assert_close(losses, expected_losses, atol=ATOL, rtol=RTOL)
    assert_ranks_identical(results, "fsdp2")
    assert_no_warnings(results, "fsdp2")


def test_zero_redundancy_optimizer_matches_unsharded(tmp_path: Path, reference: Any) -> None:
    expected, expected_losses = reference
    results = run_job("zero", tmp_path)
    assert_ranks_identical(results, "zero")
    local_counts = []
    for rank, result in enumerate(results):
        assert result["local_optimizer"] == "radam_torch.optimizer.RAdam", result
        local_counts.append(result["local_param_count"])
        assert_params_close(result["params"], expected, f"zero rank {rank}")
        torch.testing.assert_close(result["losses"], expected_losses, atol=ATOL, rtol=RTOL)
    # Each rank's RAdam holds a strict part of the parameters; together all of them.
    assert sum(local_counts) == results[0]["total_param_count"]
    assert all(0 < count < results[0]["total_param_count"] for count in local_counts)
    assert_no_warnings(results, "zero")
