"""Argo CD on the testbed: its CRDs and base config from the pinned module, the ``default`` AppProject,
redis-server (Debian's), the repo-server and the application controller of testbed/argocd, each a
plain process on 127.0.0.1 with its own free ports and a log file.

The manifests are read from the module in GOMODCACHE at the version testbed/argocd/go.mod pins, never
copied into the project. The controller runs outside the cluster with ``ARGOCD_FAKE_IN_CLUSTER``:
the destination ``https://kubernetes.default.svc`` is the admin kubeconfig's API server.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
MODULE_DIR = HERE.parent / "argocd"
"""The wrapper module: go.mod pins github.com/argoproj/argo-cd/v3; main.go dispatches on ARGOCD_BINARY_NAME."""
MODULE = "github.com/argoproj/argo-cd/v3"
TOOLCHAIN = "go1.27.3"
"""argo-cd/v3 v3.6.x says ``go 1.27.0``; the machine's Go is 1.26.8, so its go commands run this toolchain
(fetched once through the module proxy as golang.org/toolchain)."""
NAMESPACE = "argocd"
BINARY = "argocd"
"""The one binary; named ``argocd`` because the repo-server hands git ``GIT_ASKPASS=argocd``."""
CONFIG = (
    "argocd-cm.yaml",
    "argocd-cmd-params-cm.yaml",
    "argocd-secret.yaml",
    "argocd-rbac-cm.yaml",
    "argocd-ssh-known-hosts-cm.yaml",
    "argocd-tls-certs-cm.yaml",
    "argocd-gpg-keys-cm.yaml",
)
CRDS = ("application-crd.yaml", "appproject-crd.yaml", "applicationset-crd.yaml")
DEFAULT_PROJECT: dict[str, Any] = {
    # what argocd-server's initializeDefaultProject creates (server/server.go)
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "AppProject",
    "metadata": {"name": "default", "namespace": NAMESPACE},
    "spec": {
        "sourceRepos": ["*"],
        "destinations": [{"server": "*", "namespace": "*"}],
        "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
    },
}


class ArgoCDError(RuntimeError):
    """Argo CD could not be set up or did not become ready; the message says which part and why."""


def version(module_dir: Path = MODULE_DIR) -> str:
    """The argo-cd/v3 version the wrapper pins, e.g. ``v3.6.2``."""
    text = (module_dir / "go.mod").read_text(encoding="utf-8")
    m = re.search(rf"^\s*(?:require\s+)?{re.escape(MODULE)}\s+(v\S+)", text, re.MULTILINE)
    if not m:
        raise ArgoCDError(f"{module_dir / 'go.mod'} does not require {MODULE}")
    return m.group(1)


def go_env() -> dict[str, str]:
    """The environment for this component's go commands (toolchain, static build)."""
    return {**os.environ, "GOTOOLCHAIN": TOOLCHAIN, "CGO_ENABLED": "0"}


def ldflags(ver: str) -> str:
    """Argo's own version ldflags (its Makefile), so the binaries report ``ver``."""
    p = f"{MODULE}/common"
    return (
        f"-s -w -X {p}.version={ver.removeprefix('v')} -X {p}.gitTag={ver} -X {p}.gitTreeState=clean"
        f" -X {p}.buildDate=1970-01-01T00:00:00Z"
    )


def build_command(out_dir: Path, ver: str) -> list[str]:
    """The go build of the trimmed binary into ``out_dir/argocd`` (run in MODULE_DIR with :func:`go_env`)."""
    return ["go", "build", "-trimpath", "-ldflags", ldflags(ver), "-o", str(out_dir / BINARY), "."]


def module_dir(ver: str | None = None, timeout: float = 600) -> Path:
    """The argo-cd/v3 module's files in GOMODCACHE (downloaded through the proxy if absent)."""
    ver = ver or version()
    p = subprocess.run(
        ["go", "mod", "download", "-json", f"{MODULE}@{ver}"],
        cwd=MODULE_DIR,
        env=go_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    info = json.loads(p.stdout or "{}")
    if not info.get("Dir") or not Path(info["Dir"], "manifests").is_dir():
        raise ArgoCDError(f"{MODULE}@{ver} not in the module cache: {info.get('Error') or p.stderr.strip()}")
    return Path(info["Dir"])


def manifests(src: Path) -> list[dict[str, Any]]:
    """The CRDs, then the base config (in the argocd namespace) and the default AppProject."""
    docs: list[dict[str, Any]] = []
    for folder, names in (("crds", CRDS), ("base/config", CONFIG)):
        for name in names:
            docs += [d for d in yaml.safe_load_all((src / "manifests" / folder / name).read_text("utf-8")) if d]
    for d in docs:
        if d["kind"] != "CustomResourceDefinition":
            d["metadata"]["namespace"] = NAMESPACE
    return docs


# -- processes ------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 20) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 10) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout)


def spawn(name: str, args: list[str], env: Mapping[str, str], logs: Path) -> Proc:
    log = logs / f"{name}.log"
    with log.open("ab") as out:
        popen = subprocess.Popen(
            args, env=dict(env), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Proc(name, popen, log)


def wait_http(proc: Proc, url: str, deadline: float) -> None:
    """Until ``url`` answers 200; ArgoCDError with the log's tail if the process exits or time runs out."""
    last = ""
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise ArgoCDError(f"{proc.name} exited ({proc.popen.returncode}):\n{proc.tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(0.1)
    raise ArgoCDError(f"{proc.name} not ready at {url} ({last}):\n{proc.tail()}")


@dataclass
class ArgoCD:
    """The running Argo CD: its version, namespace, processes (redis, repo-server, controller)."""

    version: str
    namespace: str
    procs: list[Proc] = field(default_factory=list)
    redis_port: int = 0
    repo_port: int = 0

    def pids(self) -> dict[str, int]:
        return {p.name: p.popen.pid for p in self.procs}

    def logs(self, lines: int = 20) -> str:
        return "\n".join(f"--- {p.name} ({p.log}):\n{p.tail(lines)}" for p in self.procs)

    def stop(self) -> None:
        for p in reversed(self.procs):
            p.stop()


def start_processes(
    kubeconfig: Path, binary: Path, tools: Iterable[Path], run_dir: Path, ver: str, timeout: float = 120
) -> ArgoCD:
    """redis-server, the repo-server (git, helm, kustomize and ``argocd`` for askpass on its PATH) and
    the application controller; each ready (or ArgoCDError) within ``timeout`` seconds in all."""
    redis = shutil.which("redis-server")
    if redis is None:
        raise ArgoCDError("redis-server is not installed (Debian package redis-server)")
    for tool in ("git", "helm", "kustomize"):
        if not any((Path(d) / tool).is_file() for d in [*tools, *os.environ.get("PATH", "").split(os.pathsep)]):
            raise ArgoCDError(f"the repo-server needs {tool} on its PATH: build the testbed tools first")
    deadline = time.monotonic() + timeout
    logs = run_dir / "logs"
    home = run_dir / "argocd-home"
    for d in (logs, home, home / "tls", home / "ssh", home / "gnupg", home / "tmp"):
        d.mkdir(parents=True, exist_ok=True)
    argo = ArgoCD(ver, NAMESPACE, redis_port=free_port(), repo_port=free_port())
    try:
        r = spawn(
            "redis",
            [redis, "--bind", "127.0.0.1", "--port", str(argo.redis_port), "--save", "", "--appendonly", "no"]
            + ["--dir", str(home), "--daemonize", "no"],
            os.environ,
            logs,
        )
        argo.procs.append(r)
        _wait_tcp(r, argo.redis_port, deadline)
        path = os.pathsep.join([str(binary.parent), *map(str, tools), os.environ.get("PATH", "/usr/bin:/bin")])
        base = {
            "PATH": path,
            "HOME": str(home),
            "TMPDIR": str(home / "tmp"),
            "ARGOCD_GPG_ENABLED": "false",
            "ARGOCD_TLS_DATA_PATH": str(home / "tls"),
            "ARGOCD_SSH_DATA_PATH": str(home / "ssh"),
            "ARGOCD_GNUPGHOME": str(home / "gnupg"),
            "ARGOCD_ASK_PASS_SOCK": str(home / "askpass.sock"),
            "KUBECONFIG": str(kubeconfig),
        }
        redis_addr = f"127.0.0.1:{argo.redis_port}"
        repo_metrics = free_port()
        repo = spawn(
            "argocd-repo-server",
            [str(binary), "--address", "127.0.0.1", "--port", str(argo.repo_port), "--disable-tls"]
            + ["--metrics-address", "127.0.0.1", "--metrics-port", str(repo_metrics), "--redis", redis_addr]
            + ["--logformat", "text"],
            {**base, "ARGOCD_BINARY_NAME": "argocd-repo-server"},
            logs,
        )
        argo.procs.append(repo)
        wait_http(repo, f"http://127.0.0.1:{repo_metrics}/healthz", deadline)
        ctl_metrics = free_port()
        ctl = spawn(
            "argocd-application-controller",
            [str(binary), "--kubeconfig", str(kubeconfig), "--namespace", NAMESPACE, "--redis", redis_addr]
            + ["--repo-server", f"127.0.0.1:{argo.repo_port}", "--repo-server-plaintext"]
            + ["--metrics-port", str(ctl_metrics), "--logformat", "text"],
            {**base, "ARGOCD_BINARY_NAME": "argocd-application-controller", "ARGOCD_FAKE_IN_CLUSTER": "true"},
            logs,
        )
        argo.procs.append(ctl)
        wait_http(ctl, f"http://127.0.0.1:{ctl_metrics}/healthz", deadline)
    except BaseException:
        argo.stop()
        raise
    return argo


def _wait_tcp(proc: Proc, port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise ArgoCDError(f"{proc.name} exited ({proc.popen.returncode}):\n{proc.tail()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise ArgoCDError(f"{proc.name} did not listen on 127.0.0.1:{port}:\n{proc.tail()}")


# -- objects in the cluster -----------------------------------------------------------------------------


def install(kubeconfig: Path, docs: list[dict[str, Any]], timeout: float = 60) -> None:
    """Server-side apply ``docs`` as ``gitops-testbed`` (the argocd namespace first); wait until the
    CRDs among them are Established before the objects of their kinds (the default AppProject)."""
    from kubernetes import config, dynamic, watch
    from kubernetes.client import ApiextensionsV1Api

    api = config.new_client_from_config(str(kubeconfig))
    client = dynamic.DynamicClient(api)
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    crds = [d for d in docs if d["kind"] == "CustomResourceDefinition"]
    for d in [ns, *crds]:
        _apply(client, d)
    ext = ApiextensionsV1Api(api)
    deadline = time.monotonic() + timeout
    for crd in crds:
        name = crd["metadata"]["name"]
        w = watch.Watch()
        for ev in w.stream(
            ext.list_custom_resource_definition,
            field_selector=f"metadata.name={name}",
            timeout_seconds=max(1, int(deadline - time.monotonic())),
        ):
            conds = ev["object"].status.conditions or []
            if any(c.type == "Established" and c.status == "True" for c in conds):
                w.stop()
                break
        else:
            raise ArgoCDError(f"CRD {name} not Established within {timeout}s")
    client = dynamic.DynamicClient(api)  # discovery again: the new kinds are served now
    for d in [*(d for d in docs if d["kind"] != "CustomResourceDefinition"), DEFAULT_PROJECT]:
        _apply(client, d)


def _apply(client: Any, doc: dict[str, Any]) -> None:
    res = client.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
    res.server_side_apply(
        body=doc,
        name=doc["metadata"]["name"],
        namespace=doc["metadata"].get("namespace"),
        field_manager="gitops-testbed",
        force_conflicts=True,
    )


def repository_secret(name: str, url: str, username: str, password: str, *, prefix: bool = False) -> dict[str, Any]:
    """An Argo CD repository Secret (``prefix``: a credential template for every repository under ``url``)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "labels": {"argocd.argoproj.io/secret-type": "repo-creds" if prefix else "repository"},
        },
        "type": "Opaque",
        "stringData": {"type": "git", "url": url, "username": username, "password": password},
    }
