"""The wizard's live effect for a session started by git URL (the remote ``git http-backend`` with
auth, the fake API server): rendered from a fresh working tree at the remote's tip of the
session's branch, never from the sparse cached clone; a chart from a Helm or OCI repository is
said to be unavailable offline, by name, never left out."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES, make_repo, need_shared
from doubles.world import World
from gitops_mcp.services import Services

pytestmark = pytest.mark.skipif(
    shutil.which("kustomize") is None and shutil.which("kubectl") is None, reason="no kustomize or kubectl on PATH"
)
TOKEN = "effect-url-token-0123456789"
APPLY = "application/apply-patch+yaml"
PODINFO = {"package": "kustomize", "namespace": "podinfo", "app_name": "podinfo"}


class Remote:
    def __init__(self, world: World, url: str, work: Path, app: Services) -> None:
        self.world, self.url, self.work, self.app = world, url, work, app

    def push(self, rel: str, text: str) -> None:
        """Commit ``rel`` on main of the remote (from another clone): the session's tip moves on."""
        (self.work / rel).write_text(text, encoding="utf-8")
        w = self.world
        w.git(self.work, "add", "-A")
        w.git(self.work, "-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-qm", f"edit {rel}")
        w.git(self.work, "push", "-q", "origin", "main")

    def preview(self, answers: dict[str, Any], meanwhile: Callable[[], None] = lambda: None) -> Any:
        """A wizard session started by the URL (``meanwhile`` runs after it started), answered up
        to a valid preview."""
        v = self.app.wizard.start("local", self.url)
        meanwhile()
        for _ in range(8):
            v = self.app.wizard.answer("local", v.session_id, answers, accept_defaults=True)
            answers = {}
            if v.step == "preview":
                break
        assert v.step == "preview" and v.preview is not None and v.preview.validation.valid, v
        return v


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[Remote]:
    """podinfo (the shared fixture) on the authenticated remote; no clone on the server's side."""
    with World(tmp_path, TOKEN) as w:
        url = w.create_repo("org/podinfo.git")
        seed = make_repo(tmp_path / "seed", need_shared(FIXTURES / "podinfo"))
        w.git(seed, "push", "-q", url, "main")
        work = tmp_path / "work"
        w.git(tmp_path, "clone", "-q", url, str(work))
        for ns in ("flux-system", "argocd", "podinfo"):
            w.kube.ensure_namespace(ns)
        app = Services(w.settings())
        try:
            yield Remote(w, url, work, app)
        finally:
            app.close()


def _worktrees(root: Path) -> list[Path]:
    """Checked-out files of the server's working trees under the cache (none once a call ended)."""
    return [p for p in (root / "cache").rglob("deployment.yaml") if ".git" not in p.parts]


@pytest.mark.parametrize("provider", ["flux", "argocd"])
def test_a_session_by_url_shows_the_live_effect_of_the_remote_tip(remote: Remote, provider: str) -> None:
    """Started by URL, then the package gains a ConfigMap on the remote: the preview's live effect
    renders the remote's tip (the ConfigMap is created), dry-run as the controller; nothing is
    stored in the cluster and no working tree is left behind."""
    w = remote.world

    def meanwhile() -> None:  # after the session's clone was made
        remote.push("kustomize/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata: {a: b}\n")
        k = (remote.work / "kustomize/kustomization.yaml").read_text(encoding="utf-8")
        remote.push("kustomize/kustomization.yaml", k.replace("resources:\n", "resources:\n  - cm.yaml\n", 1))

    v = remote.preview({**PODINFO, "provider": provider}, meanwhile)
    e = v.preview.live_effect
    assert e is not None and e.skipped is None, e
    created = {(c.kind, c.name) for c in e.created}
    own = (
        {("GitRepository", "podinfo"), ("Kustomization", "podinfo")}
        if provider == "flux"
        else {("Application", "podinfo")}
    )
    assert own | {("Deployment", "podinfo"), ("Service", "podinfo"), ("ConfigMap", "extra")} <= created, created
    assert not e.refused and not e.pruned and not e.changed, e
    applies = [r for r in w.kube.requests if r.content_type == APPLY]
    assert applies and all(r.query.get("dryRun") == ["All"] for r in applies)
    assert w.kube.find("apps/v1", "Deployment", "podinfo", "podinfo") is None
    assert _worktrees(w.root) == []
    assert TOKEN not in e.model_dump_json()


def test_a_session_by_url_for_an_app_already_live_shows_what_changes(remote: Remote) -> None:
    """podinfo already applied by the Flux Kustomization the wizard writes again: its preview by URL
    shows the changed image (from the remote's tip) and nothing created but what is new."""
    w = remote.world
    first = remote.preview({**PODINFO, "provider": "flux"})
    e0 = first.preview.live_effect
    assert e0 is not None and e0.skipped is None, e0
    for o in _objects(first.preview.yaml):  # registered, then applied by the (simulated) controllers
        w.kube.put(o)
    with w.controllers() as sim:
        sim.settle()
    assert w.kube.find("apps/v1", "Deployment", "podinfo", "podinfo") is not None
    d = (remote.work / "kustomize/deployment.yaml").read_text(encoding="utf-8")
    assert "image: ghcr.io/stefanprodan/podinfo:" in d
    remote.push("kustomize/deployment.yaml", _retag(d))
    v = remote.preview({**PODINFO, "provider": "flux"})
    e = v.preview.live_effect
    assert e is not None and e.skipped is None, e
    assert ("Deployment", "podinfo") in {(c.kind, c.name) for c in e.changed}, e
    dep = next(c for c in e.changed if c.kind == "Deployment")
    assert "spec.template.spec.containers[name=podinfod].image" in dep.fields, dep


def _objects(text: str) -> list[dict[str, Any]]:
    import yaml

    return [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]


def _retag(deployment: str) -> str:
    return re.sub(r"(image: ghcr.io/stefanprodan/podinfo:)\S+", r"\g<1>6.99.0", deployment)


@pytest.mark.parametrize("provider", ["flux", "argocd"])
@pytest.mark.parametrize(
    "chart_url", ["https://charts.example.test/podinfo", "oci://registry.example.test/charts"], ids=["helm", "oci"]
)
def test_a_chart_from_a_repository_is_said_unavailable_by_name(remote: Remote, provider: str, chart_url: str) -> None:
    """The build sandbox has no network: a chart from a Helm or OCI repository is not rendered,
    and the preview says so naming the chart and where it comes from (nothing is fetched)."""
    chart = {"package": "chart", "chart_url": chart_url, "chart": "podinfo", "chart_version": "6.7.0"}
    v = remote.preview({**chart, "namespace": "podinfo", "app_name": "podinfo", "provider": provider})
    e = v.preview.live_effect
    assert e is not None and e.skipped is not None, e
    # Flux's OCIRepository (chartRef) is the chart's own artifact: its URL names the chart; Argo CD's
    # OCI chart repository is written without its scheme
    scheme, _, where = chart_url.partition("://")
    assert re.fullmatch(
        rf"chart (podinfo )?from ({scheme}://)?{re.escape(where)}(/podinfo)? is not rendered offline \(.*\)",
        e.skipped,
    ), e.skipped
    assert not (e.created or e.changed or e.pruned)
    assert e.text() == f"Live effect unavailable: {e.skipped}."


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_get_sync_status_of_a_chart_release_from_a_repository_says_why(remote: Remote, engine: str) -> None:
    """``get_sync_status(revision=)`` of what installs a chart from a Helm repository: the reason,
    naming the repository (read from the HelmRepository in the cluster), instead of a render."""
    w, helm = remote.world, "https://charts.example.test/podinfo"
    if engine == "flux":
        w.kube.put(
            {
                "apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": "HelmRepository",
                "metadata": {"name": "podinfo", "namespace": "flux-system"},
                "spec": {"url": helm, "interval": "10m"},
            }
        )
        kind, api = "HelmRelease", "helm.toolkit.fluxcd.io/v2"
        spec: dict[str, Any] = {
            "interval": "10m",
            "chart": {"spec": {"chart": "podinfo", "sourceRef": {"kind": "HelmRepository", "name": "podinfo"}}},
        }
        ns = "flux-system"
    else:
        kind, api, ns = "Application", "argoproj.io/v1alpha1", "argocd"
        spec = {
            "project": "default",
            "source": {"repoURL": helm, "chart": "podinfo", "targetRevision": "6.7.0"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "podinfo"},
        }
    w.kube.put({"apiVersion": api, "kind": kind, "metadata": {"name": "podinfo", "namespace": ns}, "spec": spec})
    s = remote.app.cluster.sync_status(kind, "podinfo", ns, revision="main")
    e = s.live_effect
    assert e is not None and e.skipped == (
        f"chart podinfo from {helm} is not rendered offline (the build sandbox has no network)"
    ), e
