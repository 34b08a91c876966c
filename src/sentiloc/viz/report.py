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
from sentiloc.viz.segments import (
    LABEL_NAMES,
    clip_segments,
    hex_colour,
    label_colours,
    label_name,
    lane_labels,
    score_shade,
    tint,
)

#: Narrowest bar, in % of the timeline, so that a very short segment can still be seen and clicked.
MIN_BAR_PERCENT = 0.3

_STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;max-width:1100px;color:#222}
video{width:100%;max-height:480px;background:#000}
#lanes{display:grid;grid-template-columns:88px 1fr;margin:12px 0 0}
.names div{height:34px;line-height:34px;font-size:13px;text-align:right;padding-right:8px}
#timeline{position:relative;background:#f1f1f1;border:1px solid #ccc;cursor:pointer;overflow:hidden}
.lane{position:relative;height:34px;border-bottom:1px solid #ddd}.lane:last-of-type{border-bottom:0}
.seg{position:absolute;top:5px;height:24px;border-radius:3px;box-sizing:border-box;border:1px solid}
.seg:hover{outline:2px solid #000;z-index:100000!important}
.empty{position:absolute;left:50%;top:8px;transform:translateX(-50%);font-size:12px;font-style:italic;color:#666}
#playhead{position:absolute;top:0;width:2px;height:100%;background:#000;pointer-events:none;z-index:100001}
#axis{position:relative;height:18px;margin-left:89px;font-size:11px;color:#666}
.tick{position:absolute;transform:translateX(-50%)}
#legend{font-size:13px;color:#444;margin:6px 0 14px 89px}#legend span.item{margin-right:16px}
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


def bar_geometry(bounds: np.ndarray, duration_s: float) -> np.ndarray:
    """``(N, 2)`` ``[left %, width %]`` of ``bounds (N, 2)`` seconds on a ``duration_s`` timeline.

    Bounds are clipped to ``[0, duration_s]``; a bar is at least ``MIN_BAR_PERCENT`` wide, but
    never reaches past 100 % (a bar that would is moved left instead).
    """
    percent = 100.0 * np.clip(np.asarray(bounds, dtype=np.float64).reshape(-1, 2), 0.0, duration_s) / duration_s
    width = np.maximum(percent[:, 1] - percent[:, 0], MIN_BAR_PERCENT)
    left = np.minimum(percent[:, 0], 100.0 - width)
    return np.column_stack([left, width])


def _lane_div(segments: Sequence[Mapping], colour: str, shades: np.ndarray, duration_s: float) -> str:
    """One lane: ``segments`` in the given order (ascending score, the best last and on top)."""
    if not segments:
        return '<div class="lane"><span class="empty">no segments</span></div>'
    geometry = bar_geometry(np.array([_bounds(seg) for seg in segments]), duration_s)
    fills = tint(colour, shades)
    bars = []
    for z, (seg, (left, width), fill) in enumerate(zip(segments, geometry, fills), start=1):
        start, end = _bounds(seg)
        title = f"{label_name(seg['label'])} {start:.1f}-{end:.1f} s, score {float(seg['score']):.3f}"
        bars.append(f'<div class="seg" data-start="{start:.3f}" title="{html.escape(title)}" style="left:{left:.3f}%;'
                    f'width:{width:.3f}%;background:{hex_colour(fill)};border-color:{colour};z-index:{z}"></div>')
    return f'<div class="lane">{"".join(bars)}</div>'


def timeline_lanes_html(segments: Sequence[Mapping], duration_s: float,
                        classes: Sequence[str] = tuple(LABEL_NAMES)) -> tuple[str, str, dict[str, str]]:
    """The lane names, the lanes and ``{label: colour}``: one lane per class, then per other label present.

    ``segments`` must already lie within ``[0, duration_s]``. Each lane draws its segments in
    ascending score order, so the best lies on top; a segment's shade grows with its score,
    scaled over all segments shown. A class without segments gets a lane that says so.
    """
    lanes = lane_labels([*classes, *(seg["label"] for seg in segments)])
    colours = label_colours(lanes)
    labels = np.array([str(seg["label"]) for seg in segments])
    scores = np.array([float(seg["score"]) for seg in segments])
    shades = score_shade(scores)
    names, divs = [], []
    for label in lanes:
        mine = np.flatnonzero(labels == label)
        mine = mine[np.argsort(scores[mine], kind="stable")]
        names.append(f"<div>{html.escape(label_name(label))}</div>")
        divs.append(_lane_div([segments[i] for i in mine], colours[label], shades[mine], duration_s))
    return "".join(names), "".join(divs), colours


def _legend(colours: Mapping[str, str]) -> str:
    items = "".join(f'<span class="item"><span class="swatch" style="background:{colour}"></span>'
                    f"{html.escape(label_name(label))}</span>" for label, colour in colours.items())
    return (f'<div id="legend">{items}<span class="item">darker = higher score; the best segment is drawn on top; '
            "click a segment to play it</span></div>")


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


def _segment_row(rank: int, seg: Mapping, colour: str) -> str:
    start, end = _bounds(seg)
    label = html.escape(label_name(seg["label"]))
    return (f'<tr class="row" data-start="{start:.3f}"><td>{rank}</td><td><span class="swatch" '
            f'style="background:{colour}"></span>{label}</td><td>{start:.2f}</td><td>{end:.2f}</td>'
            f'<td>{end - start:.2f}</td><td>{float(seg["score"]):.3f}</td></tr>')


def write_html_report(
    path: Path, video: Path, video_id: str, duration_s: float, segments: Sequence[Mapping],
    timeline_png: Path | None = None, embed_limit_mb: float = 64.0, note: str = "",
    classes: Sequence[str] = tuple(LABEL_NAMES),
) -> Path:
    """Write the report page of ``segments`` (ActivityNet entries, the table lists them in the given order).

    Every segment is clipped to ``[0, duration_s]`` (one left empty is dropped) on the timeline
    and in the table alike; the timeline has one lane per class of ``classes`` (and per other
    label among the segments) and a legend.
    """
    path = Path(path)
    duration_s = max(float(duration_s), 1e-3)
    segments = clip_segments(segments, duration_s)
    image = ""
    if timeline_png is not None:
        data = base64.b64encode(Path(timeline_png).read_bytes()).decode("ascii")
        image = f'<img alt="CAS timeline" src="data:image/png;base64,{data}">'
    names, lanes, colours = timeline_lanes_html(segments, duration_s, classes)
    rows = "".join(_segment_row(i + 1, seg, colours[seg["label"]]) for i, seg in enumerate(segments)) or \
        '<tr><td colspan="6">no segment found</td></tr>'
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>sentiloc: {html.escape(video_id)}</title>
<style>{_STYLE}</style></head><body>
<h1>{html.escape(video_id)}</h1>
<p>{html.escape(note)}</p>
<video id="video" controls preload="metadata" src="{html.escape(video_source(video, path, embed_limit_mb))}"></video>
<div id="lanes"><div class="names">{names}</div><div id="timeline">{lanes}<div id="playhead"></div></div></div>
<div id="axis">{_axis(duration_s)}</div>
{_legend(colours)}
<table><thead><tr><th>#</th><th>sentiment</th><th>start (s)</th><th>end (s)</th><th>length (s)</th><th>score</th></tr></thead>
<tbody>{rows}</tbody></table>
{image}
<script>{_SCRIPT % {"duration": json.dumps(duration_s)}}</script>
</body></html>
"""
    atomic_write_text(path, page)
    return path
