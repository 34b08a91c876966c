"""Which clicks of a padded batch count: shared by the pseudo-label strategies and TSL-Net's losses."""

from __future__ import annotations

from torch import Tensor


def valid_clicks(point_t: Tensor, point_mask: Tensor, mask: Tensor) -> Tensor:
    """``(B, P)`` bool: real clicks that fall on a real snippet (a click on padding is dropped).

    Args:
        point_t: ``(B, P)`` long snippet index of each click (padded with 0).
        point_mask: ``(B, P)`` bool, True on real clicks.
        mask: ``(B, T)`` bool, True on real snippets.
    """
    lengths = mask.sum(dim=1, keepdim=True)
    return point_mask & (point_t >= 0) & (point_t < lengths)
