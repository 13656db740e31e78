"""radam_torch.RAdam: a drop-in for torch.optim.RAdam, checked against torch itself.

Written in the spirit of torch's own optimizer suite (common_optimizers.py, test_optim.py):
trajectories of a real small model against ``torch.optim.RAdam`` in float64, the presets
against ``radam_core.step``, torch's state format and checkpoints both ways, determinism,
stepping rules, groups, schedulers, hooks, complex and low-precision parameters,
``GradScaler``, torch's errors for bad input, and the fused path's memory.

The tests of the numbers and the state run once per device (the ``device`` fixture: "cpu",
and "cuda", which skips when there is no GPU), each against ``torch.optim.RAdam`` on that
same device (foreach by default on CUDA). The tests of Python-level behaviour (bad input,
repr, copies, hooks) and those of the CPU fused path run on the CPU only.
"""

from __future__ import annotations

import copy
import functools
import pickle
import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from radam_torch import RAdam  # noqa: E402

import radam_core  # noqa: E402
from tests.conventions import preset_kwargs  # noqa: E402

F64 = torch.float64
STEPS = 200
# Float64 agreement with torch.optim.RAdam; atol only for entries that pass through ~0.
RTOL, ATOL = 1e-10, 1e-13
# The presets: fused path vs reference path vs radam_core.step.
PRESET_RTOL, PRESET_ATOL = 1e-12, 1e-14


# ----------------------------------------------------------------------------- device


@pytest.fixture(params=["cpu", "cuda"])
def device(request: pytest.FixtureRequest) -> str:
    """The device a test builds its models, tensors and data on: "cpu", then "cuda"."""
    if request.param == "cuda" and not torch.cuda.is_available():
        pytest.skip(
            "CUDA is not available (torch.cuda.is_available() is False): the cuda cases of "
            "this suite need a GPU that this build of torch can use"
        )
    return request.param


# Ours with capturable=True is compared, number by number, with torch's plain RAdam on every
# device. torch's capturable RAdam (accelerators only: on the CPU it refuses to step) computes
# the step's scalars (bias corrections, rho_t) in float32 from the float32 step count: about
# 1e-7 off its own plain trajectory in the first steps, 1e-3 from the first rectified step
# (rho_t just above 5). Ours computes them in float64 for float64 parameters, as torch's plain
# path does. Where ours keeps ``step`` is checked against torch's capturable RAdam in
# test_state_has_torch_format.


def step_on_device(device: str, ours_kwargs: dict[str, Any]) -> bool:
    """Whether ours keeps ``step`` on ``device`` where torch's plain RAdam keeps it on the CPU.

    torch's non-capturable state keeps ``step`` on the CPU; capturable puts it on the
    parameter's device (the CPU too, on the CPU).
    """
    return device != "cpu" and bool(ours_kwargs.get("capturable"))


def tensor_lr(value: float) -> torch.Tensor:
    """A tensor lr in float64, the parameters' dtype.

    torch's foreach path (CUDA's default) computes its step sizes as 0-d tensors of the lr's
    dtype (``lr * rect / bc``): a float32 lr rounds them to float32, 2e-9 off torch's own
    for-loop path after 20 steps. ``tensor_lr_float32`` compares a float32 lr with that path.
    """
    return torch.tensor(value, dtype=F64)


# ----------------------------------------------------------------------------- helpers


def mlp(seed: int = 0, dtype: torch.dtype = F64, device: str = "cpu") -> torch.nn.Module:
    """A real small model: three Linear layers with Tanh and SiLU, seeded.

    Initialized on the CPU and then moved, so every device starts from the same weights.
    """
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(6, 16),
        torch.nn.Tanh(),
        torch.nn.Linear(16, 8),
        torch.nn.SiLU(),
        torch.nn.Linear(8, 1),
    ).to(device=device, dtype=dtype)


def data(
    seed: int = 1, dtype: torch.dtype = F64, device: str | torch.device = "cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 6, generator=generator, dtype=F64)
    y = torch.sin(x.sum(dim=1, keepdim=True)) + 0.1 * torch.randn(64, 1, generator=generator)
    return x.to(device=device, dtype=dtype), y.to(device=device, dtype=dtype)


@functools.cache
def data_on(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The default batch, ``data()``, on ``device`` (made once per device)."""
    return data(device=device)


def loss_of(model: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor] | None = None):
    """The model's loss on ``batch``; by default ``data()`` on the model's device."""
    x, y = batch if batch is not None else data_on(next(model.parameters()).device)
    return torch.nn.functional.mse_loss(model(x), y)


def train(
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    steps: int,
    scheduler: Any = None,
) -> None:
    for _ in range(steps):
        opt.zero_grad()
        loss_of(model).backward()
        opt.step()
        if scheduler is not None:
            scheduler.step()


def fresh(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The kwargs with tensor values cloned, so two optimizers never share a tensor lr."""
    return {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()}


def assert_params_close(a: torch.nn.Module, b: torch.nn.Module, rtol=RTOL, atol=ATOL) -> None:
    for (name, pa), pb in zip(a.named_parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=rtol, atol=atol, msg=lambda m, n=name: f"{n}: {m}")


def assert_params_moved(model: torch.nn.Module, initial: torch.nn.Module) -> None:
    """Guards against vacuous agreement: a no-op optimizer must fail the comparison."""
    moved = max(
        (p - q).abs().max().item()
        for p, q in zip(model.parameters(), initial.parameters(), strict=True)
    )
    assert moved > 1e-3, moved


def assert_same_state(
    ours: torch.optim.Optimizer, theirs: torch.optim.Optimizer, *, step_device: bool = True
) -> None:
    """Each parameter's state: same keys, shapes, dtypes, devices and (close) values.

    ``step_device=False`` leaves out where ``step`` is (see :func:`step_on_device`).
    """
    so, st = ours.state_dict()["state"], theirs.state_dict()["state"]
    assert so.keys() == st.keys()
    for index in so:
        assert so[index].keys() == st[index].keys(), index
        for key, value in st[index].items():
            mine = so[index][key]
            assert mine.shape == value.shape, (index, key)
            assert mine.dtype == value.dtype, (index, key)
            if step_device or key != "step":
                assert mine.device == value.device, (index, key)
            # Moments pass through 0: their atol scales with the tensor's largest entry.
            atol = RTOL * value.abs().max().item() if value.numel() else 0.0
            torch.testing.assert_close(mine, value, rtol=RTOL, atol=atol, check_device=False)


def assert_equal_nested(a: Any, b: Any, where: str = "") -> None:
    """Exact equality of state dicts: tensors by dtype, shape and value; the rest by ==."""
    assert type(a) is type(b), (where, type(a), type(b))
    if isinstance(a, dict):
        assert list(a.keys()) == list(b.keys()), where
        for key in a:
            assert_equal_nested(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_equal_nested(x, y, f"{where}[{index}]")
    elif isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype, where
        assert a.shape == b.shape, where
        assert torch.equal(a, b), where
    else:
        assert a == b, where


def tensors(seed: int = 0, dtype: torch.dtype = F64, device: str = "cpu") -> list[torch.Tensor]:
    """Plain tensors of awkward shapes: a matrix, a vector, a 0-d scalar and an empty one.

    Drawn on the CPU and then moved, so every device gets the same values.
    """
    generator = torch.Generator().manual_seed(seed)
    shapes = [(7, 3), (5,), (), (0, 2)]
    return [
        torch.randn(shape, generator=generator, dtype=F64).to(device=device, dtype=dtype)
        for shape in shapes
    ]


def grad_of(param: torch.Tensor, t: int) -> torch.Tensor:
    """A deterministic gradient that depends on the parameter, so trajectories feed back.

    Computed on the parameter's device.
    """
    p = param.detach().to(torch.float32 if param.dtype in LOW else param.dtype)
    return (torch.sin(3.0 * p + 0.1 * t) + 0.5 * p).to(param.dtype)


def set_grads(params: list[torch.Tensor], t: int) -> None:
    for p in params:
        p.grad = grad_of(p, t)


def leaves(values: list[torch.Tensor]) -> list[torch.nn.Parameter]:
    return [torch.nn.Parameter(v.clone()) for v in values]


LOW = (torch.float16, torch.bfloat16)


# ------------------------------------------------------------------ 1. trajectory

# (id, our kwargs, torch.optim.RAdam's kwargs); lr is 1e-2 unless given.
TRAJECTORIES = [
    ("default", {}, {}),
    ("l2_weight_decay", {"weight_decay": 0.1}, {"weight_decay": 0.1}),
    (
        "decoupled_weight_decay",
        {"weight_decay": 0.1, "decoupled_weight_decay": True},
        {"weight_decay": 0.1, "decoupled_weight_decay": True},
    ),
    ("maximize", {"maximize": True, "lr": 1e-3}, {"maximize": True, "lr": 1e-3}),
    (
        "maximize_l2",
        {"maximize": True, "weight_decay": 0.3, "lr": 1e-3},
        {"maximize": True, "weight_decay": 0.3, "lr": 1e-3},
    ),
    (
        "betas_eps",
        {"betas": (0.8, 0.99), "eps": 1e-6, "lr": 3e-3},
        {"betas": (0.8, 0.99), "eps": 1e-6, "lr": 3e-3},
    ),
    ("reference_path", {"fused": False}, {}),
    (
        "reference_path_decoupled",
        {"fused": False, "weight_decay": 0.1, "decoupled_weight_decay": True},
        {"weight_decay": 0.1, "decoupled_weight_decay": True},
    ),
    ("fused_true", {"fused": True, "weight_decay": 0.1}, {"weight_decay": 0.1}),
    ("capturable", {"capturable": True, "weight_decay": 0.1}, {"weight_decay": 0.1}),
    (
        "capturable_decoupled_maximize",
        {
            "capturable": True,
            "maximize": True,
            "lr": 1e-3,
            "weight_decay": 0.1,
            "decoupled_weight_decay": True,
        },
        {"maximize": True, "lr": 1e-3, "weight_decay": 0.1, "decoupled_weight_decay": True},
    ),
    ("tensor_lr", {"lr": tensor_lr(0.01)}, {"lr": tensor_lr(0.01)}),
    (
        "tensor_lr_capturable",
        {"lr": tensor_lr(0.01), "capturable": True},
        {"lr": tensor_lr(0.01)},
    ),
    (
        "tensor_lr_float32",
        {"lr": torch.tensor(0.01)},
        {"lr": torch.tensor(0.01), "foreach": False},
    ),
    ("foreach_true", {"foreach": True}, {"foreach": True}),
    ("foreach_false", {"foreach": False}, {"foreach": False}),
]


@pytest.mark.parametrize(
    ("ours_kwargs", "torch_kwargs"),
    [pytest.param(o, t, id=name) for name, o, t in TRAJECTORIES],
)
def test_trajectory_matches_torch_radam(ours_kwargs, torch_kwargs, device):
    ours_kwargs = {"lr": 1e-2, **fresh(ours_kwargs)}
    torch_kwargs = {"lr": 1e-2, **fresh(torch_kwargs)}
    initial = mlp(device=device)
    model, reference = copy.deepcopy(initial), copy.deepcopy(initial)
    ours = RAdam(model.parameters(), **preset_kwargs(ours_kwargs))
    theirs = torch.optim.RAdam(reference.parameters(), **torch_kwargs)
    for _ in range(STEPS // 20):
        train(model, ours, 20)
        train(reference, theirs, 20)
        assert_params_close(model, reference)
    assert_params_moved(model, initial)
    assert_same_state(ours, theirs, step_device=not step_on_device(device, ours_kwargs))


# ------------------------------------------------------------------- 2. presets

PRESETS = [
    pytest.param({}, id="torch"),
    pytest.param({"preset": "paper", "weight_decay": 0.1}, id="paper"),
    pytest.param({"preset": "authors", "weight_decay": 0.1}, id="authors"),
    pytest.param({"preset": "optax"}, id="optax"),
    pytest.param({"preset": "optax", "nesterov": True, "eps_root": 1e-10}, id="optax_nesterov"),
    pytest.param({"preset": "tfa", "weight_decay": 0.05}, id="tfa"),
    pytest.param({"amsgrad": True, "weight_decay": 0.1}, id="amsgrad"),
    pytest.param({"preset": "tfa", "amsgrad": True, "maximize": True}, id="tfa_amsgrad_max"),
    pytest.param(
        {"nesterov": True, "weight_decay": 0.1, "decoupled_weight_decay": True},
        id="nesterov_decoupled",
    ),
    pytest.param(
        {"below_threshold": "skip", "threshold": 6.0, "threshold_inclusive": True, "eps": 1e-3},
        id="skip_threshold6",
    ),
    pytest.param({"eps_placement": "corrected", "betas": (0.5, 0.9)}, id="corrected_betas"),
]

# Steps that leave a parameter unchanged (below_threshold="skip") hit a once-per-process
# torch.asarray warning; test_steps_that_leave_params_unchanged_emit_no_warning covers it.


@pytest.mark.parametrize("options", PRESETS)
def test_presets_fused_and_reference_paths_equal_core_step(options, device):
    # On CUDA the default path runs the core's step too (the fused Adam path is CPU-only).
    lr = 0.05
    fused = leaves(tensors(device=device))
    reference = leaves(tensors(device=device))
    core = tensors(device=device)
    opt_fused = RAdam(fused, lr=lr, **preset_kwargs(options))
    opt_reference = RAdam(reference, lr=lr, fused=False, **preset_kwargs(options))
    state = radam_core.init_state(core, amsgrad=options.get("amsgrad", False))
    for t in range(1, 31):
        set_grads(fused, t)
        set_grads(reference, t)
        opt_fused.step()
        opt_reference.step()
        core, state = radam_core.step(core, [grad_of(p, t) for p in core], state, lr=lr, **options)
        for a, b, c in zip(fused, reference, core, strict=True):
            torch.testing.assert_close(a.detach(), c, rtol=PRESET_RTOL, atol=PRESET_ATOL)
            torch.testing.assert_close(b.detach(), c, rtol=PRESET_RTOL, atol=PRESET_ATOL)
    assert not torch.equal(core[0], tensors(device=device)[0])
    for index, p in enumerate(fused):
        s = opt_fused.state[p]
        assert s["step"].item() == state.count == 30
        torch.testing.assert_close(s["exp_avg_sq"], state.exp_avg_sq[index], rtol=1e-12, atol=0)
        if options.get("amsgrad"):
            torch.testing.assert_close(
                s["max_exp_avg_sq"], state.max_exp_avg_sq[index], rtol=1e-12, atol=0
            )


@pytest.mark.parametrize(
    ("options", "expected_calls"),
    [
        ({}, 5),  # torch: rho_t > 5 from t = 6, steps 6..10
        ({"preset": "paper"}, 6),  # rho_t > 4 from t = 5
        ({"decoupled_weight_decay": True, "weight_decay": 0.1}, 5),
        ({"fused": False}, 0),
        ({"nesterov": True}, 0),  # no Adam form
        ({"eps_root": 1e-12}, 0),
    ],
)
def test_fused_kernel_runs_rectified_steps_only(monkeypatch, options, expected_calls):
    # The equality above compares two different paths only if the fused one really runs.
    # Other devices: tests/test_radam_torch_fused_devices.py.
    calls = []
    for name in ("_fused_adam_", "_fused_adamw_"):
        kernel = getattr(torch, name)

        def counted(*args, _kernel=kernel, **kwargs):
            calls.append(kwargs["lr"])
            return _kernel(*args, **kwargs)

        monkeypatch.setattr(torch, name, counted)
    params = leaves(tensors())
    opt = RAdam(params, lr=0.05, **preset_kwargs(options))
    for t in range(1, 11):
        set_grads(params, t)
        opt.step()
    assert len(calls) == expected_calls


# --------------------------------------------------------------------- 3. state


def stepped_pair(steps: int = 7, ours_kwargs=None, torch_kwargs=None, device: str = "cpu"):
    initial = mlp(device=device)
    model, reference = copy.deepcopy(initial), copy.deepcopy(initial)
    ours = RAdam(model.parameters(), lr=1e-2, **preset_kwargs(ours_kwargs or {}))
    theirs = torch.optim.RAdam(reference.parameters(), lr=1e-2, **(torch_kwargs or {}))
    train(model, ours, steps)
    train(reference, theirs, steps)
    return model, ours, reference, theirs


@pytest.mark.parametrize("capturable", [False, True])
def test_state_has_torch_format(capturable, device):
    ours_kwargs = {"capturable": capturable}
    model, ours, _, theirs = stepped_pair(7, ours_kwargs, {}, device)
    assert_same_state(ours, theirs, step_device=not step_on_device(device, ours_kwargs))
    # The format is that of torch.optim.RAdam with the same capturable on the same device
    # (torch has no capturable RAdam on the CPU: there both keep step on the CPU).
    like = {"capturable": True} if step_on_device(device, ours_kwargs) else {}
    _, _, reference, torch_like = stepped_pair(7, {}, like, device)
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        mine, torch_state = ours.state[p], torch_like.state[q]
        assert mine.keys() == torch_state.keys()
        for key, value in torch_state.items():
            assert mine[key].shape == value.shape, key
            assert mine[key].dtype == value.dtype, key
            assert mine[key].device == value.device, key
        step = mine["step"]
        assert torch.is_tensor(step)
        assert step.shape == ()
        assert step.dtype == torch.float32
        assert step.item() == 7
        # torch's placement: on the CPU, or on the parameter's device when capturable.
        assert step.device.type == (device if capturable else "cpu")
    # Every group key torch saves is there with torch's value; ours adds only its options.
    group, torch_group = (
        ours.state_dict()["param_groups"][0],
        theirs.state_dict()["param_groups"][0],
    )
    for key, value in torch_group.items():
        if key != "capturable":
            assert group[key] == value, key
    assert set(group) - set(torch_group) == {"fused", "preset", *radam_torch_core_options()}


def radam_torch_core_options() -> set[str]:
    return {
        "threshold",
        "threshold_inclusive",
        "below_threshold",
        "eps_placement",
        "eps_root",
        "amsgrad",
        "nesterov",
    }


def test_amsgrad_state_uses_torch_adam_key(device):
    model = mlp(device=device)
    ours = RAdam(model.parameters(), preset=radam_core.PRESETS["torch"].replace(amsgrad=True))
    train(model, ours, 3)
    adam_model = mlp(device=device)
    adam = torch.optim.Adam(adam_model.parameters(), amsgrad=True)
    train(adam_model, adam, 3)
    for p, q in zip(model.parameters(), adam_model.parameters(), strict=True):
        assert ours.state[p].keys() == adam.state[q].keys()
        assert ours.state[p]["max_exp_avg_sq"].shape == p.shape
        assert ours.state[p]["max_exp_avg_sq"].dtype == p.dtype
        assert ours.state[p]["max_exp_avg_sq"].device == adam.state[q]["max_exp_avg_sq"].device
        assert (ours.state[p]["max_exp_avg_sq"] >= ours.state[p]["exp_avg_sq"]).all()


@pytest.mark.parametrize("saved_steps", [3, 12])
def test_torch_checkpoint_loads_into_ours_and_continues_like_torch(saved_steps, device):
    # Saved below the threshold (3) the continuation crosses it; at 12 it is rectified.
    options = {"weight_decay": 0.1, "decoupled_weight_decay": True}
    _, _, reference, theirs = stepped_pair(saved_steps, {}, options, device)
    model = copy.deepcopy(reference)
    ours = RAdam(model.parameters())  # defaults: the checkpoint's groups must win
    # state_dict() hands out the live tensors: a checkpoint is a copy of them.
    ours.load_state_dict(copy.deepcopy(theirs.state_dict()))
    assert ours.param_groups[0]["decoupled_weight_decay"] is True
    assert ours.param_groups[0]["preset"] == "torch"  # filled in from our defaults
    train(model, ours, 30)
    train(reference, theirs, 30)
    assert_params_close(model, reference)
    assert_same_state(ours, theirs)


@pytest.mark.parametrize("saved_steps", [3, 12])
def test_our_checkpoint_loads_into_torch_and_continues_like_ours(saved_steps, device):
    options = {"weight_decay": 0.1}
    model, ours, _, _ = stepped_pair(saved_steps, options, {}, device)
    reference = copy.deepcopy(model)
    theirs = torch.optim.RAdam(reference.parameters())
    theirs.load_state_dict(copy.deepcopy(ours.state_dict()))
    train(model, ours, 30)
    train(reference, theirs, 30)
    assert_params_close(model, reference)
    assert_same_state(ours, theirs)


def test_checkpoint_with_python_number_step_loads_like_torch(device):
    _, _, reference, theirs = stepped_pair(7, device=device)
    saved = theirs.state_dict()
    for param_state in saved["state"].values():
        param_state["step"] = param_state["step"].item()
    model = copy.deepcopy(reference)
    ours = RAdam(model.parameters())
    ours.load_state_dict(copy.deepcopy(saved))
    theirs.load_state_dict(saved)
    train(model, ours, 5)
    train(reference, theirs, 5)
    assert_params_close(model, reference)
    assert_same_state(ours, theirs)


def test_state_dict_round_trips_through_torch_save_weights_only(tmp_path, device):
    model = mlp(device=device)
    tfa_amsgrad = radam_core.PRESETS["tfa"].replace(amsgrad=True)
    opt = RAdam(model.parameters(), lr=torch.tensor(0.02), preset=tfa_amsgrad)
    train(model, opt, 8)
    path = tmp_path / "radam.pt"
    torch.save(opt.state_dict(), path)
    loaded = torch.load(path, weights_only=True)
    assert_equal_nested(loaded, opt.state_dict())
    restored_model = copy.deepcopy(model)
    restored = RAdam(restored_model.parameters())
    restored.load_state_dict(loaded)
    assert restored.param_groups[0]["preset"] == "tfa"
    assert restored.param_groups[0]["amsgrad"] is True
    train(model, opt, 10)
    train(restored_model, restored, 10)
    for p, q in zip(model.parameters(), restored_model.parameters(), strict=True):
        assert torch.equal(p, q)
    assert_equal_nested(restored.state_dict(), opt.state_dict())


# --------------------------------------------------------------- 4. determinism


def test_state_dict_is_deterministic(device):
    model_a, opt_a, _, _ = stepped_pair(9, {"amsgrad": True}, device=device)
    _, opt_b, _, _ = stepped_pair(9, {"amsgrad": True}, device=device)
    assert_equal_nested(opt_a.state_dict(), opt_a.state_dict())
    assert_equal_nested(opt_a.state_dict(), opt_b.state_dict())
    train(model_a, opt_a, 1)
    with pytest.raises(AssertionError):
        assert_equal_nested(opt_a.state_dict(), opt_b.state_dict())


def test_deepcopy_is_independent_and_keeps_working():
    model = mlp()
    opt = RAdam(model.parameters(), lr=1e-2, weight_decay=0.1)
    train(model, opt, 4)
    twin = copy.deepcopy({"model": model, "opt": opt})  # one memo: the copy steps its model
    copy_model, copy_opt = twin["model"], twin["opt"]
    assert_equal_nested(copy_opt.state_dict(), opt.state_dict())
    train(model, opt, 10)
    train(copy_model, copy_opt, 10)
    for p, q in zip(model.parameters(), copy_model.parameters(), strict=True):
        assert torch.equal(p, q)
        assert p.data_ptr() != q.data_ptr()
        assert opt.state[p]["exp_avg"].data_ptr() != copy_opt.state[q]["exp_avg"].data_ptr()
    assert_equal_nested(copy_opt.state_dict(), opt.state_dict())
    train(copy_model, copy_opt, 1)  # stepping the copy leaves the original alone
    assert opt.state_dict()["state"][0]["step"].item() == 14
    assert copy_opt.state_dict()["state"][0]["step"].item() == 15


def test_pickle_round_trip_keeps_working():
    params = leaves(tensors())
    opt = RAdam(params, lr=0.05, preset=radam_core.PRESETS["optax"].replace(amsgrad=True))
    for t in range(1, 5):
        set_grads(params, t)
        opt.step()
    restored = pickle.loads(pickle.dumps(opt))
    assert_equal_nested(restored.state_dict(), opt.state_dict())
    restored_params = restored.param_groups[0]["params"]
    for t in range(5, 15):
        set_grads(params, t)
        set_grads(restored_params, t)
        opt.step()
        restored.step()
    for p, q in zip(params, restored_params, strict=True):
        assert torch.equal(p, q)
    assert_equal_nested(restored.state_dict(), opt.state_dict())


def _bad_shape_state(opt: torch.optim.Optimizer) -> dict[str, Any]:
    saved = copy.deepcopy(opt.state_dict())
    saved["state"][0]["exp_avg"] = torch.zeros(3, 3, dtype=F64)
    return saved


@pytest.mark.parametrize("clone", ["deepcopy", "pickle"])
def test_copies_still_refuse_bad_checkpoints(clone):
    _, opt, _, _ = stepped_pair(3)
    with pytest.raises(ValueError, match="shape"):
        opt.load_state_dict(_bad_shape_state(opt))
    other = copy.deepcopy(opt) if clone == "deepcopy" else pickle.loads(pickle.dumps(opt))
    with pytest.raises(ValueError, match="shape"):
        other.load_state_dict(_bad_shape_state(other))


def test_repr_prints_the_groups():
    model = mlp()
    params = list(model.parameters())
    opt = RAdam([{"params": params[:2], "lr": 0.125}, {"params": params[2:]}], weight_decay=0.5)
    text = repr(opt)
    assert text.startswith("RAdam (")
    for line in ("Parameter Group 0", "Parameter Group 1", "lr: 0.125", "lr: 0.001"):
        assert line in text
    assert "weight_decay: 0.5" in text
    assert "preset: torch" in text
    # Every line torch prints for the same groups is in ours.
    theirs = torch.optim.RAdam(
        [{"params": params[:2], "lr": 0.125}, {"params": params[2:]}], weight_decay=0.5
    )
    assert set(repr(theirs).splitlines()[1:]) <= set(text.splitlines())


# ------------------------------------------------------------------- 5. stepping


@pytest.mark.parametrize("kwargs", [{}, {"fused": False}, {"capturable": True}])
def test_params_without_grads_are_untouched_and_get_no_state(kwargs, device):
    model = mlp(device=device)
    frozen = list(model.parameters())[2:4]  # the middle Linear
    for p in frozen:
        p.requires_grad_(False)
    before = [p.clone() for p in frozen]
    opt = RAdam(model.parameters(), lr=0.1, weight_decay=0.1, **preset_kwargs(kwargs))
    train(model, opt, 10)
    for p, b in zip(frozen, before, strict=True):
        assert torch.equal(p, b)
        assert p not in opt.state
    assert len(opt.state) == 4
    assert_params_moved(model, mlp(device=device))


def test_intermittent_grads_match_torch(device):
    # Parameters that get a gradient only on some steps keep their own step counts.
    ours_params, torch_params = leaves(tensors(device=device)), leaves(tensors(device=device))
    ours = RAdam(ours_params, lr=0.05, weight_decay=0.1)
    theirs = torch.optim.RAdam(torch_params, lr=0.05, weight_decay=0.1)
    for t in range(1, 41):
        for params, opt in ((ours_params, ours), (torch_params, theirs)):
            for index, p in enumerate(params):
                p.grad = grad_of(p, t) if t % (index + 2) else None
            opt.step()
    for a, b in zip(ours_params, torch_params, strict=True):
        torch.testing.assert_close(a, b, rtol=RTOL, atol=ATOL)
    assert_same_state(ours, theirs)
    steps = [ours.state[p]["step"].item() for p in ours_params]
    assert len(set(steps)) == 4, steps


@pytest.mark.parametrize("kwargs", [{}, {"fused": False}, {"capturable": True}, {"amsgrad": True}])
def test_zero_grads_without_weight_decay_leave_params_unchanged(kwargs, device):
    params = leaves(tensors(device=device))
    before = [p.detach().clone() for p in params]
    opt = RAdam(params, lr=0.1, **preset_kwargs(kwargs))
    for _ in range(30):
        for p in params:
            p.grad = torch.zeros_like(p)
        opt.step()
    for p, b in zip(params, before, strict=True):
        assert torch.equal(p, b)
        assert opt.state[p]["step"].item() == 30


GRAD_CASES = [
    pytest.param({}, id="default"),
    pytest.param({"maximize": True, "weight_decay": 0.1}, id="maximize_l2"),
    pytest.param({"weight_decay": 0.1, "decoupled_weight_decay": True}, id="decoupled"),
    pytest.param({"fused": False, "maximize": True, "weight_decay": 0.1}, id="reference"),
    pytest.param({"capturable": True, "maximize": True, "weight_decay": 0.1}, id="capturable"),
    pytest.param({"preset": "optax", "nesterov": True, "amsgrad": True}, id="nesterov"),
]


@pytest.mark.parametrize("kwargs", GRAD_CASES)
@pytest.mark.parametrize("dtype", [F64, torch.complex128])
def test_grads_are_never_modified(kwargs, dtype, device):
    params = leaves(tensors(dtype=dtype, device=device))
    opt = RAdam(params, lr=0.05, **preset_kwargs(kwargs))
    for t in range(1, 12):
        set_grads(params, t)
        grads = [p.grad for p in params]
        clones = [g.clone() for g in grads]
        opt.step()
        for p, g, c in zip(params, grads, clones, strict=True):
            assert p.grad is g
            assert torch.equal(g, c)


def test_step_with_closure_returns_loss_and_matches_torch(device):
    initial = mlp(device=device)
    model, reference = copy.deepcopy(initial), copy.deepcopy(initial)
    ours = RAdam(model.parameters(), lr=1e-2)
    theirs = torch.optim.RAdam(reference.parameters(), lr=1e-2)

    def closure_for(m, opt):
        def closure():
            opt.zero_grad()
            loss = loss_of(m)
            loss.backward()
            return loss

        return closure

    for _ in range(12):
        expected = loss_of(model).item()
        with torch.no_grad():  # the closure still gets gradients, as with torch
            loss = ours.step(closure_for(model, ours))
        theirs.step(closure_for(reference, theirs))
        assert torch.is_tensor(loss)
        assert loss.item() == expected
    assert ours.step() is None  # no closure: None, a step with the last gradients
    theirs.step()
    assert_params_close(model, reference)
    assert_params_moved(model, initial)


@pytest.mark.parametrize(
    "options",
    [{}, {"weight_decay": 0.1}, {"weight_decay": 0.1, "decoupled_weight_decay": True}],
    ids=["plain", "l2", "decoupled"],
)
def test_differentiable_steps_give_torchs_values_and_gradients(options, device):
    """differentiable=True: autograd through 8 steps (across the threshold), as torch's."""
    start = torch.randn(6, dtype=F64, device=device, requires_grad=True)
    direction = torch.randn(6, dtype=F64, device=device, requires_grad=True)

    def trajectory(optimizer_class):
        param = start.clone()  # a non-leaf copy: autograd records the steps' writes
        opt = optimizer_class([param], lr=0.1, differentiable=True, **options)
        for t in range(1, 9):
            param.grad = direction * t + param.detach()
            opt.step()
        return param

    ours, theirs = trajectory(RAdam), trajectory(torch.optim.RAdam)
    torch.testing.assert_close(ours, theirs, rtol=RTOL, atol=ATOL)
    weights = torch.linspace(-1.0, 1.0, 6, dtype=F64, device=device)
    ours_grads = torch.autograd.grad((ours * weights).sum(), (start, direction))
    theirs_grads = torch.autograd.grad((theirs * weights).sum(), (start, direction))
    for got, want in zip(ours_grads, theirs_grads, strict=True):
        assert got.abs().max() > 0
        torch.testing.assert_close(got, want, rtol=RTOL, atol=ATOL)


# ------------------------------------------------------- 6. groups and schedules


def grouped(model: torch.nn.Module) -> list[dict[str, Any]]:
    layers = [m for m in model if isinstance(m, torch.nn.Linear)]
    return [
        {"params": layers[0].parameters(), "lr": 0.02, "weight_decay": 0.1},
        {
            "params": layers[1].parameters(),
            "lr": 0.005,
            "weight_decay": 0.2,
            "decoupled_weight_decay": True,
        },
        {"params": layers[2].parameters(), "betas": (0.8, 0.99)},
    ]


def test_param_groups_with_own_options_match_torch(device):
    initial = mlp(device=device)
    model, reference = copy.deepcopy(initial), copy.deepcopy(initial)
    ours = RAdam(grouped(model), lr=1e-2)
    theirs = torch.optim.RAdam(grouped(reference), lr=1e-2)
    train(model, ours, 60)
    train(reference, theirs, 60)
    assert_params_close(model, reference)
    assert_same_state(ours, theirs)
    assert_params_moved(model, initial)


SCHEDULERS = {
    "StepLR": lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=25, gamma=0.5),
    "LambdaLR": lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0 / (1 + 0.05 * t)),
    "OneCycleLR": lambda opt: torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=0.05, total_steps=100
    ),  # also cycles beta1
    "CosineAnnealingLR": lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=40),
}


@pytest.mark.parametrize("use_tensor_lr", [False, True])
@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_lr_schedulers_give_torch_trajectory(name, use_tensor_lr, device):
    initial = mlp(device=device)
    model, reference = copy.deepcopy(initial), copy.deepcopy(initial)

    def lr():
        return tensor_lr(0.01) if use_tensor_lr else 0.01

    ours = RAdam(grouped(model), lr=lr())
    theirs = torch.optim.RAdam(grouped(reference), lr=lr())
    ours_schedule, their_schedule = SCHEDULERS[name](ours), SCHEDULERS[name](theirs)
    lrs = []
    for _ in range(100):
        train(model, ours, 1, ours_schedule)
        train(reference, theirs, 1, their_schedule)
        lrs.append(float(ours.param_groups[0]["lr"]))
    assert len(set(lrs)) > 2  # the schedule really changed the lr
    assert [g["betas"] for g in ours.param_groups] == [g["betas"] for g in theirs.param_groups]
    assert_params_close(model, reference)
    assert_same_state(ours, theirs)


def test_step_hooks_are_called():
    model = mlp()
    opt = RAdam(model.parameters(), lr=1e-2)
    weight = next(model.parameters())
    events = []

    def pre(optimizer, args, kwargs):
        events.append(("pre", optimizer is opt, weight.detach().clone()))

    def post(optimizer, args, kwargs):
        events.append(("post", optimizer is opt, weight.detach().clone()))

    pre_handle = opt.register_step_pre_hook(pre)
    post_handle = opt.register_step_post_hook(post)
    train(model, opt, 2)
    assert [(kind, same) for kind, same, _ in events] == [("pre", True), ("post", True)] * 2
    assert not torch.equal(events[0][2], events[1][2])  # post sees the updated weight
    pre_handle.remove()
    post_handle.remove()
    train(model, opt, 1)
    assert len(events) == 4


def test_add_param_group_matches_torch(device):
    initial = mlp(device=device)
    model, reference = copy.deepcopy(initial), copy.deepcopy(initial)
    groups_a, groups_b = grouped(model), grouped(reference)
    ours = RAdam([groups_a[0]], lr=1e-2, preset="torch", weight_decay=0.05)
    theirs = torch.optim.RAdam([groups_b[0]], lr=1e-2, weight_decay=0.05)
    train(model, ours, 4)
    train(reference, theirs, 4)
    for group_a, group_b in zip(groups_a[1:], groups_b[1:], strict=True):
        ours.add_param_group(group_a)
        theirs.add_param_group(group_b)
    added = ours.param_groups[2]
    assert added["weight_decay"] == 0.05
    assert added["betas"] == (0.8, 0.99)
    assert radam_torch_core_options() | {"preset", "fused", "eps"} <= set(added)
    train(model, ours, 30)
    train(reference, theirs, 30)
    assert_params_close(model, reference)
    assert_same_state(ours, theirs)
    with pytest.raises(ValueError, match="more than one parameter group"):
        ours.add_param_group({"params": next(model.parameters())})


def test_group_preset_is_honoured(device):
    per_group = leaves(tensors(device=device))
    whole = leaves(tensors(device=device))
    opt_group = RAdam([{"params": per_group, "preset": "paper"}], lr=0.05)
    opt_whole = RAdam(whole, lr=0.05, preset="paper")
    for t in range(1, 8):  # "paper" rectifies step 5, "torch" does not
        set_grads(per_group, t)
        set_grads(whole, t)
        opt_group.step()
        opt_whole.step()
    for a, b in zip(per_group, whole, strict=True):
        torch.testing.assert_close(a, b, rtol=PRESET_RTOL, atol=PRESET_ATOL)


# ---------------------------------------------------------------- 7. complex


COMPLEX_CASES = [
    pytest.param({}, {}, id="default"),
    pytest.param({"weight_decay": 0.1}, {"weight_decay": 0.1}, id="l2"),
    pytest.param(
        {"maximize": True, "weight_decay": 0.1, "decoupled_weight_decay": True},
        {"maximize": True, "weight_decay": 0.1, "decoupled_weight_decay": True},
        id="maximize_decoupled",
    ),
    pytest.param({"fused": False}, {}, id="reference"),
    pytest.param({"capturable": True}, {}, id="capturable"),
]


@pytest.mark.parametrize(("ours_kwargs", "torch_kwargs"), COMPLEX_CASES)
def test_complex_params_match_torch(ours_kwargs, torch_kwargs, device):
    generator = torch.Generator().manual_seed(3)  # drawn on the CPU, then moved
    shape = (4, 3)
    w0, x, y = (
        torch.randn(size, generator=generator, dtype=torch.complex128).to(device)
        for size in (shape, (3, 16), (4, 16))
    )
    w_ours, w_torch = torch.nn.Parameter(w0.clone()), torch.nn.Parameter(w0.clone())
    ours = RAdam([w_ours], lr=0.05, **preset_kwargs(ours_kwargs))
    theirs = torch.optim.RAdam([w_torch], lr=0.05, **torch_kwargs)
    for _ in range(40):
        for w, opt in ((w_ours, ours), (w_torch, theirs)):
            opt.zero_grad()
            ((w @ x - y).abs() ** 2).mean().backward()
            opt.step()
    torch.testing.assert_close(w_ours, w_torch, rtol=RTOL, atol=ATOL)
    assert (w_ours - w0).abs().max() > 1e-2
    assert_same_state(ours, theirs, step_device=not step_on_device(device, ours_kwargs))
    assert ours.state[w_ours]["exp_avg"].dtype == torch.complex128


# ------------------------------------------------------------ 8. mixed precision

# Over 50 steps (lr 1e-2, params ~N(0, 0.25^2), weight decay 0.01) a float16/bfloat16 run
# stays within this of the float32 run given the same gradients. Every update is rounded to
# the low-precision parameter (ulp at 0.25: float16 2^-13, bfloat16 2^-10, against steps of
# ~1e-2), and those roundings accumulate: measured 1.5e-3 (float16) and 1.8e-2 (bfloat16),
# the same as torch.optim.RAdam's own low-precision runs.
LOW_PRECISION_ATOL = {torch.float16: 5e-3, torch.bfloat16: 4e-2}


def float32_step_rounded(
    param: torch.Tensor, opt: torch.optim.Optimizer, dtype: torch.dtype
) -> torch.Tensor:
    """The step ``opt`` is about to take on ``param``, done in float32 and rounded to dtype."""
    wide = torch.nn.Parameter(param.detach().float())
    wide.grad = param.grad.float()
    wide_opt = RAdam(
        [wide], **preset_kwargs({k: v for k, v in opt.defaults.items() if k != "preset"})
    )
    if opt.state[param]:
        wide_opt.state[wide] = {
            k: v.clone() if k == "step" else v.float() for k, v in opt.state[param].items()
        }
    wide_opt.step()
    return wide.detach().to(dtype)


@pytest.mark.parametrize("fused", [None, False])
@pytest.mark.parametrize("dtype", LOW, ids=str)
def test_low_precision_tracks_float32(dtype, fused, device):
    base = 0.25 * torch.randn(256, generator=torch.Generator().manual_seed(0)).to(device)
    low, full = torch.nn.Parameter(base.to(dtype)), torch.nn.Parameter(base.clone())
    opt_low = RAdam([low], lr=1e-2, weight_decay=0.01, fused=fused)
    opt_full = RAdam([full], lr=1e-2, weight_decay=0.01, fused=fused)
    ulp = torch.finfo(dtype).eps
    for t in range(1, 51):
        low.grad = grad_of(full, t).to(dtype)  # the same gradients: only the storage differs
        full.grad = grad_of(full, t)
        expected = float32_step_rounded(low, opt_low, dtype)
        opt_low.step()
        opt_full.step()
        # Each step is the float32 step on the same state, rounded (to within one ulp).
        torch.testing.assert_close(
            low.detach().float(), expected.float(), rtol=ulp, atol=torch.finfo(dtype).tiny
        )
    assert low.dtype == dtype
    assert opt_low.state[low]["exp_avg"].dtype == dtype
    assert torch.isfinite(low).all()
    assert (full - base).abs().max() > 0.05
    torch.testing.assert_close(
        low.detach().float(), full.detach(), rtol=0, atol=LOW_PRECISION_ATOL[dtype]
    )


@pytest.mark.parametrize("fused", [None, False])
@pytest.mark.parametrize("dtype", LOW, ids=str)
def test_low_precision_zero_grads_keep_params_finite_and_unchanged(dtype, fused, device):
    # eps = 1e-8 underflows in float16 (torch.optim.RAdam's own float16 run gives NaN here).
    base = torch.randn(64, generator=torch.Generator().manual_seed(0)).to(device, dtype)
    param = torch.nn.Parameter(base.clone())
    opt = RAdam([param], fused=fused)
    for _ in range(300):
        param.grad = torch.zeros_like(param)
        opt.step()
    assert torch.equal(param.detach(), base)
    # Real gradients for a while, then zeros again: the moments decay, nothing blows up.
    moving = torch.nn.Parameter(base.clone())
    opt = RAdam([moving], lr=1e-2, fused=fused)
    for t in range(1, 321):
        moving.grad = grad_of(moving, t) if t <= 20 else torch.zeros_like(moving)
        opt.step()
        assert torch.isfinite(moving).all(), t
    assert torch.isfinite(opt.state[moving]["exp_avg_sq"]).all()


def test_grad_scaler_skips_inf_steps_and_steps_normally_otherwise(device):
    initial = mlp(dtype=torch.float32, device=device)
    batch = data(dtype=torch.float32, device=device)
    model, reference = copy.deepcopy(initial), copy.deepcopy(initial)
    ours = RAdam(model.parameters(), lr=1e-2)
    plain = RAdam(reference.parameters(), lr=1e-2)
    scaler = torch.amp.GradScaler(device, init_scale=2.0**10, growth_interval=1000)
    assert scaler.is_enabled()

    def scaled_step(inject_inf: bool) -> None:
        ours.zero_grad()
        scaler.scale(loss_of(model, batch)).backward()
        if inject_inf:
            next(model.parameters()).grad[0, 0] = float("inf")
        scaler.step(ours)
        scaler.update()

    for _ in range(8):
        scaled_step(inject_inf=False)
        plain.zero_grad()
        loss_of(reference, batch).backward()
        plain.step()
        # Scaling by a power of 2 is exact: the same step as without the scaler.
        assert_params_close(model, reference, rtol=0, atol=0)
    before = copy.deepcopy(ours.state_dict())
    weights = [p.detach().clone() for p in model.parameters()]
    scaled_step(inject_inf=True)
    assert scaler.get_scale() == 2.0**9
    for p, w in zip(model.parameters(), weights, strict=True):
        assert torch.equal(p, w)
    assert_equal_nested(ours.state_dict(), before)
    scaled_step(inject_inf=False)
    assert scaler.get_scale() == 2.0**9
    assert ours.state_dict()["state"][0]["step"].item() == 9
    assert not torch.equal(next(model.parameters()), weights[0])


# ---------------------------------------------------------------- 9. bad input


def outcome(call: Callable[[], Any]) -> tuple[str, str]:
    try:
        call()
    except Exception as error:
        return type(error).__name__, str(error)
    return "no error", ""


BAD_KWARGS = [
    pytest.param({"lr": -1}, id="lr"),
    pytest.param({"lr": -1e-3}, id="lr_float"),
    pytest.param({"eps": -1}, id="eps"),
    pytest.param({"betas": (1.0, 0.999)}, id="beta1"),
    pytest.param({"betas": (0.9, 1.0)}, id="beta2"),
    pytest.param({"betas": (-0.1, 0.999)}, id="beta1_negative"),
    pytest.param({"weight_decay": -1}, id="weight_decay"),
    pytest.param({"lr": torch.tensor([0.1, 0.2])}, id="tensor_lr_two_elements"),
]


@pytest.mark.parametrize("kwargs", BAD_KWARGS)
def test_bad_hyperparameters_raise_torch_errors(kwargs):
    param = torch.nn.Parameter(torch.zeros(3))
    expected = outcome(lambda: torch.optim.RAdam([param], **kwargs))
    assert expected[0] == "ValueError"
    assert outcome(lambda: RAdam([param], **preset_kwargs(kwargs))) == expected


def _shared():
    return torch.nn.Parameter(torch.zeros(3))


SHARED = _shared()
BAD_PARAMS = [
    pytest.param(lambda: SHARED, id="bare_tensor"),
    pytest.param(lambda: [{"params": [SHARED]}, {"params": [SHARED]}], id="param_in_two_groups"),
    pytest.param(lambda: [], id="empty"),
    pytest.param(lambda: [SHARED, "weight"], id="not_a_tensor"),
]


@pytest.mark.parametrize("make_params", BAD_PARAMS)
def test_bad_params_raise_torch_errors(make_params):
    expected = outcome(lambda: torch.optim.RAdam(make_params()))
    assert expected[0] in ("TypeError", "ValueError")
    assert outcome(lambda: RAdam(make_params())) == expected


def test_duplicate_params_warn_like_torch():
    with pytest.warns(UserWarning, match="duplicate parameters") as theirs:
        torch.optim.RAdam([SHARED, SHARED])
    with pytest.warns(UserWarning, match="duplicate parameters") as ours:
        RAdam([SHARED, SHARED])
    assert [str(w.message) for w in ours] == [str(w.message) for w in theirs]


@pytest.mark.parametrize("kwargs", [{}, {"fused": False}, {"capturable": True}])
def test_sparse_gradients_raise(kwargs, device):
    embedding = torch.nn.Embedding(10, 3, sparse=True, device=device)
    opt = RAdam(embedding.parameters(), **preset_kwargs(kwargs))
    embedding(torch.tensor([1, 4], device=device)).sum().backward()
    before = embedding.weight.detach().clone()
    with pytest.raises(RuntimeError, match="RAdam does not support sparse gradients"):
        opt.step()
    assert torch.equal(embedding.weight, before)


def _without_key(key: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def corrupt(saved: dict[str, Any]) -> dict[str, Any]:
        del saved[key]
        return saved

    return corrupt


def _reshape(name: str, index: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def corrupt(saved: dict[str, Any]) -> dict[str, Any]:
        value = saved["state"][index][name]
        saved["state"][index][name] = torch.zeros(value.numel() + 1, dtype=value.dtype)
        return saved

    return corrupt


def _extra_group(saved: dict[str, Any]) -> dict[str, Any]:
    group = dict(saved["param_groups"][0])
    group["params"] = [99]
    saved["param_groups"].append(group)
    return saved


def _one_param_fewer(saved: dict[str, Any]) -> dict[str, Any]:
    saved["param_groups"][0]["params"] = saved["param_groups"][0]["params"][:-1]
    return saved


def _param_state_without(key: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def corrupt(saved: dict[str, Any]) -> dict[str, Any]:
        del saved["state"][1][key]
        return saved

    return corrupt


BAD_CHECKPOINTS = [
    pytest.param(_reshape("exp_avg", 0), id="exp_avg_shape"),
    pytest.param(_reshape("exp_avg_sq", 3), id="exp_avg_sq_shape"),
    pytest.param(_without_key("state"), id="missing_state"),
    pytest.param(_without_key("param_groups"), id="missing_param_groups"),
    pytest.param(_extra_group, id="extra_group"),
    pytest.param(_one_param_fewer, id="one_param_fewer"),
    pytest.param(
        _param_state_without("exp_avg_sq"),
        id="param_state_missing_key",
    ),
]


@pytest.mark.parametrize("corrupt", BAD_CHECKPOINTS)
def test_bad_checkpoint_raises_and_leaves_optimizer_unchanged(corrupt):
    model, opt, _, _ = stepped_pair(7, {"weight_decay": 0.1})
    twin_model, twin, _, _ = stepped_pair(7, {"weight_decay": 0.1})
    before = copy.deepcopy(opt.state_dict())
    groups_before = copy.deepcopy(opt.param_groups)
    with pytest.raises((ValueError, KeyError)):
        opt.load_state_dict(corrupt(copy.deepcopy(opt.state_dict())))
    assert_equal_nested(opt.state_dict(), before)
    assert_equal_nested(opt.param_groups, groups_before)
    train(model, opt, 3)
    train(twin_model, twin, 3)
    for p, q in zip(model.parameters(), twin_model.parameters(), strict=True):
        assert torch.equal(p, q)
    assert_equal_nested(opt.state_dict(), twin.state_dict())


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"preset": "adamw"}, "preset"),
        ({"threshold": 3.0}, "threshold"),
        ({"threshold": float("inf")}, "threshold"),
        ({"below_threshold": "zero"}, "below_threshold"),
        ({"eps_placement": "inside"}, "eps_placement"),
        ({"eps_root": -1.0}, "eps_root"),
    ],
)
def test_bad_core_options_raise_value_error_naming_them(kwargs, name):
    """The convention's fields are checked when a preset is built, and as the old keywords."""
    with pytest.raises(ValueError, match=name):
        RAdam([torch.nn.Parameter(torch.zeros(3))], **kwargs)
    if name != "preset":
        with pytest.raises(ValueError, match=name):
            RAdam([torch.nn.Parameter(torch.zeros(3))], preset=radam_core.Preset(**kwargs))


@pytest.mark.parametrize("name", ["amsgrad", "nesterov", "threshold_inclusive"])
def test_non_bool_core_flags_raise_type_error_naming_them(name):
    with pytest.raises(TypeError, match=name):
        RAdam([torch.nn.Parameter(torch.zeros(3))], **{name: "yes"})


# A fresh interpreter: torch warns about torch.asarray only once per process.
ASARRAY_PROBE = textwrap.dedent(
    """
    import warnings
    import torch
    from radam_torch import RAdam

    warnings.simplefilter("error")
    for kwargs in ({{"lr": 0.0}}, {{"preset": "authors"}}):
        param = torch.nn.Parameter(torch.ones(3))
        opt = RAdam([param], fused={fused}, **kwargs)
        param.grad = torch.ones(3)
        opt.step()
    """
)


def test_steps_that_leave_params_unchanged_emit_no_warning():
    for fused in ("None", "False"):
        result = subprocess.run(
            [sys.executable, "-c", ASARRAY_PROBE.format(fused=fused)],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr[-2000:]


# ------------------------------------------------------------------- 10. memory


def allocated_bytes_of_step(opt: torch.optim.Optimizer) -> int:
    """Bytes the step's aten ops allocate (a bound on the temporaries' peak)."""
    activities = [torch.profiler.ProfilerActivity.CPU]
    with torch.profiler.profile(activities=activities, profile_memory=True) as profile:
        opt.step()
    return sum(max(event.self_cpu_memory_usage, 0) for event in profile.events())


def test_fused_step_allocates_no_parameter_sized_temporaries():
    n = 1 << 22  # 4M float32: 16 MiB
    param_bytes = 4 * n
    results = {}
    for fused in (None, False):
        param = torch.nn.Parameter(torch.zeros(n))
        opt = RAdam([param], fused=fused)
        param.grad = torch.randn(n, generator=torch.Generator().manual_seed(0))
        for _ in range(6):  # state allocated, steps 1..5 below the threshold
            opt.step()
        results[fused] = allocated_bytes_of_step(opt)  # step 7: rectified
    # The reference path allocates whole-tensor temporaries, which shows the profiler sees
    # them; the fused path must not allocate even one parameter's worth.
    assert results[False] >= param_bytes, results
    assert results[None] < param_bytes // 64, results
