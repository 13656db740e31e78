"""Workers of tests/test_radam_torch_distributed.py: one rank of a 2-process gloo job.

Run as ``python -m tests._radam_torch_dist SCENARIO RANK WORLD PORT OUT_DIR`` from the
repository root. Each rank trains the model of :func:`make_model` on its shard of the batch
of :func:`make_batch` for :data:`STEPS` steps and writes ``OUT_DIR/SCENARIO-rankR.pt``: the
full parameters after the last step (gathered from shards where the scenario shards them),
the global loss of every step, and a description of what the optimizer saw. The parent
test process asserts on those files and computes the single-process reference itself
with :func:`reference_run`, so nothing is asserted inside a child.

Rendezvous is TCP on 127.0.0.1 (loopback only); gloo is pinned to the loopback interface.
"""

from __future__ import annotations

import datetime
import os
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any

import torch

# 8 steps cross the rectification threshold (steps 1..5 are SGD-with-momentum steps for
# beta2 = 0.999, step 6 is the first rectified one) and take several rectified steps.
STEPS = 8
LR = 1e-2
BATCH = 16
IN_FEATURES, HIDDEN, OUT_FEATURES = 6, 8, 3
SCENARIOS = ("ddp", "fsdp2", "zero")


def make_model() -> torch.nn.Sequential:
    """The float64 model every run starts from (same seed: same initial parameters)."""
    torch.manual_seed(1234)
    return torch.nn.Sequential(
        torch.nn.Linear(IN_FEATURES, HIDDEN),
        torch.nn.Tanh(),
        torch.nn.Linear(HIDDEN, OUT_FEATURES),
    ).double()


def make_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """The whole batch; rank r trains on rows r::world (equal shards)."""
    generator = torch.Generator().manual_seed(99)
    x = torch.randn(BATCH, IN_FEATURES, dtype=torch.float64, generator=generator)
    y = torch.randn(BATCH, OUT_FEATURES, dtype=torch.float64, generator=generator)
    return x, y


def loss_fn(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared error: the mean over equal shards of shard means is the full mean."""
    return torch.nn.functional.mse_loss(model(x), y)


def make_optimizer(params: Any) -> torch.optim.Optimizer:
    from radam_torch import RAdam

    return RAdam(params, lr=LR, weight_decay=1e-2)


def reference_run() -> tuple[dict[str, torch.Tensor], list[float]]:
    """One process, the whole batch, the same optimizer: parameters and losses per step."""
    model = make_model()
    optimizer = make_optimizer(model.parameters())
    x, y = make_batch()
    losses = []
    for _ in range(STEPS):
        optimizer.zero_grad()
        loss = loss_fn(model, x, y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return {k: v.detach().clone() for k, v in model.state_dict().items()}, losses


def _global_loss(local: torch.Tensor, world: int) -> float:
    total = local.detach().clone()
    torch.distributed.all_reduce(total)
    return total.item() / world


def _train(model: torch.nn.Module, optimizer: Any, rank: int, world: int) -> list[float]:
    x, y = make_batch()
    x, y = x[rank::world], y[rank::world]
    losses = []
    for _ in range(STEPS):
        optimizer.zero_grad()
        loss = loss_fn(model, x, y)
        loss.backward()
        optimizer.step()
        losses.append(_global_loss(loss, world))
    return losses


def _full_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The parameters as plain full tensors (DTensor shards gathered)."""
    from torch.distributed.tensor import DTensor

    state = {}
    for name, value in model.state_dict().items():
        if isinstance(value, DTensor):
            value = value.full_tensor()
        state[name.removeprefix("module.")] = value.detach().clone()
    return state


def run_ddp(rank: int, world: int) -> dict[str, Any]:
    from torch.nn.parallel import DistributedDataParallel

    model = DistributedDataParallel(make_model())
    optimizer = make_optimizer(model.parameters())
    losses = _train(model, optimizer, rank, world)
    return {"params": _full_state(model), "losses": losses}


def run_fsdp2(rank: int, world: int) -> dict[str, Any]:
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard
    from torch.distributed.tensor import DTensor

    mesh = init_device_mesh("cpu", (world,))
    model = make_model()
    for layer in model:
        if isinstance(layer, torch.nn.Linear):
            fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    optimizer = make_optimizer(model.parameters())
    losses = _train(model, optimizer, rank, world)
    params = list(model.parameters())
    state_types = sorted(
        {type(value).__name__ for p in params for value in optimizer.state[p].values()}
    )
    return {
        "params": _full_state(model),
        "losses": losses,
        "params_are_dtensors": all(isinstance(p, DTensor) for p in params),
        "state_types": state_types,
        "local_shapes": [
            tuple(p.to_local().shape) if isinstance(p, DTensor) else None for p in params
        ],
    }


def run_zero(rank: int, world: int) -> dict[str, Any]:
    with warnings.catch_warnings():
        # Third-party: importing torch.distributed.optim scripts torch's functional
        # optimizers, and torch 2.13 deprecates torch.jit.script / torch.jit.interface.
        warnings.filterwarnings(
            "ignore", r"`torch\.jit\.(script|interface)` is deprecated", DeprecationWarning
        )
        from torch.distributed.optim import ZeroRedundancyOptimizer
    from radam_torch import RAdam
    from torch.nn.parallel import DistributedDataParallel

    model = DistributedDataParallel(make_model())
    optimizer = ZeroRedundancyOptimizer(
        model.parameters(), optimizer_class=RAdam, lr=LR, weight_decay=1e-2
    )
    losses = _train(model, optimizer, rank, world)
    local = optimizer.optim
    return {
        "params": _full_state(model),
        "losses": losses,
        "local_optimizer": type(local).__module__ + "." + type(local).__qualname__,
        "local_param_count": sum(len(g["params"]) for g in local.param_groups),
        "total_param_count": len(list(model.parameters())),
    }


def main(argv: list[str]) -> int:
    scenario, rank, world, port, out_dir = argv[0], int(argv[1]), int(argv[2]), argv[3], argv[4]
    out = Path(out_dir) / f"{scenario}-rank{rank}.pt"
    runner = {"ddp": run_ddp, "fsdp2": run_fsdp2, "zero": run_zero}[scenario]
    torch.distributed.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world,
        timeout=datetime.timedelta(seconds=30),
    )
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = runner(rank, world)
        result["warnings"] = [f"{w.category.__name__}: {w.message} ({w.filename})" for w in caught]
        torch.distributed.barrier()
    except Exception:
        traceback.print_exc()
        torch.save({"error": traceback.format_exc()}, out)
        return 1
    finally:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    torch.save(result, out)
    return 0


if __name__ == "__main__":
    # Before gloo creates its pairs: loopback only.
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    code = main(sys.argv[1:])
    # The result is saved and the process group destroyed: exit without the interpreter's
    # finalization, where gloo's worker threads can still be torn down and abort the
    # process ("terminate called without an active exception", seen under load; torch's
    # teardown race, pytorch/pytorch#179291), which would fail a run that succeeded.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
