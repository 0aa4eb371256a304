"""A TCP listener on 127.0.0.1 that counts every connection made to it (a build, a git command
that should reach nothing), answering each with a small ConfigMap over HTTP."""

from __future__ import annotations

import socketserver
import threading

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}\ndata:\n  k: v\n"


class Listener:
    """Counts every TCP connection to 127.0.0.1:port and answers it with a ConfigMap over HTTP."""

    def __init__(self) -> None:
        self.count = 0
        lock = threading.Lock()
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                with lock:
                    outer.count += 1
                self.request.settimeout(2)
                try:
                    self.request.recv(65536)
                    body = CM.format("fetched").encode()
                    self.request.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                        b"Connection: close\r\n\r\n" % len(body) + body
                    )
                except OSError:
                    pass

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)  # quick stop

    def __enter__(self) -> Listener:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
