"""Recognition models: clip labels from per-segment features, with the segments that carry them.

- :mod:`.cten`: CTEN, temporal attention with keyframe erasing (docs/methods.md §8);
- :mod:`.meanpool`: ``meanpool_linear``, the mean-pooling linear baseline.
"""

from sentiloc.models.recognition.cten import CTEN, CTENConfig
from sentiloc.models.recognition.meanpool import MeanPoolConfig, MeanPoolLinear

__all__ = ["CTEN", "CTENConfig", "MeanPoolConfig", "MeanPoolLinear"]
