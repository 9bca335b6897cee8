"""A real HTTP server on 127.0.0.1 for tests: feeds, audio, and misbehaviour on demand."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: bytes | Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds between chunks when body is iterable
    header_delay: float = 0.0  # seconds between header lines: a server trickling its headers


Handler = Callable[["Request"], Reply]


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]


class Server:
    """Routes are plain functions of a Request; every request is logged."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.log: list[Request] = []
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                server._serve(self)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str, handler: Handler | Reply | bytes) -> None:
        if isinstance(handler, bytes):
            handler = Reply(body=handler)
        if isinstance(handler, Reply):
            reply = handler
            self.routes[path] = lambda request: reply
        else:
            self.routes[path] = handler

    def requests(self, path: str) -> list[Request]:
        return [r for r in self.log if r.path == path]

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        request = Request("GET", handler.path, {k.lower(): v for k, v in handler.headers.items()})
        with self._lock:
            self.log.append(request)
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            route = self.routes.get(handler.path.split("?")[0])
            reply = route(request) if route else Reply(404, b"not found")
            self._send(handler, reply)
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            with self._lock:
                self.active -= 1

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        handler.send_response(reply.status)
        chunks = [reply.body] if isinstance(reply.body, bytes) else reply.body
        for key, value in reply.headers.items():
            handler.send_header(key, value)
            if reply.header_delay:
                handler.flush_headers()
                time.sleep(reply.header_delay)
        if isinstance(reply.body, bytes) and "Content-Length" not in reply.headers:
            handler.send_header("Content-Length", str(len(reply.body)))
        if not isinstance(reply.body, bytes):
            handler.send_header("Connection", "close")
        handler.end_headers()
        for chunk in chunks:
            handler.wfile.write(chunk)
            handler.wfile.flush()
            if reply.delay:
                time.sleep(reply.delay)
        if not isinstance(reply.body, bytes):
            handler.close_connection = True

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def static_with_etag(body: bytes, etag: str, content_type: str = "application/rss+xml") -> Handler:
    """A resource that answers 304 to a matching If-None-Match."""

    def handler(request: Request) -> Reply:
        if request.headers.get("if-none-match") == etag:
            return Reply(304, b"", {"ETag": etag})
        return Reply(200, body, {"ETag": etag, "Content-Type": content_type})

    return handler


def ranged(
    body: bytes, content_type: str = "audio/mpeg", etag: str = '"v1"', if_range: bool = True
) -> Handler:
    """A file that honours Range requests with 206 Partial Content, and If-Range as
    RFC 9110 says (a validator that no longer matches gets the whole file); with
    ``if_range=False`` it ignores If-Range, as a careless CDN does."""

    def handler(request: Request) -> Reply:
        range_header = request.headers.get("range", "")
        current = request.headers.get("if-range", etag) == etag or not if_range
        if range_header.startswith("bytes=") and current:
            start = int(range_header[6:].split("-")[0])
            if start >= len(body):
                return Reply(416, b"", {"Content-Range": f"bytes */{len(body)}"})
            part = body[start:]
            headers = {
                "Content-Type": content_type,
                "Content-Range": f"bytes {start}-{len(body) - 1}/{len(body)}",
                "ETag": etag,
            }
            return Reply(206, part, headers)
        headers = {"Content-Type": content_type, "Accept-Ranges": "bytes", "ETag": etag}
        return Reply(200, body, headers)

    return handler


def cut_short(body: bytes, after: int, etag: str = '"v1"') -> Reply:
    """The whole file announced, the connection dropped after ``after`` bytes."""
    headers = {"Content-Type": "audio/mpeg", "Content-Length": str(len(body)), "ETag": etag}
    return Reply(200, iter([body[:after]]), headers)
