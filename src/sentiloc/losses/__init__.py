"""Training losses shared by the localization models (METHODS.md §2.5–2.7, §2.10).

- :mod:`~sentiloc.losses.pseudo_labels.strategies`: frame targets ŷ from clicks (BSPG and its ablations);
- :mod:`~sentiloc.losses.frame`: focal BCE of a CAS against ŷ;
- :mod:`~sentiloc.losses.contrastive`: PSSC prototype contrast on snippet embeddings;
- :mod:`~sentiloc.losses.video`: video-level losses on the top-k video scores;
- :mod:`~sentiloc.models.ops`: the masked top-k pooling behind those video scores;
- :mod:`~sentiloc.losses.objectives.baselines`: the MIL (video labels) and frame-classifier (dense) objectives;
- :mod:`~sentiloc.losses.pseudo_labels.greedy_search`: TSL-Net's greedy background/foreground search from clicks;
- :mod:`~sentiloc.losses.objectives.tslnet`: the TSL-Net objective (CPC reverse mapping, label-distribution
  KL, point/background/expansion focal losses).

All functions take padded, batch-first tensors plus the ``(B, T)`` real-snippet mask and never
let padding contribute.
"""

from sentiloc.losses.contrastive import pssc_loss, reverse_mapping_loss
from sentiloc.losses.frame import focal_bce, frame_loss
from sentiloc.losses.pseudo_labels.greedy_search import greedy_pseudo_labels
from sentiloc.models.ops import masked_topk_mean, topk_k
from sentiloc.losses.pseudo_labels.strategies import PseudoLabelConfig, point_targets
from sentiloc.losses.video import label_distribution_kl, video_bce, video_loss_labels, video_loss_paper

__all__ = [
    "PseudoLabelConfig",
    "focal_bce",
    "frame_loss",
    "greedy_pseudo_labels",
    "label_distribution_kl",
    "masked_topk_mean",
    "point_targets",
    "pssc_loss",
    "reverse_mapping_loss",
    "topk_k",
    "video_bce",
    "video_loss_labels",
    "video_loss_paper",
]
