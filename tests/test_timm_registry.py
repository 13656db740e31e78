"""radam_torch.register_with_timm: timm's create_optimizer_v2 builds radam_torch.RAdam by name.

Runs in the recipes-timm session (timm needs a torchvision that imports, see noxfile.py). Each
test works on a copy of timm's registry, so none leaves a name behind.
"""

import subprocess
import sys

import pytest

from tests.script_runner import REPO

pytestmark = pytest.mark.backend("timm")


@pytest.fixture
def timm_optim(monkeypatch):
    """timm.optim, with its global registry's entries restored after the test."""
    pytest.importorskip("timm")
    import timm.optim as timm_optim

    registry = timm_optim._optim_factory.default_registry
    monkeypatch.setattr(registry, "_optimizers", dict(registry._optimizers))
    return timm_optim


def tiny_model():
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.LayerNorm(8), torch.nn.ReLU(), torch.nn.Linear(8, 1)
    )


def test_create_optimizer_v2_builds_radam_torch_with_timm_s_groups(timm_optim):
    import torch
    from radam_torch import RAdam, register_with_timm

    info = register_with_timm()
    assert info.name == "radamtorch"
    model, peer_model = tiny_model(), tiny_model()
    opt = timm_optim.create_optimizer_v2(
        model, "radamtorch", lr=0.01, weight_decay=0.1, betas=(0.8, 0.99)
    )
    peer = timm_optim.create_optimizer_v2(
        peer_model, "radam", lr=0.01, weight_decay=0.1, betas=(0.8, 0.99)
    )
    assert type(opt) is RAdam
    assert type(peer) is torch.optim.RAdam
    decays = sorted((g["weight_decay"], len(g["params"])) for g in opt.param_groups)
    assert decays == [(0.0, 4), (0.1, 2)]  # biases and the norm's weights: no decay
    assert {g["betas"] for g in opt.param_groups} == {(0.8, 0.99)}
    x = torch.randn(16, 4)
    for _ in range(8):  # past the threshold: rectified steps too
        for m, o in ((model, opt), (peer_model, peer)):
            o.zero_grad()
            m(x).square().mean().backward()
            o.step()
    for p, q in zip(model.parameters(), peer_model.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7)


def test_timm_s_lookahead_wraps_it(timm_optim):
    from radam_torch import RAdam, register_with_timm

    register_with_timm()
    opt = timm_optim.create_optimizer_v2(tiny_model(), "lookahead_radamtorch", lr=0.01)
    assert type(opt).__name__ == "Lookahead"
    # timm's Lookahead takes its inner optimizer's defaults (adding its own): RAdam's.
    radam_defaults = RAdam(tiny_model().parameters(), lr=0.01).defaults
    assert {k: opt.defaults[k] for k in radam_defaults} == radam_defaults


def test_registering_twice_changes_nothing(timm_optim, caplog):
    from radam_torch import register_with_timm

    first = register_with_timm()
    names = timm_optim.list_optimizers()
    assert register_with_timm() is first
    assert register_with_timm("RAdamTorch") is first  # timm compares names in lower case
    assert timm_optim.list_optimizers() == names
    assert timm_optim.get_optimizer_info("radamtorch") is first
    assert "overwriting" not in caplog.text


def test_a_name_someone_registered_is_never_replaced(timm_optim):
    import torch
    from radam_torch import register_with_timm

    timm_optim._optim_factory.default_registry.register(
        timm_optim.OptimInfo(name="myradam", opt_class=torch.optim.Adam)
    )
    for name in ("myradam", "radam", "adamw"):
        before = timm_optim.get_optimizer_info(name)
        with pytest.raises(ValueError, match=f"already has an optimizer named '{name}'"):
            register_with_timm(name)
        assert timm_optim.get_optimizer_info(name) is before
    assert register_with_timm("radamexact").name == "radamexact"  # another name works


@pytest.mark.parametrize(
    ("name", "error", "match"),
    [
        (3, TypeError, "name must be a string, got int 3"),
        ("", ValueError, "got ''"),
        ("radam_torch", ValueError, "no '_'.*got 'radam_torch'"),
    ],
)
def test_bad_names_raise_and_register_nothing(timm_optim, name, error, match):
    from radam_torch import register_with_timm

    names = timm_optim.list_optimizers()
    with pytest.raises(error, match=match):
        register_with_timm(name)
    assert timm_optim.list_optimizers() == names


def test_fails_loudly_when_timm_moves_its_registry(timm_optim, monkeypatch):
    """The one private path (timm.optim._optim_factory.default_registry): if timm renames it or
    create_optimizer_v2 stops reading it, the call raises and registers nothing."""
    import timm
    from radam_torch import register_with_timm

    registry = timm_optim._optim_factory.default_registry
    names = timm_optim.list_optimizers()
    other = timm_optim.OptimizerRegistry()
    monkeypatch.setattr(timm_optim, "list_optimizers", other.list_optimizers)
    with pytest.raises(RuntimeError, match=f"timm {timm.__version__}: .*not the registry"):
        register_with_timm()
    monkeypatch.undo()
    assert registry.list_optimizers() == names
    monkeypatch.delattr(timm_optim, "_optim_factory")  # a timm that moved the module
    with pytest.raises(RuntimeError, match="needs updating for this timm"):
        register_with_timm()
    monkeypatch.undo()
    assert timm_optim.list_optimizers() == names


def test_importing_radam_torch_does_not_import_timm():
    pytest.importorskip("timm")
    code = "import sys, radam_torch; print([m for m in sys.modules if m.split('.')[0] == 'timm'])"
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"PYTHONPATH": f"{REPO}:{REPO / 'adapters'}"},
        check=True,
    )
    assert done.stdout.strip() == "[]"
