"""The whole story on the simulator: the wizard pushes to a real remote, the simulated controllers
apply that commit, and the tool reports it live — or why not — and finds the owner of what it deployed."""

from __future__ import annotations

import difflib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES, make_repo, need_shared, wizard_to_preview
from doubles import world as shared
from doubles.controllers import GitOpsSimulator
from doubles.forge import FakeForge
from doubles.git_remote import GitHttpServer
from doubles.kube import FakeKube
from gitops_mcp.services import Services

TOKEN = "e2e-token-0123456789"
FORGE_TOKEN = "ghp_" + "E" * 36
REPO = "org/fleet"


@dataclass
class World:
    forge: FakeForge
    srv: GitHttpServer
    kube: FakeKube
    sim: GitOpsSimulator
    app: Services
    work: Path
    url: str


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with shared.World(tmp_path, TOKEN) as w:
        srv, kube = w.remote, w.kube
        url = w.create_repo(f"{REPO}.git")
        seed = make_repo(tmp_path / "seed", need_shared(FIXTURES / "podinfo"))
        sync = (
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: flux-system\n"
            f"  namespace: flux-system\nspec:\n  interval: 10m\n  ref:\n    branch: main\n  url: {url}\n"
        )
        (seed / "clusters/dev/flux-system").mkdir(parents=True)
        (seed / "clusters/dev/flux-system/gotk-sync.yaml").write_text(sync, encoding="utf-8")
        (seed / "clusters/dev/flux-system/kustomization.yaml").write_text(
            "resources:\n  - gotk-sync.yaml\n", encoding="utf-8"
        )
        (seed / "argocd").mkdir()
        (seed / "argocd/README.md").write_text("Applications live here.\n", encoding="utf-8")
        w.git(seed, "add", "-A")
        w.git(seed, "commit", "-qm", "bootstrap")
        w.git(seed, "push", "-q", url, "main")
        work = tmp_path / "work"
        w.git(tmp_path, "clone", "-q", url, str(work))
        with FakeForge(srv.root, FORGE_TOKEN) as forge:
            for ns in ("flux-system", "argocd", "podinfo"):
                kube.ensure_namespace(ns)
            w.flux("flux-system", url, "./clusters/dev")
            kube.put(shared.application("apps", url, "argocd", "argocd", revision="main", automated=True))
            settings = w.settings(wizard_wait_seconds=30, **forge.settings())
            with w.controllers() as sim:
                yield World(forge, srv, kube, sim, Services(settings), work, url)


FLUX_PODINFO = {"package": "kustomize", "provider": "flux", "namespace": "podinfo", "app_name": "podinfo"}


def run_wizard(app: Services, repo: Path, answers: dict[str, Any], final: dict[str, Any]) -> Any:
    v = wizard_to_preview(app, repo, answers)
    assert {q.id for q in v.questions} == {"delivery", "wait"}
    return app.wizard.answer("local", v.session_id, final)


def test_flux_wizard_push_is_live_and_owned(world: World) -> None:
    v = run_wizard(world.app, world.work, FLUX_PODINFO, {"delivery": "push", "wait": True})
    assert v.status == "done", v.errors
    r = v.result
    assert r.file == "clusters/dev/podinfo.yaml" and r.commit_sha == world.srv.head(f"{REPO}.git")
    assert r.live is True, r.message
    assert [w.status.name for w in r.verification] == ["flux-system", "podinfo"]
    assert all(w.outcome == "synced" and w.status.revision == f"main@sha1:{r.commit_sha}" for w in r.verification)
    # the GitRepository of the bootstrap was reused; the workload is there, owned, and its file is known
    dep = world.kube.find("apps/v1", "Deployment", "podinfo", "podinfo")
    assert dep is not None and dep["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] == "podinfo"
    owner = world.app.cluster.find_owner("apps/v1", "Deployment", "podinfo", "podinfo", repo_path=str(world.work))
    assert [(c.kind, c.name) for c in owner.chain] == [
        ("Kustomization", "podinfo"),
        ("Kustomization", "flux-system"),
        ("GitRepository", "flux-system"),
    ]
    assert owner.git is not None and owner.git.path == "./kustomize" and owner.git.url == world.url
    assert owner.file is not None and owner.file.file == "kustomize/deployment.yaml"


def test_argocd_wizard_push_through_app_of_apps(world: World) -> None:
    v = run_wizard(
        world.app,
        world.work,
        {
            "package": "kustomize",
            "provider": "argocd",
            "namespace": "podinfo",
            "app_name": "podinfo",
            "output_path": "argocd/podinfo.yaml",
        },
        {"delivery": "push", "wait": True},
    )
    r = v.result
    assert r is not None and r.live is True, r.message if r else v.errors
    assert [w.status.name for w in r.verification] == ["apps", "podinfo"]
    assert r.verification[-1].status.revision == r.commit_sha
    dep = world.kube.find("apps/v1", "Deployment", "podinfo", "podinfo")
    assert dep is not None and "argocd.argoproj.io/tracking-id" in dep["metadata"]["annotations"]


def test_broken_manifest_reports_the_controller_error(world: World) -> None:
    ok = run_wizard(world.app, world.work, FLUX_PODINFO, {"delivery": "push", "wait": True})
    assert ok.result.live
    (world.work / "kustomize/deployment.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: [x\n", encoding="utf-8"
    )
    commit = world.app.git.commit(str(world.work), ["kustomize/deployment.yaml"], "break podinfo")
    world.app.cluster.reconcile("Kustomization", "podinfo", "flux-system")
    w = world.app.cluster.wait("Kustomization", "podinfo", "flux-system", commit.commit_sha, 20)
    assert w.outcome == "failed" and "kustomize build failed" in w.message


def deploy_podinfo(world: World) -> None:
    v = run_wizard(world.app, world.work, FLUX_PODINFO, {"delivery": "push", "wait": True})
    assert v.result.live, v.result.message


def test_remediate_push_is_verified_live(world: World) -> None:
    from gitops_mcp.remediation import SetImage

    deploy_podinfo(world)
    before = (world.work / "kustomize/deployment.yaml").read_text(encoding="utf-8")
    image = "ghcr.io/stefanprodan/podinfo:6.14.2"  # replicas: refused, the package's HPA decides them
    r = world.app.remediation.remediate(
        "apps/v1", "Deployment", "podinfo", "podinfo", SetImage(image=image), mode="push", repo_path=str(world.work)
    )
    assert r.live_ok is True, r.message
    assert r.plan is not None and [e.file for e in r.plan.edits] == ["kustomize/deployment.yaml"]
    assert r.commit is not None and r.commit.status == "pushed"
    assert r.verification is not None and r.verification.outcome == "synced"
    after = (world.work / "kustomize/deployment.yaml").read_text(encoding="utf-8")
    changed = [ln for ln in difflib.ndiff(before.splitlines(), after.splitlines()) if ln[:1] in "+-"]
    assert len(changed) <= 2, changed
    live = world.kube.find("apps/v1", "Deployment", "podinfo", "podinfo")
    assert live is not None and live["spec"]["template"]["spec"]["containers"][0]["image"] == image


def test_remediate_as_pull_request_and_refusals(world: World) -> None:
    from gitops_mcp.errors import GitOpsError
    from gitops_mcp.remediation import SetEnv, SetImage

    deploy_podinfo(world)
    head = world.srv.head(f"{REPO}.git")
    r = world.app.remediation.remediate(
        "apps/v1",
        "Deployment",
        "podinfo",
        "podinfo",
        SetEnv(name="PODINFO_UI_MESSAGE", value="fixed via git"),
        repo_path=str(world.work),
    )
    assert r.commit is not None and r.commit.pr_url and world.srv.head(f"{REPO}.git") == head  # main untouched
    assert "after the merge" in r.message
    world.kube.ensure_namespace("manual")
    world.kube.put(
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "hand", "namespace": "manual"}, "spec": {}}
    )
    with pytest.raises(GitOpsError, match="not managed"):
        world.app.remediation.remediate(
            "apps/v1", "Deployment", "hand", "manual", SetImage(image="x:1"), repo_path=str(world.work)
        )
    assert world.srv.head(f"{REPO}.git") == head


def test_production_needs_three_replicas(world: World) -> None:
    """'The cache deployment in production needs 3 replicas': the production overlay only, through a
    pull request; after the merge the controller applies it and the tool reports it live. (The
    frontend's replicas are its HPA's: refused, see tests/remediation/test_governing_edits.py.)"""
    from gitops_mcp.remediation import SetReplicas

    world.kube.put(shared.kustomization("podinfo-production", "./deploy/overlays/production", "flux-system"))
    first = world.app.cluster.wait("Kustomization", "podinfo-production", "flux-system", None, 20)
    assert first.outcome == "synced", first.message
    r = world.app.remediation.remediate(
        "apps/v1",
        "Deployment",
        "cache",
        "production",
        SetReplicas(replicas=3),
        mode="pull_request",
        repo_path=str(world.work),
    )
    assert r.plan is not None and [e.file for e in r.plan.edits] == ["deploy/overlays/production/kustomization.yaml"]
    assert r.plan.affects == [] and "production" in r.plan.edits[0].reason
    assert "-" not in "".join(ln[0] for ln in r.diff.splitlines()[2:] if ln[:1] in "+-")  # only additions
    assert r.commit is not None and r.commit.pr_url
    # the reviewer merges the pull request (a fast-forward of main to the PR branch)
    subprocess.run(
        ["git", "push", "-q", world.url, f"{r.commit.commit_sha}:refs/heads/main"],
        cwd=world.work,
        check=True,
        env=world.srv.client_env(),
    )
    world.app.cluster.reconcile("Kustomization", "podinfo-production", "flux-system")
    w = world.app.cluster.wait("Kustomization", "podinfo-production", "flux-system", r.commit.commit_sha, 20)
    assert w.outcome == "synced", w.message
    assert world.kube.find("apps/v1", "Deployment", "production", "cache")["spec"]["replicas"] == 3  # type: ignore[index]
    for env in ("dev", "staging"):  # the other environments are untouched in Git
        assert "replicas:" not in world.srv.show(f"{REPO}.git", "main", f"deploy/overlays/{env}/kustomization.yaml")


def test_change_that_would_make_the_manifest_invalid_is_refused(world: World) -> None:
    from gitops_mcp.errors import PolicyViolation
    from gitops_mcp.remediation import MergePatch

    deploy_podinfo(world)
    head = world.srv.head(f"{REPO}.git")
    before = (world.work / "kustomize/deployment.yaml").read_text(encoding="utf-8")
    with pytest.raises(PolicyViolation, match="invalid"):
        world.app.remediation.remediate(
            "apps/v1",
            "Deployment",
            "podinfo",
            "podinfo",
            MergePatch(patch={"metadata": {"name": "Not_A_Valid_Name"}}),
            mode="push",
            repo_path=str(world.work),
        )
    assert (world.work / "kustomize/deployment.yaml").read_text(encoding="utf-8") == before
    assert world.srv.head(f"{REPO}.git") == head


def test_scaffolded_fleet_syncs_infrastructure_before_apps(world: World) -> None:
    """scaffold_fleet pushes a layout; the dev cluster's bootstrap is kept; the controller applies the
    new Kustomizations in dependsOn order, and an app added to the dev overlay goes live in dev only."""
    ready_order: list[str] = []

    def record(ev: Any) -> None:
        obj = ev.obj
        if obj.get("kind") != "Kustomization":
            return
        name = obj["metadata"]["name"]
        ready = [c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"]
        if ready and ready[0]["status"] == "True" and name not in ready_order:
            ready_order.append(name)

    world.kube.hooks.append(record)
    r = world.app.fleet.scaffold(
        str(world.work),
        "flux",
        environments=["dev", "staging"],
        repo_url=world.url,
        notifications={"type": "slack", "channel": "#ops"},
        delivery="push",
    )
    assert r.commit is not None and r.commit.status == "pushed" and r.commit.commit_sha
    paths = {f.path for f in r.files}
    assert "clusters/dev/flux-system/gotk-sync.yaml" not in paths  # the existing bootstrap is kept
    assert {"clusters/dev/infrastructure.yaml", "clusters/dev/apps.yaml", "apps/staging/kustomization.yaml"} <= paths
    sha = r.commit.commit_sha
    world.app.cluster.reconcile("Kustomization", "flux-system", "flux-system")
    assert world.app.cluster.wait("Kustomization", "flux-system", "flux-system", sha, 20).outcome == "synced"
    for name in ("infra-controllers", "infra-configs", "apps"):
        w = world.app.cluster.wait("Kustomization", name, "flux-system", sha, 20)
        assert w.outcome == "synced", w.message
    order = [n for n in ready_order if n in ("infra-controllers", "infra-configs", "apps")]
    assert order == ["infra-controllers", "infra-configs", "apps"]
    assert world.kube.find("notification.toolkit.fluxcd.io/v1beta3", "Alert", "flux-system", "dev") is not None
    # an app in the shared base, enabled by the dev overlay only, goes live through the layout
    base = world.work / "apps/base/web"
    base.mkdir(parents=True)
    (base / "kustomization.yaml").write_text("resources:\n  - configmap.yaml\n", encoding="utf-8")
    (base / "configmap.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n  namespace: podinfo\ndata:\n  color: blue\n",
        encoding="utf-8",
    )
    dev = world.work / "apps/dev/kustomization.yaml"
    dev.write_text(dev.read_text(encoding="utf-8").replace("  - ../base\n", "  - ../base/web\n"), encoding="utf-8")
    c = world.app.shared.delivery.commit_and_push(
        world.work,
        ["apps/base/web/kustomization.yaml", "apps/base/web/configmap.yaml", "apps/dev/kustomization.yaml"],
        "Run web in dev",
    )
    world.app.cluster.reconcile("Kustomization", "apps", "flux-system")
    assert world.app.cluster.wait("Kustomization", "apps", "flux-system", c.commit_sha, 20).outcome == "synced"
    live = world.kube.find("v1", "ConfigMap", "podinfo", "web")
    assert live is not None and live["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] == "apps"


def test_oci_artifact_goes_live_and_is_verified_by_its_commit(world: World) -> None:
    """push_artifact packs kustomize/ from the checked-out commit, the generated OCIRepository +
    Kustomization go in through Git, the simulated source-controller pulls the artifact from the
    registry, and wait_for_sync accepts the Git commit the artifact was built from."""
    from pydantic import SecretStr

    from doubles.registry import FakeRegistry

    with FakeRegistry({"robot": "oci-secret-pw"}) as reg:
        app = Services(
            world.app.settings.model_copy(
                update={
                    "oci_username": "robot",
                    "oci_password": SecretStr("oci-secret-pw"),
                    "allowed_oci_hosts": [reg.host],
                    "oci_allow_http": True,
                }
            )
        )
        url = f"oci://{reg.host}/apps/podinfo:latest"
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=world.work, check=True, capture_output=True, text=True
        ).stdout.strip()
        r = app.artifacts.push(
            str(world.work / "kustomize"), url, generate=True, name="podinfo-oci", target_namespace="podinfo"
        )
        assert r.yaml and r.revision == f"main@sha1:{head}"
        (world.work / "clusters/dev/podinfo-oci.yaml").write_text(r.yaml, encoding="utf-8")
        c = app.shared.delivery.commit_and_push(
            world.work, ["clusters/dev/podinfo-oci.yaml"], "Deploy podinfo from OCI"
        )
        app.cluster.reconcile("Kustomization", "flux-system", "flux-system")
        assert app.cluster.wait("Kustomization", "flux-system", "flux-system", c.commit_sha, 20).outcome == "synced"
        w = app.cluster.wait("Kustomization", "podinfo-oci", "flux-system", head, 20)
        assert w.outcome == "synced", w.message
        assert w.status.revision == r.flux_revision and w.status.origin_revision == f"main@sha1:{head}"
        assert app.cluster.wait("Kustomization", "podinfo-oci", "flux-system", r.digest, 5).outcome == "synced"
        live = world.kube.find("apps/v1", "Deployment", "podinfo", "podinfo")
        assert live is not None and live["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] == "podinfo-oci"
        # a change: committed, pushed as a new artifact, reconciled source first, verified by its commit
        path = world.work / "kustomize/deployment.yaml"
        text = path.read_text(encoding="utf-8")
        assert "  minReadySeconds: 3\n" in text
        path.write_text(
            text.replace("  minReadySeconds: 3\n", "  minReadySeconds: 3\n  replicas: 4\n", 1), encoding="utf-8"
        )
        second = app.shared.delivery.commit_and_push(world.work, ["kustomize/deployment.yaml"], "podinfo: 4 replicas")
        again = app.artifacts.push(str(world.work / "kustomize"), url)
        assert again.digest != r.digest and again.revision == f"main@sha1:{second.commit_sha}"
        app.cluster.reconcile("Kustomization", "podinfo-oci", "flux-system", with_source=True)
        w = app.cluster.wait("Kustomization", "podinfo-oci", "flux-system", second.commit_sha, 20)
        assert w.outcome == "synced", w.message
        live = world.kube.find("apps/v1", "Deployment", "podinfo", "podinfo")
        assert live is not None and live["spec"]["replicas"] == 4


def test_replicas_an_autoscaler_in_the_cluster_decides_are_refused(world: World) -> None:
    """An HPA that only the cluster has (none in Git) still decides the live count: refused, nothing pushed."""
    from gitops_mcp.remediation import Refused, SetReplicas

    world.kube.put(shared.kustomization("podinfo-production", "./deploy/overlays/production", "flux-system"))
    first = world.app.cluster.wait("Kustomization", "podinfo-production", "flux-system", None, 20)
    assert first.outcome == "synced", first.message
    head = world.srv.head(f"{REPO}.git")
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "cache-by-hand", "namespace": "production"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "cache"}, "maxReplicas": 5},
    }
    world.kube.put(hpa)
    with pytest.raises(Refused, match=r"HorizontalPodAutoscaler production/cache-by-hand in the cluster scales"):
        world.app.remediation.remediate(
            "apps/v1",
            "Deployment",
            "cache",
            "production",
            SetReplicas(replicas=3),
            mode="push",
            repo_path=str(world.work),
        )
    assert world.srv.head(f"{REPO}.git") == head
