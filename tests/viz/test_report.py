"""The HTML report: embedded or linked video, clickable segments, nothing fetched."""

from __future__ import annotations

import re

import numpy as np

from sentiloc.viz.report import bar_geometry, write_html_report

SEGMENTS = [{"label": "p", "score": 0.9, "segment": [2.0, 5.5]}, {"label": "n", "score": 0.4, "segment": [8.0, 9.0]}]


def test_small_video_is_embedded_and_segments_seek(tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00\x01fake-mp4")
    page = write_html_report(tmp_path / "out" / "clip.html", video, "clip<1>", 10.0, SEGMENTS).read_text()
    assert 'src="data:video/mp4;base64,AAFmYWtlLW1wNA=="' in page
    assert page.count('class="seg"') == 2 and page.count('class="row"') == 2
    assert 'data-start="2.000"' in page and "left:20.000%;width:35.000%" in page
    assert "clip&lt;1&gt;" in page and "clip<1>" not in page  # ids are escaped
    assert "positive" in page and "negative" in page


def test_large_video_is_linked_relative_to_the_page(tmp_path):
    video = tmp_path / "videos" / "long.mp4"
    video.parent.mkdir()
    video.write_bytes(b"\x00" * 2048)
    page = write_html_report(tmp_path / "report" / "long.html", video, "long", 60.0, [],
                             embed_limit_mb=1e-3).read_text()
    assert 'src="../videos/long.mp4"' in page and "no segment found" in page


def test_time_axis_ticks():
    from sentiloc.viz.report import tick_step

    assert tick_step(14.0) == 2.0 and tick_step(60.0) == 5.0 and tick_step(600.0) == 60.0
    assert tick_step(7200.0) == 600.0


def test_axis_is_drawn(tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"x")
    page = write_html_report(tmp_path / "clip.html", video, "clip", 125.0, SEGMENTS).read_text()
    assert page.count('class="tick"') == 9 and ">2:00<" in page  # every 15 s


def _bars(page: str) -> list[tuple[float, float, int]]:
    """``(left %, width %, z-index)`` of every segment bar, in document order."""
    found = re.findall(r'class="seg"[^>]*style="left:([\d.]+)%;width:([\d.]+)%;[^"]*z-index:(\d+)"', page)
    return [(float(left), float(width), int(z)) for left, width, z in found]


def test_bars_never_leave_the_video(tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"x")
    segments = [{"label": "n", "score": 0.6, "segment": [18.0, 30.08]}, {"label": "p", "score": 0.5, "segment": [29.99, 30.0]},
                {"label": "n", "score": 0.2, "segment": [30.02, 30.08]}]  # the last lies wholly past the end
    page = write_html_report(tmp_path / "clip.html", video, "clip", 30.0, segments).read_text()
    bars = _bars(page)
    assert len(bars) == 2 and all(left >= 0 and left + width <= 100.0 + 1e-9 for left, width, _ in bars)
    assert (60.0, 40.0) in [(left, width) for left, width, _ in bars]  # 18-30.08 s drawn as 18-30 s
    assert page.count('class="row"') == 2 and "<td>30.00</td>" in page and "30.08" not in page


def test_bar_geometry_by_hand():
    geometry = bar_geometry(np.array([[3.0, 6.0], [-1.0, 0.5], [29.99, 30.08], [10.0, 10.0]]), 30.0)
    np.testing.assert_allclose(geometry, [[10.0, 10.0], [0.0, 5.0 / 3], [99.7, 0.3], [100 / 3, 0.3]])


def test_one_lane_per_class_best_on_top_and_a_legend(tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"x")
    segments = [{"label": "p", "score": 0.9, "segment": [2.0, 5.0]}, {"label": "p", "score": 0.3, "segment": [1.0, 8.0]},
                {"label": "p", "score": 0.5, "segment": [1.5, 6.0]}]
    page = write_html_report(tmp_path / "clip.html", video, "clip", 10.0, segments).read_text()
    lanes = page.split('class="lane"')[1:]
    assert len(lanes) == 2 and "no segments" in lanes[1] and "no segments" not in lanes[0]  # positive, negative
    bars = _bars(lanes[0])
    assert [left for left, _, _ in bars] == [10.0, 15.0, 20.0]  # ascending score: 0.3, 0.5, 0.9
    assert [z for _, _, z in bars] == [1, 2, 3]
    assert 'id="legend"' in page and page.count('class="item"') == 3
    assert "#0072b2" in page.lower() and "#e69f00" in page.lower() and "#2ca02c" not in page and "#d62728" not in page
    assert page.index('data-start="2.000"') > page.index('data-start="1.000"')  # drawn last, so on top
