"""Frame-level pseudo-labels from point clicks (docs/methods.md §2.5, §2.10, §6).

A click says "class c happens around snippet t_p" and nothing about where the segment starts or
ends. Every strategy here turns the clicks of a padded batch into soft frame targets
``ŷ (B, T, C+1)`` (column C = non-sentiment ∅) plus a per-snippet weight (B, T) that says which
snippets are supervised at all. The strategies differ only in the *shape* they put around a
click, so they share one resolution step:

1. each click p proposes a value ``v[p, t]`` on its support (a window, a Gaussian, ...);
2. per class, overlapping supports of that class take the maximum;
3. where classes compete at one snippet, the larger value wins; equal values go to the class with
   the nearer centre (click, or pseudo-apex for ``gaussian``), then to the lower class index
   (deterministic, **[design]**);
4. the winner's column gets the value and ∅ gets ``1 - value``; other classes 0.

What happens outside every support is the ``background`` mode, shared by every windowed strategy
(``bspg``, ``threshold``, ``gaussian``, and ``none``, which supervises the click snippets alone)
so that an ablation only changes what surrounds a click, never the background supervision:

- ``outside`` — the paper's rule read literally: ŷ_c = 0 outside the windows, so ŷ_∅ = 1 − 0 = 1
  there, with full weight. It teaches ∅ from the start, but also on the part of every segment
  longer than its click's window.
- ``seeds`` — sentiloc's design (docs/methods.md §13): only snippets whose detached ∅ score is already ≥ τ get
  ŷ_∅ = 1; the rest are ignored. Nothing starts it under point labels (measured:
  docs/RESULTS.md).
- ``gaps`` — the whole TSL/LACP seed rule (step 1 of :mod:`~sentiloc.losses.pseudo_labels.greedy_search`):
  per gap between clicks, the snippets with ∅ ≥ τ, or, while there are too few, the stretch to
  the video end (outer gaps) or the single snippet (inner gaps) where ∅ peaks. Seeds get ŷ_∅ = 1
  weighted by their seed value; the rest of a gap is ignored. Unlike ``seeds`` it always starts,
  and unlike ``outside`` it does not call a long segment's far end background.
- ``none`` — snippets outside the windows are ignored (weight 0).

Everything is vectorised over (B, P, T) (classes are a one-hot axis), except the ``gaps`` seeds:
LACP's rule walks the gaps of one video in order, on numpy, a loop over gaps (a handful per video),
never over snippets. Inputs are detached model scores, so the targets carry no gradient.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from sentiloc.core.errors import SentilocError
from sentiloc.losses.clicks import valid_clicks
from sentiloc.losses.pseudo_labels.greedy_search import background_seeds_batch

STRATEGIES = ("bspg", "threshold", "none", "gaussian")
BACKGROUND_MODES = ("outside", "seeds", "gaps", "none")


@dataclass
class PseudoLabelConfig:
    """The ``loss.pseudo`` config section (defaults = the FSENet paper's BSPG).

    Attributes:
        strategy: ``bspg`` | ``threshold`` | ``none`` | ``gaussian``.
        window: half-width w of the window around a click, in snippets.
        beta: BSPG value at distance w (the mound falls linearly from 1 to β).
        tau: non-sentiment threshold τ, used by the BSPG gate and by background seeds.
        background: ``outside`` | ``seeds`` | ``gaps`` | ``none`` — the targets outside all windows
            (module docstring).
        threshold: class-score threshold of the ``threshold`` strategy.
        gaussian_sigma_scale: σ = scale · duration / 2 for the ``gaussian`` strategy.
    """

    strategy: str = "bspg"
    window: int = 7
    beta: float = 0.6
    tau: float = 0.95
    background: str = "gaps"
    threshold: float = 0.5
    gaussian_sigma_scale: float = 0.5

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise SentilocError(
                f"config 'loss.pseudo.strategy': unknown strategy {self.strategy!r}; choose one of {list(STRATEGIES)}"
            )
        if self.background not in BACKGROUND_MODES:
            raise SentilocError(
                f"config 'loss.pseudo.background': unknown mode {self.background!r}; "
                f"choose one of {list(BACKGROUND_MODES)}"
            )
        if int(self.window) != self.window or self.window < 0:
            raise SentilocError(f"config 'loss.pseudo.window' must be a non-negative integer, got {self.window!r}")
        self.window = int(self.window)
        if not 0.0 <= self.beta <= 1.0:
            raise SentilocError(f"config 'loss.pseudo.beta' must lie in [0, 1], got {self.beta!r}")
        if self.gaussian_sigma_scale <= 0:
            raise SentilocError(
                f"config 'loss.pseudo.gaussian_sigma_scale' must be > 0, got {self.gaussian_sigma_scale!r}"
            )


# --------------------------------------------------------------------------------------------
# shared helpers


def _class_track(cas: Tensor, point_cls: Tensor) -> Tensor:
    """``(B, P, T)``: for every click, the detached score track of the click's class."""
    length, columns = cas.shape[1], cas.shape[2]
    cls = point_cls.clamp(0, columns - 1)
    return cas.transpose(1, 2).gather(1, cls[..., None].expand(-1, -1, length))


def _resolve(
    value: Tensor, support: Tensor, centre_dist: Tensor, point_cls: Tensor, num_classes: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Reduce per-click proposals to one (class, value) per snippet.

    Args:
        value: ``(B, P, T)`` proposed class value of each click (used only where ``support``).
        support: ``(B, P, T)`` bool, where each click proposes a value.
        centre_dist: ``(B, P, T)`` distance to the click's centre (tie-break: nearer wins).
        point_cls: ``(B, P)`` class of each click.
        num_classes: C, the number of sentiment classes.

    Returns:
        ``winner (B, T)`` long class, ``val (B, T)`` its value, ``covered (B, T)`` bool.
    """
    onehot = torch.nn.functional.one_hot(point_cls.clamp(0, num_classes - 1), num_classes).bool()  # (B, P, C)
    member = support[:, :, None, :] & onehot[..., None]  # (B, P, C, T)
    low = torch.tensor(-1.0, dtype=value.dtype, device=value.device)
    far = torch.tensor(float("inf"), dtype=value.dtype, device=value.device)
    per_class = torch.where(member, value[:, :, None, :], low).amax(dim=1)  # (B, C, T), max over clicks
    nearest = torch.where(member, centre_dist[:, :, None, :].to(value.dtype), far).amin(dim=1)  # (B, C, T)
    has = member.any(dim=1)  # (B, C, T)
    best = per_class.amax(dim=1, keepdim=True)
    contender = has & (per_class == best)
    # Among the classes with the best value, the nearest centre wins; argmin keeps the first
    # (lowest) class index on a further tie.
    winner = torch.where(contender, nearest, far).argmin(dim=1)  # (B, T)
    val = per_class.gather(1, winner[:, None, :]).squeeze(1)
    covered = has.any(dim=1)
    return winner, torch.where(covered, val, torch.zeros_like(val)), covered


def _assemble(winner: Tensor, val: Tensor, covered: Tensor, num_classes: int) -> Tensor:
    """Targets ``(B, T, C+1)``: ``val`` in the winner's column, ``1 - val`` in ∅, 0 elsewhere."""
    b, t = winner.shape
    targets = torch.zeros(b, t, num_classes + 1, dtype=val.dtype, device=val.device)
    cls_value = torch.where(covered, val, torch.zeros_like(val))
    targets.scatter_(2, winner[..., None], cls_value[..., None])
    targets[..., num_classes] = torch.where(covered, 1.0 - val, torch.zeros_like(val))
    return targets


def _window(point_t: Tensor, valid: Tensor, mask: Tensor, w: int) -> tuple[Tensor, Tensor]:
    """``dist (B, P, T)`` = |t − t_p| and ``inside (B, P, T)`` = real click, real snippet, dist ≤ w."""
    t = torch.arange(mask.shape[1], device=mask.device)
    dist = (t[None, None, :] - point_t[..., None]).abs()
    inside = valid[..., None] & mask[:, None, :] & (dist <= w)
    return dist, inside


# --------------------------------------------------------------------------------------------
# per-strategy click proposals: each returns (value, support, centre_dist), all (B, P, T)


def _bspg_mound(dist: Tensor, cfg: PseudoLabelConfig, dtype: torch.dtype) -> Tensor:
    """BSPG mound ``s = β + (1 − β)(1 − d / w)``: 1 at the click, β at distance w (w = 0: just 1)."""
    if cfg.window == 0:
        return torch.ones(dist.shape, dtype=dtype, device=dist.device)
    return cfg.beta + (1.0 - cfg.beta) * (1.0 - dist.to(dtype) / cfg.window)


def _threshold_square(dist: Tensor, track: Tensor, cfg: PseudoLabelConfig) -> Tensor:
    """**[design]** 1 where the click's class score ≥ threshold (the click itself always), else 0."""
    return ((track >= cfg.threshold) | (dist == 0)).to(track.dtype)


def _gaussian_instance(
    point_t: Tensor, valid: Tensor, track: Tensor, mask: Tensor, cfg: PseudoLabelConfig
) -> tuple[Tensor, Tensor, Tensor]:
    """Instance-adaptive Gaussian around a pseudo-apex (our snippet-level take on GIM, §6).

    GIM (docs/methods.md §6) re-centres each click on a pseudo-apex and sizes the label by an estimated
    instance duration. Here, on the click's class score track a_t = y_{t,c_p} (detached):

    1. apex a* = argmax of a_t over real snippets with |t − t_p| ≤ w (ties: nearest the click,
       then earliest);
    2. duration n = length of the contiguous run containing a* where a_t ≥ 0.5·a_{a*} (real
       snippets only), clipped to [1, 2w + 1];
    3. σ = max(0.5, gaussian_sigma_scale · n / 2); value exp(−(t − a*)² / (2σ²)) on
       |t − a*| ≤ 3σ (real snippets), and ∅ = 1 − value through the shared resolution.

    Unlike GIM, the Gaussian lives on the time axis (not in feature space) and no feature
    statistics are used, so it depends on the CAS only.
    """
    w = cfg.window
    dist, inside = _window(point_t, valid, mask, w)
    t = torch.arange(mask.shape[1], device=mask.device)
    neg = torch.tensor(float("-inf"), dtype=track.dtype, device=track.device)
    scored = torch.where(inside, track, neg)
    peak = scored.amax(dim=2, keepdim=True)  # (B, P, 1)
    at_peak = inside & (scored == peak)
    big = torch.tensor(mask.shape[1] + 1, device=mask.device)
    # nearest maximum to the click; argmin returns the earliest on a distance tie
    apex = torch.where(at_peak, dist, big).argmin(dim=2)  # (B, P)
    apex_score = track.gather(2, apex[..., None])  # (B, P, 1)

    above = (track >= 0.5 * apex_score) & mask[:, None, :]  # (B, P, T)
    rel = t[None, None, :] - apex[..., None]
    t_count = mask.shape[1]
    # first failing snippet to the right of the apex (T if none) and to the left (-1 if none)
    right_stop = torch.where(~above & (rel > 0), t[None, None, :], torch.full_like(rel, t_count)).amin(dim=2)
    left_stop = torch.where(~above & (rel < 0), t[None, None, :], torch.full_like(rel, -1)).amax(dim=2)
    duration = (right_stop - left_stop - 1).clamp(1, 2 * w + 1).to(track.dtype)  # (B, P)
    sigma = (cfg.gaussian_sigma_scale * duration / 2.0).clamp(min=0.5)[..., None]  # (B, P, 1)

    centre_dist = rel.abs()
    value = torch.exp(-(rel.to(track.dtype) ** 2) / (2.0 * sigma**2))
    support = valid[..., None] & mask[:, None, :] & (centre_dist.to(track.dtype) <= 3.0 * sigma)
    return value, support, centre_dist


# --------------------------------------------------------------------------------------------
# public entry point


def point_targets(
    point_t: Tensor,
    point_cls: Tensor,
    point_mask: Tensor,
    cas_detached: Tensor,
    mask: Tensor,
    cfg: PseudoLabelConfig,
) -> tuple[Tensor, Tensor]:
    """Frame targets ŷ and their weights from the clicks of a padded batch.

    Args:
        point_t: ``(B, P)`` long snippet index of each click (padded entries arbitrary).
        point_cls: ``(B, P)`` long class index in ``[0, C)`` of each click.
        point_mask: ``(B, P)`` bool, True on real clicks.
        cas_detached: ``(B, T, C+1)`` detached sigmoid CAS; column C is non-sentiment. Used by the
            BSPG gate, background seeds, ``threshold`` and ``gaussian``.
        mask: ``(B, T)`` bool, True on real snippets.
        cfg: which strategy and its constants.

    Returns:
        ``targets (B, T, C+1)`` in [0, 1] and ``weight (B, T)`` = ``max_c targets`` over all C+1
        columns on supervised snippets (the seed value on ``gaps`` seeds), 0 on ignored snippets
        and padding. Both are detached.
    """
    cas = cas_detached.detach()
    num_classes = cas.shape[-1] - 1
    dtype = cas.dtype
    bg_score = cas[..., num_classes]  # (B, T)
    valid = valid_clicks(point_t, point_mask, mask)
    point_t = torch.where(valid, point_t, torch.zeros_like(point_t))

    if cfg.strategy == "gaussian":
        track = _class_track(cas, point_cls)
        value, support, centre_dist = _gaussian_instance(point_t, valid, track, mask, cfg)
    else:
        w = 0 if cfg.strategy == "none" else cfg.window
        centre_dist, support = _window(point_t, valid, mask, w)
        if cfg.strategy == "bspg":
            value = _bspg_mound(centre_dist, cfg, dtype)
        elif cfg.strategy == "threshold":
            value = _threshold_square(centre_dist, _class_track(cas, point_cls), cfg)
        else:  # none: the click snippet only, class 1
            value = torch.ones(support.shape, dtype=dtype, device=cas.device)

    winner, val, covered = _resolve(value, support, centre_dist, point_cls, num_classes)
    if cfg.strategy == "bspg":
        gate = (bg_score <= cfg.tau).to(dtype)  # I_t = 0 when y_∅ > τ
        val = val * gate
    targets = _assemble(winner, val, covered, num_classes)

    supervised = covered
    background = torch.zeros_like(covered)
    seed_value = torch.ones_like(bg_score)  # weight of a background target; < 1 only for gap seeds
    if cfg.background != "none":
        background = ~covered & mask
        if cfg.background == "seeds":
            background = background & (bg_score >= cfg.tau)
        elif cfg.background == "gaps":
            seed_value = background_seeds_batch(bg_score, mask, point_t, valid, cfg.tau)
            background = background & (seed_value > 0)
        targets[..., num_classes] = torch.where(background, torch.ones_like(bg_score), targets[..., num_classes])
        supervised = covered | background

    supervised = supervised & mask
    targets = torch.where(supervised[..., None], targets, torch.zeros_like(targets))
    weight = torch.where(supervised, targets.amax(dim=-1), torch.zeros_like(bg_score))
    weight = torch.where(background & supervised, seed_value, weight)
    return targets, weight
