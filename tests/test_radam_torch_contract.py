"""radam_torch.RAdam's contract on hostile input: all or nothing, checkpoints, complex, sparse.

- A step, ``add_param_group`` and ``load_state_dict`` check every group and every tensor
  before they write anything: after any raise the parameters, gradients, state (every
  tensor and step count, and which parameters have state at all) and ``param_groups`` are
  bit for bit what they were (the bad-input matrix below, NaN-aware).
- Errors name the group (``param_groups[2]``) or the tensor and the value.
- Checkpoints: loading registers nothing (hooks do not grow, a user's post-hook runs last);
  values that are not RAdam's, in ``optimizer.state`` or in a parameter's state, are kept
  as torch.optim.RAdam keeps them; ``fused=True`` on a device without a fused kernel raises
  torch's error.
- Complex parameters step as their real views (torch's convention), on every step kind.
"""

from __future__ import annotations

import copy
import math
import pickle
from collections.abc import Callable
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from radam_torch import RAdam  # noqa: E402

import radam_core  # noqa: E402
from tests.conventions import preset_kwargs  # noqa: E402

PRIMING_STEPS = 6  # the next step, 7, is rectified (the fused kernel's)


# ------------------------------------------------------------------------- helpers


def assert_identical(a: Any, b: Any, where: str = "") -> None:
    """Exact equality, NaN-aware: tensors by dtype, shape, strides and bits; floats with NaN."""
    assert type(a) is type(b), (where, type(a), type(b))
    if isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            assert_identical(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_identical(x, y, f"{where}[{index}]")
    elif isinstance(a, torch.Tensor):
        assert (a.dtype, a.shape, a.stride(), a.layout) == (b.dtype, b.shape, b.stride(), b.layout)
        if a.is_sparse:
            a, b = a.to_dense(), b.to_dense()
        torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True, msg=where)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    else:
        assert a == b, where


def snapshot(opt: RAdam) -> dict[str, Any]:
    """Every parameter, gradient and state entry (by position) and the groups, copied."""
    params = [p for group in opt.param_groups for p in group["params"]]
    return copy.deepcopy(
        {
            "params": [p.detach() for p in params],
            "grads": [p.grad for p in params],
            "state": [opt.state.get(p) for p in params],
            "has_state": [p in opt.state for p in params],
            "groups": [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups],
            "other_state": {k: v for k, v in opt.state.items() if not isinstance(k, torch.Tensor)},
        }
    )


def primed() -> tuple[RAdam, list[torch.nn.Parameter]]:
    """Three groups (float32, complex64, float32), stepped 6 times; the last param unstepped.

    Then every parameter gets a gradient: a step now would create the last one's state and
    take rectified (fused) steps everywhere.
    """
    generator = torch.Generator().manual_seed(0)
    a, b, d, e = (
        torch.nn.Parameter(torch.randn(shape, generator=generator))
        for shape in ((4, 3), (3,), (5,), (2, 2))
    )
    c = torch.nn.Parameter(torch.randn((2, 3), generator=generator, dtype=torch.complex64))
    params = [a, b, c, d, e]
    opt = RAdam(
        [{"params": [a, b]}, {"params": [c], "lr": 0.01}, {"params": [d, e], "weight_decay": 0.1}],
        lr=0.02,
    )
    for t in range(PRIMING_STEPS):
        for p in params[:-1]:
            p.grad = torch.full_like(p, 0.1 * (t + 1))
        opt.step()
    for p in params:
        p.grad = torch.full_like(p, 0.3)
    return opt, params


Corrupt = Callable[[RAdam, list[torch.nn.Parameter]], None]


def group_option(name: str, value: Any) -> Corrupt:
    def corrupt(opt: RAdam, params: list[torch.nn.Parameter]) -> None:
        opt.param_groups[2][name] = value

    return corrupt


def state_entry(name: str, value: Callable[[torch.Tensor], Any]) -> Corrupt:
    def corrupt(opt: RAdam, params: list[torch.nn.Parameter]) -> None:
        opt.state[params[3]][name] = value(opt.state[params[3]][name])

    return corrupt


def grad_data(value: Callable[[torch.Tensor], torch.Tensor]) -> Corrupt:
    def corrupt(opt: RAdam, params: list[torch.nn.Parameter]) -> None:
        params[3].grad.data = value(params[3].grad)

    return corrupt


def whole_state(value: Any) -> Corrupt:
    def corrupt(opt: RAdam, params: list[torch.nn.Parameter]) -> None:
        opt.state[params[3]] = value

    return corrupt


def without(name: str) -> Corrupt:
    def corrupt(opt: RAdam, params: list[torch.nn.Parameter]) -> None:
        del opt.state[params[3]][name]

    return corrupt


def sparse_grad(opt: RAdam, params: list[torch.nn.Parameter]) -> None:
    params[3].grad = params[3].grad.to_sparse()


GROUP_2 = r"param_groups\[2\]"
PARAM_3 = r"param_groups\[2\]\['params'\]\[0\]"
BAD_STEPS = [
    pytest.param(group_option("lr", -1), ValueError, GROUP_2 + ".*lr.*-1", id="lr_negative"),
    pytest.param(group_option("lr", math.nan), ValueError, GROUP_2 + ".*lr.*nan", id="lr_nan"),
    pytest.param(group_option("lr", "x"), TypeError, GROUP_2 + ".*lr.*'x'", id="lr_str"),
    pytest.param(
        group_option("lr", torch.tensor([0.1, 0.2])), ValueError, GROUP_2 + ".*lr", id="lr_2"
    ),
    pytest.param(
        group_option("betas", (0.9, 1.5)), ValueError, GROUP_2 + r".*betas\[1\].*1.5", id="beta2"
    ),
    pytest.param(
        group_option("betas", (0.9, 0.99, 0.9)), TypeError, GROUP_2 + ".*betas", id="betas_3"
    ),
    pytest.param(group_option("threshold", 1), ValueError, GROUP_2 + ".*threshold.*1", id="thr"),
    pytest.param(group_option("eps", -1e-8), ValueError, GROUP_2 + ".*eps", id="eps"),
    pytest.param(
        group_option("weight_decay", math.nan), ValueError, GROUP_2 + ".*weight_decay", id="wd"
    ),
    pytest.param(
        group_option("below_threshold", "zero"), ValueError, GROUP_2 + ".*zero", id="below"
    ),
    pytest.param(
        state_entry("step", lambda s: torch.tensor(-1.0)),
        ValueError,
        PARAM_3 + r".*state\['step'\].*-1",
        id="step_negative",
    ),
    pytest.param(
        state_entry("step", lambda s: torch.tensor(2.5)), ValueError, PARAM_3, id="step_2.5"
    ),
    pytest.param(
        state_entry("step", lambda s: torch.tensor(math.inf)), ValueError, PARAM_3, id="step_inf"
    ),
    pytest.param(state_entry("step", lambda s: 6), TypeError, PARAM_3 + ".*step", id="step_int"),
    pytest.param(
        state_entry("exp_avg", lambda m: m[:-1].clone()),
        ValueError,
        PARAM_3 + ".*exp_avg.*shape",
        id="exp_avg_shape",
    ),
    pytest.param(
        state_entry("exp_avg_sq", lambda v: v.double()),
        ValueError,
        PARAM_3 + ".*exp_avg_sq.*dtype",
        id="exp_avg_sq_dtype",
    ),
    pytest.param(
        state_entry("exp_avg", lambda m: m.tolist()),
        TypeError,
        PARAM_3 + ".*exp_avg.*list",
        id="exp_avg_list",
    ),
    pytest.param(without("exp_avg_sq"), ValueError, PARAM_3 + ".*exp_avg_sq", id="state_key"),
    pytest.param(whole_state(7), TypeError, PARAM_3 + ".*7", id="state_not_a_dict"),
    pytest.param(
        grad_data(lambda g: g.double()), ValueError, PARAM_3 + ".*grad.*dtype", id="grad_dtype"
    ),
    pytest.param(
        grad_data(lambda g: torch.zeros(7)), ValueError, PARAM_3 + ".*grad.*shape", id="grad_shape"
    ),
    pytest.param(sparse_grad, RuntimeError, "sparse", id="sparse_grad"),
]


@pytest.mark.parametrize(("corrupt", "error", "match"), BAD_STEPS)
@pytest.mark.parametrize("fused", [None, False])
def test_a_step_that_raises_changes_nothing(corrupt, error, match, fused):
    opt, params = primed()
    for group in opt.param_groups:
        group["fused"] = fused
    corrupt(opt, params)
    before = snapshot(opt)
    with pytest.raises(error, match=match):
        opt.step()
    assert_identical(snapshot(opt), before)


def test_the_primed_optimizer_steps_every_group():
    """The matrix's baseline: without a corruption the same step changes every group."""
    opt, _params = primed()
    before = snapshot(opt)
    opt.step()
    after = snapshot(opt)
    for old, new in zip(before["params"], after["params"], strict=True):
        assert not torch.equal(old, new)
    assert after["has_state"][-1]
    assert not before["has_state"][-1]


def test_a_list_of_betas_changed_in_place_is_checked_again():
    """Each group's hyperparameters are validated once and kept while its options stay the
    same: a value written into the group's own list of betas is an option changed."""
    params = [torch.nn.Parameter(torch.ones(3))]
    params[0].grad = torch.ones(3)
    opt = RAdam(params, betas=[0.9, 0.999])
    opt.step()
    opt.param_groups[0]["betas"][1] = 1.5
    before = snapshot(opt)
    with pytest.raises(ValueError, match=r"param_groups\[0\].*betas\[1\].*1.5"):
        opt.step()
    assert_identical(snapshot(opt), before)


def test_a_scheduler_changes_lr_without_validating_the_group_again(monkeypatch):
    """With lr changed by a scheduler every step, the group's options are validated once
    (at its first step) and lr alone at each step; the steps are torch.optim.RAdam's."""
    import radam_core

    validations: list[int] = []
    original = radam_core.Hyperparameters.__post_init__

    def counting(self: Any, argument_names: Any) -> None:
        validations.append(1)
        original(self, argument_names)

    monkeypatch.setattr(radam_core.Hyperparameters, "__post_init__", counting)
    ours, theirs = (torch.nn.Parameter(torch.linspace(-1.0, 1.0, 6)) for _ in range(2))
    opt, reference = RAdam([ours], lr=0.1), torch.optim.RAdam([theirs], lr=0.1)
    schedules = [torch.optim.lr_scheduler.LambdaLR(o, lambda e: 0.9**e) for o in (opt, reference)]
    validations.clear()
    for t in range(1, 11):
        for param in (ours, theirs):
            param.grad = torch.sin(param.detach() * t)
        opt.step()
        reference.step()
        for schedule in schedules:
            schedule.step()
        torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-7, msg=f"t = {t}")
    assert len(validations) == 1


BAD_GROUPS = [
    pytest.param({"lr": -1}, ValueError, "lr.*-1", id="lr_negative"),
    pytest.param({"lr": math.nan}, ValueError, "lr.*nan", id="lr_nan"),
    pytest.param({"betas": (0.9, 1.5)}, ValueError, r"betas\[1\].*1.5", id="beta2"),
    pytest.param({"threshold": 1}, ValueError, "threshold.*1", id="threshold"),
    pytest.param({"amsgrad": "yes"}, TypeError, "amsgrad.*yes", id="amsgrad_str"),
]


@pytest.mark.parametrize(("options", "error", "match"), BAD_GROUPS)
def test_add_param_group_refuses_a_bad_group_before_adding_it(options, error, match):
    opt, _params = primed()
    extra = torch.nn.Parameter(torch.ones(3))
    before = snapshot(opt)
    with pytest.raises(error, match=r"param_groups\[3\].*" + match):
        opt.add_param_group({"params": [extra], **options})
    assert_identical(snapshot(opt), before)
    assert len(opt.param_groups) == 3
    opt.add_param_group({"params": [extra]})  # the same parameter, in a good group
    assert opt.param_groups[3]["params"] == [extra]


@pytest.mark.parametrize(("options", "error", "match"), BAD_GROUPS)
def test_constructor_refuses_a_bad_group(options, error, match):
    param = torch.nn.Parameter(torch.ones(3))
    with pytest.raises(error, match=r"param_groups\[1\].*" + match):
        RAdam([{"params": [torch.nn.Parameter(torch.ones(2))]}, {"params": [param], **options}])


# ---------------------------------------------------------------------- checkpoints


def test_loads_register_no_hooks_and_a_users_post_hook_runs_last():
    opt, _ = primed()
    saved = copy.deepcopy(opt.state_dict())
    seen: list[bool] = []
    opt.register_load_state_dict_post_hook(
        lambda optimizer: seen.append(all("threshold" in g for g in optimizer.param_groups))
    )
    hooks = (opt._optimizer_load_state_dict_pre_hooks, opt._optimizer_load_state_dict_post_hooks)
    counts = [len(h) for h in hooks]
    for _ in range(5):
        # torch.optim.RAdam's groups lack the core's options, which a load completes.
        for group in saved["param_groups"]:
            group.pop("threshold", None)
        opt.load_state_dict(copy.deepcopy(saved))
    assert [len(h) for h in hooks] == counts == [0, 1]
    assert seen == [True] * 5  # the user's hook saw the completed groups: it ran last
    for clone in (copy.deepcopy(opt), pickle.loads(pickle.dumps(opt))):
        clone.load_state_dict(copy.deepcopy(saved))
        clone.load_state_dict(copy.deepcopy(saved))
        assert len(clone._optimizer_load_state_dict_pre_hooks) == 0
        assert len(clone._optimizer_load_state_dict_post_hooks) == 0


def foreign_values(opt: torch.optim.Optimizer) -> None:
    """What a user or a wrapper library stores in an optimizer's state besides its own."""
    opt.state["epoch"] = 7
    first = opt.param_groups[0]["params"][0]
    opt.state[first]["warm"] = True  # (torch's load turns a str into a generator's repr)
    opt.state[first]["count"] = 3


@pytest.mark.parametrize("cls", [RAdam, torch.optim.RAdam], ids=["ours", "torch"])
def test_values_that_are_not_radams_are_kept_like_torch_radam_keeps_them(cls):
    param = torch.nn.Parameter(torch.ones(3))
    opt = cls([param], lr=0.1)
    param.grad = torch.ones(3)
    opt.step()
    foreign_values(opt)
    saved = opt.state_dict()
    assert saved["state"]["epoch"] == 7
    assert saved["state"][0]["warm"] is True
    for clone in (copy.deepcopy(opt), pickle.loads(pickle.dumps(opt))):
        assert clone.state["epoch"] == 7
        clone_param = clone.param_groups[0]["params"][0]
        assert clone.state[clone_param]["warm"] is True
    twin_param = torch.nn.Parameter(torch.ones(3))
    twin = cls([twin_param], lr=0.1)
    twin.load_state_dict(saved)
    assert twin.state["epoch"] == 7
    assert twin.state[twin_param]["warm"] is True
    assert twin.state[twin_param]["count"] == 3
    twin_param.grad = torch.ones(3)
    twin.step()
    assert twin.state[twin_param]["step"].item() == 2


def bad_entry(name: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def corrupt(saved: dict[str, Any]) -> None:
        saved["state"][3][name] = value

    return corrupt


def bad_group(name: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def corrupt(saved: dict[str, Any]) -> None:
        saved["param_groups"][2][name] = value

    return corrupt


BAD_CHECKPOINTS = [
    pytest.param(bad_entry("step", torch.tensor(-1.0)), ValueError, "step.*-1", id="step_tensor"),
    pytest.param(bad_entry("step", -3), ValueError, "step.*-3", id="step_number"),
    pytest.param(bad_entry("step", "x"), TypeError, r"state\['step'\]", id="step_str"),
    pytest.param(bad_entry("exp_avg", [0.0] * 5), TypeError, "exp_avg.*list", id="exp_avg_list"),
    pytest.param(bad_group("lr", "x"), TypeError, r"param_groups\[2\].*lr.*'x'", id="lr_str"),
    pytest.param(
        bad_group("betas", (0.9, 0.99, 0.9)), TypeError, r"param_groups\[2\].*betas", id="betas"
    ),
    pytest.param(
        bad_group("threshold", 1), ValueError, r"param_groups\[2\].*threshold", id="threshold"
    ),
    pytest.param(bad_group("lr", -1), ValueError, r"param_groups\[2\].*lr.*-1", id="lr_negative"),
]


@pytest.mark.parametrize(("corrupt", "error", "match"), BAD_CHECKPOINTS)
def test_bad_checkpoint_raises_at_load_and_changes_nothing(corrupt, error, match):
    opt, _params = primed()
    saved = copy.deepcopy(opt.state_dict())
    corrupt(saved)
    before = snapshot(opt)
    with pytest.raises(error, match=match):
        opt.load_state_dict(saved)
    assert_identical(snapshot(opt), before)
    opt.step()  # and it still steps


def test_fused_true_on_a_device_without_a_fused_kernel_raises_torchs_error():
    """As torch.optim.Adam (and its test_fused_error_on_params_on_meta): built on the meta
    device without complaint, refused at the step with torch's message."""
    messages = []
    for cls in (torch.optim.Adam, RAdam):
        with torch.device("meta"):
            model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 1))
        opt = cls(model.parameters(), fused=True)
        for p in model.parameters():
            p.grad = torch.zeros_like(p)
        with pytest.raises(RuntimeError) as error:
            opt.step()
        messages.append(str(error.value))
    assert not opt.state  # ours (torch.optim.Adam leaves an empty entry behind)
    assert messages[0] == messages[1]
    assert "`fused=True` requires all the params to be floating point Tensors" in messages[1]


def test_fused_true_refusal_changes_nothing():
    opt, _ = primed()
    opt.param_groups[2]["fused"] = True
    meta = torch.nn.Parameter(torch.zeros(2, device="meta"))
    meta.grad = torch.zeros(2, device="meta")
    opt.param_groups[2]["params"].append(meta)
    before = snapshot(opt)
    with pytest.raises(RuntimeError, match="`fused=True` requires"):
        opt.step()
    assert_identical(snapshot(opt), before)


# -------------------------------------------------------------------------- complex


@pytest.mark.parametrize("transposed", [False, True], ids=["contiguous", "transposed"])
@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128], ids=str)
@pytest.mark.parametrize("options", [{}, {"fused": False}, {"capturable": True}], ids=str)
def test_complex_params_match_torch_radam_on_every_step_kind(dtype, transposed, options):
    """Steps 1..5 are SGD-with-momentum steps, 6..10 rectified (the fused kernel's)."""
    values = torch.randn((4, 3), generator=torch.Generator().manual_seed(1), dtype=dtype)
    ours_param = torch.nn.Parameter(values.t().contiguous().t() if transposed else values.clone())
    theirs_param = torch.nn.Parameter(values.clone())
    ours = RAdam([ours_param], lr=0.05, **preset_kwargs(options))
    theirs = torch.optim.RAdam([theirs_param], lr=0.05)
    target = torch.randn((4, 3), generator=torch.Generator().manual_seed(2), dtype=dtype)
    tolerance = {"rtol": 1e-6, "atol": 1e-7} if dtype == torch.complex64 else {}
    for _ in range(10):
        for p, opt in ((ours_param, ours), (theirs_param, theirs)):
            opt.zero_grad()
            ((p - target).abs() ** 2).sum().backward()
            opt.step()
        torch.testing.assert_close(ours_param, theirs_param, **tolerance)
    for name in ("exp_avg", "exp_avg_sq"):
        assert ours.state[ours_param][name].dtype == dtype
        torch.testing.assert_close(
            ours.state[ours_param][name], theirs.state[theirs_param][name], **tolerance
        )


def test_preset_value_sets_the_groups_options_and_checkpoints_stay_plain(tmp_path):
    """A radam_core.Preset becomes plain group options: a checkpoint loads with weights_only."""
    custom = radam_core.PRESETS["optax"].replace(amsgrad=True, nesterov=True)
    param = torch.nn.Parameter(torch.linspace(-1.0, 1.0, 6))
    opt = RAdam([param], lr=0.1, preset=custom)
    group = opt.param_groups[0]
    assert (group["preset"], group["amsgrad"], group["nesterov"]) == ("optax", True, True)
    assert group["eps_placement"] == "corrected"
    param.grad = torch.ones(6)
    opt.step()
    path = tmp_path / "opt.pt"
    torch.save(opt.state_dict(), path)
    loaded = torch.load(path, weights_only=True)
    assert loaded["param_groups"][0]["nesterov"] is True
    with pytest.warns(
        DeprecationWarning, match=r"radam_torch\.RAdam\(amsgrad=True, nesterov=True\)"
    ):
        old = RAdam([param], lr=0.1, preset="optax", amsgrad=True, nesterov=True)
    assert old.param_groups[0] == {**group, "params": old.param_groups[0]["params"]}
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'momentum'"):
        RAdam([param], momentum=0.9)
