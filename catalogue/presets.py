"""Adapter keyword arguments with the convention as one ``preset=`` value.

Tests describe a configuration as one dict (``{"preset": "optax", "nesterov": True, "lr": ...}``);
radam_torch, radam_keras and radam_optax take its convention fields as one
``radam_core.Preset``. (radam_core.step and radam_numpy take every field as a keyword.)
"""

from __future__ import annotations

from typing import Any

import radam_core


def preset_kwargs(options: dict[str, Any], default: str = "torch") -> dict[str, Any]:
    """``options`` with its convention fields folded into ``preset`` (a ``radam_core.Preset``)."""
    fields = {k: v for k, v in options.items() if k in radam_core.CONVENTION_FIELDS}
    rest = {k: v for k, v in options.items() if k not in fields and k != "preset"}
    preset = radam_core.for_adapters.preset_of(options.get("preset", default))
    if not fields:
        return {**rest, "preset": options["preset"]} if "preset" in options else rest
    return {**rest, "preset": preset.replace(**{k: v for k, v in fields.items() if v is not None})}
