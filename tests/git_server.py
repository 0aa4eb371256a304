"""A real git remote for tests: ``git http-backend`` behind a threaded HTTP server with Basic auth.

Also :class:`RecordingServer`, an HTTP server that records every request (to prove that no
credential is ever sent to a host it does not belong to) and can redirect.
"""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit


@dataclass
class Logged:
    method: str
    path: str
    user: str | None
    authorization: str | None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class GitHttpServer:
    def __init__(self, root: Path, users: dict[str, str], anonymous_read: bool = False) -> None:
        self.root = root
        self.users = users
        self.anonymous_read = anonymous_read
        self.log: list[Logged] = []
        root.mkdir(parents=True, exist_ok=True)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _body(self) -> bytes:
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
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _user(self) -> str | None:
                auth = self.headers.get("Authorization", "")
                if not auth.startswith("Basic "):
                    return None
                try:
                    name, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
                except ValueError:
                    return None
                return name if outer.users.get(name) == secret and secret else None

            def handle_one(self) -> None:
                body = self._body()
                user = self._user()
                parts = urlsplit(self.path)
                outer.log.append(Logged(self.command, parts.path, user, self.headers.get("Authorization")))
                is_push = "git-receive-pack" in parts.path or "service=git-receive-pack" in parts.query
                if user is None and (is_push or not outer.anonymous_read):
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="git"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                env = {
                    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    "GIT_PROJECT_ROOT": str(outer.root),
                    "GIT_HTTP_EXPORT_ALL": "1",
                    "PATH_INFO": parts.path,
                    "QUERY_STRING": parts.query,
                    "REQUEST_METHOD": self.command,
                    "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                    "CONTENT_LENGTH": str(len(body)),
                    "REMOTE_USER": user or "",
                    "REMOTE_ADDR": "127.0.0.1",
                    "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
                    "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                    "GIT_CONFIG_NOSYSTEM": "1",
                    "GIT_CONFIG_GLOBAL": os.devnull,
                }
                proc = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, timeout=120)
                head, _, payload = proc.stdout.partition(b"\r\n\r\n")
                if not _:
                    head, _, payload = proc.stdout.partition(b"\n\n")
                status = 200
                headers: list[tuple[str, str]] = []
                for line in head.decode("latin-1").splitlines():
                    key, _, value = line.partition(":")
                    if key.lower() == "status":
                        status = int(value.strip().split()[0])
                    elif key:
                        headers.append((key, value.strip()))
                self.send_response(status)
                for k, v in headers:
                    if k.lower() != "content-length":
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = handle_one
            do_POST = handle_one

        self._httpd = _Server(("127.0.0.1", 0), Handler)
        self._httpd.socket.setsockopt(__import__("socket").IPPROTO_TCP, __import__("socket").TCP_NODELAY, 1)
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"

    def create_repo(self, name: str) -> Path:
        path = self.root / name
        subprocess.run(["git", "init", "--quiet", "--bare", "-b", "main", str(path)], check=True)
        for k, v in (
            ("http.receivepack", "true"),
            ("uploadpack.allowFilter", "true"),
            ("uploadpack.allowAnySHA1InWant", "true"),
        ):
            subprocess.run(["git", "-C", str(path), "config", k, v], check=True)
        return path

    def protect(self, name: str, branch: str = "main") -> None:
        """Refuse every push that updates ``branch`` the way GitHub refuses a protected branch (a real
        pre-receive hook, so git prints the remote's own lines); changes land through :meth:`merge`."""
        hook = self.root / name / "hooks" / "pre-receive"
        hook.write_text(
            "#!/bin/sh\n"
            "while read old new ref; do\n"
            f'  if [ "$ref" = "refs/heads/{branch}" ]; then\n'
            '    echo "error: GH006: Protected branch update failed for $ref." >&2\n'
            '    echo "error: Changes must be made through a pull request." >&2\n'
            "    exit 1\n"
            "  fi\n"
            "done\n",
            encoding="utf-8",
        )
        hook.chmod(0o755)

    def merge(self, name: str, sha: str, branch: str = "main") -> None:
        """What a forge's merge button does here: fast-forward ``branch`` to ``sha`` on the server
        (hooks do not apply), refusing anything that is not a fast-forward."""
        repo = str(self.root / name)
        old = self.head(name, branch)
        if old is not None:
            subprocess.run(["git", "-C", repo, "merge-base", "--is-ancestor", old, sha], check=True)
        subprocess.run(["git", "-C", repo, "update-ref", f"refs/heads/{branch}", sha, old or ""], check=True)

    def head(self, name: str, branch: str = "main") -> str | None:
        p = subprocess.run(
            ["git", "-C", str(self.root / name), "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
            capture_output=True,
            text=True,
        )
        return p.stdout.strip() or None

    def show(self, name: str, rev: str, path: str) -> str:
        return subprocess.run(
            ["git", "-C", str(self.root / name), "show", f"{rev}:{path}"], check=True, capture_output=True, text=True
        ).stdout

    def start(self) -> GitHttpServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> GitHttpServer:
        return self.start()

    def __exit__(self, *exc: tuple[type[BaseException], BaseException, TracebackType] | None) -> None:
        self.stop()


class RecordingServer:
    """Records every request; answers 404, or redirects every request to ``redirect_to``."""

    def __init__(self, redirect_to: str | None = None) -> None:
        self.log: list[Logged] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def handle_one(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                outer.log.append(Logged(self.command, self.path, None, self.headers.get("Authorization")))
                if redirect_to:
                    self.send_response(302)
                    self.send_header("Location", redirect_to + self.path)
                else:
                    self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = handle_one
            do_POST = handle_one

        self._httpd = _Server(("127.0.0.1", 0), Handler)
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> RecordingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
