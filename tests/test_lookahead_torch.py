"""radam_torch.Lookahead and Ranger: golden trajectories, checkpoints, torch conventions."""

from __future__ import annotations

import copy
import io
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from radam_torch import Lookahead, RAdam, Ranger  # noqa: E402

from tests.conventions import preset_kwargs  # noqa: E402
from tests.test_lookahead import BAD, grad_fn, problem, ranger_oracle  # noqa: E402
from tests.test_radam_torch_compile import LRU_CACHE_WARNING, SCRIPT_METHOD_WARNING  # noqa: E402


def tensors(arrays, dtype=torch.float64):
    return [torch.nn.Parameter(torch.tensor(a, dtype=dtype)) for a in arrays]


def set_grads(params, t):
    for p, g in zip(params, grad_fn([p.detach().numpy() for p in params], t), strict=True):
        p.grad = torch.tensor(g, dtype=p.dtype)


def run(opt, params, first, last):
    for t in range(first, last + 1):
        set_grads(params, t)
        opt.step()


@pytest.mark.parametrize(
    ("k", "alpha", "options"),
    [
        (6, 0.5, {}),
        (5, 0.8, {"preset": "authors", "weight_decay": 0.1}),
        (3, 0.3, {"fused": False, "amsgrad": True}),
        (4, 0.5, {"decoupled_weight_decay": True, "weight_decay": 0.05}),
    ],
)
def test_golden_trajectory(k, alpha, options):
    params = tensors(problem())
    opt = Ranger(params, lr=0.05, k=k, alpha=alpha, **preset_kwargs(options))
    oracle_options = {key: v for key, v in options.items() if key != "fused"}
    expected = ranger_oracle(problem(), grad_fn, 25, k=k, alpha=alpha, lr=0.05, **oracle_options)
    for t in range(1, 26):
        run(opt, params, t, t)
        for p, want in zip(params, expected[t - 1], strict=True):
            np.testing.assert_allclose(p.detach().numpy(), want, rtol=1e-12, atol=1e-14)
    assert opt.lookahead_state["count"] == 25 % k


def test_float32_close_to_oracle():
    params = tensors(problem(), torch.float32)
    opt = Ranger(params, lr=0.05)
    expected = ranger_oracle(problem(), grad_fn, 20, k=6, alpha=0.5, lr=0.05)
    run(opt, params, 1, 20)
    for p, want in zip(params, expected[-1], strict=True):
        np.testing.assert_allclose(p.detach().numpy(), want, rtol=2e-5, atol=2e-5)


def test_ranger_equals_lookahead_of_radam():
    a, b = tensors(problem(1)), tensors(problem(1))
    ranger = Ranger(a, lr=0.03, k=4, alpha=0.4, weight_decay=0.01)
    wrapped = Lookahead(RAdam(b, lr=0.03, weight_decay=0.01), k=4, alpha=0.4)
    for t in range(1, 19):
        run(ranger, a, t, t)
        run(wrapped, b, t, t)
        for x, y in zip(a, b, strict=True):
            torch.testing.assert_close(x, y, rtol=0, atol=0)


def test_k1_alpha1_is_the_inner_optimizer():
    a, b = tensors(problem(2)), tensors(problem(2))
    wrapped = Lookahead(torch.optim.Adam(a, lr=0.05), k=1, alpha=1.0)
    plain = torch.optim.Adam(b, lr=0.05)
    for t in range(1, 13):
        run(wrapped, a, t, t)
        run(plain, b, t, t)
        for x, y in zip(a, b, strict=True):
            torch.testing.assert_close(x, y, rtol=0, atol=0)


def test_alpha0_freezes_at_the_initial_weights():
    initial = problem(3)
    params = tensors(initial)
    opt = Ranger(params, lr=0.1, k=3, alpha=0.0)
    for t in range(1, 10):
        run(opt, params, t, t)
        same = all(
            np.array_equal(p.detach().numpy(), q) for p, q in zip(params, initial, strict=True)
        )
        assert same == (t % 3 == 0), t


def test_wraps_any_optimizer_with_closure():
    params = tensors(problem(4))
    opt = Lookahead(torch.optim.SGD(params, lr=0.1, momentum=0.9), k=2, alpha=0.5)
    before = [p.detach().clone() for p in params]

    def closure():
        opt.zero_grad()
        loss = sum((p**2).sum() for p in params)
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert float(loss.detach()) == pytest.approx(sum(float((b**2).sum()) for b in before))
    # SGD with momentum by hand, then a sync at step 2: phi + 0.5 (theta_2 - phi).
    opt.step(closure)
    for p, b in zip(params, before, strict=True):
        theta1 = b - 0.1 * 2 * b
        buf = 0.9 * 2 * b + 2 * theta1
        theta2 = theta1 - 0.1 * buf
        torch.testing.assert_close(p.detach(), b + 0.5 * (theta2 - b))
    opt.zero_grad()
    assert all(p.grad is None for p in params)


@pytest.mark.parametrize("stop", [7, 9, 12])
@pytest.mark.parametrize("inner", ["ranger", "adamw"])
def test_state_dict_mid_cycle_resumes_exactly(stop, inner):
    def make(params, k=5, alpha=0.5):
        if inner == "ranger":
            return Ranger(params, lr=0.05, k=k, alpha=alpha, preset="authors")
        return Lookahead(torch.optim.AdamW(params, lr=0.05), k=k, alpha=alpha)

    params = tensors(problem(5))
    opt = make(params)
    run(opt, params, 1, stop)
    buffer = io.BytesIO()
    torch.save({"params": [p.detach().clone() for p in params], "opt": opt.state_dict()}, buffer)
    run(opt, params, stop + 1, 20)

    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    resumed = [torch.nn.Parameter(p) for p in saved["params"]]
    other = make(resumed, k=2, alpha=0.1)
    other.load_state_dict(saved["opt"])
    assert (other.k, other.alpha, other.lookahead_state["count"]) == (5, 0.5, stop % 5)
    run(other, resumed, stop + 1, 20)
    for a, b in zip(params, resumed, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_state_dict_layout_and_inner_state_untouched():
    params = tensors(problem(6))
    opt = Ranger(params, lr=0.05, k=4)
    run(opt, params, 1, 5)
    state = opt.state_dict()
    assert state["lookahead"] == {"count": 1, "k": 4, "alpha": 0.5}
    assert set(state["state"][0]) == {"step", "exp_avg", "exp_avg_sq", "lookahead_slow"}
    assert "lookahead_slow" not in opt.optimizer.state[params[0]]
    assert state["param_groups"] == opt.optimizer.state_dict()["param_groups"]


def test_load_state_dict_refuses_mismatch():
    params = tensors(problem(7))
    opt = Ranger(params, lr=0.05)
    run(opt, params, 1, 2)
    good = opt.state_dict()
    bad = copy.deepcopy(good)
    bad["state"][0]["lookahead_slow"] = torch.zeros(2)
    with pytest.raises(ValueError, match="no 'lookahead_slow' of shape"):
        opt.load_state_dict(bad)
    with pytest.raises(ValueError, match="k must be >= 1"):
        opt.load_state_dict({**good, "lookahead": {"count": 0, "k": 0, "alpha": 0.5}})
    with pytest.raises(ValueError, match="lookahead count must be an int >= 0"):
        opt.load_state_dict({**good, "lookahead": {"count": -1, "k": 6, "alpha": 0.5}})


def test_a_refused_step_or_load_leaves_the_cycle_and_the_slow_weights():
    """Ranger inherits RAdam's all-or-nothing: the count, phi and theta stay as they were."""
    params = tensors(problem(7))
    opt = Ranger([{"params": params[:1]}, {"params": params[1:]}], lr=0.05, k=4)
    run(opt, params, 1, 3)  # the next step would sync
    good = copy.deepcopy(opt.state_dict())
    before = copy.deepcopy((opt.lookahead_state, [p.detach() for p in params]))
    set_grads(params, 4)
    opt.param_groups[1]["lr"] = -1.0
    with pytest.raises(ValueError, match=r"param_groups\[1\].*lr"):
        opt.step()
    bad = copy.deepcopy(good)
    bad["state"][0]["step"] = torch.tensor(-1.0)
    with pytest.raises(ValueError, match="step"):
        opt.load_state_dict(bad)
    after = (opt.lookahead_state, [p.detach() for p in params])
    assert after[0]["count"] == before[0]["count"] == 3
    for slow, old in zip(after[0]["slow"].values(), before[0]["slow"].values(), strict=True):
        assert torch.equal(slow, old)
    for p, old in zip(after[1], before[1], strict=True):
        assert torch.equal(p, old)


def test_loads_a_plain_inner_state_dict():
    a = tensors(problem(8))
    plain = RAdam(a, lr=0.05)
    run(plain, a, 1, 3)
    opt = Ranger(a, lr=0.05)
    opt.load_state_dict(plain.state_dict())
    assert opt.lookahead_state["count"] == 0
    torch.testing.assert_close(opt.lookahead_state["slow"][a[0]], a[0].detach())


def test_lr_scheduler_pickle_and_deepcopy():
    params = tensors(problem(9))
    opt = Ranger(params, lr=0.1, k=2)
    scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    run(opt, params, 1, 1)
    scheduler.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05)
    for clone in (pickle.loads(pickle.dumps(opt)), copy.deepcopy(opt)):
        assert isinstance(clone, Ranger)
        assert clone.lookahead_state["count"] == 1
        assert len(clone.lookahead_state["slow"]) == len(params)


def test_add_param_group_gets_slow_weights():
    a = tensors(problem(10))
    opt = Ranger(a[:2], lr=0.1)
    opt.add_param_group({"params": a[2:], "lr": 0.01})
    assert len(opt.param_groups) == 2
    assert all(p in opt.lookahead_state["slow"] for p in a)


@pytest.mark.parametrize(("kwargs", "error", "message"), BAD)
def test_bad_k_and_alpha(kwargs, error, message):
    params = tensors(problem(12))
    with pytest.raises(error, match=message):
        Ranger(params, **preset_kwargs(kwargs))
    with pytest.raises(error, match=message):
        Lookahead(torch.optim.SGD(params, lr=0.1), **kwargs)


def test_needs_a_torch_optimizer():
    with pytest.raises(TypeError, match=r"optimizer must be a torch\.optim\.Optimizer"):
        Lookahead(object())  # type: ignore[arg-type]


def test_complex_parameter():
    z = torch.nn.Parameter(torch.tensor([1.0 + 2.0j, -0.5j], dtype=torch.complex128))
    r = torch.nn.Parameter(torch.view_as_real(z.detach()).clone())
    opt_z, opt_r = Ranger([z], lr=0.1, k=2), Ranger([r], lr=0.1, k=2)
    for _ in range(4):
        z.grad = z.detach().clone()
        r.grad = r.detach().clone()
        opt_z.step()
        opt_r.step()
    torch.testing.assert_close(torch.view_as_real(z.detach()), r.detach(), rtol=0, atol=0)


def test_extra_memory_is_one_parameter_sized_buffer():
    params = tensors(problem(13), torch.float32)
    radam_state = RAdam(tensors(problem(13), torch.float32), lr=0.1)
    opt = Ranger(params, lr=0.1)
    run(opt, params, 1, 3)
    run(radam_state, radam_state.param_groups[0]["params"], 1, 3)
    slow = opt.lookahead_state["slow"]
    assert sum(s.nbytes for s in slow.values()) == sum(p.nbytes for p in params)
    assert all(s.untyped_storage().data_ptr() != p.untyped_storage().data_ptr()
               for p, s in slow.items() if p.numel())  # fmt: skip
    inner = {name for state in opt.state.values() for name in state}
    assert inner == {name for state in radam_state.state.values() for name in state}


def test_grad_scaler_skips_a_step_with_inf_and_keeps_the_cycle():
    params = tensors(problem(14), torch.float32)
    opt = Ranger(params, lr=0.1, k=2)
    scaler = torch.amp.GradScaler("cpu", init_scale=4.0)
    for t in (1, 2, 3):
        loss = sum((p**2).sum() for p in params)
        scaler.scale(loss).backward()
        if t == 2:
            params[0].grad[0] = float("inf")
        scaler.step(opt)
        scaler.update()
        opt.zero_grad()
    # Steps 1 and 3 ran (step 2 was skipped for the inf): one full k = 2 cycle.
    assert opt.lookahead_state["count"] == 0
    assert all(torch.isfinite(p).all() for p in params)


@pytest.mark.filterwarnings(LRU_CACHE_WARNING)
@pytest.mark.filterwarnings(SCRIPT_METHOD_WARNING)
@pytest.mark.parametrize(
    ("make", "dtype", "tolerance"),
    [
        (
            lambda params: Ranger(params, lr=0.05, k=3),
            torch.float64,
            {"rtol": 1e-12, "atol": 1e-14},
        ),
        # torch's own compiled AdamW keeps its step count in float32 (its float64 results
        # move ~3e-7 from eager) and drops in-place writes to 0-d float64 tensors (2.13):
        # float32, with torch.testing's float32 tolerances.
        (
            lambda params: Lookahead(torch.optim.AdamW(params, lr=0.05), k=3, alpha=0.7),
            torch.float32,
            {},
        ),
    ],
    ids=["ranger", "lookahead-adamw"],
)
def test_compiled_step_matches_eager(make, dtype, tolerance):
    """``torch.compile(opt.step)``: the same trajectory, slow weights and count as eager."""
    torch._dynamo.reset()
    eager_params, compiled_params = tensors(problem(), dtype), tensors(problem(), dtype)
    eager, compiled = make(eager_params), make(compiled_params)
    compiled_step = torch.compile(compiled.step, backend="aot_eager")
    for t in range(1, 11):
        set_grads(eager_params, t)
        set_grads(compiled_params, t)
        eager.step()
        compiled_step()
        for p, q in zip(compiled_params, eager_params, strict=True):
            torch.testing.assert_close(p.detach(), q.detach(), **tolerance)
            slow = compiled.lookahead_state["slow"][p]
            torch.testing.assert_close(slow, eager.lookahead_state["slow"][q], **tolerance)
        assert compiled.lookahead_state["count"] == eager.lookahead_state["count"] == t % 3


def test_sync_kernel_gives_the_cores_bits_on_every_path():
    """radam_torch.kernels.sync_slow_weights against for_adapters.lookahead_leaf, whole tensors.

    Contiguous tensors are synced in blocks, strided ones whole, complex ones through
    their real views; each must get the core's value bit for bit, in theta and in phi.
    Sizes span several blocks.
    """
    import array_api_compat.torch as xp
    from radam_torch import kernels

    import radam_core

    generator = torch.Generator().manual_seed(0)

    def pair(shape, dtype):
        real = dtype.to_real() if dtype.is_complex else dtype
        make = lambda: torch.randn(shape, generator=generator, dtype=torch.float64)  # noqa: E731
        if dtype.is_complex:
            return [torch.complex(make(), make()).to(dtype) for _ in range(2)]
        return [make().to(real) for _ in range(2)]

    cases = [
        pair((3, 300_001), torch.float32),
        pair((1000, 700), torch.float32),
        pair((70_001,), torch.float16),
        pair((40_000,), torch.float64),
        pair((90_001,), torch.bfloat16),
        pair((300, 1001), torch.complex64),
        pair((), torch.float32),
        pair((0, 5), torch.float32),
    ]
    strided = pair((600, 500), torch.float32)
    cases.append([t.t() for t in strided])  # not contiguous
    fast, slow = [f for f, _ in cases], [s for _, s in cases]

    def real(t):
        return torch.view_as_real(t) if t.is_complex() else t

    expected = [
        radam_core.for_adapters.lookahead_leaf(real(f).clone(), real(s).clone(), 0.3, xp)
        for f, s in zip(fast, slow, strict=True)
    ]
    with torch.no_grad():
        kernels.sync_slow_weights(fast, slow, 0.3)
    for f, s, e in zip(fast, slow, expected, strict=True):
        assert torch.equal(real(f), e), (f.dtype, f.shape)
        assert torch.equal(real(s), e), (f.dtype, f.shape)


SHARED = {"defaults", "param_groups", "state"}  # the inner optimizer's, through properties


def test_optimizer_init_sets_up_the_wrapper(monkeypatch):
    """``torch.optim.Optimizer.__init__`` runs for Lookahead and Ranger: every attribute it
    gives a plain SGD, one a later torch might add included (the spy's), the wrapper has too,
    its own, but for the groups, state and defaults, which stay the inner optimizer's."""
    init = torch.optim.Optimizer.__init__
    initialized = []

    def spy(self, params, defaults):
        init(self, params, defaults)
        self._added_by_a_later_torch = [type(self).__name__]
        initialized.append(type(self).__name__)

    monkeypatch.setattr(torch.optim.Optimizer, "__init__", spy)
    param = torch.nn.Parameter(torch.ones(2))
    plain = vars(torch.optim.SGD([param], lr=0.1))
    inner = torch.optim.SGD([param], lr=0.1)
    for wrapper, name in ((Lookahead(inner), "Lookahead"), (Ranger([param]), "Ranger")):
        assert name in initialized
        assert wrapper._added_by_a_later_torch == [name]
        missing = set(plain) - SHARED - set(vars(wrapper))
        assert not missing, f"Optimizer.__init__ did not set {sorted(missing)}"
        for attribute in set(plain) - SHARED:
            assert type(getattr(wrapper, attribute)) is type(plain[attribute]), attribute
        assert not SHARED & set(vars(wrapper))
        for attribute in SHARED:
            assert getattr(wrapper, attribute) is getattr(wrapper.optimizer, attribute)
    assert inner._added_by_a_later_torch == ["SGD"]  # the wrapper's is its own


def options(group):
    return {name: value for name, value in group.items() if name != "params"}


@pytest.mark.parametrize(
    "make",
    [lambda p: RAdam(p, lr=0.05), lambda p: torch.optim.Adam(p, lr=0.05)],
    ids=["radam", "adam"],
)
def test_wrapping_an_optimizer_that_has_stepped_leaves_it_as_it_was(make):
    """Its groups (the same dicts and lists), state (its moments), defaults and hooks: with
    k = 1 and alpha = 1 the wrapper then continues as the inner optimizer alone, and a
    scheduler or hook set on the inner optimizer before the wrap still drives it."""
    a, b = tensors(problem(15)), tensors(problem(15))
    inner, plain = (
        make([{"params": a[:1]}, {"params": a[1:], "lr": 0.02}]),
        make([{"params": b[:1]}, {"params": b[1:], "lr": 0.02}]),
    )
    scheduler = torch.optim.lr_scheduler.StepLR(inner, step_size=1, gamma=0.5)
    plain_scheduler = torch.optim.lr_scheduler.StepLR(plain, step_size=1, gamma=0.5)
    inner_calls = []
    inner.register_step_pre_hook(lambda *args: inner_calls.append("pre"))
    inner.register_step_post_hook(lambda *args: inner_calls.append("post"))
    run(inner, a, 1, 3)
    run(plain, b, 1, 3)
    groups, group_dicts = inner.param_groups, list(inner.param_groups)
    param_lists = [group["params"] for group in groups]
    state, defaults = inner.state, inner.defaults
    moments = [dict(state[p]) for p in a]  # the same tensors, which must be left alone
    saved = copy.deepcopy((moments, defaults, [options(g) for g in groups]))

    opt = Lookahead(inner, k=1, alpha=1.0)

    assert opt.param_groups is inner.param_groups is groups
    assert all(x is y for x, y in zip(groups, group_dicts, strict=True))
    assert all(g["params"] is lst for g, lst in zip(groups, param_lists, strict=True))
    assert opt.state is inner.state is state
    assert opt.defaults is inner.defaults is defaults
    assert set(state) == set(a)
    for p, before in zip(a, moments, strict=True):
        assert state[p].keys() == before.keys()
        assert all(state[p][name] is value for name, value in before.items())
    torch.testing.assert_close(moments, saved[0], rtol=0, atol=0)
    assert (defaults, [options(g) for g in groups]) == saved[1:]
    for t in range(4, 9):
        run(opt, a, t, t)
        run(plain, b, t, t)
        scheduler.step()
        plain_scheduler.step()
        for x, y in zip(a, b, strict=True):
            torch.testing.assert_close(x, y, rtol=0, atol=0)
    assert opt.param_groups[1]["lr"] == plain.param_groups[1]["lr"] == 0.02 * 0.5**5
    assert inner_calls == ["pre", "post"] * 8


def test_hooks_registered_on_the_wrapper_run_around_the_whole_step():
    """Pre hooks before the inner step, post hooks after the sync; the inner optimizer's
    hooks around the inner step alone. Each is told its own optimizer."""
    params = tensors(problem(16))
    opt = Ranger(params, lr=0.1, k=2)
    calls = []

    def hook(name):
        return lambda optimizer, args, kwargs: calls.append(
            (name, optimizer, opt.lookahead_state["count"])
        )

    opt.register_step_pre_hook(hook("pre"))
    opt.register_step_post_hook(hook("post"))
    opt.optimizer.register_step_pre_hook(hook("inner pre"))
    opt.optimizer.register_step_post_hook(hook("inner post"))
    run(opt, params, 1, 2)
    assert calls == [
        ("pre", opt, 0),
        ("inner pre", opt.optimizer, 0),
        ("inner post", opt.optimizer, 0),
        ("post", opt, 1),
        ("pre", opt, 1),
        ("inner pre", opt.optimizer, 1),
        ("inner post", opt.optimizer, 1),
        ("post", opt, 0),
    ]
