"""``gitops-mcp serve`` over stdio as a real subprocess, spoken to line by line (raw bytes).

For the framing tests: what the SDK client cannot send (broken JSON, batches, bytes that are not
UTF-8) is written as is, and every answer is read back with a bounded wait.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from doubles.mcp_server import server_env
from doubles.procs import terminate

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": "init",
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "wire", "version": "1"}},
}


class StdioWire:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.proc: subprocess.Popen[bytes] | None = None
        self._buf = b""
        self._probes = 0

    def start(self) -> StdioWire:
        err = (self.tmp_path / "stdio-server.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gitops_mcp", "serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            env=server_env(self.tmp_path),
        )
        err.close()
        self.send(json.dumps(INITIALIZE).encode())
        answer = self.answer(timeout=60)
        assert answer is not None and answer.get("id") == "init" and "result" in answer, answer
        self.send(b'{"jsonrpc":"2.0","method":"notifications/initialized"}')
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def send(self, line: bytes) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        assert b"\n" not in line, "one line at a time"
        self.proc.stdin.write(line + b"\n")
        self.proc.stdin.flush()

    def answer(self, timeout: float = 10.0) -> dict[str, Any] | None:
        """The next line the server writes, as JSON; None if nothing comes within ``timeout`` s."""
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return None
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        data = json.loads(line)
        assert isinstance(data, dict), line[:300]
        return data

    def answers_until_probe(self, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Send a ping and return every answer that comes before the ping's (bounded)."""
        self._probes += 1
        probe = f"probe-{self._probes}"
        self.send(json.dumps({"jsonrpc": "2.0", "id": probe, "method": "ping"}).encode())
        out: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while True:
            got = self.answer(max(0.0, deadline - time.monotonic()))
            assert got is not None, f"no answer to {probe} within {timeout} s; before it: {out}"
            if got.get("id") == probe:
                assert got.get("result") == {}, got
                return out
            out.append(got)

    def call(self, request_id: int, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        self.send(
            json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": request_id,
                    "method": "tools/call",
                    "params": {"name": tool, "arguments": arguments},
                }
            ).encode()
        )
        answer = self.answer(timeout=30)
        assert answer is not None and answer.get("id") == request_id, answer
        return answer

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                terminate(self.proc)
            if self.proc.stdout is not None:
                self.proc.stdout.close()

    def __enter__(self) -> StdioWire:
        return self.start()

    def __exit__(self, *exc: tuple[type[BaseException], BaseException, TracebackType] | None) -> None:
        self.stop()
