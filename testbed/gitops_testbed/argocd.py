"""Argo CD on the testbed: its CRDs and base config from the pinned module, the ``default`` AppProject
(which only argocd-server would create), redis-server (Debian's), and the repo-server and application
controller of testbed/argocd's trimmed binary, each a plain process on 127.0.0.1 with its own ports.

The manifests are read from the module in GOMODCACHE at the version testbed/argocd/go.mod pins, never
copied into the project. The controller runs outside the cluster as admin with
``ARGOCD_FAKE_IN_CLUSTER``: the destination ``https://kubernetes.default.svc`` is the API server of
its kubeconfig. The repo-server finds git, helm, kustomize and ``argocd`` (git's askpass) on its PATH.
Its metrics port is the one exception to loopback: the controller binds it on 0.0.0.0 (no flag).
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from . import build
from .plane import Plane
from .procs import TestbedError, free_port, http_ok, wait_until

MODULE = "github.com/argoproj/argo-cd/v3"
NAMESPACE = "argocd"
CRDS = ("application-crd.yaml", "appproject-crd.yaml", "applicationset-crd.yaml")
CONFIG = (
    "argocd-cm.yaml",
    "argocd-cmd-params-cm.yaml",
    "argocd-secret.yaml",
    "argocd-rbac-cm.yaml",
    "argocd-ssh-known-hosts-cm.yaml",
    "argocd-tls-certs-cm.yaml",
    "argocd-gpg-keys-cm.yaml",
)
DEFAULT_PROJECT: dict[str, Any] = {  # what argocd-server's initializeDefaultProject creates (server/server.go)
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "AppProject",
    "metadata": {"name": "default", "namespace": NAMESPACE},
    "spec": {
        "sourceRepos": ["*"],
        "destinations": [{"server": "*", "namespace": "*"}],
        "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
    },
}


IMAGE_SCRIPTS = ("git-verify-wrapper.sh", "gpg-wrapper.sh")
"""Scripts of the module's hack/ that Argo's image puts on PATH (its Dockerfile): the repo-server runs
git-verify-wrapper.sh on every revision it resolves, and fails with "permission denied" without it."""


def manifests(module: Path) -> tuple[str, str]:
    """(the CRDs, the argocd namespace + base config + default AppProject) as YAML streams."""
    src = module / "manifests"
    crds = "\n---\n".join((src / "crds" / f).read_text(encoding="utf-8") for f in CRDS)
    docs: list[dict[str, Any]] = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}]
    for f in CONFIG:
        for d in yaml.safe_load_all((src / "base" / "config" / f).read_text(encoding="utf-8")):
            if d:
                d["metadata"]["namespace"] = NAMESPACE
                docs.append(d)
    return crds, yaml.safe_dump_all([*docs, DEFAULT_PROJECT], sort_keys=False)


def repository_secret(name: str, url: str, username: str, password: str, *, prefix: bool = False) -> str:
    """An Argo CD repository Secret for ``url`` (``prefix``: a credential template for every repository
    whose URL starts with ``url``), as YAML for ``plane.apply``."""
    kind = "repo-creds" if prefix else "repository"
    doc = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"argocd.argoproj.io/secret-type": kind}},
        "type": "Opaque",
        "stringData": {"type": "git", "url": url, "username": username, "password": password},
    }
    return yaml.safe_dump(doc, sort_keys=False)


def start_argocd(plane: Plane, timeout: float = 120) -> None:
    """Apply the CRDs and config, start redis, the repo-server and the application controller, and
    wait until each answers its health check (TestbedError with the log's tail otherwise)."""
    t0 = time.monotonic()
    redis = shutil.which("redis-server")
    if redis is None:
        raise TestbedError("Argo CD needs redis-server (Debian package redis-server; .ci/run installs it)")
    module = build.module_dir("argocd", MODULE)
    crds, config = manifests(module)
    plane.apply(crds, timeout=timeout)
    # (not `kubectl wait`: it fails on a CRD whose status has no conditions yet)
    wait_until(lambda: _established(plane), "the Argo CD CRDs Established", timeout)
    plane.apply(config, timeout=timeout)

    home = plane.state / "argocd"
    for d in ("tls", "ssh", "gnupg", "tmp", "redis"):
        (home / d).mkdir(parents=True, exist_ok=True)
    redis_port = free_port()
    # --set-proc-title no: the process keeps its argv, by which `down` recognises it
    rp = plane.procs.start("redis", [
        redis, "--bind", "127.0.0.1", "--port", str(redis_port), "--save", "", "--appendonly", "no",
        "--dir", str(home / "redis"), "--set-proc-title", "no",
    ])  # fmt: skip
    wait_until(lambda: _redis_ping(redis_port), "redis-server PING", timeout, rp)

    scripts = home / "bin"  # exec shims: the module cache keeps no exec bits
    scripts.mkdir(exist_ok=True)
    for name in IMAGE_SCRIPTS:
        shim = scripts / name
        shim.write_text(f'#!/bin/sh\nexec /bin/sh "{module / "hack" / name}" "$@"\n')
        shim.chmod(0o755)
    binary = Path(plane.bin("argocd"))
    path = [
        str(scripts),
        str(binary.parent),
        str(Path(plane.bin("helm")).parent),
        str(Path(plane.bin("kustomize")).parent),
    ]
    env = {
        "PATH": ":".join([*dict.fromkeys(path), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": str(home),
        "TMPDIR": str(home / "tmp"),
        "KUBECONFIG": plane.admin_kubeconfig,
        "ARGOCD_GPG_ENABLED": "false",
        "ARGOCD_TLS_DATA_PATH": str(home / "tls"),
        "ARGOCD_SSH_DATA_PATH": str(home / "ssh"),
        "ARGOCD_GNUPGHOME": str(home / "gnupg"),
        "ARGOCD_ASK_PASS_SOCK": str(_socket_dir(home) / "askpass.sock"),
        "ARGOCD_FAKE_IN_CLUSTER": "true",
    }
    redis_addr = f"127.0.0.1:{redis_port}"
    repo_port, repo_health, ctl_health = free_port(), free_port(), free_port()
    repo = plane.procs.start("argocd-repo-server", [
        str(binary), "--address=127.0.0.1", f"--port={repo_port}", "--disable-tls", "--client-ca-path=",
        f"--redis={redis_addr}", "--metrics-address=127.0.0.1", f"--metrics-port={repo_health}", "--logformat=json",
    ], env={**env, "ARGOCD_BINARY_NAME": "argocd-repo-server"}, cwd=home)  # fmt: skip
    ctl = plane.procs.start("argocd-application-controller", [
        str(binary), f"--kubeconfig={plane.admin_kubeconfig}", f"--namespace={NAMESPACE}", f"--redis={redis_addr}",
        f"--repo-server=127.0.0.1:{repo_port}", "--repo-server-plaintext", f"--metrics-port={ctl_health}",
        "--logformat=json",
    ], env={**env, "ARGOCD_BINARY_NAME": "argocd-application-controller"}, cwd=home)  # fmt: skip
    wait_until(lambda: http_ok(f"http://127.0.0.1:{repo_health}/healthz"), "argocd-repo-server /healthz", timeout, repo)
    wait_until(lambda: http_ok(f"http://127.0.0.1:{ctl_health}/healthz"), "argocd-application-controller /healthz",
               timeout, ctl)  # fmt: skip
    plane.info["argocd"] = build.module_versions(binary).get(MODULE, "unknown")
    plane.info["argocd_repo_server"] = f"127.0.0.1:{repo_port}"
    plane.info["argocd_start_s"] = f"{time.monotonic() - t0:.1f}"
    plane.layers.append("argocd")
    plane.save()


def _socket_dir(home: Path) -> Path:
    """``home``, or a short directory under /tmp when the askpass socket's path would pass the 107-byte limit."""
    if len(str(home / "askpass.sock").encode()) <= 100:
        return home
    return Path(tempfile.mkdtemp(prefix="argocd-"))


def _established(plane: Plane) -> bool:
    established = '{.status.conditions[?(@.type=="Established")].status}'
    out = plane.kubectl("get", "crd", "-l", "app.kubernetes.io/part-of=argocd", "-o",
                        f"jsonpath={{range .items[*]}}{established} {{end}}")  # fmt: skip
    return out.split() == ["True"] * len(CRDS)


def _redis_ping(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(b"PING\r\n")
        return s.recv(16).startswith(b"+PONG")
