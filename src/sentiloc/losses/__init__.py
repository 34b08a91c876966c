"""Losses: pseudo-labels from points, focal frame loss, PSSC contrast, video-level losses, objectives."""

from sentiloc.losses.contrastive import pssc_loss
from sentiloc.losses.frame import focal_bce, frame_loss
from sentiloc.losses.pseudo_labels import PseudoLabelConfig, point_targets
from sentiloc.losses.video import video_bce, video_loss_labels, video_loss_paper

__all__ = [
    "PseudoLabelConfig",
    "focal_bce",
    "frame_loss",
    "point_targets",
    "pssc_loss",
    "video_bce",
    "video_loss_labels",
    "video_loss_paper",
]
