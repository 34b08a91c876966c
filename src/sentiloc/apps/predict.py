"""``sentiloc predict``: a checkpoint + a dataset split -> the task's prediction file (atomic write).

Only the inference path is imported: the checkpoint names its task, the task rebuilds the data
pipeline and turns model outputs into predictions; the training loop and the losses stay unloaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sentiloc.core.errors import SentilocError
from sentiloc.core.io import refuse_clobber
from sentiloc.engine.device import resolve_device
from sentiloc.postprocess import write_results
from sentiloc.tasks import load_trained


def predict_split(
    checkpoint: Path, data_root: Path, split: str, out: Path, overwrite: bool = False, device: str = "cpu",
    face_missing: float = 0.0, face_seed: int = 0, postprocess: Sequence[str] = (),
) -> dict:
    """Predict every video of ``split`` and write the results JSON atomically.

    A non-zero ``face_missing`` first hides faces (seeded by ``face_seed``, see
    :class:`~sentiloc.data.dataset.FaceMissingDataset`), to measure how a model degrades when the
    face detector fails more often than in training. ``postprocess`` overrides the checkpoint's
    ``postprocess.*`` settings (e.g. ``postprocess.class_threshold=null``).
    """
    if Path(out).is_dir():
        raise SentilocError(f"{out}: --out is a folder; name the predictions file, e.g. {Path(out) / 'predictions.json'}")
    refuse_clobber(out, overwrite)
    torch_device = resolve_device(device)
    trained = load_trained(checkpoint, torch_device, postprocess)
    results = trained.task.predict(trained, Path(data_root), split, torch_device,
                                   face_missing=face_missing, face_seed=face_seed)
    write_results(out, results, overwrite=overwrite)
    return results
