"""Adapter keyword arguments with the convention as one ``preset=`` value.

The tests' name for :func:`catalogue.presets.preset_kwargs`, which the catalogue's
builders use too.
"""

from catalogue.presets import preset_kwargs

__all__ = ["preset_kwargs"]
