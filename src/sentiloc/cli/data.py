"""``simulate``, ``check-data`` and ``import-annotations``: datasets in, reports out."""

from __future__ import annotations

import argparse
from pathlib import Path

from sentiloc.cli._args import add_parser, positive_float, positive_int


def _modalities(text: str) -> tuple:
    from sentiloc.core.errors import SentilocError
    from sentiloc.data.dataset import ModalitySpec

    try:
        return tuple(ModalitySpec.parse(part) for part in text.split(",") if part.strip())
    except SentilocError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _dims(text: str) -> dict[str, int]:
    dims = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        if not sep or not value.strip().isdigit() or int(value) < 1:
            raise argparse.ArgumentTypeError(f"--dims {text!r}: expected NAME=DIM,..., e.g. rgb=1024,logmfcc=768,img=1024")
        dims[name.strip()] = int(value)
    return dims


def _names(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    if not names:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME,NAME,..., e.g. visual,audio")
    return names


#: Simulator options (argparse dest -> flag, the tasks whose simulator takes it); another task's simulator refuses them.
SIMULATOR_OPTIONS = {
    "videos": ("--videos", ("localization", "recognition")),
    "dims": ("--dims", ("localization", "recognition")),
    "face_missing": ("--face-missing", ("localization",)),
    "clicks": ("--clicks", ("localization",)),
    "click_jitter": ("--click-jitter", ("localization",)),
    "max_duration": ("--max-duration", ("localization",)),
    "subjects": ("--subjects", ("spotting",)),
    "videos_per_subject": ("--videos-per-subject", ("spotting",)),
    "dim": ("--dim", ("spotting",)),
    "max_seconds": ("--max-seconds", ("spotting",)),
    "segments": ("--segments", ("recognition",)),
    "min_segments": ("--min-segments", ("recognition",)),
}


def _refuse_options(args: argparse.Namespace, task: str) -> None:
    from sentiloc.core.errors import SentilocError

    given = [flag for name, (flag, tasks) in SIMULATOR_OPTIONS.items()
             if task not in tasks and getattr(args, name) is not None]
    if given:
        raise SentilocError(f"simulate --task {task}: {', '.join(given)} belong(s) to the other task's simulator; drop them")


def _simulate_tsl300(args: argparse.Namespace) -> dict:
    from sentiloc.data.simulate.tsl300 import SimulationSpec, simulate_dataset

    _refuse_options(args, "localization")
    spec = SimulationSpec(n_videos=args.videos, seed=args.seed, face_missing=args.face_missing,
                          click_jitter_s=args.click_jitter or 0.0, max_duration_s=args.max_duration,
                          clicks=args.clicks or "inside")
    if args.dims:
        spec.dims = args.dims
    structure = Path(args.structure) if args.structure else None
    return simulate_dataset(Path(args.out), spec, structure=structure, overwrite=args.overwrite)


def _simulate_spotting(args: argparse.Namespace) -> dict:
    from sentiloc.data.simulate.spotting import (
        SpottingSimulationSpec,
        simulate_spotting,
    )

    _refuse_options(args, "spotting")
    spec = SpottingSimulationSpec(structure=args.structure or "casme2", subjects=args.subjects,
                                  videos_per_subject=args.videos_per_subject, seed=args.seed,
                                  max_seconds=args.max_seconds)
    if args.dim is not None:
        spec.dim = args.dim
    return simulate_spotting(Path(args.out), spec, overwrite=args.overwrite)


def _simulate_recognition(args: argparse.Namespace) -> dict:
    from sentiloc.data.simulate.recognition import (
        RecognitionSimulationSpec,
        simulate_recognition,
    )

    _refuse_options(args, "recognition")
    spec = RecognitionSimulationSpec(structure=args.structure or "ve8", videos=args.videos, seed=args.seed,
                                     dims=args.dims or {}, segments=args.segments, min_segments=args.min_segments)
    return simulate_recognition(Path(args.out), spec, overwrite=args.overwrite)


def cmd_simulate(args: argparse.Namespace) -> int:
    summary = {"localization": _simulate_tsl300, "spotting": _simulate_spotting,
               "recognition": _simulate_recognition}[args.task](args)
    for key, value in summary.items():
        print(f"{key}: {value}")
    return 0


def _check_tsl300(data: Path, args: argparse.Namespace):
    from sentiloc.data.dataset import DataConfig
    from sentiloc.data.validate import check_dataset

    return check_dataset(data, DataConfig(modalities=args.modalities, face=args.face or None))


def _check_spotting(data: Path, _args: argparse.Namespace):
    from sentiloc.data.spotting.validate import check_spotting_dataset

    return check_spotting_dataset(data)


def _check_recognition(data: Path, args: argparse.Namespace):
    from sentiloc.data.recognition.validate import check_recognition_dataset

    return check_recognition_dataset(data, args.streams, args.labels_file)


def _layout_of(data: Path) -> str:
    """The task whose layout ``data`` holds: recognition or spotting by their files, else localization."""
    from sentiloc.data.recognition.layout import is_recognition_folder
    from sentiloc.data.spotting.layout import is_spotting_folder

    detectors = {"recognition": is_recognition_folder, "spotting": is_spotting_folder}
    return next((task for task, detect in detectors.items() if detect(data)), "localization")


def cmd_check_data(args: argparse.Namespace) -> int:
    data = Path(args.data)
    task = args.task or _layout_of(data)
    report = {"localization": _check_tsl300, "spotting": _check_spotting,
              "recognition": _check_recognition}[task](data, args)
    print(report.format())
    return 0 if report.ok else 1


#: import-annotations options (argparse dest -> flag, the value meaning "not given") of the recognition split files.
SPLIT_OPTIONS = {"split": ("--split", None), "all_splits": ("--all-splits", False)}
#: ... and of the spotting sheets.
SHEET_OPTIONS = {"fps": ("--fps", None), "first_frame": ("--first-frame", 0), "points": ("--points", None),
                 "allow_pickle": ("--allow-pickle", False)}


def _refuse_import_options(args: argparse.Namespace, options: dict[str, tuple[str, object]]) -> None:
    from sentiloc.core.errors import SentilocError

    given = [flag for name, (flag, unset) in options.items() if getattr(args, name) != unset]
    if given:
        raise SentilocError(f"import-annotations --format {args.format}: {', '.join(given)} do(es) not apply to this "
                            "format; drop them")


def _import_sheet(args: argparse.Namespace) -> dict:
    from sentiloc.data.spotting.importers import ImportOptions, import_annotations

    _refuse_import_options(args, SPLIT_OPTIONS)
    options = ImportOptions(fps=args.fps, first_frame=args.first_frame, points=args.points,
                            allow_pickle=args.allow_pickle)
    return import_annotations(args.format, Path(args.sheet), Path(args.out), options, overwrite=args.overwrite)


def _import_splits(args: argparse.Namespace) -> dict:
    from sentiloc.data.recognition.importers import import_splits

    _refuse_import_options(args, SHEET_OPTIONS)
    return import_splits(args.format, Path(args.sheet), Path(args.out), split=args.split or 1,
                         all_splits=args.all_splits, overwrite=args.overwrite)


#: --format -> its importer: facial-expression spotting sheets, or video emotion recognition split files.
IMPORT_FORMATS = {"casme2": _import_sheet, "samm": _import_sheet, "gim": _import_sheet,
                  "ve8": _import_splits, "ekman6": _import_splits}


def cmd_import_annotations(args: argparse.Namespace) -> int:
    summary = IMPORT_FORMATS[args.format](args)
    for key, value in summary.items():
        print(f"{key}: {value}")
    return 0


def register(verbs: argparse._SubParsersAction) -> None:
    p = add_parser(verbs, "simulate", help="write a simulated dataset in the TSL-300, spotting or recognition layout")
    p.add_argument("out", help="output folder")
    p.add_argument("--task", default="localization", choices=["localization", "spotting", "recognition"],
                   help="localization (default): the TSL-300 layout; spotting: the facial-expression spotting layout; "
                   "recognition: the video emotion recognition layout")
    p.add_argument("--structure", help="localization: copy ids, durations, fps, segments and clicks from this "
                   "TSL-300 folder; spotting: casme2 (default) or samm, the dataset whose size and fps are imitated; "
                   "recognition: ve8 (default), ekman6 or dfew, the benchmark whose classes and protocol are imitated")
    p.add_argument("--videos", type=int, help="number of videos (default: all of the structure, 300 built-in)")
    p.add_argument("--seed", type=int, default=0, help="seed of everything simulated (default 0)")
    p.add_argument("--dims", type=_dims, help="feature dims, e.g. rgb=1024,logmfcc=768,img=1024 "
                   "(recognition: visual=128,audio=64 by default; dfew: face=128,audio=64)")
    p.add_argument("--face-missing", type=float, help="fraction of snippets without a face (default 0.15)")
    p.add_argument("--clicks", choices=["inside", "noisy", "real"],
                   help="inside (default): one click inside each training segment, as point supervision is "
                   "defined; noisy: 51%% of clicks aimed outside their segment, like the 41%% of real TSL-300 "
                   "clicks that miss every dense segment (a robustness setting: simulated evidence lies only "
                   "in the segments); real: the annotators' own files of --structure")
    p.add_argument("--click-jitter", type=float, help="jitter every click by up to this many seconds (default 0)")
    p.add_argument("--max-duration", type=float, help="cap video durations (seconds) for small, fast datasets")
    p.add_argument("--subjects", type=positive_int, help="spotting: number of subjects (default: the structure's)")
    p.add_argument("--videos-per-subject", type=positive_int,
                   help="spotting: videos per subject (default: the structure's, about 4 or 5)")
    p.add_argument("--dim", type=positive_int, help="spotting: feature dimensions (default 32)")
    p.add_argument("--max-seconds", type=positive_float, help="spotting: cap video durations (seconds, >= 5)")
    p.add_argument("--segments", type=positive_int,
                   help="recognition: segments per video (default: ve8 and ekman6 10, dfew 16 frames)")
    p.add_argument("--min-segments", type=positive_int,
                   help="recognition: draw each video's length between this and --segments (default: all equal)")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty output folder")
    p.set_defaults(handler=cmd_simulate)

    p = add_parser(verbs, "check-data", help="report every problem of a TSL-300-, spotting- or recognition-layout dataset")
    p.add_argument("data", help="dataset folder")
    p.add_argument("--task", choices=["localization", "spotting", "recognition"],
                   help="the dataset's layout (default: recognition when the folder has classes.txt or labels.csv, "
                   "spotting when it has videos.csv, annotations.csv or points.csv, in both cases without gt.json; "
                   "else localization)")
    p.add_argument("--modalities", type=_modalities, default="rgb,logmfcc,img",
                   help="streams as NAME[:FRAMES_PER_SNIPPET], e.g. rgb:16,logmfcc,img (default rgb,logmfcc,img)")
    p.add_argument("--face", default="img", help="the face stream (all-zero rows = no face); '' for none")
    p.add_argument("--streams", type=_names,
                   help="recognition: the stream folders to check, e.g. visual,audio (default: every folder under features/)")
    p.add_argument("--labels-file", default="labels.csv",
                   help="recognition: the labels file inside the folder (default labels.csv; e.g. labels_split03.csv)")
    p.set_defaults(handler=cmd_check_data)

    p = add_parser(verbs, "import-annotations",
                   help="convert CAS(ME)2, SAMM-LV or GIM annotations into the spotting layout, or VideoEmotion-8 "
                   "and Ekman-6 split files into the recognition layout")
    p.add_argument("sheet", help="the annotation sheet (.xlsx or .csv; for gim the <DS>-Annotations folder; for ve8 and "
                   "ekman6 the folder of classInd.txt and trainlistNN.txt/testlistNN.txt, or one annotation .json)")
    p.add_argument("--format", required=True, choices=list(IMPORT_FORMATS), help="where the annotations come from")
    p.add_argument("--out", required=True, help="dataset folder to write videos.csv, annotations.csv (and points.csv), "
                   "or classes.txt and labels.csv, into")
    p.add_argument("--fps", type=positive_float, help="native frame rate for videos.csv (default: casme2 30, samm 200)")
    p.add_argument("--first-frame", type=int, default=0,
                   help="the number the source gives the first frame (1 if it counts images from 1; default 0)")
    p.add_argument("--points", choices=["none", "apex", "released"],
                   help="points.csv: none, apex (each instance's apex as its click) or released (GIM's clicks); "
                   "default: released for gim, none for sheets")
    p.add_argument("--allow-pickle", action="store_true",
                   help="gim: unpickle the released object arrays (unpickling can run code: trusted files only)")
    p.add_argument("--split", type=positive_int, help="ve8, ekman6: the split written to labels.csv (default 1)")
    p.add_argument("--all-splits", action="store_true",
                   help="ve8, ekman6: also write every split found as labels_splitNN.csv (data.labels_file picks one)")
    p.add_argument("--overwrite", action="store_true", help="replace existing files of the layout")
    p.set_defaults(handler=cmd_import_annotations)
