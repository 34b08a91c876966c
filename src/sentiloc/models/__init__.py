"""Localization models: shared bricks (:mod:`.blocks`), FSENet, and the name -> model registry."""

from sentiloc.models.fsenet import FSENet, FSENetConfig
from sentiloc.models.output import ModelOutput
from sentiloc.models.registry import MODELS, build_model

__all__ = ["FSENet", "FSENetConfig", "MODELS", "ModelOutput", "build_model"]
