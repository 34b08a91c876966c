"""Held-out data for model selection and cross-validation: hold-out, k-fold, leave-one-subject-out.

Every split is a pure function of the ids (and a seed), returns ``(train_ids, held_out_ids)``
pairs in the input order, and never looks at a test set: model selection uses only what the
user gave for training.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from sentiloc.core.errors import SentilocError


def holdout(ids: Sequence[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Seeded hold-out of ``fraction`` of ``ids`` (at least one id when ``fraction > 0`` and there are two)."""
    ordered = sorted(ids)
    n_held = int(round(len(ordered) * fraction))
    if fraction > 0 and n_held == 0 and len(ordered) > 1:
        n_held = 1
    permutation = np.random.default_rng(seed).permutation(len(ordered))
    held = {ordered[i] for i in permutation[:n_held]}
    return [v for v in ids if v not in held], [v for v in ids if v in held]


def kfold(ids: Sequence[str], k: int, seed: int) -> list[tuple[list[str], list[str]]]:
    """``k`` seeded folds: each id is held out exactly once; fold sizes differ by at most one."""
    if not 2 <= k <= len(ids):
        raise SentilocError(f"k-fold with k={k} needs 2 <= k <= {len(ids)} (the number of videos)")
    ordered = sorted(ids)
    permutation = np.random.default_rng(seed).permutation(len(ordered))
    fold_of = {ordered[i]: n % k for n, i in enumerate(permutation)}
    return [([v for v in ids if fold_of[v] != f], [v for v in ids if fold_of[v] == f]) for f in range(k)]


def leave_one_subject_out(subject_of: Mapping[str, str]) -> list[tuple[str, list[str], list[str]]]:
    """One fold per subject, in sorted subject order: ``(subject, train ids, that subject's ids)``."""
    subjects = sorted(set(subject_of.values()))
    if len(subjects) < 2:
        raise SentilocError(f"leave-one-subject-out needs at least two subjects, found {subjects}")
    ids = list(subject_of)
    return [(s, [v for v in ids if subject_of[v] != s], [v for v in ids if subject_of[v] == s]) for s in subjects]
