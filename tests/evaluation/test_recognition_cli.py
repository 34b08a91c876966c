"""``sentiloc evaluate --plot``: the confusion matrix of recognition, refused for the other tasks."""

from __future__ import annotations

from pathlib import Path

from sentiloc.cli import main


def test_plot_is_refused_for_other_tasks(tmp_path: Path, capsys) -> None:
    assert main(["evaluate", "--gt", str(tmp_path / "gt.json"), "--pred", str(tmp_path / "p.json"),
                 "--plot", str(tmp_path / "c.png")]) == 1
    assert "--plot does not apply to --task localization" in capsys.readouterr().err
    assert not (tmp_path / "c.png").exists()
