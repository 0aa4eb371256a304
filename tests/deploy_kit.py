"""The deploy base under test (``deploy/kubernetes``): rendered by a real ``kubectl kustomize``.

``GITOPS_MCP_KUBECTL`` names the kubectl to use; else the testbed's kubectl 1.37 (built from
testbed/kube by ``scripts/testbed build``, found in its build cache); else ``kubectl`` on PATH.
Tests skip without one (fail with ``GITOPS_MCP_REQUIRE_KUBECTL=1``, as in CI).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import PROJECT

DEPLOY = PROJECT / "deploy" / "kubernetes"
REGISTRATION = DEPLOY / "registration"
DRY_RUN = DEPLOY / "dry-run"
NAMESPACE = "gitops-mcp"
Obj = dict[str, Any]


def testbed_kubectl() -> str | None:
    """The testbed's kubectl from its build cache (``scripts/testbed build kube``), or None when it is not built."""
    sys.path.insert(0, str(PROJECT / "testbed"))
    try:
        from gitops_testbed import build

        path = build.binaries("kube")["kubectl"]
    except (ImportError, RuntimeError, OSError, subprocess.SubprocessError):  # BuildError: no go command
        return None
    finally:
        sys.path.remove(str(PROJECT / "testbed"))
    return str(path) if path.is_file() else None


# read at import: the tests' autouse fixture clears GITOPS_MCP_* from the environment
KUBECTL = os.environ.get("GITOPS_MCP_KUBECTL") or testbed_kubectl() or shutil.which("kubectl")
REQUIRE_KUBECTL = os.environ.get("GITOPS_MCP_REQUIRE_KUBECTL") == "1"


def kubectl() -> str:
    """The kubectl binary, or skip the test with the reason."""
    chosen = KUBECTL
    if not chosen or not Path(chosen).is_file():
        reason = "no kubectl: run scripts/testbed build kube (CI does), or set GITOPS_MCP_KUBECTL to one"
        if REQUIRE_KUBECTL:
            pytest.fail(reason)
        pytest.skip(reason)
    return chosen


def run_kubectl(*args: str, kubeconfig: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig) if kubeconfig else os.devnull}
    return subprocess.run([kubectl(), *args], capture_output=True, text=True, timeout=timeout, env=env)


def render(directory: Path = DEPLOY) -> list[Obj]:
    """``kubectl kustomize directory``: the objects, in kustomize's order."""
    p = run_kubectl("kustomize", str(directory))
    assert p.returncode == 0, p.stderr
    return [d for d in yaml.safe_load_all(p.stdout) if d]


def key(obj: Obj) -> tuple[str, str, str | None, str]:
    meta = obj.get("metadata") or {}
    return (str(obj["apiVersion"]), str(obj["kind"]), meta.get("namespace"), str(meta["name"]))


def pick(docs: list[Obj], kind: str, name: str) -> Obj:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind} {name}: {len(found)} in the render"
    return found[0]
