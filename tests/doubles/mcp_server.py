"""Run ``gitops-mcp serve`` as a real subprocess for transport tests."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from doubles.procs import terminate

_LISTENING = re.compile(r"Uvicorn running on https?://\S+:(\d+)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(tmp_path: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if (not k.startswith("GITOPS_MCP_") or k == "GITOPS_MCP_SHARED") and k not in ("GITHUB_TOKEN", "GITLAB_TOKEN")
    }
    env.update(
        {
            "GITOPS_MCP_ALLOWED_ROOTS": str(tmp_path),
            "GITOPS_MCP_STATE_DIR": str(tmp_path / "state"),
            "GITOPS_MCP_CACHE_DIR": str(tmp_path / "cache"),
            "GITOPS_MCP_ALLOWED_GIT_HOSTS": "",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    return env


class ServerProcess:
    """``gitops-mcp serve --transport http|sse`` on a loopback port; ready when uvicorn says it listens.

    Without ``port`` the server binds port 0 and the port is read from uvicorn's "Uvicorn running on"
    line, which it writes once the socket listens: no other process can take the port in between (as
    with a port picked free beforehand, with tests in several processes), and "Application startup
    complete", written before the bind, is not taken for ready."""

    def __init__(
        self,
        tmp_path: Path,
        transport: str = "http",
        env: Mapping[str, str] | None = None,
        args: list[str] | None = None,
        port: int | None = None,
        own_group: bool = False,
    ) -> None:
        self.own_group = own_group  # a process group of its own: kill_group() takes its git children too
        self.port = port or 0  # 0 until the server says which port it bound
        self.transport = transport
        self.env = server_env(tmp_path, env)
        self.args = args or []
        self.stderr: list[str] = []
        self._ready = threading.Event()
        self._exited = threading.Event()
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}" + ("/mcp" if self.transport == "http" else "/sse")

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)
            listening = _LISTENING.search(line)
            if listening:
                self.port = int(listening.group(1))
                self._ready.set()
        self._exited.set()
        self._ready.set()

    def start(self, timeout: float = 30.0) -> ServerProcess:
        cmd = [
            sys.executable,
            "-m",
            "gitops_mcp",
            "serve",
            "--transport",
            self.transport,
            "--port",
            str(self.port),
            *self.args,
        ]
        self.proc = subprocess.Popen(
            cmd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=self.own_group,
        )
        threading.Thread(target=self._read, daemon=True).start()
        if not self._ready.wait(timeout) or self._exited.is_set():
            self.stop()
            raise RuntimeError("server did not start:\n" + "".join(self.stderr))
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers run (a crash)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self._exited.wait(10)

    def kill_group(self) -> None:
        """SIGKILL to the server and every process it started (a container killed mid-operation)."""
        assert self.own_group and self.proc is not None
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self._exited.wait(10)

    def stop(self) -> None:
        terminate(self.proc)
        self._exited.wait(10)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()
