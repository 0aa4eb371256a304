"""Remote-first, as a new user has it: gitops-mcp as a server process over streamable HTTP in a
HOME of its own (its state and clone cache there), two callers (alice, bob) with bearer tokens
who hold no clone and pass git URLs only, the authenticated git remote with a forge, and the fake
API server with the simulated Flux controllers.

The fleet repository is the podinfo fixture (overlays per environment) plus a HelmRelease of its
chart; Flux applies the production overlay and the HelmRelease. Repositories are seeded from a
temporary directory that is removed after the push.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

from doubles.forge import FakeForge
from doubles.mcp_server import ServerProcess
from doubles.world import TOKEN, World, git_repository, kustomization

FORGE_TOKEN = "ghp_" + "R" * 36
CALLERS = {"alice": "alice-token-0123456789abcdef", "bob": "bob-token-0123456789abcdef"}
FLEET = "org/fleet.git"
HELM_RELEASE = (
    "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: podinfo\n  namespace: podinfo\n"
    "spec:\n  interval: 10m\n  chart:\n    spec:\n      chart: ./charts/podinfo\n      sourceRef:\n"
    "        kind: GitRepository\n        name: fleet\n        namespace: flux-system\n"
    "  values:\n    replicaCount: 1\n    ui:\n      message: hello\n"
)


def git(cwd: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


class RemoteWorld:
    """Entered: the remote, the forge and the cluster serve, the controllers run."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.world = World(root / "world", TOKEN)
        self.home = root / "server-home"
        self.outputs: list[str] = []  # every tool result and error, for the leak search
        self.servers: list[ServerProcess] = []
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> RemoteWorld:
        self.world.root.mkdir(parents=True, exist_ok=True)
        stack = self._stack
        stack.enter_context(self.world)
        self.remote = self.world.remote
        self.kube = self.world.kube
        self.forge = stack.enter_context(FakeForge(self.remote.root, FORGE_TOKEN))
        self.sim = stack.enter_context(self.world.controllers())
        self.home.mkdir()
        self.kubeconfig = self.kube.kubeconfig(self.home / "kubeconfig")
        return self

    def __exit__(self, *exc: object) -> None:
        for srv in self.servers:
            srv.stop()
        self._stack.close()

    # -- the remote ---------------------------------------------------------------------------------------------
    def seed(self, name: str, files: Mapping[str, str | bytes], source: Path | None = None) -> str:
        """A repository ``name`` on the remote whose main is one commit (``source`` copied, then
        ``files``), made in a temporary directory that is gone afterwards; its URL."""
        url = self.world.create_repo(name)
        with tempfile.TemporaryDirectory(dir=self.root) as tmp:
            work = Path(tmp) / "seed"
            if source is not None:
                shutil.copytree(source, work)
            work.mkdir(exist_ok=True)
            for rel, content in files.items():
                (work / rel).parent.mkdir(parents=True, exist_ok=True)
                if isinstance(content, bytes):
                    (work / rel).write_bytes(content)
                else:
                    (work / rel).write_text(content, encoding="utf-8")
            self.push(work, url, "initial", init=True)
        return url

    def commit(self, name: str, files: Mapping[str, str], message: str) -> str:
        """One more commit of ``files`` on the remote's main (from a temporary clone); its SHA."""
        with tempfile.TemporaryDirectory(dir=self.root) as tmp:
            work = Path(tmp) / "c"
            git(Path(tmp), "clone", "-q", self.remote.url(name), str(work), env=self.remote.client_env())
            for rel, text in files.items():
                (work / rel).parent.mkdir(parents=True, exist_ok=True)
                (work / rel).write_text(text, encoding="utf-8")
            self.push(work, "origin", message)
            return git(work, "rev-parse", "HEAD")

    def push(self, work: Path, to: str, message: str, init: bool = False) -> None:
        env = self.remote.client_env()
        if init:
            git(work, "init", "-q", "-b", "main")
        git(work, "add", "-A")
        git(work, "-c", "user.name=Seed", "-c", "user.email=seed@example.com", "commit", "-qm", message)
        git(work, "push", "-q", to, "HEAD:main", env=env)

    def fleet(self, source: Path) -> str:
        """The fleet repository (``source``: the podinfo fixture) and Flux applying its production
        overlay and its HelmRelease; the Deployment helm-controller would render for it. Its URL."""
        url = self.seed(
            FLEET,
            {"apps/helm/release.yaml": HELM_RELEASE, "apps/helm/kustomization.yaml": "resources:\n  - release.yaml\n"},
            source,
        )
        for ns in ("flux-system", "podinfo"):
            self.kube.ensure_namespace(ns)
        self.kube.put(git_repository("fleet", url))
        self.kube.put(kustomization("production", "./deploy/overlays/production", "fleet"))
        self.kube.put(kustomization("helm-apps", "./apps/helm", "fleet"))
        labels = {"helm.toolkit.fluxcd.io/name": "podinfo", "helm.toolkit.fluxcd.io/namespace": "podinfo"}
        self.kube.put(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "podinfo", "namespace": "podinfo", "labels": labels},
                "spec": {"template": {"spec": {"containers": [{"name": "podinfo", "image": "podinfo:1"}]}}},
            }
        )
        return url

    # -- the server and its callers ---------------------------------------------------------------------------
    def server(self, port: int | None = None, **extra: str) -> ServerProcess:
        """gitops-mcp over streamable HTTP, HOME its own (its only allowed root; state and clone cache
        in it), started; on ``port``, else on the one it binds (see ServerProcess)."""
        env = {
            "HOME": str(self.home),
            "GITOPS_MCP_GIT_TOKEN": TOKEN,
            "GITOPS_MCP_ALLOWED_GIT_HOSTS": f"127.0.0.1:{self.remote.port}",
            "GITOPS_MCP_GIT_ALLOW_HTTP": "true",
            "GITOPS_MCP_POLICY__SECURE_GIT_URLS": "false",
            "GITOPS_MCP_FORGE": "github",
            "GITHUB_TOKEN": FORGE_TOKEN,
            "GITOPS_MCP_GITHUB_API_URL": self.forge.github_api,
            "GITOPS_MCP_KUBECONFIG": str(self.kubeconfig),
            "GITOPS_MCP_AUTH_TOKENS": json.dumps(CALLERS),
            "GITOPS_MCP_WIZARD_WAIT_SECONDS": "30",
            "GITOPS_MCP_LOG_LEVEL": "DEBUG",
            **extra,
        }
        srv = ServerProcess(self.home, env=env, port=port, own_group=True)
        self.servers.append(srv)
        return srv.start()

    @contextlib.asynccontextmanager
    async def client(self, srv: ServerProcess, caller: str = "alice") -> AsyncIterator[Any]:
        import httpx2
        from mcp import Client
        from mcp.client.streamable_http import streamable_http_client

        headers = {"Authorization": f"Bearer {CALLERS[caller]}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0, read=120.0)) as http,
            Client(streamable_http_client(srv.url, http_client=http)) as c,
        ):
            yield c

    async def call(self, c: Any, tool: str, args: dict[str, Any], ok: bool = True) -> Any:
        """The tool's structured result (``ok=False``: its error text)."""
        r = await c.call_tool(tool, args)
        self.outputs.append(r.model_dump_json())
        if not ok:
            assert r.is_error, r.structured_content
            return r.content[0].text
        assert not r.is_error, r.content
        return r.structured_content

    # -- what must hold afterwards --------------------------------------------------------------------------
    @property
    def cache(self) -> Path:
        return self.home / "cache"

    def work_left(self) -> list[str]:
        """What is left in the clone cache's working-tree directory (nothing, between operations)."""
        work = self.cache / "work"
        return sorted(p.name for p in work.iterdir()) if work.is_dir() else []

    def cached_repos(self) -> list[Path]:
        repos = self.cache / "repos"
        return sorted(p for p in repos.iterdir() if p.is_dir() and not p.name.startswith(".")) if repos.is_dir() else []

    def assert_no_secrets(self) -> None:
        """No token in any result, log, session, cache config, kept record or commit (cache and remote)."""
        texts = [*self.outputs, *("".join(s.stderr) for s in self.servers)]
        files = [p for base in (self.home / "state", self.cache) if base.is_dir() for p in base.rglob("*")]
        texts.extend(
            p.read_bytes().decode("utf-8", "replace")
            for p in files
            if p.is_file() and (p.name in ("config", "config.worktree") or p.suffix in (".json", ".db", ""))
        )
        repos = [*self.cached_repos(), *(p for p in self.remote.root.rglob("*.git") if p.is_dir())]
        texts.extend(git(r, "log", "--all", "-p", "--format=%H %an %ae%n%B") for r in repos)
        texts.extend(str(q.body) + str(q.path) for q in self.forge.requests)
        for text in texts:
            for secret in (TOKEN, FORGE_TOKEN, *CALLERS.values()):
                assert secret not in text


@contextlib.contextmanager
def remote_world(root: Path) -> Iterator[RemoteWorld]:
    with RemoteWorld(root) as w:
        yield w
