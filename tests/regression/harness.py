"""A fixed, seeded tiny run of every shipped config, driven through the CLI.

The localization records in ``expected.json`` were taken before the architecture step that
introduced the task seams, the spotting ones when the spotting task landed (one leave-one-subject-out
fold of a tiny simulated dataset), the recognition ones (and ``cten_video``) when the recognition task
landed (a tiny simulated VideoEmotion-8-like split), ``tgdfer_video`` and ``tgdfer_notext_video`` when they did; the test replays the same runs and compares. It goes through ``sentiloc simulate``,
``train``, ``predict`` and ``evaluate`` only, so it holds whatever the package's insides look like.

Re-record (only when a change is *meant* to alter results, and say so in the commit):
``python -m tests.regression.harness --record`` (every config), or ``... --record NAME ...`` to add or
retake only the named configs and keep every other record.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from tempfile import TemporaryDirectory

from sentiloc.cli import main as cli

EXPECTED = Path(__file__).with_name("expected.json")
#: ``--clicks noisy`` was the simulator's only click model when the record was taken.
SIMULATION = ["--videos", "16", "--seed", "0", "--max-duration", "60", "--dims", "rgb=48,logmfcc=40,img=32",
              "--clicks", "noisy"]
#: The tiny schedule every config runs under: float32 (bf16 would depend on the CPU), 2 epochs.
OVERRIDES = ["train.epochs=2", "train.batch_size=2", "train.amp=none", "train.checkpoint_every=0",
             "train.eval_every=1", "train.seed=7"]
#: Narrower layers where a model has them, so that the whole set runs in the default test suite.
WIDTHS = {"hidden": 64, "trunk_hidden": 128, "gsp_hidden": 128}


def shipped_configs() -> list[str]:
    """Every config the package ships, by the name the CLI takes (``fsenet_point``, ``ablations/no_gsp``)."""
    import sentiloc

    root = Path(sentiloc.__file__).parent / "configs"
    return sorted(str(p.relative_to(root).with_suffix("")) for p in root.rglob("*.yaml")
                  if "_base_" not in p.relative_to(root).parts)


def _run(args: list[str]) -> None:
    code = cli(args)
    if code:
        raise RuntimeError(f"sentiloc {' '.join(args)} exited {code}")


#: The spotting configs' data (recorded when the spotting task landed): 3 SAMM-LV-like subjects,
#: trained with the first one held out and scored on it.
SPOTTING_SIMULATION = ["--task", "spotting", "--structure", "samm", "--subjects", "3", "--videos-per-subject", "1",
                       "--max-seconds", "20", "--dim", "16", "--seed", "0"]
SPOTTING_SUBJECT = "006"
#: The recognition configs' data (recorded when the recognition task landed): 48 clips of 8 classes, 2:1 split.
RECOGNITION_SIMULATION = ["--task", "recognition", "--structure", "ve8", "--videos", "48", "--dims", "visual=16,audio=12",
                          "--seed", "0"]
#: ``sentiloc simulate`` arguments of each task's data.
SIMULATIONS = {"localization": SIMULATION, "spotting": SPOTTING_SIMULATION, "recognition": RECOGNITION_SIMULATION}
#: ``sentiloc evaluate`` arguments and the metrics recorded, per task.
SCORING = {
    "localization": (lambda data: ["--gt", str(data / "gt.json")], ("average_mAP", "mAP", "recall", "precision", "f2")),
    "spotting": (lambda data: ["--task", "spotting", "--gt", str(data), "--subset", SPOTTING_SUBJECT],
                 ("overall", "MaE", "ME")),
    "recognition": (lambda data: ["--task", "recognition", "--gt", str(data)], ("accuracy", "uar", "keyframes")),
}


def simulate(work: Path, task: str) -> Path:
    data = work / f"data_{task}"
    _run(["simulate", str(data), *SIMULATIONS[task]])
    return data


def task_of(name: str) -> str:
    from sentiloc.core.config import load_config

    return load_config(name).get("task") or "localization"


def run_config(name: str, data: Path, work: Path) -> dict:
    """Train, predict and evaluate one config; its loss history, selection metric and test metrics."""
    run = work / name.replace("/", "__")
    from sentiloc.core.config import load_config

    model = load_config(name).get("model") or {}
    task = task_of(name)
    overrides = OVERRIDES + [f"model.{key}={value}" for key, value in WIDTHS.items() if key in model]
    if task == "spotting":
        overrides.append(f'data.test_subject="{SPOTTING_SUBJECT}"')
    sets = [arg for override in overrides for arg in ("--set", override)]
    _run(["train", "--config", name, "--data", str(data), "--out", str(run), *sets])
    _run(["predict", "--checkpoint", str(run / "best.pt"), "--data", str(data), "--split", "test",
          "--out", str(run / "test.json")])
    scoring, keys = SCORING[task]
    _run(["evaluate", *scoring(data), "--pred", str(run / "test.json"), "--json", str(run / "m.json")])
    summary = json.loads((run / "summary.json").read_text())
    metrics = json.loads((run / "m.json").read_text())
    history = [{k: v for k, v in record.items() if not k.startswith("time/")} for record in summary["history"]]
    return {"history": history, "best": summary["best"], "test": {k: metrics[k] for k in keys if k in metrics}}


def record_all(configs: list[str]) -> dict:
    with TemporaryDirectory() as tmp:
        work = Path(tmp)
        data: dict[str, Path] = {}
        results = {}
        for name in configs:
            task = task_of(name)
            if task not in data:
                data[task] = simulate(work, task)
            results[name] = run_config(name, data[task], work)
        return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--record", action="store_true", help="write the runs into expected.json: every config's "
                        "when none is named, else only the named configs' (the other records are kept)")
    parser.add_argument("configs", nargs="*")
    args = parser.parse_args(argv)
    results = record_all(args.configs or shipped_configs())
    text = json.dumps(results, indent=1, sort_keys=True)
    if args.record:
        kept = json.loads(EXPECTED.read_text()) if args.configs else {}
        EXPECTED.write_text(json.dumps({**kept, **results}, indent=1, sort_keys=True) + "\n")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
