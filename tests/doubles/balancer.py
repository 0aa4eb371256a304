"""A load balancer in front of server replicas on 127.0.0.1: every HTTP request goes to the next
replica in turn (round robin per request, no sticky sessions, as a plain L7 balancer does); a
replica that refuses the connection is skipped (a health-checked balancer routes around it).

An ASGI reverse proxy (uvicorn in a thread, httpx to the replicas) that streams responses as they
come, so streamable HTTP's SSE answers pass through unbuffered. ``served[i]`` counts the requests
replica ``i`` answered, ``refused[i]`` the connections it refused.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import httpx
import uvicorn

from doubles.mcp_server import free_port

HOP_BY_HOP = {
    b"connection",
    b"keep-alive",
    b"proxy-authenticate",
    b"proxy-authorization",
    b"te",
    b"trailer",
    b"transfer-encoding",
    b"upgrade",
    b"content-length",
}


class Balancer:
    def __init__(self, backends: Sequence[str]) -> None:
        self.backends = list(backends)  # base URLs, e.g. http://127.0.0.1:8001
        self.port = free_port()
        self.served = [0] * len(self.backends)
        self.refused = [0] * len(self.backends)
        self._turn = 0
        self._client: httpx.AsyncClient | None = None
        config = uvicorn.Config(
            self._app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on", interface="asgi3"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def url(self, path: str = "/mcp") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self, timeout: float = 15.0) -> Balancer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the balancer did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(15)

    def __enter__(self) -> Balancer:
        return self.start()

    def __exit__(self, *exc: tuple[type[BaseException], BaseException, TracebackType] | None) -> None:
        self.stop()

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    self._client = httpx.AsyncClient(timeout=httpx.Timeout(30.0, read=300.0))
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    if self._client is not None:
                        await self._client.aclose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        assert scope["type"] == "http" and self._client is not None
        body, more = b"", True
        while more:
            msg = await receive()
            body += msg.get("body", b"")
            more = msg.get("more_body", False)
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in HOP_BY_HOP]
        target = scope["raw_path"].decode() + (f"?{scope['query_string'].decode()}" if scope["query_string"] else "")
        for _ in self.backends:
            i = self._turn % len(self.backends)
            self._turn += 1
            request = self._client.build_request(
                scope["method"], self.backends[i] + target, headers=headers, content=body
            )
            try:
                response = await self._client.send(request, stream=True)
            except httpx.ConnectError:
                self.refused[i] += 1
                continue
            self.served[i] += 1
            try:
                out = [(k, v) for k, v in response.headers.raw if k.lower() not in HOP_BY_HOP]
                await send({"type": "http.response.start", "status": response.status_code, "headers": out})
                async for chunk in response.aiter_raw():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            finally:
                await response.aclose()
            return
        await send({"type": "http.response.start", "status": 502, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"no replica answered", "more_body": False})
