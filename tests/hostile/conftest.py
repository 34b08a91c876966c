"""A tiny dataset, one trained checkpoint and the harness every hostile case runs through.

Each case copies the template dataset, breaks one thing, runs one verb through the CLI and
asserts the verb refuses: a non-zero exit, one line naming the offending file (check-data lists
it as a ``problem:``), no traceback, and no existing file changed.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from sentiloc.cli import main
from tests.conftest import make_dataset

TINY_MODEL = [
    "--set", "model.hidden=8", "--set", "model.heads=2", "--set", "model.gsp_hidden=16",
    "--set", "model.trunk_hidden=16", "--set", "train.batch_size=2", "--set", "train.micro_batch=2",
    "--set", "data.val_fraction=0.25",
]
TRAIN = {"train": "fsenet_point", "train_full": "fsenet_full"}


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("hostile") / "data", n_train=4, n_test=2, duration_s=30.0)


@pytest.fixture(scope="session")
def checkpoint(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("hostile_run") / "run"
    argv = ["-q", "train", "--config", "fsenet_point", "--data", str(template), "--out", str(run), "--epochs", "1",
            *TINY_MODEL]
    assert main(argv) == 0
    return run / "last.pt"


def snapshot(folder: Path) -> dict[str, str]:
    """SHA-256 of every regular file under ``folder`` (links and FIFOs are not followed)."""
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


@dataclass
class Harness:
    """A fresh copy of the template (``data``) in ``tmp``, and the verbs to run on it."""

    tmp: Path
    data: Path
    checkpoint_path: Callable[[], Path]
    capsys: pytest.CaptureFixture[str]

    def argv(self, verb: str) -> list[str]:
        if verb == "check":
            return ["check-data", str(self.data)]
        if verb in TRAIN:
            return ["-q", "train", "--config", TRAIN[verb], "--data", str(self.data), "--out", str(self.tmp / "run"),
                    "--epochs", "1", *TINY_MODEL]
        if verb == "predict":
            return ["-q", "predict", "--checkpoint", str(self.checkpoint_path()), "--data", str(self.data),
                    "--out", str(self.tmp / "pred.json")]
        if verb == "evaluate":
            return ["-q", "evaluate", "--gt", str(self.data / "gt.json"), "--pred", str(self.tmp / "pred.json"),
                    "--json", str(self.tmp / "metrics.json")]
        raise ValueError(verb)

    def refuses(self, argv: list[str], names: str) -> str:
        """Run ``argv``; assert a refusal whose one line names ``names``; return that line."""
        self.capsys.readouterr()
        before = snapshot(self.tmp)
        code = main(argv)
        out, err = self.capsys.readouterr()
        assert code != 0, out + err
        assert "Traceback" not in out + err
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        if argv[0] == "check-data" and not errors:
            lines = [line for line in out.splitlines() if line.startswith("problem:") and names in line]
        else:
            lines = errors
            assert len(lines) == 1 and names in lines[0], err
        assert lines, out + err
        after = snapshot(self.tmp)
        assert {k: after.get(k) for k in before} == before, "an existing file changed"
        return lines[0]

    def accepts(self, argv: list[str]) -> str:
        self.capsys.readouterr()
        code = main(argv)
        out, err = self.capsys.readouterr()
        assert code == 0, out + err
        return out + err


@pytest.fixture
def harness(template: Path, tmp_path: Path, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]) -> Harness:
    data = tmp_path / "data"
    shutil.copytree(template, data, symlinks=True)
    return Harness(tmp_path, data, lambda: request.getfixturevalue("checkpoint"), capsys)
