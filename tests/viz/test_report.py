"""The HTML report: embedded or linked video, clickable segments, nothing fetched."""

from __future__ import annotations

from sentiloc.viz.report import write_html_report

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
