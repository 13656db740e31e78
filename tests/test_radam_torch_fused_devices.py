"""radam_torch on devices other than the CPU, proven without one.

What a step dispatches is counted with a TorchDispatchMode (every ATen operation, with its
arguments), on the meta device: its tensors have shapes but no data, so a model of any size
costs nothing, and it has no fused Adam kernel in torch's list, as an accelerator without
one. Patching that list to include "meta" runs the path of a device that has one (CUDA,
XPU, MPS): torch registers a meta kernel for ``_fused_adam_``.

- Off the CPU, the operations of a step do not grow with the number of elements: whole
  tensors, not the CPU's cache-sized blocks.
- A rectified step on a fused-capable device is one fused kernel call per dtype, fed a step
  tensor on that device.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

torch = pytest.importorskip("torch")

import radam_torch.functional  # noqa: E402
from radam_torch import RAdam, Ranger  # noqa: E402
from radam_torch.kernels import BLOCK_SIZE  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402

from tests.conventions import preset_kwargs  # noqa: E402

FUSED = torch.ops.aten._fused_adam_.default
FUSED_W = torch.ops.aten._fused_adamw_.default
FUSED_KERNELS = {
    getattr(kernel, overload)
    for kernel in (torch.ops.aten._fused_adam_, torch.ops.aten._fused_adamw_)
    for overload in ("default", "tensor_lr")
}


class DispatchedOps(TorchDispatchMode):
    """Counts every ATen operation dispatched inside it; keeps the fused kernels' calls.

    The fused kernels are recorded, not run: on meta tensors they would compute nothing,
    and torch has no meta kernel for their tensor-lr overloads.
    """

    def __init__(self) -> None:
        super().__init__()
        self.counts: Counter[str] = Counter()
        self.fused_calls: list[tuple[Any, ...]] = []
        self.fused_kwargs: list[dict[str, Any]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.counts[str(func)] += 1
        if func in FUSED_KERNELS:
            self.fused_calls.append(args)
            self.fused_kwargs.append(kwargs or {})
            return None
        return func(*args, **(kwargs or {}))


def model(scale: int, device: str = "meta", dtypes=(torch.float32,)) -> list[Any]:
    """26 parameters (13 weights and biases), each ``scale`` times wider, with gradients."""
    params = []
    for index in range(13):
        dtype = dtypes[index % len(dtypes)]
        width = 64 * scale
        for shape in ((width, 64), (width,)):
            param = torch.nn.Parameter(torch.zeros(shape, device=device, dtype=dtype))
            param.grad = torch.zeros(shape, device=device, dtype=dtype)
            params.append(param)
    return params


def ops_of_step(opt: RAdam | Ranger, step: int) -> DispatchedOps:
    """The operations dispatched by step number ``step`` (the steps before it untracked)."""
    for _ in range(step - 1):
        opt.step()
    with DispatchedOps() as ops:
        opt.step()
    return ops


@pytest.mark.parametrize("step", [1, 7], ids=["below-threshold", "rectified"])
@pytest.mark.parametrize(
    "options",
    [{}, {"nesterov": True}, {"amsgrad": True}, {"preset": "authors"}, {"eps_root": 1e-8}],
    ids=["torch", "nesterov", "amsgrad", "authors", "eps_root"],
)
def test_operations_off_the_cpu_do_not_grow_with_the_elements(step, options):
    small, large = (
        ops_of_step(RAdam(model(scale), **preset_kwargs(options)), step) for scale in (1, 64)
    )
    assert BLOCK_SIZE < 64 * 64 * 64  # the large model's weights span many CPU blocks
    assert small.counts == large.counts
    assert not small.fused_calls  # meta: no fused kernel in torch's list


def test_a_ranger_sync_off_the_cpu_does_not_grow_with_the_elements():
    # Ranger(k=6) syncs its slow weights after step 6: step 6 is inner step plus sync.
    small, large = (ops_of_step(Ranger(model(scale), k=6), 6) for scale in (1, 64))
    assert small.counts == large.counts
    assert small.counts != ops_of_step(RAdam(model(1)), 6).counts  # the sync did run


def test_on_the_cpu_the_blocks_do_grow_with_the_elements():
    # The contrast that makes the test above meaningful: CPU steps go block by block.
    small, large = (
        ops_of_step(RAdam(model(scale, device="cpu"), fused=False), 7) for scale in (1, 64)
    )
    assert sum(large.counts.values()) > 2 * sum(small.counts.values())


@pytest.fixture
def meta_has_fused_adam(monkeypatch):
    """Run the meta device as a device with torch's fused Adam kernel (CUDA, XPU, MPS)."""
    devices = [*radam_torch.functional.fused_kernel_devices(), "meta"]
    monkeypatch.setattr(radam_torch.functional, "fused_kernel_devices", lambda: devices)


@pytest.mark.usefixtures("meta_has_fused_adam")
@pytest.mark.parametrize("decoupled", [False, True])
def test_a_rectified_step_on_a_fused_device_is_one_kernel_call(decoupled):
    params = model(64)
    small = ops_of_step(RAdam(model(1), decoupled_weight_decay=decoupled), 7)
    ops = ops_of_step(RAdam(params, decoupled_weight_decay=decoupled), 7)
    assert ops.counts == small.counts
    (call,) = ops.fused_calls
    assert ops.counts[str(FUSED_W if decoupled else FUSED)] == 1
    tensors, steps = call[0], call[5]
    assert len(tensors) == len(steps) == 26
    assert all(t.device.type == "meta" for t in steps)  # t on the device: no host sync


@pytest.mark.usefixtures("meta_has_fused_adam")
def test_one_fused_call_per_dtype():
    ops = ops_of_step(RAdam(model(4, dtypes=(torch.float32, torch.float64))), 7)
    assert len(ops.fused_calls) == 2
    assert {call[0][0].dtype for call in ops.fused_calls} == {torch.float32, torch.float64}


@pytest.mark.usefixtures("meta_has_fused_adam")
def test_below_threshold_a_fused_device_takes_the_core_step():
    ops = ops_of_step(RAdam(model(4)), 1)
    assert not ops.fused_calls


@pytest.mark.usefixtures("meta_has_fused_adam")
def test_state_keeps_torchs_format_on_a_fused_device():
    params = model(1)
    opt = RAdam(params)
    ops_of_step(opt, 7)
    step = opt.state[params[0]]["step"]
    assert (step.device.type, step.dtype, float(step)) == ("cpu", torch.float32, 7.0)


def test_fused_true_raises_torchs_error_on_a_device_without_the_kernel():
    opt = RAdam(model(1), fused=True)
    with pytest.raises(RuntimeError, match="`fused=True` requires"):
        opt.step()
    assert not opt.state  # nothing was written


def test_torch_still_lists_its_fused_devices():
    # radam_torch's one read of torch's private list: this fails when torch changes it.
    devices = radam_torch.functional.fused_kernel_devices()
    assert isinstance(devices, list)
    assert {"cpu", "cuda", "mps", "xpu"} <= set(devices)
    assert "meta" not in devices


@pytest.mark.usefixtures("meta_has_fused_adam")
@pytest.mark.parametrize("step", [1, 7], ids=["below-threshold", "rectified"])
def test_a_tensor_lr_on_the_device_is_never_read_on_the_host(step):
    # torch.optim.Adam(fused=True) hands its kernel a tensor lr as a tensor, with no wait
    # for the device; RAdam does too (lr_A = lr r_t on the device), and below the threshold.
    # A meta tensor has no value: reading it on the host (.item()) raises.
    # (Set after construction, which checks lr >= 0 on the host as Adam's does, and after
    # the untracked steps, which run the fused kernel: torch has no meta tensor-lr kernel.)
    opt = RAdam(model(1))
    for _ in range(step - 1):
        opt.step()
    opt.param_groups[0]["lr"] = torch.tensor(1e-3, device="meta")
    ops = ops_of_step(opt, 1)
    if step == 7:
        (kwargs,) = ops.fused_kwargs
        assert isinstance(kwargs["lr"], torch.Tensor)
        assert kwargs["lr"].device.type == "meta"


@pytest.mark.usefixtures("meta_has_fused_adam")
def test_a_mixed_device_group_takes_one_fused_call_per_device():
    # As torch.optim.Adam(fused=True) groups its tensors: each call's tensors and step
    # tensors on one device.
    ops = ops_of_step(RAdam([*model(1, device="cpu"), *model(1)]), 7)
    assert len(ops.fused_calls) == 2
    devices = set()
    for call in ops.fused_calls:
        tensors, steps = call[0], call[5]
        (device,) = {t.device.type for t in (*tensors, *steps)}
        devices.add(device)
    assert devices == {"cpu", "meta"}
