"""A real ``redis-server`` (the Debian package) on a free 127.0.0.1 port, started by the tests.

Without persistence by default (``--save '' --appendonly no``); ``persist=True`` keeps an
append-only file (by default fsync on every write) in the server's directory, so a server killed
and started again on the same directory has every write from before.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType

import pytest

from doubles.mcp_server import free_port
from doubles.procs import terminate

REDIS_SERVER = shutil.which("redis-server")


def need_redis() -> str:
    if REDIS_SERVER is None:
        if os.environ.get("GITOPS_MCP_REQUIRE_REDIS") == "1":
            pytest.fail("redis-server is not installed (Debian package redis-server; .ci/run installs it)")
        pytest.skip("redis-server is not installed (Debian package redis-server; .ci/run installs it)")
    return REDIS_SERVER


def make_tls(directory: Path) -> tuple[Path, Path, Path]:
    """A private CA and a server certificate for 127.0.0.1 (openssl CLI): (cert, key, ca)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: no certificate for the TLS redis-server")
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key, cert, key, csr = (directory / n for n in ("ca.pem", "ca.key", "cert.pem", "key.pem", "req.csr"))
    ext = directory / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1\n", encoding="utf-8")
    for args in (
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca, "-days", "2"],
        ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"],
        ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert, "-days", "2"],
    ):
        extra = ["-subj", "/CN=test CA"] if args[1] == "-x509" else (["-extfile", ext] if args[0] == "x509" else [])
        subprocess.run(["openssl", *map(str, args), *map(str, extra)], check=True, capture_output=True, timeout=60)
    return cert, key, ca


class RedisServer:
    def __init__(
        self,
        directory: Path,
        password: str | None = None,
        persist: bool = False,
        tls: tuple[Path, Path, Path] | None = None,
        fsync: str = "always",
    ) -> None:
        self.binary = need_redis()
        self.dir = directory
        self.password = password
        self.persist = persist
        self.fsync = fsync  # appendfsync with persist: always (every write on disk), everysec (Redis' default)
        self.tls = tls  # (cert, key, ca): TLS only, no plain port
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{'rediss' if self.tls else 'redis'}://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 15.0) -> RedisServer:
        self.dir.mkdir(parents=True, exist_ok=True)
        ports = ["--port", str(self.port)]
        if self.tls:
            cert, key, ca = self.tls
            ports = ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", str(cert)]
            ports += ["--tls-key-file", str(key), "--tls-ca-cert-file", str(ca), "--tls-auth-clients", "no"]
        args = [
            self.binary,
            *ports,
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.dir),
            "--save",
            "",
            "--daemonize",
            "no",
            "--logfile",
            str(self.dir / "redis.log"),
        ]
        args += ["--appendonly", "yes", "--appendfsync", self.fsync] if self.persist else ["--appendonly", "no"]
        if self.password:
            args += ["--requirepass", self.password]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while not self.ping():
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise RuntimeError(f"redis-server exited: {err} {self.log()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not answer within {timeout}s: {self.log()}")
            time.sleep(0.02)
        return self

    def log(self) -> str:
        path = self.dir / "redis.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def client(self, **kw: object) -> object:
        import redis

        tls: dict[str, object] = {"ssl": True, "ssl_ca_certs": str(self.tls[2])} if self.tls else {}
        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password, **tls, **kw)  # type: ignore[arg-type]

    def ping(self) -> bool:
        import redis

        try:
            c: redis.Redis = self.client(socket_timeout=1)  # type: ignore[assignment]
            try:
                return bool(c.ping())
            finally:
                c.close()
        except redis.exceptions.RedisError:
            return False

    def kill(self) -> None:
        """SIGKILL: a crash (the append-only file has every acknowledged write)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        terminate(self.proc)
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()
