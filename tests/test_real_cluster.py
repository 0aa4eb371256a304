"""Opt-in: the same cluster operations against a real cluster.

Set GITOPS_MCP_E2E_KUBECONFIG (and optionally GITOPS_MCP_E2E_CONTEXT). Read-only scenarios use
GITOPS_MCP_E2E_OBJECT=<Kind>/<namespace>/<name> (default Kustomization/flux-system/flux-system) and
GITOPS_MCP_E2E_OWNED=<apiVersion>/<Kind>/<namespace>/<name> (a workload the controller applied).
The push scenario additionally needs GITOPS_MCP_E2E_REPO (a local clone the controller's source
reads, with push access configured for this server) and GITOPS_MCP_E2E_FILE (a file in it that
the object applies): it commits a harmless change to that file, reconciles and waits.
The register scenario needs GITOPS_MCP_E2E_REPO and GITOPS_MCP_E2E_REGISTER_FILE (a committed and
pushed file in it holding root GitOps objects, e.g. a GitRepository + Kustomization or an
Application, that nothing in the cluster applies yet): it applies them (dry run first, then
server-side apply as gitops-mcp) and waits until the controller has applied the pushed commit.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitops_mcp.services import Services
from gitops_mcp.settings import Settings

KUBECONFIG = os.environ.get("GITOPS_MCP_E2E_KUBECONFIG")
pytestmark = pytest.mark.skipif(not KUBECONFIG, reason="set GITOPS_MCP_E2E_KUBECONFIG to run against a real cluster")


def real_app(tmp_path: Path) -> Services:
    roots = [tmp_path] + (
        [Path(os.environ["GITOPS_MCP_E2E_REPO"]).resolve()] if os.environ.get("GITOPS_MCP_E2E_REPO") else []
    )
    return Services(
        Settings(
            kubeconfig=Path(KUBECONFIG or ""),
            kube_context=os.environ.get("GITOPS_MCP_E2E_CONTEXT"),
            allowed_roots=roots,
            state_dir=tmp_path / "state",
            allowed_git_hosts=os.environ.get("GITOPS_MCP_E2E_GIT_HOSTS", "github.com").split(","),
        )
    )


def target() -> tuple[str, str, str]:
    kind, ns, name = os.environ.get("GITOPS_MCP_E2E_OBJECT", "Kustomization/flux-system/flux-system").split("/")
    return kind, ns, name


def test_real_controllers_and_status(tmp_path: Path) -> None:
    app = real_app(tmp_path)
    report = app.inspect.provider_report()
    assert report.cluster_error is None, report.cluster_error
    assert report.controllers and any(c.installed for c in report.controllers)
    kind, ns, name = target()
    st = app.cluster.sync_status(kind, name, ns)
    assert st.state != "not_found", st.message
    w = app.cluster.wait(kind, name, ns, None, 120)
    assert w.outcome in ("synced", "failed"), w.message


def test_real_find_owner(tmp_path: Path) -> None:
    owned = os.environ.get("GITOPS_MCP_E2E_OWNED")
    if not owned:
        pytest.skip("set GITOPS_MCP_E2E_OWNED=<apiVersion>/<Kind>/<namespace>/<name>")
    *api, kind, ns, name = owned.split("/")
    r = real_app(tmp_path).cluster.find_owner(
        "/".join(api), kind, name, ns, repo_path=os.environ.get("GITOPS_MCP_E2E_REPO")
    )
    assert r.managed and r.git is not None, r.message
    assert r.api_calls <= 8


def test_real_push_reconcile_wait(tmp_path: Path) -> None:
    repo, file = os.environ.get("GITOPS_MCP_E2E_REPO"), os.environ.get("GITOPS_MCP_E2E_FILE")
    if not repo or not file:
        pytest.skip("set GITOPS_MCP_E2E_REPO and GITOPS_MCP_E2E_FILE for the push scenario")
    app = real_app(tmp_path)
    path = Path(repo) / file
    path.write_text(path.read_text(encoding="utf-8").rstrip("\n") + "\n# gitops-mcp e2e touch\n", encoding="utf-8")
    commit = app.git.commit(repo, [file], "gitops-mcp e2e: touch")
    kind, ns, name = target()
    app.cluster.reconcile(kind, name, ns, with_source=True)
    w = app.cluster.wait(kind, name, ns, commit.commit_sha, 300)
    assert w.outcome == "synced", w.message


def test_real_register_then_live(tmp_path: Path) -> None:
    repo, file = os.environ.get("GITOPS_MCP_E2E_REPO"), os.environ.get("GITOPS_MCP_E2E_REGISTER_FILE")
    if not repo or not file:
        pytest.skip("set GITOPS_MCP_E2E_REPO and GITOPS_MCP_E2E_REGISTER_FILE for the register scenario")
    app = real_app(tmp_path)
    r = app.registrar.register(repo, file)
    assert r.ok and r.applied, r.message
    assert not any(s.reason.startswith("it has no") for s in r.skipped), r.skipped
    verify = {k for p in app.shared.registry for k in p.verify_kinds}
    target_ = next(o for o in r.applied if o.kind in verify and o.namespace)
    assert target_.namespace is not None
    app.cluster.reconcile(target_.kind, target_.name, target_.namespace, with_source=True)
    w = app.cluster.wait(target_.kind, target_.name, target_.namespace, r.commit_sha, 300)
    assert w.outcome == "synced", w.message
