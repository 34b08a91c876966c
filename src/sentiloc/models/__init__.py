"""Localization models: shared bricks (:mod:`.blocks`), FSENet, and the name -> model registry."""

from sentiloc.models.localization.fsenet import FSENet, FSENetConfig
from sentiloc.models.localization.fusion import FusionNet, FusionNetConfig
from sentiloc.models.output import ModelOutput
from sentiloc.models.registry import MODELS, build_model
from sentiloc.models.localization.tslnet import TSLNet, TSLNetConfig

__all__ = ["FSENet", "FSENetConfig", "FusionNet", "FusionNetConfig", "MODELS", "ModelOutput", "TSLNet", "TSLNetConfig", "build_model"]
