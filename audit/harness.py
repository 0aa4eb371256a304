"""The audit's world, seen from outside: an authenticated ``git http-backend`` remote, the fake API
server with the simulated controllers, a fake GitHub API, and ``gitops-mcp serve`` as real
subprocesses spoken to only through the MCP SDK client (stdio and streamable HTTP).

Nothing here imports the server's code: the doubles in tests/doubles are the environment, the
server is a process, every probe is a tool call an assistant (or an attacker) could make.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
sys.path.insert(0, str(PROJECT / "tests"))

from doubles.forge import FakeForge  # noqa: E402
from doubles.mcp_server import ServerProcess  # noqa: E402
from doubles.world import USER, World  # noqa: E402

TOKEN = "audit-git-token-7f3a9c1e5b2d4f60"  # the server's git token: the secret the audit hunts for
FORGE_TOKEN = "ghp_" + "A" * 8 + "uditForgeToken0123456789ab"
CALLERS = {
    "alice": "alice-audit-token-0123456789abcdef",
    "bob": "bob-audit-token-0123456789abcdef",
    "carol": "carol-audit-token-0123456789abcdef",
}
SECRETS = (TOKEN, FORGE_TOKEN, *CALLERS.values())
HELM_DIRS = [Path.home() / ".cache/gitops-mcp/helm-4.3.2/bin"] + ([Path(os.environ["GITOPS_MCP_HELM"]).parent] if os.environ.get("GITOPS_MCP_HELM") else [])
CALL_TIMEOUT = 150.0  # no single call may take longer: past it the request counts as unanswered


@dataclass
class Probe:
    prop: str  # the property or issue item this probe checks
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Answer:
    ok: bool  # the tool answered without isError
    text: str  # the whole answer as JSON text (what reaches the assistant)
    data: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    answered: bool = True  # False: no answer within CALL_TIMEOUT (or the client broke)
    brief: str = ""  # the gist: the error text, or the result's status, errors and message

    def __str__(self) -> str:
        return self.brief or self.text[:200]


def snapshot(base: Path) -> dict[str, str]:
    """Every path under ``base`` (links not followed) with its kind and content hash."""
    out: dict[str, str] = {}
    if not base.exists():
        return out
    for dirpath, dirnames, filenames in os.walk(base):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(base))
            if p.is_symlink():
                out[rel] = "link:" + os.readlink(p)
            elif p.is_file():
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
            else:
                out[rel] = "dir"
    return out


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def git(cwd: Path, *args: str, env: Mapping[str, str] | None = None, check: bool = True) -> str:
    p = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if check and p.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {p.stderr.strip()}")
    return p.stdout.strip()


class Audit:
    """The world, the servers, every answer seen (for the secret search) and the probes' results."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.roots = root / "roots"  # where the caller's checkouts live (an allowed root)
        self.home = root / "server-home"  # HOME of the HTTP server: also an allowed root, holding its cache
        self.outside = root / "outside"  # never an allowed root: the victims live here
        self.world = World(root / "world", TOKEN)
        self.outputs: list[str] = []
        self.results: list[Probe] = []
        self.servers: list[ServerProcess] = []
        self.stdio_logs: list[Path] = []
        self._stack = contextlib.ExitStack()
        self._n = 0
        self.victims: dict[Path, dict[str, str]] = {}
        self.figures: dict[
            str, list[str]
        ] = {}  # measurements worth reporting (build peaks, load)  # each victim directory as it was made

    # -- lifecycle -------------------------------------------------------------------------------------
    def __enter__(self) -> Audit:
        for d in (self.roots, self.home, self.outside, self.world.root):
            d.mkdir(parents=True, exist_ok=True)
        self._stack.enter_context(self.world)
        self.remote = self.world.remote
        self.kube = self.world.kube
        self.forge = self._stack.enter_context(FakeForge(self.remote.root, FORGE_TOKEN))
        self.sim = self._stack.enter_context(self.world.controllers())
        self.kubeconfig = self.kube.kubeconfig(self.root / "kubeconfig")
        return self

    def __exit__(self, *exc: object) -> None:
        for srv in self.servers:
            srv.stop()
        self._stack.close()

    def record(self, prop: str, name: str, ok: bool, detail: str = "") -> bool:
        self.results.append(Probe(prop, name, bool(ok), detail[:400]))
        return bool(ok)

    def uid(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n}"

    # -- the server ----------------------------------------------------------------------------------------
    def env(self, state: Path, cache: Path, **extra: str) -> dict[str, str]:
        helm = [str(d) for d in HELM_DIRS if (d / "helm").is_file()]
        env = {k: v for k, v in os.environ.items() if not k.startswith("GITOPS_MCP_") or k == "GITOPS_MCP_SHARED"}
        env.update(
            {
                "HOME": str(self.home),
                "PATH": os.pathsep.join([*helm, env.get("PATH", "/usr/bin:/bin")]),
                "GITOPS_MCP_ALLOWED_ROOTS": f"{self.roots}{os.pathsep}{self.home}",
                "GITOPS_MCP_STATE_DIR": str(state),
                "GITOPS_MCP_CACHE_DIR": str(cache),
                "GITOPS_MCP_GIT_TOKEN": TOKEN,
                "GITOPS_MCP_ALLOWED_GIT_HOSTS": f"127.0.0.1:{self.remote.port}",
                "GITOPS_MCP_GIT_ALLOW_HTTP": "true",
                "GITOPS_MCP_POLICY__SECURE_GIT_URLS": "false",
                "GITOPS_MCP_FORGE": "github",
                "GITHUB_TOKEN": FORGE_TOKEN,
                "GITOPS_MCP_GITHUB_API_URL": self.forge.github_api,
                "GITOPS_MCP_KUBECONFIG": str(self.kubeconfig),
                "GITOPS_MCP_LOG_LEVEL": "DEBUG",
                "GITOPS_MCP_AUDIT_LOG": str(state / "audit.jsonl"),
                "GITOPS_MCP_WIZARD_WAIT_SECONDS": "10",
                "GITOPS_MCP_BUILD_MEMORY_MB": "256",
                "GITOPS_MCP_BUILD_CPU_SECONDS": "20",
                "GITOPS_MCP_BUILD_TIMEOUT_SECONDS": "20",
                "GITOPS_MCP_BUILD_MAX_INPUT_MB": "4",
                "GITOPS_MCP_MAX_OPEN_SESSIONS": "40",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(extra)
        return env

    def http_server(self, **extra: str) -> ServerProcess:
        env = self.env(self.home / "state", self.home / ".cache", GITOPS_MCP_AUTH_TOKENS=json.dumps(CALLERS), **extra)
        srv = ServerProcess(self.home, env=env, own_group=True)
        self.servers.append(srv)
        srv.start(timeout=60)
        srv.env = env  # ServerProcess layers its own defaults under ours; ours win
        return srv

    @contextlib.asynccontextmanager
    async def http_client(self, srv: ServerProcess, caller: str = "alice") -> AsyncIterator[Any]:
        import httpx2
        from mcp import Client
        from mcp.client.streamable_http import streamable_http_client

        headers = {"Authorization": f"Bearer {CALLERS[caller]}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0, read=CALL_TIMEOUT + 30)) as http,
            Client(streamable_http_client(srv.url, http_client=http)) as c,
        ):
            yield c

    @contextlib.asynccontextmanager
    async def stdio_client(self) -> AsyncIterator[Any]:
        from mcp import Client, StdioServerParameters
        from mcp.client.stdio import stdio_client

        base = self.home / "stdio"
        env = self.env(base / "state", base / "cache")
        log = self.root / f"stdio-{len(self.stdio_logs)}.log"
        self.stdio_logs.append(log)
        params = StdioServerParameters(command=sys.executable, args=["-m", "gitops_mcp", "serve"], env=env)
        with log.open("w") as err:
            async with Client(stdio_client(params, errlog=err)) as c:
                yield c

    async def call(self, c: Any, tool: str, args: dict[str, Any], timeout: float = CALL_TIMEOUT) -> Answer:
        """One tool call; the answer's text is kept for the secret search. An answer that does not
        come within ``timeout`` (or a client that breaks) is an unanswered request."""
        started = time.monotonic()
        try:
            with anyio.fail_after(timeout):
                r = await c.call_tool(tool, args)
        except TimeoutError:
            self.record("answered", f"{tool} within {timeout:.0f} s", False, json.dumps(args)[:200])
            return Answer(False, "", seconds=time.monotonic() - started, answered=False)
        except Exception as e:
            text = f"{type(e).__name__}: {e}"
            self.outputs.append(text)
            answered = type(e).__name__ == "MCPError"
            return Answer(False, text, seconds=time.monotonic() - started, answered=answered)
        text = r.model_dump_json()
        self.outputs.append(text)
        data = r.structured_content if isinstance(r.structured_content, dict) else {}
        if r.is_error or not data:
            brief = " ".join(getattr(x, "text", "") for x in r.content)[:300]
        else:
            keys = ("status", "step", "errors", "message", "created", "changed", "path", "valid", "outcome")
            brief = json.dumps({k: data[k] for k in keys if data.get(k) not in (None, {}, "")})[:300]
        return Answer(not r.is_error, text, data, time.monotonic() - started, brief=brief)

    # -- repositories -------------------------------------------------------------------------------------
    def seed(self, name: str, files: Mapping[str, str], links: Mapping[str, str] | None = None) -> tuple[str, Path]:
        """A repository on the remote (``files`` and symlinks ``links``: path -> target, committed as
        a repository's author would) and its checkout under the allowed roots; (URL, checkout)."""
        url = self.world.create_repo(name)
        work = self.roots / name.replace("/", "_").removesuffix(".git")
        work.mkdir(parents=True)
        self.world.git(work, "init", "-q", "-b", "main")
        for rel, text in files.items():
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            (work / rel).write_text(text, encoding="utf-8")
        for rel, target in (links or {}).items():
            p = work / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            elif p.exists() or p.is_symlink():
                p.unlink()
            os.symlink(target, p)
        self.world.git(work, "add", "-A")
        self.world.git(work, "-c", "user.name=Mallory", "-c", "user.email=m@example.com", "commit", "-qm", "seed")
        self.world.git(work, "remote", "add", "origin", url)
        self.world.git(work, "push", "-q", "origin", "main")
        return url, work

    def remote_files(self, name: str, ref: str = "main") -> set[str]:
        bare = self.remote.root / name
        out = git(bare, "ls-tree", "-r", "--name-only", ref, check=False)
        return set(out.splitlines())

    def remote_refs(self, name: str) -> dict[str, str]:
        out = git(self.remote.root / name, "for-each-ref", "--format=%(refname) %(objectname)")
        return dict(line.split(" ", 1) for line in out.splitlines() if line)

    def victim(self, name: str, files: Mapping[str, str] | None = None) -> Path:
        d = self.outside / name
        d.mkdir(parents=True)
        for rel, text in (files if files is not None else {"victim.yaml": "victim: untouched\n"}).items():
            (d / rel).write_text(text, encoding="utf-8")
        self.victims[d] = snapshot(d)
        return d

    def outside_untouched(self) -> list[str]:
        """What changed outside the roots over the whole run: any victim, or anything new beside them."""
        bad = [f"{d.name}/{p}" for d, snap in self.victims.items() for p in changed(snap, snapshot(d))]
        return bad + sorted(p.name for p in self.outside.iterdir() if p not in self.victims)


class TreeWatch:
    """Peak resident memory of a process's descendants (the builds a server runs), polled from /proc."""

    def __init__(self, pid: int, every: float = 0.03) -> None:
        self.pid = pid
        self.every = every
        self.peak_kb = 0
        self.peak_cmd = ""
        self.server_peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _children(self) -> dict[int, list[int]]:
        kids: dict[int, list[int]] = {}
        for d in os.listdir("/proc"):
            if d.isdigit():
                with contextlib.suppress(OSError, ValueError, IndexError):
                    stat = Path(f"/proc/{d}/stat").read_text()
                    ppid = int(stat.rsplit(")", 1)[1].split()[1])
                    kids.setdefault(ppid, []).append(int(d))
        return kids

    @staticmethod
    def _rss(pid: int) -> int:
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            kids = self._children()
            todo, seen = list(kids.get(self.pid, [])), []
            while todo:
                p = todo.pop()
                seen.append(p)
                todo.extend(kids.get(p, []))
            for p in seen:
                rss = self._rss(p)
                if rss > self.peak_kb:
                    self.peak_kb = rss
                    with contextlib.suppress(OSError):
                        self.peak_cmd = Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ")[:120].decode()
            self.server_peak_kb = max(self.server_peak_kb, self._rss(self.pid))
            self._stop.wait(self.every)

    def __enter__(self) -> TreeWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


@contextlib.contextmanager
def chdir(path: Path) -> Iterator[None]:
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


__all__ = ["USER"]
