"""A self-contained HTML page for one localized video: the video, its segments on a clickable timeline.

One file a user can open or mail: the timeline PNG is embedded, and so is the video when it is
small enough (``embed_limit_mb``); a larger video is referenced by a path relative to the page,
so the page still plays it where the two are kept together. Clicking a segment (on the timeline
or in the table) seeks the video to its start and plays it; a playhead follows playback. No
script or style is fetched from anywhere.
"""

from __future__ import annotations

import base64
import html
import json
import mimetypes
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import quote

import numpy as np

from sentiloc.core.io import atomic_write_text

LABEL_NAMES = {"p": "positive", "n": "negative"}
LABEL_COLOURS = {"p": "#2ca02c", "n": "#d62728"}

_STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;max-width:1100px;color:#222}
video{width:100%;max-height:480px;background:#000}
#timeline{position:relative;height:46px;background:#f1f1f1;border:1px solid #ccc;margin:12px 0;cursor:pointer}
.seg{position:absolute;top:6px;height:34px;opacity:.75;border-radius:3px}
.seg:hover{opacity:1;outline:2px solid #000}
#playhead{position:absolute;top:0;width:2px;height:100%;background:#000;pointer-events:none}
#axis{position:relative;height:18px;margin-top:-8px;font-size:11px;color:#666}
.tick{position:absolute;transform:translateX(-50%)}
table{border-collapse:collapse;width:100%}td,th{padding:4px 8px;border-bottom:1px solid #ddd;text-align:left}
tr.row{cursor:pointer}tr.row:hover{background:#f6f6f6}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px}
img{width:100%;margin-top:16px}
"""

_SCRIPT = """
const video=document.getElementById('video');const tl=document.getElementById('timeline');
const head=document.getElementById('playhead');const duration=%(duration)s;
function seek(t){video.currentTime=t;video.play();}
document.querySelectorAll('[data-start]').forEach(el=>el.addEventListener('click',e=>{
  e.stopPropagation();seek(parseFloat(el.dataset.start));}));
tl.addEventListener('click',e=>{const r=tl.getBoundingClientRect();seek((e.clientX-r.left)/r.width*duration);});
video.addEventListener('timeupdate',()=>{head.style.left=(100*video.currentTime/duration)+'%%';});
"""


def video_source(video: Path, page: Path, embed_limit_mb: float) -> str:
    """A data URI of ``video`` when it is at most ``embed_limit_mb``, else its path relative to ``page``."""
    video = Path(video).resolve()
    if video.stat().st_size <= embed_limit_mb * 2**20:
        mime = mimetypes.guess_type(video.name)[0] or "video/mp4"
        return f"data:{mime};base64,{base64.b64encode(video.read_bytes()).decode('ascii')}"
    return quote(Path(os.path.relpath(video, Path(page).resolve().parent)).as_posix())


def _bounds(seg: Mapping) -> tuple[float, float]:
    start, end = seg["segment"]
    return float(start), float(end)


def _colour(seg: Mapping) -> str:
    return LABEL_COLOURS.get(seg["label"], "#1f77b4")


def _segment_div(seg: Mapping, duration_s: float) -> str:
    start, end = _bounds(seg)
    left, width = 100 * start / duration_s, max(0.3, 100 * (end - start) / duration_s)
    title = f"{LABEL_NAMES.get(seg['label'], seg['label'])} {start:.1f}-{end:.1f} s, score {float(seg['score']):.3f}"
    return (f'<div class="seg" data-start="{start:.3f}" title="{html.escape(title)}" style="left:{left:.3f}%;'
            f'width:{width:.3f}%;background:{_colour(seg)}"></div>')


#: Clock-friendly tick spacings in seconds.
TICK_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)


def tick_step(duration_s: float, max_ticks: int = 12) -> float:
    """The smallest clock-friendly spacing that puts at most ``max_ticks`` ticks on the axis."""
    for step in TICK_STEPS_S:
        if duration_s / step <= max_ticks:
            return float(step)
    return float(np.ceil(duration_s / max_ticks / 3600) * 3600)


def _axis(duration_s: float) -> str:
    step = tick_step(duration_s)
    ticks = np.arange(0.0, duration_s + 1e-9, step)
    return "".join(f'<span class="tick" style="left:{100 * t / duration_s:.3f}%">{_clock(t)}</span>' for t in ticks)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}:{secs:02d}"


def _segment_row(rank: int, seg: Mapping) -> str:
    start, end = _bounds(seg)
    label = html.escape(LABEL_NAMES.get(seg["label"], str(seg["label"])))
    return (f'<tr class="row" data-start="{start:.3f}"><td>{rank}</td><td><span class="swatch" '
            f'style="background:{_colour(seg)}"></span>{label}</td><td>{start:.2f}</td><td>{end:.2f}</td>'
            f'<td>{end - start:.2f}</td><td>{float(seg["score"]):.3f}</td></tr>')


def write_html_report(
    path: Path, video: Path, video_id: str, duration_s: float, segments: Sequence[Mapping],
    timeline_png: Path | None = None, embed_limit_mb: float = 64.0, note: str = "",
) -> Path:
    """Write the report page; ``segments`` are ActivityNet entries, drawn in the given order."""
    path = Path(path)
    duration_s = max(float(duration_s), 1e-3)
    image = ""
    if timeline_png is not None:
        data = base64.b64encode(Path(timeline_png).read_bytes()).decode("ascii")
        image = f'<img alt="CAS timeline" src="data:image/png;base64,{data}">'
    rows = "".join(_segment_row(i + 1, seg) for i, seg in enumerate(segments)) or \
        '<tr><td colspan="6">no segment found</td></tr>'
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>sentiloc: {html.escape(video_id)}</title>
<style>{_STYLE}</style></head><body>
<h1>{html.escape(video_id)}</h1>
<p>{html.escape(note)}</p>
<video id="video" controls preload="metadata" src="{html.escape(video_source(video, path, embed_limit_mb))}"></video>
<div id="timeline">{''.join(_segment_div(seg, duration_s) for seg in segments)}<div id="playhead"></div></div>
<div id="axis">{_axis(duration_s)}</div>
<table><thead><tr><th>#</th><th>sentiment</th><th>start (s)</th><th>end (s)</th><th>length (s)</th><th>score</th></tr></thead>
<tbody>{rows}</tbody></table>
{image}
<script>{_SCRIPT % {"duration": json.dumps(duration_s)}}</script>
</body></html>
"""
    atomic_write_text(path, page)
    return path
