"""Background processes of a testbed, recorded in its state dir so another process can stop them."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


class TestbedError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


# The processes this Python process started, by pid (reaped through their Popen).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


@dataclass
class Proc:
    name: str
    pid: int
    exe: str
    log: Path

    def alive(self) -> bool:
        child = _CHILDREN.get(self.pid)
        if child is not None:  # started by this process (its cmdline is python's until it execs)
            return child.poll() is None
        try:
            cmdline = Path(f"/proc/{self.pid}/cmdline").read_bytes()
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return False
        # A zombie (our own child that exited) counts as gone; a recycled pid runs another exe.
        return cmdline.split(b"\0", 1)[0].decode(errors="replace") == self.exe and ") Z " not in stat


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MiB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Procs:
    """Starts processes detached (own session, logs to files) and records them in procs.json."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.file = state / "procs.json"

    def load(self) -> list[Proc]:
        if not self.file.exists():
            return []
        return [Proc(p["name"], p["pid"], p["exe"], Path(p["log"])) for p in json.loads(self.file.read_text())]

    def _save(self, procs: list[Proc]) -> None:
        tmp = self.file.with_suffix(".tmp")
        tmp.write_text(json.dumps([{**p.__dict__, "log": str(p.log)} for p in procs], indent=1))
        tmp.rename(self.file)

    def start(self, name: str, cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> Proc:
        log = self.state / "logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            p = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})}, cwd=cwd, start_new_session=True,
            )  # fmt: skip
        _CHILDREN[p.pid] = p
        proc = Proc(name, p.pid, cmd[0], log)
        self._save([*self.load(), proc])
        return proc

    def stop_all(self, timeout: float = 10.0) -> list[str]:
        """Stop every recorded process, last started first (the controllers while the API server still
        answers, etcd last; all at once, the API server and controllers hang on shutdown): SIGTERM,
        then SIGKILL what outlives ``timeout`` seconds."""
        stopped = []
        for p in reversed(self.load()):
            if not p.alive():
                continue
            os.kill(p.pid, signal.SIGTERM)
            stopped.append(p.name)
            deadline = time.monotonic() + timeout
            while p.alive() and time.monotonic() < deadline:
                self._reap(p.pid)
                time.sleep(0.02)
            if p.alive():
                os.kill(p.pid, signal.SIGKILL)
            self._reap(p.pid)
        self.file.unlink(missing_ok=True)
        return stopped

    def _reap(self, pid: int) -> None:
        child = _CHILDREN.get(pid)
        if child is not None:
            child.poll()


def wait_until(check: Callable[[], object], what: str, timeout: float, proc: Proc | None = None) -> object:
    """Poll check() with a short backoff until it returns a truthy value; fail early if proc dies."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    last: object = None
    while True:
        try:
            result = check()
            if result:
                return result
        except Exception as e:
            last = e
        if proc is not None and not proc.alive():
            raise TestbedError(f"{proc.name} exited while waiting for {what}; its log ends:\n{tail(proc.log)}")
        if time.monotonic() > deadline:
            where = f"; {proc.name}'s log ends:\n{tail(proc.log)}" if proc else ""
            raise TestbedError(f"timed out after {timeout:.0f} s waiting for {what} (last error: {last}){where}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


def http_ok(url: str, ctx: ssl.SSLContext | None = None, expect: bytes | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, context=ctx, timeout=5) as r:
            body = r.read()
            return r.status == 200 and (expect is None or expect in body)
    except (urllib.error.URLError, OSError):
        return False


def insecure_loopback() -> ssl.SSLContext:
    """For the health ports of KCM and the scheduler, which serve self-signed certs on 127.0.0.1."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx
