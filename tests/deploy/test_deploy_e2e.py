"""Issue 12's done-when, as a new user would do it: a repository holding this project's
deploy/kubernetes on the git remote, a Flux GitRepository and Kustomization pointing at it (valid
for the real Flux CRDs, applied with kubectl), the namespace and the Secret created by hand; the
simulated Flux controllers apply it, and the cluster has the server's two replicas and a Redis,
exactly what ``kubectl kustomize`` renders, with the Kustomization Ready at the pushed commit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import CRDS, need_shared
from deploy_kit import DEPLOY, NAMESPACE, REGISTRATION, key, render, run_kubectl
from doubles import world as shared
from gitops_mcp.services import Services

IMAGE = "registry.example.com/platform/gitops-mcp"


def flux_objects(url: str) -> list[dict]:
    """What the user writes: the source, a Kustomization for the base (their image), one for registration/."""
    base = shared.kustomization("gitops-mcp", "./deploy/kubernetes", "gitops-mcp")
    base["spec"]["images"] = [{"name": "gitops-mcp", "newName": IMAGE, "newTag": "0.1.0"}]
    reg = shared.kustomization("gitops-mcp-registration", "./deploy/kubernetes/registration", "gitops-mcp")
    return [shared.git_repository("gitops-mcp", url), base, reg]


def inventory_id(obj: dict) -> str:
    api_version, kind, ns, name = key(obj)
    return f"{ns or ''}_{name}_{api_version.rpartition('/')[0]}_{kind}"


def inventory(w: shared.World, name: str) -> set[str]:
    ks = w.kube.find("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", name)
    assert ks is not None
    return {e["id"] for e in ks["status"]["inventory"]["entries"]}


def test_flux_pointed_at_deploy_kubernetes_runs_two_replicas_and_a_redis(tmp_path: Path) -> None:
    rendered = render(DEPLOY)
    with shared.World(tmp_path) as w:
        files = {
            f"deploy/kubernetes/{p.relative_to(DEPLOY).as_posix()}": p.read_text(encoding="utf-8")
            for p in sorted(DEPLOY.rglob("*"))
            if p.is_file()
        }
        work = tmp_path / "work"
        url = w.seed("org/gitops-mcp.git", work, files)
        sha = w.git(work, "rev-parse", "HEAD")
        flux = tmp_path / "flux.yaml"
        flux.write_text(yaml.safe_dump_all(flux_objects(url), sort_keys=False), encoding="utf-8")
        check = subprocess.run(
            [sys.executable, str(need_shared(CRDS / "validate.py")), str(flux)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        # the user's part: kubectl create namespace + secret, then the Flux objects
        w.kube.ensure_namespace("flux-system")
        w.kube.ensure_namespace(NAMESPACE)
        w.kube.put(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "gitops-mcp", "namespace": NAMESPACE},
                "stringData": {"GITOPS_MCP_AUTH_TOKEN": "a" * 64, "GITOPS_MCP_REDIS_PASSWORD": "r" * 64},
            }
        )
        cfg = w.kube.kubeconfig(tmp_path / "kubeconfig")
        p = run_kubectl("apply", "--server-side", "--validate=false", "-f", str(flux), kubeconfig=cfg)
        assert p.returncode == 0, p.stderr
        app = Services(w.settings())
        try:
            with w.controllers():
                for name in ("gitops-mcp", "gitops-mcp-registration"):
                    done = app.cluster.wait("Kustomization", name, "flux-system", sha, 30)
                    assert done.outcome == "synced", done.message
                    assert done.status.revision == f"main@sha1:{sha}"
            owner = app.cluster.find_owner("apps/v1", "Deployment", "gitops-mcp", NAMESPACE, repo_path=str(work))
        finally:
            app.close()
        server = w.kube.find("apps/v1", "Deployment", NAMESPACE, "gitops-mcp")
        assert server is not None
        assert server["spec"]["replicas"] == 2 and server["status"]["readyReplicas"] == 2
        assert server["spec"]["template"]["spec"]["containers"][0]["image"] == f"{IMAGE}:0.1.0"
        for kind, api in (("Deployment", "apps/v1"), ("Service", "v1"), ("PersistentVolumeClaim", "v1")):
            assert w.kube.find(api, kind, NAMESPACE, "gitops-mcp-redis") is not None, kind
        assert w.kube.find("rbac.authorization.k8s.io/v1", "ClusterRole", None, "gitops-mcp-registration")
        # what the controller applied is what kustomize renders (the simulated build agrees with the real one)
        assert inventory(w, "gitops-mcp") == {inventory_id(o) for o in rendered}
        assert inventory(w, "gitops-mcp-registration") == {inventory_id(o) for o in render(REGISTRATION)}
        for obj in rendered:
            live = w.kube.find(*key(obj))
            assert live is not None
            assert live["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] == "gitops-mcp"
            if key(obj)[1:] != ("Deployment", NAMESPACE, "gitops-mcp"):  # that one has the user's image
                assert json.dumps(live.get("spec"), sort_keys=True) == json.dumps(obj.get("spec"), sort_keys=True)
        # and the server's own owner lookup leads back to the file in this repository
        assert [c.kind for c in owner.chain] == ["Kustomization", "GitRepository"], owner.message
        assert owner.file is not None and owner.file.file == "deploy/kubernetes/deployment.yaml"
