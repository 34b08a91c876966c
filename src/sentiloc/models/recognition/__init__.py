"""Recognition models: clip labels from per-segment features, with the segments that carry them.

- :mod:`.cten`: CTEN, temporal attention with keyframe erasing (docs/methods.md §8);
- :mod:`.meanpool`: ``meanpool_linear``, the mean-pooling linear baseline;
- :mod:`.tgdfer`: TG-DFER, text-guided multiple-instance learning, and ``tgdfer_notext`` (docs/methods.md §7).
"""

from sentiloc.models.recognition.cten import CTEN, CTENConfig
from sentiloc.models.recognition.meanpool import MeanPoolConfig, MeanPoolLinear
from sentiloc.models.recognition.tgdfer import TGDFER, TGDFERConfig, TGDFERNoText, TGDFERNoTextConfig

__all__ = ["CTEN", "CTENConfig", "MeanPoolConfig", "MeanPoolLinear", "TGDFER", "TGDFERConfig", "TGDFERNoText",
           "TGDFERNoTextConfig"]
