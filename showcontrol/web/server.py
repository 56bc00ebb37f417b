"""`showcontrol web`: serves the performer page and the operator remote as static files, nothing else.

Python's own `http.server` (ThreadingHTTPServer), not a framework: the pages are static, the live state
reaches browsers from the MQTT broker over WebSockets and commands go back the same way, so this server
never touches the show. It is kept with CPython, adds no dependency and no attack surface beyond
GET of the files in `static/` and `vendor/` (no listings, no uploads, no paths outside them), plus one
generated `config.json` that tells the pages where the broker is.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
PAGES = {"/": "index.html", "/performer": "performer.html", "/remote": "remote.html"}
MIME = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".html": "text/html; charset=utf-8",
        ".md": "text/plain; charset=utf-8", ".json": "application/json"}  # fmt: skip


def page_config(ws_host: str, ws_port: int, prefix: str, ws_path: str = "/") -> dict[str, Any]:
    """What the pages need to reach the broker; an empty host means the host the page came from."""
    host = "" if ws_host in ("", "0.0.0.0", "127.0.0.1", "localhost", "::") else ws_host
    return {"broker": {"host": host, "port": ws_port, "path": ws_path}, "prefix": prefix}


class _Files(SimpleHTTPRequestHandler):
    """GET and HEAD of the pages' files only; everything else is refused."""

    config = b"{}"
    server_version = "showcontrol-web"
    sys_version = ""

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        if path == "/config.json":
            self._send(self.config, "application/json")
            return
        name = PAGES.get(path)
        if name is not None:
            target = HERE / "static" / name
        elif path.startswith(("/static/", "/vendor/")) and ".." not in path and "\\" not in path:
            target = HERE / path.lstrip("/")
        else:
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        if not target.is_file() or HERE not in target.resolve().parents:
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        self._send(target.read_bytes(), MIME.get(target.suffix, "application/octet-stream"))

    def do_HEAD(self) -> None:
        self.send_error(HTTPStatus.METHOD_NOT_ALLOWED)

    def _send(self, body: bytes, kind: str) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header(
            "Content-Security-Policy", "default-src 'self'; connect-src 'self' ws: wss:; worker-src blob:; img-src 'self' data:"
        )
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class WebServer:
    """`with WebServer(config, host, port) as server: server.url` serves until closed."""

    def __init__(self, config: dict[str, Any], host: str = "0.0.0.0", port: int = 8080) -> None:
        handler = type("Files", (_Files,), {"config": json.dumps(config).encode()})
        self._httpd = ThreadingHTTPServer((host, port), partial(handler))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="web", daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def __enter__(self) -> WebServer:
        self._thread.start()
        return self

    def serve_until_signalled(self) -> None:
        """The `web` command's main thread: serve until SIGINT or SIGTERM."""
        stop = threading.Event()
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, lambda *_: stop.set())
        while not stop.wait(0.2):
            pass

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
