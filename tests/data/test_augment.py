"""Face dropout: hides one contiguous run of real snippets per selected video, reproducibly."""

from __future__ import annotations

import torch

from sentiloc.data.perturb import drop_face_runs


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    mask = torch.zeros(3, 40, dtype=torch.bool)
    mask[0], mask[1, :25], mask[2, :7] = True, True, True
    face = mask.clone()
    face[0, 5:9] = False  # an originally missing run stays missing
    return face, mask


def test_probability_zero_changes_nothing() -> None:
    face, mask = _batch()
    assert drop_face_runs(face, mask, 0.0, torch.Generator().manual_seed(0)) is face


def test_hidden_snippets_form_one_run_inside_the_real_length() -> None:
    face, mask = _batch()
    for seed in range(50):
        out = drop_face_runs(face, mask, 1.0, torch.Generator().manual_seed(seed))
        assert not (out & ~face).any()  # never reveals a face (the missing run 5..8 stays missing)
        out_full = drop_face_runs(mask, mask, 1.0, torch.Generator().manual_seed(seed))
        assert not (out_full & ~mask).any()  # padding stays faceless
        for b in range(3):
            idx = torch.nonzero(mask[b] & ~out_full[b]).flatten()
            if len(idx):
                assert int(idx[-1]) < int(mask[b].sum())
                assert int(idx[-1]) - int(idx[0]) + 1 == len(idx), "one contiguous run"


def test_same_generator_seed_same_runs_and_rate_follows_probability() -> None:
    face, mask = torch.ones(400, 50, dtype=torch.bool), torch.ones(400, 50, dtype=torch.bool)
    a = drop_face_runs(face, mask, 0.5, torch.Generator().manual_seed(3))
    b = drop_face_runs(face, mask, 0.5, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    touched = (~a).any(dim=1).float().mean()
    assert 0.4 < touched < 0.6  # ~half the videos selected (a few draw an empty run)
    # u ~ U(0, 1): a selected video loses about half its snippets on average
    assert 0.2 < (~a).float().mean() < 0.3
