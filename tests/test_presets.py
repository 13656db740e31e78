"""radam_core.Preset: the convention as one frozen value, and the old keywords' deprecation."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

import radam_core
from radam_core.for_adapters import preset_of, with_deprecated_options


def test_published_presets_set_their_fields_and_nothing_else():
    assert radam_core.PRESETS["torch"].overrides == {}
    assert radam_core.PRESETS["paper"].overrides == {"threshold": 4.0}
    assert radam_core.PRESETS["tfa"].overrides == {
        "threshold_inclusive": True,
        "eps_placement": "corrected",
        "eps": 1e-7,
        "decoupled_weight_decay": True,
    }


def test_a_preset_is_frozen_and_replace_makes_a_new_validated_one():
    optax = radam_core.PRESETS["optax"]
    nesterov = optax.replace(nesterov=True)
    assert nesterov.nesterov
    assert not optax.nesterov
    assert nesterov.overrides == {**optax.overrides, "nesterov": True}
    with pytest.raises(dataclasses.FrozenInstanceError):
        optax.nesterov = True  # type: ignore[misc]
    with pytest.raises(ValueError, match="threshold must be finite and >= 4"):
        optax.replace(threshold=3.0)
    with pytest.raises(TypeError, match="nesterov must be a bool"):
        radam_core.Preset(nesterov=1)
    with pytest.raises(TypeError, match="unknown preset field 'lr'"):
        optax.replace(lr=0.1)


def test_preset_takes_a_name_or_a_preset_everywhere_the_core_builds_hyperparameters():
    custom = radam_core.PRESETS["optax"].replace(amsgrad=True, nesterov=True)
    by_value = radam_core.hyperparameters_for(custom, lr=0.1)
    by_keywords = radam_core.hyperparameters_for("optax", lr=0.1, amsgrad=True, nesterov=True)
    assert by_value == by_keywords
    params, grads = (np.linspace(-1.0, 1.0, 5),), (np.full(5, 0.3),)
    state = radam_core.init_state(params, amsgrad=True)
    new_a, _ = radam_core.step(params, grads, state, preset=custom, lr=0.1)
    new_b, _ = radam_core.step(
        params, grads, state, preset="optax", lr=0.1, amsgrad=True, nesterov=True
    )
    np.testing.assert_array_equal(new_a[0], new_b[0])
    assert preset_of("tfa") is radam_core.PRESETS["tfa"]
    with pytest.raises(TypeError, match=r"preset must be a str, one of .* or a radam_core\.Preset"):
        preset_of(3)
    with pytest.raises(ValueError, match="preset must be one of"):
        preset_of("adam")


def test_hyperparameters_built_from_a_preset_object_are_kept_like_a_name(monkeypatch):
    """A step that passes the same Preset object again is not validated again (as a name)."""
    built: list[object] = []
    original = radam_core.Hyperparameters.__post_init__

    def counting(self, argument_names):
        if self.lr == 0.1234:  # this test's calls (a Preset validates itself with others)
            built.append(self)
        original(self, argument_names)

    monkeypatch.setattr(radam_core.Hyperparameters, "__post_init__", counting)
    custom = radam_core.PRESETS["torch"].replace(threshold=4.25, nesterov=True)
    first = radam_core.hyperparameters_for(custom, lr=0.1234)
    assert radam_core.hyperparameters_for(custom, lr=0.1234) is first
    assert radam_core.hyperparameters_for(custom.replace(), lr=0.1234) is first  # an equal copy
    other = radam_core.hyperparameters_for(custom.replace(threshold=4.5), lr=0.1234)
    assert (other.threshold, first.threshold) == (4.5, 4.25)
    assert radam_core.hyperparameters_for("torch", lr=0.1234) is radam_core.hyperparameters_for(
        "torch", lr=0.1234
    )
    assert len(built) == 3  # custom, custom with threshold 4.5, "torch"
    array_threshold = custom.replace(threshold=np.array(4.25))  # a 0-d array: not kept
    assert radam_core.hyperparameters_for(array_threshold, lr=0.1234) == first
    assert len(built) == 4


def test_old_keywords_apply_with_a_deprecation_warning_naming_the_new_way():
    with pytest.warns(
        DeprecationWarning, match=r"preset=radam_core\.PRESETS\['optax'\]\.replace\(amsgrad=True\)"
    ):
        preset = with_deprecated_options("optax", {"amsgrad": True}, "owner")
    assert preset == radam_core.PRESETS["optax"].replace(amsgrad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert (
            with_deprecated_options("optax", {"amsgrad": None}, "owner")
            is radam_core.PRESETS["optax"]
        )
        with pytest.raises(ValueError, match="below_threshold must be one of"):  # before a warning
            with_deprecated_options("torch", {"below_threshold": "none"}, "owner")
    with pytest.raises(TypeError, match=r"owner\(\) got an unexpected keyword argument 'lr'"):
        with_deprecated_options("torch", {"lr": 0.1}, "owner")
