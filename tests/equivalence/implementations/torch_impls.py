"""torch rows: radam_core.step on torch tensors, radam_torch.RAdam on each of its paths, and
torch.optim.RAdam as the peer golden of the torch convention.

radam_torch's paths:

- ``reference``: ``fused=False``, every step by the core's equations on the tensors.
- ``fast``: the default; rectified steps on the CPU run in PyTorch's fused Adam kernel
  (in float64 and, as most users run it, in float32).
- ``compiled``: ``torch.compile(optimizer.step)`` (backend :data:`COMPILE_BACKEND`), for
  three configurations only, since every new optimizer compiles anew (seconds each).

With Lookahead, each path's optimizer is wrapped in ``radam_torch.Lookahead(optimizer, k,
alpha)`` (and the compiled path compiles the wrapper's ``step``); torch.optim.RAdam has
no Lookahead of its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.equivalence.configs import Config
from tests.equivalence.implementations.base import Implementation, Setup, only
from tests.equivalence.implementations.core_impls import CoreStepper

COMPILE_BACKEND = "aot_eager"
COMPILED_CONFIGS = ("torch", "decoupled", "ranger-torch")


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
    """A ``torch.optim.Optimizer``: gradients go into ``.grad``, then ``step()``.

    Args:
        setup: The initial parameters and the configuration.
        make: ``make(params, setup)``: the optimizer; wrapped in ``radam_torch.Lookahead``
            when the configuration has Lookahead.
        compile_backend: Compile ``optimizer.step`` with this torch.compile backend.
    """

    def __init__(self, setup: Setup, make: Any, compile_backend: str | None = None) -> None:
        import torch

        self._params = [torch.nn.Parameter(_tensor(p, setup.device)) for p in setup.initial_params]
        self._device = setup.device
        optimizer = make(self._params, setup)
        lookahead = setup.config.lookahead
        if lookahead is not None:
            from radam_torch import Lookahead

            optimizer = Lookahead(optimizer, k=lookahead.k, alpha=lookahead.alpha)
        self._step = optimizer.step
        if compile_backend is not None:
            torch._dynamo.reset()  # a fresh cache: each configuration compiles its own graph
            self._step = torch.compile(optimizer.step, backend=compile_backend)

    def params(self) -> list[np.ndarray]:
        """Copies of the parameters."""
        return [_numpy(p) for p in self._params]

    def step(self, grads: list[np.ndarray]) -> None:
        """Set ``.grad`` and step."""
        for param, grad in zip(self._params, grads, strict=True):
            param.grad = _tensor(grad, self._device)
        self._step()


def _radam_torch(params: list[Any], setup: Setup, **path: Any) -> Any:
    from radam_torch import RAdam

    from tests.conventions import preset_kwargs

    return RAdam(params, **preset_kwargs(dict(setup.core_options)), **path)


def radam_torch_stepper(**path: Any) -> Any:
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


def torch_optim_supports(config: Config) -> str | None:
    """torch.optim.RAdam implements the torch convention, without amsgrad or Lookahead."""
    if config.lookahead is not None:
        return "torch.optim has no Lookahead"
    if config.preset != "torch":
        return "torch.optim.RAdam implements the torch convention only"
    if config.option("amsgrad"):
        return "torch.optim.RAdam has no amsgrad"
    return None


def _torch(name: str, dtype: str, build: Any, **fields: Any) -> Implementation:
    return Implementation(
        name,
        fields.pop("worker", "torch"),
        dtype,
        build,
        requires=fields.pop("requires", ("torch", "radam_torch")),
        devices=("cpu", "cuda"),
        device_check=torch_device_check,
        **fields,
    )


IMPLEMENTATIONS: tuple[Implementation, ...] = (
    _torch("radam_core.step torch", "float64", core_torch_stepper, requires=("torch",)),
    _torch("radam_torch.RAdam reference", "float64", radam_torch_stepper(fused=False)),
    _torch("radam_torch.RAdam fast", "float64", radam_torch_stepper()),
    _torch("radam_torch.RAdam fast", "float32", radam_torch_stepper()),
    _torch(
        f"radam_torch.RAdam compiled ({COMPILE_BACKEND})",
        "float64",
        radam_torch_stepper(compile_backend=COMPILE_BACKEND),
        worker="torch-compiled",
        supports=only(
            *COMPILED_CONFIGS,
            reason=f"compiled only for {', '.join(COMPILED_CONFIGS[:-1])} and "
            f"{COMPILED_CONFIGS[-1]} "
            "(each optimizer compiles anew, seconds each)",
        ),
    ),
    _torch(
        "peer: torch.optim.RAdam",
        "float64",
        lambda setup: TorchOptimizerStepper(setup, _torch_optim_radam),
        requires=("torch",),
        peer=True,
        supports=torch_optim_supports,
    ),
)
