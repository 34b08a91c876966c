"""Models: masked building blocks (:mod:`.blocks`), tensor ops (:mod:`.ops`), the base model and
typed outputs (:mod:`.base`), the registry (:mod:`.registry`) and the models of each task.

Importing this package registers every shipped model.
"""

from sentiloc.models.base import (
    BaseModel,
    CTENLocalizationOutput,
    CTENOutput,
    LocalizationOutput,
    RecognitionOutput,
    SpottingOutput,
    TSLNetOutput,
)
from sentiloc.models.localization.cten import CTENTSL, CTENTSLConfig
from sentiloc.models.localization.fsenet import FSENet, FSENetConfig
from sentiloc.models.localization.fusion import FusionNet, FusionNetConfig
from sentiloc.models.localization.tgdfer import TGDFERTSL, TGDFERNoTextTSL, TGDFERTSLConfig, TGDFERTSLNoTextConfig
from sentiloc.models.localization.tslnet import TSLNet, TSLNetConfig
from sentiloc.models.recognition.cten import CTEN, CTENConfig
from sentiloc.models.recognition.meanpool import MeanPoolConfig, MeanPoolLinear
from sentiloc.models.registry import MODELS, build_model
from sentiloc.models.spotting.pfes import PFES, PFESConfig

__all__ = [
    "CTEN",
    "CTENTSL",
    "MODELS",
    "PFES",
    "BaseModel",
    "CTENConfig",
    "CTENLocalizationOutput",
    "CTENOutput",
    "CTENTSLConfig",
    "FSENet",
    "FSENetConfig",
    "FusionNet",
    "FusionNetConfig",
    "LocalizationOutput",
    "MeanPoolConfig",
    "MeanPoolLinear",
    "PFESConfig",
    "RecognitionOutput",
    "SpottingOutput",
    "TSLNet",
    "TSLNetConfig",
    "TSLNetOutput",
    "TGDFERNoTextTSL",
    "TGDFERTSL",
    "TGDFERTSLConfig",
    "TGDFERTSLNoTextConfig",
    "build_model",
]
