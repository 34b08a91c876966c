"""Frame targets from clicks: the pseudo-label strategies (BSPG and its ablations) and TSL-Net's greedy search."""

from sentiloc.losses.pseudo_labels.greedy_search import (
    background_seeds,
    greedy_pseudo_labels,
)
from sentiloc.losses.pseudo_labels.strategies import PseudoLabelConfig, point_targets

__all__ = ["PseudoLabelConfig", "background_seeds", "greedy_pseudo_labels", "point_targets"]
