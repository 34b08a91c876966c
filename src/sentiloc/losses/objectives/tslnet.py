"""TSL-Net's training objective under point supervision (docs/methods.md §4).

    L = λ_fuse L_fuse + λ₁ L_video + λ₂ L_frame,      λ_fuse = 1, λ₁ = 2, λ₂ = 1
    L_frame = μ L_point + (1 − μ)(L_bkg + L_pact),     μ = 0.5

- L_fuse: reverse-mapping CPC loss for the visual and audio streams
  (:func:`~sentiloc.losses.contrastive.reverse_mapping_loss`, paper sign by default).
- L_video: KL between the clicks' class shares and the DIST head's video distribution
  (:func:`~sentiloc.losses.video.label_distribution_kl`).
- L_point, L_bkg, L_pact: focal BCE on the click snippets, the greedy search's background seeds
  and (scaled by ½) its expanded snippets (:mod:`~sentiloc.losses.pseudo_labels.greedy_search`).

The frame losses score the *fused* CAS ȳ = [y_c (1 − y_∅), y_∅] (TSL-Net's convention, also its
inference score Ĉ). Each is normalised per video and averaged over the videos of the batch, so a
padded micro-batch gives the reference's one-video-at-a-time accumulation exactly. Only clicks
are read; dense segments (``batch.dense``) never are.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from sentiloc.core.errors import SentilocError
from sentiloc.data.batch import Batch
from sentiloc.losses.clicks import valid_clicks
from sentiloc.losses.contrastive import reverse_mapping_loss
from sentiloc.losses.frame import EPS, focal_bce
from sentiloc.losses.pseudo_labels.greedy_search import TAU_BG, greedy_search_batch
from sentiloc.losses.registry import Objective, register_objective
from sentiloc.losses.video import label_distribution_kl
from sentiloc.models.base import TSLNetOutput

CPC_SIGNS = ("paper", "code")


@dataclass
class TSLNetLossConfig:
    """The ``loss:`` section for ``name: tslnet`` (defaults = the paper's).

    Attributes:
        lambda_fuse, lambda_video, lambda_frame: weights of L_fuse, L_video (λ₁), L_frame (λ₂).
        mu: share μ of L_point in L_frame.
        gamma: focal exponent.
        tau_bg: background-seed threshold of the greedy search.
        point_target, point_other: smoothed click targets (click class, other classes; ∅ = 0).
        pact_scale: factor of L_pact's focal BCE (½ in the paper).
        cpc_sign: ``paper`` (minimise the CPC loss) or ``code`` (the released code's flipped sign,
            which *maximises* it; for reproducing the reference only).
    """

    lambda_fuse: float = 1.0
    lambda_video: float = 2.0
    lambda_frame: float = 1.0
    mu: float = 0.5
    gamma: float = 2.0
    tau_bg: float = TAU_BG
    point_target: float = 0.9
    point_other: float = 0.1
    pact_scale: float = 0.5
    cpc_sign: str = "paper"

    def __post_init__(self) -> None:
        if self.cpc_sign not in CPC_SIGNS:
            raise SentilocError(f"config 'loss.cpc_sign' must be one of {list(CPC_SIGNS)}, got {self.cpc_sign!r}")
        if not 0.0 <= self.mu <= 1.0:
            raise SentilocError(f"config 'loss.mu' must lie in [0, 1], got {self.mu!r}")


def fused_cas(cas: Tensor) -> Tensor:
    """ȳ = [y_c (1 − y_∅) for c < C, y_∅]: class scores discounted by the non-sentiment score."""
    background = cas[..., -1:]
    return torch.cat([cas[..., :-1] * (1.0 - background), background], dim=-1)


def click_targets(
    point_t: Tensor, point_cls: Tensor, valid: Tensor, length: int, num_classes: int, on: float, off: float
) -> tuple[Tensor, Tensor]:
    """Smoothed click targets: ``on`` for a click's class, ``off`` for the others, 0 for ∅.

    Clicks of different classes on one snippet both get ``on`` (max per column).

    Returns:
        ``targets (B, T, C+1)`` and ``weight (B, T)`` = ``max_c targets`` (0 off the clicks).
    """
    steps = torch.arange(length, device=point_t.device)
    at = (steps[None, None, :] == point_t[..., None]) & valid[..., None]  # (B, P, T)
    onehot = F.one_hot(point_cls.clamp(0, num_classes - 1), num_classes).bool()  # (B, P, C)
    hit = (at[..., None] & onehot[:, :, None, :]).any(dim=1)  # (B, T, C)
    clicked = hit.any(dim=-1, keepdim=True)
    values = torch.where(hit, on, torch.where(clicked, off, 0.0))
    targets = torch.cat([values, torch.zeros_like(values[..., :1])], dim=-1)
    return targets, targets.amax(dim=-1)


def class_counts(point_cls: Tensor, valid: Tensor, num_classes: int) -> Tensor:
    """``(B, C)`` number of valid clicks per class."""
    onehot = F.one_hot(point_cls.clamp(0, num_classes - 1), num_classes).to(torch.float32)
    return (onehot * valid[..., None]).sum(dim=1)


def per_video_focal(
    pred: Tensor, target: Tensor, weight: Tensor, norm: Tensor, gamma: float, focus: Tensor | None = None
) -> Tensor:
    """``Σ_{t,c} weight · focal_bce(pred, target) / (Σ_t norm + ε)`` for each video, ``(B,)``.

    ``weight`` broadcasts to ``(B, T, C+1)``: a per-snippet ``(B, T, 1)`` or per-element weight;
    it is 0 at padding and on unsupervised snippets, which therefore contribute nothing.
    """
    terms = focal_bce(pred, target, gamma, focus=focus)
    weighted = torch.where(weight > 0, terms * weight, torch.zeros_like(terms))
    return weighted.sum(dim=(1, 2)) / (norm.sum(dim=1) + EPS)


@register_objective("tslnet", TSLNetLossConfig)
class TSLNetObjective(Objective):
    needs = TSLNetOutput

    """Computes every loss term of TSL-Net for one batch; returns a dict with ``total``."""

    def __init__(self, cfg: TSLNetLossConfig, supervision: str, num_classes: int) -> None:
        if supervision != "point":
            raise SentilocError(
                f"loss 'tslnet' needs point supervision (data.supervision: point), got {supervision!r}: "
                "TSL-Net's video loss, greedy search and point loss are all built from the clicks"
            )
        self.cfg = cfg
        self.num_classes = num_classes

    def __call__(self, out: TSLNetOutput, batch: Batch) -> dict[str, Tensor]:
        cfg, c = self.cfg, self.num_classes
        if out.recon_visual is None or out.recon_audio is None:
            raise SentilocError("loss 'tslnet' needs the reverse mappings, which the model skips under cas_only")
        mask = batch.mask
        valid = valid_clicks(batch.point_t, batch.point_mask, mask)
        terms: dict[str, Tensor] = {}

        fuse = reverse_mapping_loss(out.feat_visual, out.recon_visual, mask) + reverse_mapping_loss(
            out.feat_audio, out.recon_audio, mask
        )
        terms["fuse"] = fuse if cfg.cpc_sign == "paper" else -fuse
        terms["video"] = label_distribution_kl(out.dist_video, class_counts(batch.point_cls, valid, c))

        pred = fused_cas(out.cas)
        point_targets, point_weight = click_targets(
            batch.point_t, batch.point_cls, valid, mask.shape[1], c, cfg.point_target, cfg.point_other
        )
        pact_targets, pact_weight, seeds = greedy_search_batch(pred, mask, batch.point_t, valid, cfg.tau_bg)
        bkg_targets = F.one_hot(torch.full_like(seeds, c, dtype=torch.long), c + 1).to(pred.dtype)
        point = per_video_focal(pred, point_targets, point_weight[..., None], point_weight, cfg.gamma)
        # Each element is weighted by its own soft target; the focal weight uses the binarised one.
        pact = cfg.pact_scale * per_video_focal(
            pred, pact_targets, pact_targets, pact_weight, cfg.gamma, focus=(pact_targets > 0.5)
        )
        bkg = per_video_focal(pred, bkg_targets, seeds[..., None], seeds, cfg.gamma)
        frame = cfg.mu * point + (1.0 - cfg.mu) * (bkg + pact)
        terms.update(point=point.mean(), pact=pact.mean(), bkg=bkg.mean(), frame=frame.mean())

        terms["total"] = (
            cfg.lambda_fuse * terms["fuse"] + cfg.lambda_video * terms["video"] + cfg.lambda_frame * terms["frame"]
        )
        return terms
