"""Training losses: loss terms, pseudo-label strategies, and one registered objective per method.

- :mod:`.frame`: focal BCE of a CAS against frame targets ŷ (docs/methods.md §2.7);
- :mod:`.contrastive`: PSSC prototype contrast and TSL-Net's reverse-mapping loss;
- :mod:`.video`: video-level losses on the top-k video scores;
- :mod:`.clicks`: which clicks of a padded batch count;
- :mod:`.pseudo_labels`: frame targets from clicks (BSPG and its ablations, TSL-Net's greedy search);
- :mod:`.gim` and :mod:`.spotting`: GIM pseudo-labels and the P-FES loss terms (expression spotting);
- :mod:`.objectives`: FSENet, TSL-Net, P-FES, CTEN, TG-DFER and the MIL / frame-classifier / clip-CE baselines, registered in
  :mod:`.registry` under ``loss.name``.

All functions take padded, batch-first tensors plus the ``(B, T)`` real-snippet mask and never
let padding contribute. Importing this package registers every shipped objective; the
inference path never imports it.
"""

from sentiloc.losses.objectives import baselines, cten, fsenet, pfes, tgdfer, tslnet  # noqa: F401 (registers the objectives)
from sentiloc.losses.registry import (
    OBJECTIVES,
    Objective,
    build_objective,
    check_fit,
    objective_options,
)

__all__ = ["OBJECTIVES", "Objective", "build_objective", "check_fit", "objective_options"]
