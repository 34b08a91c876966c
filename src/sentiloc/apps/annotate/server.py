"""The web side of ``sentiloc annotate``: a Starlette app over an :class:`AnnotationSession`, served by uvicorn.

Routes (``V`` is a video's index in the command line's list; no route takes a path):

=======================================  =====================================================
``GET /``, ``GET /static/NAME``          the page and its assets (shipped in the package)
``GET /api/session?annotator=A``         classes, videos with progress, order, where A stopped
``GET /api/videos/V/media``              the video file (HTTP Range requests, for seeking)
``GET /api/videos/V/marks?annotator=A``  A's clicks, rejections and done mark in V
``GET /api/videos/V/model?annotator=A``  CAS curves, ``W_sent`` and open suggestions (checkpoint)
``POST /api/marks``                      a click or a rejected suggestion
``PATCH /api/marks/ID``                  another class for a click
``DELETE /api/marks/ID``                 remove a click or rejection
``PUT /api/videos/V/done``               the video is finished (or open again)
``POST /api/export``                     write the TSL-300 point file next to the label file
=======================================  =====================================================

A change is answered only after the label file holding it is on disk
(:meth:`~sentiloc.apps.annotate.store.LabelStore.wait`). Writes must carry a JSON body
(``Content-Type: application/json``, which a cross-site form cannot send without a CORS preflight
that this app never grants), and a request whose ``Origin`` is not this server, whose
``Sec-Fetch-Site`` is ``cross-site``/``same-site``, or (on a loopback address) whose ``Host`` is not
a loopback name is refused: no other web page can read or write the labels, not even by DNS rebinding.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import socket
from collections.abc import Awaitable, Callable, Collection
from importlib.resources import files

from sentiloc.apps.annotate.session import AnnotationSession, RequestError
from sentiloc.apps.annotate.store import StoreError
from sentiloc.core.errors import SentilocError

log = logging.getLogger(__name__)

INSTALL_ANNOTATE = "pip install 'sentiloc[annotate]'"
#: The page's assets: the only files under /static.
STATIC_TYPES = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
                "app.css": "text/css; charset=utf-8"}
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
#: Seconds a request waits for its change to reach the disk.
WRITE_TIMEOUT_S = 30.0


def require_web_stack() -> None:
    """A one-line install instruction when a package of the ``annotate`` extra is missing."""
    from importlib.util import find_spec

    missing = [name for name in ("starlette", "uvicorn", "av") if find_spec(name) is None]
    if missing:
        raise SentilocError(f"sentiloc annotate needs {', '.join(missing)}: {INSTALL_ANNOTATE}")


def static_text(name: str) -> str:
    return files("sentiloc.apps.annotate").joinpath("static", name).read_text(encoding="utf-8")


def loopback_hosts(port: int) -> frozenset[str]:
    """The ``Host`` headers a browser sends to this server on a loopback address."""
    return frozenset(f"{name}:{port}" for name in LOOPBACK_NAMES)


def refusal(method: str, headers: dict[str, str], allowed_hosts: Collection[str] | None) -> str | None:
    """Why a request must be refused (see the module docstring), or None. ``headers`` have lower-case names."""
    host = headers.get("host", "")
    if allowed_hosts is not None and host not in allowed_hosts:
        return f"host {host!r} is not this server; open it by the address it printed"
    if headers.get("sec-fetch-site") in ("cross-site", "same-site"):
        return "requests from other sites are refused"
    origin = headers.get("origin")
    if origin is not None and method in MUTATING and origin != f"http://{host}":
        return f"origin {origin!r} may not change the labels"
    if method in MUTATING and headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return "changes must be sent as application/json"
    return None


def create_app(session: AnnotationSession, allowed_hosts: Collection[str] | None = None):
    """The Starlette app; ``allowed_hosts`` (``host:port`` texts) guards against DNS rebinding (None: any)."""
    import anyio
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import FileResponse, JSONResponse, Response
    from starlette.routing import Route

    def error(message: str, status: int) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    def handled(endpoint: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def wrapper(request: Request) -> Response:
            why = refusal(request.method, {k.lower(): v for k, v in request.headers.items()}, allowed_hosts)
            if why is not None:
                return error(why, 415 if "json" in why else 403)
            try:
                return await endpoint(request)
            except StoreError as exc:
                return error(str(exc), 409)
            except RequestError as exc:
                return error(str(exc), 400)
            except SentilocError as exc:  # the label file could not be written
                log.error("%s", exc)
                return error(str(exc), 507)
        return wrapper

    async def body(request: Request) -> dict:
        try:
            value = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            raise RequestError("the body is not valid JSON") from None
        if not isinstance(value, dict):
            raise RequestError("the body must be a JSON object")
        return value

    def annotator(request: Request) -> str:
        return session.check_annotator(request.query_params.get("annotator", session.annotator))

    def index_of(request: Request) -> int:
        text = request.path_params["index"]
        return int(text) if text.isdigit() and len(text) < 6 else -1

    async def durable(version: int) -> None:
        if version:
            await anyio.to_thread.run_sync(session.store.wait, version, WRITE_TIMEOUT_S)

    async def page(request: Request) -> Response:
        return Response(static_text("index.html"), media_type=STATIC_TYPES["index.html"])

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC_TYPES:
            return error("not found", 404)
        return Response(static_text(name), media_type=STATIC_TYPES[name], headers={"Cache-Control": "no-cache"})

    async def no_icon(request: Request) -> Response:
        return Response(status_code=204)

    async def overview(request: Request) -> Response:
        return JSONResponse(session.overview(annotator(request)))

    async def media(request: Request) -> Response:
        entry = session.video(index_of(request))
        kind = mimetypes.guess_type(entry.path.name)[0] or "application/octet-stream"
        return FileResponse(entry.path, media_type=kind)

    async def marks(request: Request) -> Response:
        return JSONResponse(session.marks_of(index_of(request), annotator(request)))

    async def model(request: Request) -> Response:
        return JSONResponse(session.model_of(index_of(request), annotator(request)))

    async def add(request: Request) -> Response:
        mark, version = session.add(await body(request))
        await durable(version)
        return JSONResponse({"mark": mark.to_json()}, status_code=201)

    async def change(request: Request) -> Response:
        data = await body(request)
        mark_id = request.path_params["mark_id"]
        mark, version = (session.remove(mark_id, data) if request.method == "DELETE"
                         else session.relabel(mark_id, data))
        await durable(version)
        return JSONResponse({"mark": mark.to_json(), "removed": request.method == "DELETE"})

    async def done(request: Request) -> Response:
        value, version = session.set_done(index_of(request), await body(request))
        await durable(version)
        return JSONResponse({"done": value})

    async def export(request: Request) -> Response:
        data = await body(request)
        folder = session.store.path.with_name(session.store.path.stem + "_export")
        path, count = session.export(folder, session.check_annotator(data["annotator"]) if data.get("annotator") else None)
        return JSONResponse({"path": str(path), "clicks": count})

    routes = [
        Route("/", handled(page)),
        Route("/static/{name}", handled(static)),
        Route("/favicon.ico", handled(no_icon)),
        Route("/api/session", handled(overview)),
        Route("/api/videos/{index}/media", handled(media)),
        Route("/api/videos/{index}/marks", handled(marks)),
        Route("/api/videos/{index}/model", handled(model)),
        Route("/api/videos/{index}/done", handled(done), methods=["PUT"]),
        Route("/api/marks", handled(add), methods=["POST"]),
        Route("/api/marks/{mark_id}", handled(change), methods=["PATCH", "DELETE"]),
        Route("/api/export", handled(export), methods=["POST"]),
    ]
    return Starlette(routes=routes)


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free one); one line when the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SentilocError(f"cannot listen on {host}:{port} ({exc.strerror}); pass --port with a free port "
                            "or another --host") from None
    sock.listen(128)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/"


def serve(session: AnnotationSession, sock: socket.socket) -> None:
    """Serve ``session`` on the listening ``sock`` until interrupted (Ctrl-C, SIGTERM)."""
    import uvicorn

    host, port = sock.getsockname()[:2]
    loopback = host in ("127.0.0.1", "::1")
    app = create_app(session, loopback_hosts(port) if loopback else None)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])
