"""Without the ``video`` extra the raw-video verbs say what to install instead of failing on an import."""

from __future__ import annotations

import importlib.util

import sentiloc.features
from sentiloc.cli import main


def test_missing_video_packages_are_named_with_the_install_command(monkeypatch, tmp_path, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(sentiloc.features, "find_spec", lambda name, *a: None if name in ("av", "cv2") else real(name, *a))
    assert main(["extract", str(tmp_path / "x.mp4"), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "needs av, opencv-python-headless<5" in err and "pip install 'sentiloc[video]'" in err
    assert main(["localize", str(tmp_path / "x.mp4"), "--checkpoint", "c.pt", "--out", str(tmp_path)]) == 1
    assert "sentiloc localize needs" in capsys.readouterr().err
