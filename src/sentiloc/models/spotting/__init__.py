"""Spotting models: P-FES (docs/methods.md §6) and its backbones (``temporal``, ``spotformer``)."""

from sentiloc.models.spotting.backbones import BACKBONES
from sentiloc.models.spotting.pfes import PFES, PFESConfig

__all__ = ["BACKBONES", "PFES", "PFESConfig"]
