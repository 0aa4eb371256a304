"""A real git remote for tests: ``git http-backend`` behind the loopback HTTP base, with Basic auth.

Also :class:`RecordingServer`, an HTTP server that records every request (to prove that no
credential is ever sent to a host it does not belong to) and can redirect.
"""

from __future__ import annotations

import base64
import contextlib
import os
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from doubles.http import Exchange, HttpDouble


@dataclass
class Logged:
    method: str
    path: str
    user: str | None
    authorization: str | None


@dataclass
class PushGate:
    """Holds the next ``count`` pushes (receive-pack requests) to one repository until released:
    operations caught mid-way, at the moment they push."""

    path: str
    count: int
    held: int = 0
    refuse: bool = False
    changed: threading.Condition = field(default_factory=threading.Condition)
    released: threading.Event = field(default_factory=threading.Event)

    def wait_held(self, n: int, timeout: float = 60.0) -> None:
        """Until ``n`` pushes are held (AssertionError after ``timeout`` seconds)."""
        with self.changed:
            assert self.changed.wait_for(lambda: self.held >= n, timeout), f"{self.held} of {n} pushes arrived"

    def release(self, refuse: bool = False) -> None:
        """Let the held pushes through (``refuse``: answer them 503, as a remote that went away)."""
        self.refuse = refuse
        self.released.set()

    def take(self, path: str) -> bool:
        """Hold this request if it is one of the gated pushes (until released); True when it must be refused."""
        with self.changed:
            if not path.startswith(self.path) or self.held >= self.count:
                return False
            self.held += 1
            self.changed.notify_all()
        self.released.wait(120)
        return self.refuse


class GitHttpServer(HttpDouble):
    methods = ("GET", "POST")

    def __init__(self, root: Path, users: dict[str, str], anonymous_read: bool = False) -> None:
        self.root = root
        self.users = users
        self.anonymous_read = anonymous_read
        self.log: list[Logged] = []
        self.gates: list[PushGate] = []
        root.mkdir(parents=True, exist_ok=True)
        super().__init__()

    def hold(self, name: str, count: int = 1) -> PushGate:
        """A :class:`PushGate` for the next ``count`` pushes to the repository ``name``."""
        gate = PushGate(f"/{name}/", count)
        self.gates.append(gate)
        return gate

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"

    def client_env(self, user: str = "x-access-token") -> dict[str, str]:
        """The environment for the git CLI to authenticate here as ``user``: Basic auth as an
        ``http.<base>/.extraHeader`` setting (sent to this server only; no helper, no prompt)."""
        basic = base64.b64encode(f"{user}:{self.users[user]}".encode()).decode()
        return {
            **os.environ,
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": f"http.{self.base}/.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
        }

    def _user(self, h: Exchange) -> str | None:
        auth = h.headers.get("Authorization", "")
        if not auth.startswith("Basic "):
            return None
        try:
            name, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        except ValueError:
            return None
        return name if self.users.get(name) == secret and secret else None

    def handle(self, h: Exchange) -> None:
        body = h.body()
        user = self._user(h)
        parts = urlsplit(h.path)
        self.log.append(Logged(h.command, parts.path, user, h.headers.get("Authorization")))
        is_push = "git-receive-pack" in parts.path or "service=git-receive-pack" in parts.query
        if user is None and (is_push or not self.anonymous_read):
            h.reply(401, headers={"WWW-Authenticate": 'Basic realm="git"'})
            return
        if h.command == "POST" and parts.path.endswith("/git-receive-pack"):
            for gate in list(self.gates):
                if gate.take(parts.path):
                    with contextlib.suppress(OSError):  # the client may have gone away meanwhile
                        h.reply(503)
                    return
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": parts.path,
            "QUERY_STRING": parts.query,
            "REQUEST_METHOD": h.command,
            "CONTENT_TYPE": h.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": user or "",
            "REMOTE_ADDR": "127.0.0.1",
            "GIT_PROTOCOL": h.headers.get("Git-Protocol", ""),
            "HTTP_CONTENT_ENCODING": h.headers.get("Content-Encoding", ""),
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
            elif key and key.lower() != "content-length":
                headers.append((key, value.strip()))
        h.reply(status, payload, headers)

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


class RecordingServer(HttpDouble):
    """Records every request; answers 404, or redirects every request to ``redirect_to``."""

    methods = ("GET", "POST")

    def __init__(self, redirect_to: str | None = None) -> None:
        self.redirect_to = redirect_to
        self.log: list[Logged] = []
        super().__init__()

    def handle(self, h: Exchange) -> None:
        h.body()
        self.log.append(Logged(h.command, h.path, None, h.headers.get("Authorization")))
        if self.redirect_to:
            h.reply(302, headers={"Location": self.redirect_to + h.path})
        else:
            h.reply(404)
