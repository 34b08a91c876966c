"""What the class texts tell TG-DFER about a simulated dataset: their similarity against the simulator's.

    python docs/probes/text_prior.py DATA

For a recognition dataset written by ``sentiloc simulate --task recognition`` (its
``simulation.json`` holds the class similarity the simulator built the prototypes from), it
encodes the class descriptions as ``tgdfer`` does (the dataset's ``descriptions.json``, else the
shipped texts; all-MiniLM-L6-v2, through the embedding cache) and prints both similarity
matrices, the range of the text similarities between different classes, and the Pearson and
Spearman correlations of their off-diagonal entries. A text prior can only help where its class
geometry resembles the data's. docs/RESULTS.md ("TG-DFER on a simulated DFEW") quotes it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from scipy.stats import pearsonr, spearmanr

from sentiloc.data.recognition.class_texts import class_descriptions
from sentiloc.models.text import TextGuidanceConfig, class_embeddings


def main(data: Path) -> None:
    simulation = json.loads((data / "simulation.json").read_text(encoding="utf-8"))
    classes = simulation["structure"]["classes"]
    simulated = np.asarray(simulation["similarity"], dtype=float)
    text = np.asarray(class_embeddings(TextGuidanceConfig(), class_descriptions(data, classes)))
    cosine = text @ text.T
    upper = np.triu_indices(len(classes), 1)
    print("classes:", ", ".join(classes))
    print("text cosine similarity:\n", np.round(cosine, 2))
    print("simulated class similarity:\n", np.round(simulated, 2))
    print(f"text similarity between different classes: {cosine[upper].min():.2f} to {cosine[upper].max():.2f}")
    print(f"Pearson r = {pearsonr(cosine[upper], simulated[upper]).statistic:.2f}, "
          f"Spearman rho = {spearmanr(cosine[upper], simulated[upper]).statistic:.2f} "
          f"over {len(upper[0])} class pairs")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__.splitlines()[2].strip())
    main(Path(sys.argv[1]))
