"""The web API of ``sentiloc annotate``: bad input, hostile requests, several annotators, media, export."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from sentiloc.cli import main
from sentiloc.features.build import read_annotation_csv

JSON = {"Content-Type": "application/json"}


def click(client, time_s: float, label: str = "p", video: int = 0, annotator: str = "ana", **extra):
    body = {"annotator": annotator, "video": video, "label": label, "time_s": time_s, **extra}
    return client.post("/api/marks", json=body)


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_a_click_is_on_disk_when_it_is_acknowledged(client, session) -> None:
    answer = click(client, 2.5)
    assert answer.status_code == 201
    mark = answer.json()["mark"]
    on_disk = rows(session.store.path)
    assert [(r["video"], r["label"], r["time"], r["annotator"], r["kind"], r["id"]) for r in on_disk] == [
        ("clip0", "p", "2.500", "ana", "click", mark["id"])]
    assert on_disk[0]["timestamp"].endswith("Z")


@pytest.mark.parametrize(("body", "message"), [
    ({"video": 3}, "unknown video 3"),
    ({"video": "clip0"}, "unknown video 'clip0'"),
    ({"video": True}, "unknown video True"),
    ({"time_s": 8.5}, "outside video 'clip0'"),
    ({"time_s": -0.1}, "outside video"),
    ({"time_s": "NaN"}, "not a number"),
    ({"label": "x"}, "label 'x' is not a class"),
    ({"kind": "done"}, "use click or rejected"),
    ({"annotator": "../../etc"}, "annotator name"),
])
def test_bad_clicks_are_refused_with_one_line_and_nothing_is_written(client, session, body, message) -> None:
    answer = click(client, **{"time_s": 1.0, **body})
    assert answer.status_code == 400
    assert message in answer.json()["error"] and "\n" not in answer.json()["error"]
    assert rows(session.store.path) == []


def test_a_click_in_the_last_frame_lands_on_it(client, session) -> None:
    # 8 s at 25 fps = 200 frames; the last one starts at 199 / 25 = 7.96 s
    assert click(client, 8.0).json()["mark"]["time_s"] == 7.96


def test_cross_origin_and_non_json_writes_are_refused(client, session) -> None:
    body = {"annotator": "ana", "video": 0, "label": "p", "time_s": 1.0}
    assert client.post("/api/marks", json=body, headers={"Origin": "http://evil.example"}).status_code == 403
    assert client.post("/api/marks", json=body, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    form = client.post("/api/marks", content="annotator=ana&video=0", headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 415
    assert client.post("/api/marks", content=b"{", headers=JSON).status_code == 400
    assert rows(session.store.path) == []
    same = client.post("/api/marks", json=body, headers={"Origin": "http://testserver"})
    assert same.status_code == 201


def test_a_foreign_host_is_refused_on_a_loopback_server(session) -> None:
    from starlette.testclient import TestClient

    from sentiloc.apps.annotate.server import create_app, loopback_hosts

    with TestClient(create_app(session, loopback_hosts(8765)), base_url="http://127.0.0.1:8765") as local:
        assert local.get("/api/session").status_code == 200
        rebound = local.get("/api/session", headers={"Host": "attacker.example:8765"})
        assert rebound.status_code == 403


@pytest.mark.parametrize("path", [
    "/api/videos/../../etc/passwd/media", "/api/videos/%2e%2e%2fetc%2fpasswd/media", "/api/videos/-1/media",
    "/api/videos/9/media", "/api/videos/0x1/media", "/static/..%2f..%2fstore.py", "/static/server.py",
    "/static/../store.py", "/api/videos/1e3/media",
])
def test_no_path_from_the_browser_reaches_the_file_system(client, path) -> None:
    answer = client.get(path)
    assert answer.status_code in (400, 404)
    assert b"import" not in answer.content and b"root:" not in answer.content


def test_videos_are_served_by_index_with_range_requests(client, clips) -> None:
    whole = (clips / "clip1.mp4").read_bytes()
    answer = client.get("/api/videos/1/media", headers={"Range": "bytes=100-199"})
    assert answer.status_code == 206 and answer.content == whole[100:200]
    assert answer.headers["content-type"] == "video/mp4"
    assert client.get("/api/videos/1/media").content == whole


def test_the_page_and_its_assets_come_from_the_package(client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text
    assert "http" not in page.text.replace("http-equiv", ""), "no asset from another server (CDN)"
    for name in ("app.js", "app.css"):
        asset = client.get(f"/static/{name}")
        assert asset.status_code == 200 and "https://" not in asset.text


def test_session_lists_videos_classes_keys_and_resumes_at_the_last_click(client) -> None:
    first = client.get("/api/session").json()
    assert [v["id"] for v in first["videos"]] == ["clip0", "clip1", "clip2"]
    assert first["resume"] == {"video": 0, "time_s": 0.0}
    assert [(c["name"], c["key"], c["colour"]) for c in first["classes"]] == [
        ("p", "p", "#0072B2"), ("n", "n", "#E69F00")]
    assert first["videos"][0]["snippet_s"] == pytest.approx(16 / 25)
    click(client, 3.0, video=2)
    click(client, 1.0, video=1)
    again = client.get("/api/session").json()
    assert again["resume"] == {"video": 1, "time_s": 1.0}
    assert [v["clicks"] for v in again["videos"]] == [0, 1, 1]


def test_relabel_delete_and_done(client, session) -> None:
    mark = click(client, 1.0).json()["mark"]
    relabelled = client.patch(f"/api/marks/{mark['id']}", json={"annotator": "ana", "label": "n"})
    assert relabelled.json()["mark"]["label"] == "n"
    assert [r["label"] for r in rows(session.store.path)] == ["n"]
    assert client.put("/api/videos/0/done", json={"annotator": "ana", "done": True}).json() == {"done": True}
    assert client.get("/api/session").json()["videos"][0]["done"] is True
    assert client.request("DELETE", f"/api/marks/{mark['id']}", json={"annotator": "ana"}).status_code == 200
    assert [r["kind"] for r in rows(session.store.path)] == ["done"]
    assert client.request("DELETE", f"/api/marks/{mark['id']}", json={"annotator": "ana"}).status_code == 409


def test_a_second_annotator_writes_beside_the_first_without_touching_their_rows(client, session) -> None:
    ana = click(client, 1.0).json()["mark"]
    bo = click(client, 1.2, label="n", annotator="bo").json()["mark"]
    for method, body in (("PATCH", {"annotator": "bo", "label": "n"}), ("DELETE", {"annotator": "bo"})):
        refused = client.request(method, f"/api/marks/{ana['id']}", json=body)
        assert refused.status_code == 409 and "belongs to annotator 'ana'" in refused.json()["error"]
    assert client.get("/api/videos/0/marks?annotator=bo").json() == {"marks": [bo], "clicks_by_others": 1}
    assert {(r["annotator"], r["label"]) for r in rows(session.store.path)} == {("ana", "p"), ("bo", "n")}


def test_reopening_the_file_continues_it_and_a_second_server_is_refused(clips, tmp_path) -> None:
    from sentiloc.apps.annotate.session import open_session

    out = tmp_path / "labels.csv"
    first = open_session([clips], out, "ana")
    first.store.wait(first.add({"annotator": "ana", "video": 0, "label": "p", "time_s": 1.5})[1])
    assert main(["annotate", str(clips), "--out", str(out), "--port", "0"]) == 1
    first.store.close()
    again = open_session([clips], out, "ana")
    assert [(m.video, m.time_s) for m in again.store.marks()] == [("clip0", 1.5)]
    again.store.close()


def test_the_second_server_error_is_one_line(clips, tmp_path, capsys) -> None:
    from sentiloc.apps.annotate.store import LabelStore

    store = LabelStore(tmp_path / "labels.csv")
    try:
        assert main(["annotate", str(clips), "--out", str(tmp_path / "labels.csv"), "--port", "0"]) == 1
    finally:
        store.close()
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "another `sentiloc annotate`" in err and "serving this file" in err


def test_export_writes_tsl300_frames_without_rejections_and_build_dataset_reads_the_label_file(
        client, session, tmp_path) -> None:
    click(client, 1.0)
    click(client, 7.99, label="n", video=2)
    click(client, 4.0, label="n", kind="rejected")
    client.put("/api/videos/1/done", json={"annotator": "ana", "done": True})
    answer = client.post("/api/export", json={})
    written = Path(answer.json()["path"])
    # 1.0 s * 25 fps = frame 25; 7.99 s -> 7.96 s (the last frame) -> frame 199; n is class 0, p class 1
    assert written.read_text().splitlines() == [
        "class,class_index,start_frame,stop_frame,video_id,point", "p,1,25,25,clip0,25", "n,0,199,199,clip2,199"]
    assert answer.json()["clicks"] == 2
    parsed = read_annotation_csv(session.store.path)
    assert {v: [(t, lab) for t, lab in a.clicks] for v, a in parsed.items()} == {
        "clip0": [(1.0, "p")], "clip2": [(7.96, "n")]}


def test_export_verb_needs_no_server(clips, session, tmp_path, capsys) -> None:
    session.store.wait(session.add({"annotator": "ana", "video": 1, "label": "n", "time_s": 2.0})[1])
    session.store.close()
    out = tmp_path / "export"
    assert main(["annotate", str(clips), "--out", str(session.store.path), "--export", str(out)]) == 0
    assert "wrote 1 clicks" in capsys.readouterr().out
    assert (out / "point_gaussian" / "point_labels.csv").read_text().splitlines()[1] == "n,0,50,50,clip1,50"
    session.store = type(session.store)(session.store.path)  # the fixture closes it again


def test_rows_of_other_tools_are_kept_and_test_videos_stay_out_of_the_export(clips, tmp_path) -> None:
    from sentiloc.apps.annotate.session import open_session

    out = tmp_path / "labels.csv"
    out.write_text("video,label,start,end,time,split\nclip2,p,1.0,5.0,,test\n")
    session = open_session([clips], out, "ana")
    try:
        for video in (0, 2):
            session.store.wait(session.add({"annotator": "ana", "video": video, "label": "p", "time_s": 2.0})[1])
        path, count = session.export(tmp_path / "export")
    finally:
        session.store.close()
    assert count == 1 and path.read_text().splitlines()[1:] == ["p,1,50,50,clip0,50"]
    assert rows(out)[0] == {"video": "clip2", "label": "p", "start": "1.0", "end": "5.0", "time": "", "split": "test",
                            "annotator": "", "kind": "", "id": "", "timestamp": ""}
    parsed = read_annotation_csv(out)
    assert parsed["clip2"].segments and parsed["clip2"].split == "test" and len(parsed["clip2"].clicks) == 1


def test_an_unreadable_video_and_a_missing_extra_are_one_line(clips, tmp_path, capsys, monkeypatch) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video at all")
    assert main(["annotate", str(clips / "clip0.mp4"), str(bad), "--out", str(tmp_path / "labels.csv")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "broken.mp4: not a readable video" in err
    assert not (tmp_path / "labels.csv").exists(), "nothing is written before every video is readable"

    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "uvicorn" else real(name, *a))
    assert main(["annotate", str(clips), "--out", str(tmp_path / "labels.csv")]) == 1
    assert capsys.readouterr().err.strip() == "error: sentiloc annotate needs uvicorn: pip install 'sentiloc[annotate]'"
