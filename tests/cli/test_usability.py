"""What a newcomer meets first: help texts, log levels, progress bars, one-line errors for bad values and installs."""

from __future__ import annotations

import argparse
import io
import logging
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from sentiloc.cli import build_parser, main
from sentiloc.core.errors import SentilocError
from sentiloc.core.progress import LOGGER, progress_bar
from sentiloc.evaluation import DEFAULT_TIOU, parse_tiou
from tests.conftest import make_dataset

ROOT = Path(__file__).resolve().parents[2]


def sub_parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ("sentiloc",)):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from sub_parsers(sub, (*path, name))


def test_every_flag_has_help() -> None:
    missing = [f"{' '.join(path)} {action.option_strings or action.dest}"
               for path, parser in sub_parsers(build_parser()) for action in parser._actions
               if action.help is None and not isinstance(action, argparse._SubParsersAction)]
    assert not missing, missing


def test_train_usage_shows_what_is_required() -> None:
    usage = build_parser()._subparsers._group_actions[0].choices["train"].format_usage()
    assert "(--config CONFIG | --resume) --data DATA" in usage and "--out OUT" in usage
    assert "[--config" not in usage and "[--data" not in usage


def test_train_without_config_or_resume_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--data", "d", "--out", "o"])
    assert exit_.value.code == 2 and "one of the arguments --config --resume is required" in capsys.readouterr().err


@pytest.mark.parametrize(("flags", "level"), [([], logging.INFO), (["-q"], logging.WARNING),
                                              (["--verbose"], logging.DEBUG), (["check-data", "-q"], logging.WARNING)])
def test_quiet_and_verbose_set_the_log_level_before_or_after_the_verb(tmp_path: Path, flags: list[str],
                                                                      level: int) -> None:
    data = make_dataset(tmp_path / "data")
    args = flags if flags[:1] == ["check-data"] else [*flags, "check-data"]
    assert main([*args, str(data)]) == 0
    assert logging.getLogger(LOGGER).level == level


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bars_only_on_a_terminal_and_not_when_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    def drawn(enabled: bool = True) -> str:
        stream = Terminal() if terminal else io.StringIO()
        monkeypatch.setattr(sys, "stderr", stream)
        assert sum(progress_bar(range(3), enabled=enabled, desc="work", mininterval=0)) == 3
        return stream.getvalue()

    logger = logging.getLogger(LOGGER)
    monkeypatch.setattr(logger, "level", logging.INFO)
    terminal = True
    assert "work" in drawn() and drawn(enabled=False) == ""
    terminal = False
    assert drawn() == ""
    terminal = True
    monkeypatch.setattr(logger, "level", logging.WARNING)
    assert drawn() == ""


BAD_VALUES = {
    "train.lr=abc": "train.lr: 'abc' is not a float",
    "train.epochs=2.5": "train.epochs: 2.5 is not an int",
    "train.betas=x": "train.betas: 'x' is not a list of 2 floats",
    "train.betas=[0.9]": "train.betas: [0.9] is not a list of 2 floats",
    "train.betas=[0.9,b]": "is not a list of 2 floats",
    "train.num_threads=[1]": "train.num_threads: [1] is not an int or null",
    "train.grad_clip=x": "train.grad_clip: 'x' is not a float or null",
    "postprocess.cas_thresholds=0.5": "postprocess.cas_thresholds: 0.5 is not a list of floats",
    "data.classes=p": "data.classes: 'p' is not a list of strings",
    "data.modalities=[5]": "data.modalities: [5] is not a list of items",
    "model.hidden=true": "model.hidden: True is not an int",
}


@pytest.mark.parametrize("override", sorted(BAD_VALUES))
def test_mistyped_set_values_are_one_line_errors(override: str, tiny_dataset: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    args = ["-q", "train", "--config", "fsenet_point", "--data", str(tiny_dataset), "--out", str(tmp_path / "run"),
            "--set", override]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: config key ") and BAD_VALUES[override] in err, err
    assert f"--set {override.split('=')[0]}=..." in err


def test_resume_refuses_set(tiny_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["train", "--resume", "--data", str(tiny_dataset), "--out", str(tmp_path), "--set", "train.lr=1"]
    assert main(args) == 1
    assert "--resume continues the run with its own config" in capsys.readouterr().err


def test_a_missing_extractor_package_is_named_with_the_install_command(monkeypatch: pytest.MonkeyPatch,
                                                                       tmp_path: Path) -> None:
    """librosa unimportable while av is there: the import boundary, not a ModuleNotFoundError traceback."""
    from sentiloc.features.extract import build_extractors
    from sentiloc.features.settings import ExtractSettings

    monkeypatch.setitem(sys.modules, "librosa", None)
    monkeypatch.delitem(sys.modules, "sentiloc.features.streams.logmel", raising=False)
    with pytest.raises(SentilocError, match=r"needs librosa \(Python module 'librosa' cannot be imported\): "
                                            r"pip install 'sentiloc\[video\]'"):
        build_extractors(ExtractSettings())


def test_extract_without_librosa_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "librosa", None)
    monkeypatch.delitem(sys.modules, "sentiloc.features.streams.logmel", raising=False)
    (tmp_path / "clip.mp4").write_bytes(b"x")
    assert main(["extract", str(tmp_path / "clip.mp4"), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "librosa" in err and "pip install 'sentiloc[video]'" in err


def test_localize_advice_names_flags_localize_has() -> None:
    from sentiloc.apps.localize import other_features_advice

    localize = build_parser()._subparsers._group_actions[0].choices["localize"]
    flags = {flag for action in localize._actions for flag in action.option_strings}
    for stream in ("rgb", "logmfcc", "img"):
        for recorded in (True, False):
            named = set(re.findall(r"--[a-z-]+", other_features_advice(stream, recorded)))
            assert named <= flags, (stream, recorded, named - flags)
    assert "--visual-weights" in other_features_advice("rgb", False)


def test_docs_write_tiou_ranges_as_the_flag_reads_them() -> None:
    """README and --help give tIoU ranges as START:STOP:STEP, the form --tiou parses."""
    help_text = build_parser()._subparsers._group_actions[0].choices["evaluate"].format_help()
    texts = [(ROOT / "README.md").read_text(encoding="utf-8"), (ROOT / "docs" / "api.md").read_text(encoding="utf-8"),
             help_text]
    ranges = [spec for text in texts for spec in re.findall(r"\b0\.\d+:0\.\d+:0\.\d+\b", text)]
    assert ranges
    for spec in ranges:
        np.testing.assert_array_equal(parse_tiou(spec), DEFAULT_TIOU, err_msg=spec)
