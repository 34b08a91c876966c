"""The page in a real browser: the system's headless Chromium, driven by Playwright, with the keyboard alone.

Playwright's own browser download is never used (``executable_path`` is the system's Chromium); the
test is skipped, saying why, when either is missing. CI installs Chromium (.ci/run).
"""

from __future__ import annotations

import csv
import shutil
import threading
from pathlib import Path

import pytest

from tests.apps.annotate.test_suggest import StandInModel, curves

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no system Chromium (apt-get install chromium)")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")


@pytest.fixture
def live(clips, tmp_path):
    """A uvicorn server in a thread on a free loopback port, over a session with a stand-in model."""
    import uvicorn

    from sentiloc.apps.annotate.server import create_app, listen, loopback_hosts, url_of
    from sentiloc.apps.annotate.session import AnnotationSession, probe_videos
    from sentiloc.apps.annotate.store import LabelStore
    from sentiloc.apps.localize import video_files

    model = StandInModel({"clip0": curves(3.0, 0.02), "clip1": curves(None, 0.45), "clip2": curves(5.0, 0.2)})
    store = LabelStore(tmp_path / "labels.csv")
    session = AnnotationSession(probe_videos(video_files([clips])), store, ["p", "n"], "ana", model)
    sock = listen("127.0.0.1", 0)
    app = create_app(session, loopback_hosts(sock.getsockname()[1]))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield url_of(sock), store.path
    server.should_exit = True
    thread.join(timeout=10)
    store.close()


@pytest.fixture
def page():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            tab = browser.new_page(viewport={"width": 1280, "height": 820})
            errors: list[str] = []
            tab.on("pageerror", lambda exc: errors.append(str(exc)))
            yield tab
            assert not errors, errors
        finally:
            browser.close()


def settle(page) -> None:
    """Wait until every change the page sent is acknowledged and the video can seek."""
    page.wait_for_function("state.pending === 0 && document.querySelector('video').readyState >= 1")


def press(page, *keys: str) -> None:
    for key in keys:
        page.keyboard.press(key)
        settle(page)


def rows(path: Path) -> list[tuple[str, str, str, str]]:
    with path.open(newline="") as handle:
        return [(r["video"], r["label"], r["time"], r["kind"]) for r in csv.DictReader(handle)]


def test_keyboard_clicks_a_suggestion_accepted_and_rejected_survive_a_reload(live, page) -> None:
    url, labels = live
    page.goto(url)
    settle(page)
    # the most uncertain video comes first: clip1; three snippets of 0.64 s in, a positive click
    assert page.inner_text("#video-name") == "clip1"
    press(page, "ArrowRight", "ArrowRight", "ArrowRight", "p", "ArrowRight", "ArrowRight", "ArrowRight", "n")
    assert rows(labels) == [("clip1", "p", "1.920", "click"), ("clip1", "n", "3.840", "click")]
    press(page, "ArrowRight", "p", "Delete")  # a third click, selected on creation, deleted again
    assert len(rows(labels)) == 2
    press(page, "j")  # back to the previous click (3.84 s), then relabel it from the list
    assert page.evaluate("document.querySelector('video').currentTime") == pytest.approx(3.84)
    page.select_option("#clicks tr.selected select", "p")
    settle(page)
    assert rows(labels)[1] == ("clip1", "p", "3.840", "click")
    press(page, "Tab")  # clip1 done; next: clip2, with a suggestion at 4.8 s
    assert page.inner_text("#video-name") == "clip2"
    assert "1 suggestion open" in page.inner_text("#suggestion-line")
    press(page, "Enter")
    press(page, "Tab")  # clip0: its suggestion at 2.88 s is turned down
    assert page.inner_text("#video-name") == "clip0"
    press(page, "Backspace")
    assert "1 rejected" in page.inner_text("#suggestion-line")
    on_disk = rows(labels)
    assert ("clip2", "p", "4.800", "click") in on_disk and ("clip0", "p", "2.880", "rejected") in on_disk
    assert ("clip1", "", "", "done") in on_disk and ("clip2", "", "", "done") in on_disk
    page.reload()
    settle(page)
    # resumes at the last mark (the rejection in clip0); the other videos keep their clicks
    assert page.inner_text("#video-name") == "clip0"
    assert "2 of 3 done" in page.inner_text("#progress-text")
    page.keyboard.press("Shift+Tab")
    settle(page)
    assert page.inner_text("#video-name") == "clip2"
    assert page.locator("#clicks tbody tr").count() == 1


def test_killed_mid_way_and_restarted_the_server_shows_every_acknowledged_click(server, clips, page) -> None:
    from tests.apps.annotate.conftest import start_server

    page.goto(server.url)
    settle(page)
    assert page.inner_text("#video-name") == "clip0"
    press(page, "ArrowRight", "p", "ArrowRight", "ArrowRight", "n", "Tab", "ArrowRight", "ArrowRight", "p")
    server.kill()  # SIGKILL: no chance to flush anything
    again = start_server(clips, server.out, "--annotator", "ana")
    try:
        page.goto(again.url)
        settle(page)
        assert page.inner_text("#video-name") == "clip1", "resumes at the last click"
        assert page.locator("#clicks tbody tr").count() == 1
        assert "1 of 3 done" in page.inner_text("#progress-text")
        assert rows(server.out) == [("clip0", "p", "0.640", "click"), ("clip0", "n", "1.920", "click"),
                                    ("clip0", "", "", "done"), ("clip1", "p", "1.280", "click")]
    finally:
        again.kill()
