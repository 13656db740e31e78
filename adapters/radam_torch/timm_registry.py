"""One call that lets timm's ``create_optimizer_v2`` build radam_torch's RAdam by name.

timm builds optimizers by name only, from its registry: ``create_optimizer_v2(model,
"radam")`` is timm's own entry for ``torch.optim.RAdam``. ``register_with_timm()`` adds
``"radamtorch"`` for [`radam_torch.RAdam`][radam_torch.RAdam]. timm reads a name up to its
last ``"_"`` as a wrapper (``"lookahead_radamtorch"`` is timm's Lookahead around it), so a
name here has no ``"_"``.

timm's public API lists, describes and builds the optimizers of its registry
(``timm.optim.list_optimizers``, ``get_optimizer_info``, ``create_optimizer_v2``) but has
no function that adds one to it: the registry they read is
``timm.optim._optim_factory.default_registry``. That private path is reached here only
(`_default_registry`), checked before it is used, and the entry is read back through the
public API: a timm that moves or changes it gets a ``RuntimeError`` naming timm's version,
never a silent no-op. timm is imported by the call, not with radam_torch.
"""

from __future__ import annotations

from typing import Any

from radam_torch.optimizer import RAdam

TIMM_NAME = "radamtorch"
"""The name ``register_with_timm()`` gives radam_torch's RAdam in timm's registry."""


def register_with_timm(name: str = TIMM_NAME) -> Any:
    """Register [`radam_torch.RAdam`][radam_torch.RAdam] with timm as ``name``.

    Then ``timm.optim.create_optimizer_v2(model, name, lr=..., weight_decay=...)`` builds it,
    with timm's parameter groups (no weight decay on biases and norms) and any RAdam argument
    as a keyword (``betas``, ``decoupled_weight_decay``, ``preset``, ...). Registering the
    same name again changes nothing.

    Args:
        name: The name timm will know it by (timm compares names in lower case); no ``"_"``.

    Returns:
        timm's ``OptimInfo`` for ``name``.

    Raises:
        TypeError: If ``name`` is not a string.
        ValueError: If ``name`` is empty or has a ``"_"``, or timm already has another
            optimizer under it (a name someone registered is never replaced).
        ImportError: If timm is not installed.
        RuntimeError: If this timm keeps its registry elsewhere (see the module's docstring).
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__} {name!r}")
    if not name or "_" in name:
        raise ValueError(
            f"name must be non-empty and have no '_' (timm reads what precedes the last '_' "
            f"as a wrapper such as 'lookahead_'), got {name!r}"
        )
    import timm.optim

    registry = _default_registry(timm)
    key = name.lower()
    if key in timm.optim.list_optimizers():
        existing = timm.optim.get_optimizer_info(key)
        if existing.opt_class is not RAdam:
            raise ValueError(
                f"timm already has an optimizer named {key!r} ({existing.opt_class!r}); "
                f"pass register_with_timm another name"
            )
        return existing
    info = timm.optim.OptimInfo(
        name=key,
        opt_class=RAdam,
        description="radam_torch.RAdam, Rectified Adam on radam_core (torch.optim.RAdam's API)",
        has_eps=True,
        has_betas=True,
    )
    registry.register(info)
    return info


def _default_registry(timm: Any) -> Any:
    """The global optimizer registry of timm, the one ``create_optimizer_v2`` reads (private).

    Checked against timm's public API before anything is written: it must be an
    ``OptimizerRegistry`` holding exactly the entries (the same objects) that
    ``timm.optim.list_optimizers`` and ``get_optimizer_info`` give.
    """
    factory = getattr(timm.optim, "_optim_factory", None)
    registry = getattr(factory, "default_registry", None)
    public = timm.optim.list_optimizers()
    found = (
        isinstance(registry, timm.optim.OptimizerRegistry)
        and registry.list_optimizers() == public
        and all(registry.get_optimizer_info(n) is timm.optim.get_optimizer_info(n) for n in public)
    )
    if not found:
        raise RuntimeError(
            f"timm {timm.__version__}: timm.optim._optim_factory.default_registry is not the "
            f"registry create_optimizer_v2 reads; radam_torch.register_with_timm needs "
            f"updating for this timm"
        )
    return registry
