"""The one base of the HTTP test doubles: a threaded HTTP/1.1 server on 127.0.0.1 (a free port).

A double subclasses :class:`HttpDouble`, names the methods it serves in ``methods`` (any other
method is answered 501 by the standard library, as before) and implements ``handle(exchange)``.
Connections get TCP_NODELAY, handler threads are daemons, and the server is a context manager
(``start``/``stop``). :class:`Exchange` is the request handler: it reads the request body
(``Content-Length`` or chunked) and writes replies (``reply``, ``send_json``).
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

POLL_S = 0.05  # how often a serving loop checks for stop()

Headers = Mapping[str, str] | Iterable[tuple[str, str]]


class Exchange(BaseHTTPRequestHandler):
    """One request to a double (``self.command``, ``self.path``, ``self.headers``) and its reply."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def body(self) -> bytes:
        """The request body: ``Transfer-Encoding: chunked`` or ``Content-Length`` bytes (none without it)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reply(self, status: int, body: bytes = b"", headers: Headers = ()) -> None:
        """``status`` with ``headers`` and ``Content-Length``; the body unless the request was HEAD."""
        self.send_response(status)
        for key, value in headers.items() if isinstance(headers, Mapping) else headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: int, payload: Any, headers: Headers = ()) -> None:
        extra = headers.items() if isinstance(headers, Mapping) else headers
        self.reply(status, json.dumps(payload).encode(), [("Content-Type", "application/json"), *extra])

    def _dispatch(self) -> None:
        self.server.double.handle(self)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    double: HttpDouble


class HttpDouble:
    """Bound to 127.0.0.1 on a free port when made; serving between ``start()`` and ``stop()``."""

    methods: tuple[str, ...] = ("GET",)

    def __init__(self) -> None:
        handler = type(
            f"{type(self).__name__}Exchange", (Exchange,), {f"do_{m}": Exchange._dispatch for m in self.methods}
        )
        self._httpd = _Server(("127.0.0.1", 0), handler)
        self._httpd.double = self
        # stop() waits for the loop to see the request: a short poll, not serve_forever's half second
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(POLL_S,), daemon=True)
        self.scheme = "http"

    def serve_tls(self, certfile: Path, keyfile: Path) -> None:
        """Serve HTTPS with this certificate and key instead of plain HTTP (before ``start``)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certfile, keyfile)
        self._httpd.socket = ctx.wrap_socket(self._httpd.socket, server_side=True)
        self.scheme = "https"

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def handle(self, exchange: Exchange) -> None:
        raise NotImplementedError

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
