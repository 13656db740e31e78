"""torch: radam_core.step on tensors, radam_torch.RAdam's paths, Ranger, torch.optim's peers.

radam_torch's paths:

- ``reference``: ``fused=False``, every step by the core's equations on the tensors.
- ``fast``: the default; rectified steps on the CPU run in PyTorch's fused Adam kernel
  (in float64 and, as most users run it, in float32). The benchmark times this one.
- ``compiled``: ``torch.compile(optimizer.step)`` (backend :data:`COMPILE_BACKEND`), for
  three configurations only, since every new optimizer compiles anew (seconds each).

With Lookahead, each path's optimizer is wrapped in ``radam_torch.Lookahead(optimizer, k,
alpha)`` (and the compiled path compiles the wrapper's ``step``); torch.optim.RAdam has
no Lookahead of its own. The peers: ``torch.optim.RAdam`` (``foreach=False``) is the
golden of the torch convention; the benchmark times ``torch.optim.RAdam(foreach=True)``
and ``torch.optim.Adam(fused=True)``, the memory-bound reference.

Every optimizer steps copies of the parameters on the setup's device; a step returns once
the device has finished it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from catalogue.core_impls import CoreStepper
from catalogue.implementation import (
    RANGER_K,
    BenchmarkRow,
    EquivalenceRows,
    Implementation,
    only,
)
from catalogue.presets import preset_kwargs
from catalogue.stepper import Configuration, Setup

COMPILE_BACKEND = "aot_eager"
COMPILED_CONFIGS = ("torch", "decoupled", "ranger-torch")

MakeOptimizer = Callable[[list[Any], Setup], Any]


def torch_device_check(device: str) -> str | None:
    """None where torch can use ``device``, else why not."""
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        return "torch sees no CUDA device"
    return None


def _tensor(array: np.ndarray, device: str) -> Any:
    import torch

    return torch.from_numpy(np.array(array, copy=True)).to(device)


def _numpy(tensor: Any) -> np.ndarray:
    return tensor.detach().cpu().numpy().copy()


def core_torch_stepper(setup: Setup) -> CoreStepper:
    """radam_core.step on torch tensors of the setup's device."""
    return CoreStepper(setup, lambda a: _tensor(a, setup.device), _numpy)


class TorchOptimizerStepper:
    """A ``torch.optim.Optimizer``: the gradients go into ``.grad``, then ``step()``.

    Args:
        setup: The initial parameters, the configuration and the device.
        make: ``make(params, setup)``: the optimizer; wrapped in ``radam_torch.Lookahead``
            when the configuration has Lookahead.
        compile_backend: Compile ``optimizer.step`` with this torch.compile backend.
    """

    def __init__(
        self, setup: Setup, make: MakeOptimizer, compile_backend: str | None = None
    ) -> None:
        import torch

        self._params = [torch.nn.Parameter(_tensor(p, setup.device)) for p in setup.initial_params]
        self._device = setup.device
        kind = torch.device(setup.device).type
        self._synchronize = None if kind == "cpu" else getattr(torch, kind).synchronize
        optimizer = make(self._params, setup)
        if setup.lookahead is not None:
            from radam_torch import Lookahead

            optimizer = Lookahead(optimizer, k=setup.lookahead.k, alpha=setup.lookahead.alpha)
        self._step = optimizer.step
        if compile_backend is not None:
            torch._dynamo.reset()  # a fresh cache: each configuration compiles its own graph
            self._step = torch.compile(optimizer.step, backend=compile_backend)

    def params(self) -> list[np.ndarray]:
        """Copies of the parameters."""
        return [_numpy(p) for p in self._params]

    def set_gradients(self, grads: list[np.ndarray]) -> None:
        """Set each parameter's ``.grad`` to a copy of its gradient on the device."""
        for param, grad in zip(self._params, grads, strict=True):
            param.grad = _tensor(grad, self._device)

    def step(self) -> None:
        """One ``optimizer.step()``, waited for on an accelerator."""
        self._step()
        if self._synchronize is not None:
            self._synchronize()


def _radam_torch(params: list[Any], setup: Setup, **path: Any) -> Any:
    from radam_torch import RAdam

    return RAdam(params, **preset_kwargs(setup.core_options), **path)


def radam_torch_stepper(**path: Any) -> Callable[[Setup], TorchOptimizerStepper]:
    """A builder of radam_torch.RAdam with the path's arguments (``fused=False``, ...)."""
    compile_backend = path.pop("compile_backend", None)

    def build(setup: Setup) -> TorchOptimizerStepper:
        return TorchOptimizerStepper(
            setup, lambda params, s: _radam_torch(params, s, **path), compile_backend
        )

    return build


def _torch_optim_radam(params: list[Any], setup: Setup) -> Any:
    import torch

    hp = setup.hyperparameters
    return torch.optim.RAdam(
        params,
        lr=hp["lr"],
        betas=hp["betas"],
        eps=hp["eps"],
        weight_decay=hp["weight_decay"],
        decoupled_weight_decay=hp["decoupled_weight_decay"],
        foreach=False,
    )


def _torch_optim_radam_foreach(params: list[Any], setup: Setup) -> Any:
    import torch

    return torch.optim.RAdam(params, foreach=True)


def _torch_optim_fused_adam(params: list[Any], setup: Setup) -> Any:
    import torch

    return torch.optim.Adam(params, fused=True)


def _radam_torch_ranger(params: list[Any], setup: Setup) -> Any:
    from radam_torch import Ranger

    return Ranger(params, k=RANGER_K)


def torch_optim_supports(config: Configuration) -> str | None:
    """torch.optim.RAdam implements the torch convention, without amsgrad or Lookahead."""
    if config.lookahead is not None:
        return "torch.optim has no Lookahead"
    if config.preset != "torch":
        return "torch.optim.RAdam implements the torch convention only"
    if config.option("amsgrad"):
        return "torch.optim.RAdam has no amsgrad"
    return None


def _stepper_of(make: MakeOptimizer) -> Callable[[Setup], TorchOptimizerStepper]:
    return lambda setup: TorchOptimizerStepper(setup, make)


def _torch(build: Callable[[Setup], Any], **fields: Any) -> Implementation:
    return Implementation(
        build,
        fields.pop("worker", "torch"),
        requires=fields.pop("requires", ("torch", "radam_torch")),
        devices=("cpu", "cuda"),
        device_check=torch_device_check,
        **fields,
    )


IMPLEMENTATIONS: tuple[Implementation, ...] = (
    _torch(
        core_torch_stepper,
        requires=("torch",),
        equivalence=EquivalenceRows("radam_core.step torch", ("float64",)),
    ),
    _torch(
        radam_torch_stepper(fused=False),
        equivalence=EquivalenceRows("radam_torch.RAdam reference", ("float64",)),
    ),
    _torch(
        radam_torch_stepper(),
        benchmark=BenchmarkRow("radam_torch.RAdam", "radam_torch.RAdam, default settings"),
        equivalence=EquivalenceRows("radam_torch.RAdam fast", ("float64", "float32")),
    ),
    _torch(
        radam_torch_stepper(compile_backend=COMPILE_BACKEND),
        worker="torch-compiled",
        equivalence=EquivalenceRows(
            f"radam_torch.RAdam compiled ({COMPILE_BACKEND})",
            ("float64",),
            supports=only(
                *COMPILED_CONFIGS,
                reason=f"compiled only for {', '.join(COMPILED_CONFIGS[:-1])} and "
                f"{COMPILED_CONFIGS[-1]} "
                "(each optimizer compiles anew, seconds each)",
            ),
        ),
    ),
    _torch(
        _stepper_of(_torch_optim_radam),
        requires=("torch",),
        equivalence=EquivalenceRows(
            "peer: torch.optim.RAdam", ("float64",), peer=True, supports=torch_optim_supports
        ),
    ),
    _torch(
        _stepper_of(_torch_optim_radam_foreach),
        requires=("torch",),
        benchmark=BenchmarkRow(
            "torch.optim.RAdam(foreach)", "torch's own RAdam, foreach=True (no fused kernel)"
        ),
    ),
    _torch(
        _stepper_of(_torch_optim_fused_adam),
        requires=("torch",),
        benchmark=BenchmarkRow(
            "torch.optim.Adam(fused)", "torch's fused Adam: the memory-bound reference"
        ),
    ),
    _torch(
        _stepper_of(_radam_torch_ranger),
        benchmark=BenchmarkRow(
            "radam_torch.Ranger",
            f"radam_torch.Ranger (k={RANGER_K}): one timed step is a whole k-cycle, "
            f"{RANGER_K} optimizer steps and one sync",
            steps_per_timing=RANGER_K,
        ),
    ),
)
