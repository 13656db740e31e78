"""docs/recipes.md's timm recipe runs: create_optimizer_v2 builds radam_torch.RAdam by name.

Runs in the recipes-timm session (``nox -s recipes-timm``): timm needs a torchvision that
imports, which PyPI has only beside another torch than the project's 2.13.0 CPU build (see
noxfile.py and the page's 'Installing beside torch 2.13.0').
"""

import textwrap

import pytest

from tests.markdown_code import ROOT, section_blocks

pytestmark = pytest.mark.backend("timm")
PAGE = ROOT / "docs" / "recipes.md"


def test_timm_recipe_trains_with_radam_torch(tmp_path, monkeypatch):
    pytest.importorskip("timm")
    import timm.optim
    from radam_torch import RAdam

    registry = timm.optim._optim_factory.default_registry  # restored after the test
    monkeypatch.setattr(registry, "_optimizers", dict(registry._optimizers))
    monkeypatch.chdir(tmp_path)
    (code,) = section_blocks(PAGE, "timm", "python")
    namespace: dict = {}
    exec(compile(textwrap.dedent(code), str(PAGE), "exec"), namespace)
    optimizer, model = namespace["optimizer"], namespace["model"]
    assert type(optimizer) is RAdam
    decayed = {
        id(p) for g in optimizer.param_groups if g["weight_decay"] == 0.05 for p in g["params"]
    }
    assert decayed == {id(p) for p in model.parameters() if p.ndim > 1}  # timm's groups
    assert {int(state["step"]) for state in optimizer.state.values()} == {3}
    assert len(optimizer.state) == sum(1 for _ in model.parameters())
