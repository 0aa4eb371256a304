"""The live effect of a change before it merges, against the fake API server and the simulated
controllers (Flux and Argo CD): a remediation's pull request says per object what the merge
would create, change (the field paths) and prune, from a real kustomize build in the sandbox and
a server-side dry run; then the controllers do exactly that."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import FIXTURES, make_repo, need_shared, wizard_to_preview
from doubles.forge import FakeForge
from doubles.kube import FakeKube
from doubles.world import World
from gitops_mcp.cluster.client import KubeClient
from gitops_mcp.cluster.fielddiff import changed_paths, object_diff
from gitops_mcp.errors import ClusterError
from gitops_mcp.providers.effects import MAX_LISTED, Effect, LiveEffect
from gitops_mcp.remediation import Remove, SetImage
from gitops_mcp.services import Services
from gitops_mcp.settings import Settings
from lifecycle_kit import NS, Env, make_env

pytestmark = pytest.mark.skipif(
    shutil.which("kustomize") is None and shutil.which("kubectl") is None, reason="no kustomize or kubectl on PATH"
)
APPLY = "application/apply-patch+yaml"
FLUX_API, ARGO_API = "kustomize.toolkit.fluxcd.io/v1", "argoproj.io/v1alpha1"


FORGE_TOKEN = "forge-token-live-effect-0123"


@pytest.fixture(params=["flux", "argocd"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    """The lifecycle world (an app ``web`` of a Deployment and a ConfigMap, applied by a child of
    the bootstrap) with a fake forge for pull requests."""
    for e in make_env(tmp_path, request.param):
        with FakeForge(e.world.remote.root, FORGE_TOKEN) as forge:
            settings = e.world.settings(**forge.settings())
            e.app = Services(settings)
            e.forge = forge  # type: ignore[attr-defined]
            try:
                yield e
            finally:
                e.app.close()


def pr_body(env: Env, url: str | None) -> str:
    assert url is not None
    forge: FakeForge = env.forge  # type: ignore[attr-defined]
    [pr] = [p for pulls in forge.store.pulls.values() for p in pulls if p["html_url"] == url]
    return str(pr["body"])


def test_an_image_change_in_a_pull_request_shows_the_changed_field(env: Env) -> None:
    r = env.app.remediation.remediate(
        "apps/v1", "Deployment", "web", NS, SetImage(image="nginx:1.27"), mode="pull_request"
    )
    assert r.plan is not None
    e = r.plan.live_effect
    assert e is not None and e.skipped is None, e
    assert [(c.kind, c.name, c.fields) for c in e.changed] == [
        ("Deployment", "web", ["spec.template.spec.containers[name=web].image"])
    ]
    assert not e.created and not e.pruned and not e.refused and e.unchanged == 1  # the ConfigMap
    assert env.child[1] in e.applier
    body = pr_body(env, r.commit.pr_url if r.commit else None)
    assert "- change: Deployment web/web: spec.template.spec.containers[name=web].image" in body
    assert "nginx:1.27" not in e.text()  # paths, never values


def test_removing_the_apps_gitops_object_shows_it_pruned_with_what_it_applied(env: Env) -> None:
    kind, name, ns = env.child
    api = FLUX_API if env.engine == "flux" else ARGO_API
    r = env.app.remediation.remediate(api, kind, name, ns, Remove(), mode="pull_request")
    assert r.plan is not None
    e = r.plan.live_effect
    assert e is not None and e.skipped is None, e
    assert [(p.kind, p.name, p.note) for p in e.pruned] == [(kind, name, "with the 2 objects it applied")]
    assert not e.changed and not e.created and not e.refused
    body = pr_body(env, r.commit.pr_url if r.commit else None)
    assert f"- prune: {kind} {ns}/{name} (with the 2 objects it applied)" in body
    # merged and followed to live (the wait_for_sync call the result gives): it says they are gone
    forge: FakeForge = env.forge  # type: ignore[attr-defined]
    f = r.follow
    assert f is not None and (f.kind, f.name) == env.root[:2], f

    def progress(elapsed: float, message: str) -> None:
        if "to be merged (open)" in message and forge.store.pulls["org/apps"][0]["state"] == "open":
            forge.merge("org/apps", 1)
            env.app.cluster.reconcile(f.kind, f.name, f.namespace, with_source=True, sync=env.engine == "argocd")

    w = env.app.cluster.wait(f.kind, f.name, f.namespace, None, 60, progress, pull_request=f.pull_request)
    assert w.outcome == "synced", w.message
    assert w.message.endswith(f"; pruned and gone from the cluster: {kind} {ns}/{name} and 2 more it applied")
    assert env.live("apps/v1", "Deployment", "web") is None and env.live(api, kind, name, ns) is None


def test_a_new_object_is_created_and_a_bad_one_refused(env: Env) -> None:
    """A branch adding a Service and a Deployment the API server refuses (a changed selector is
    immutable), seen through get_sync_status(revision=<branch>)."""
    w = env.world
    w.git(env.work, "checkout", "-qb", "more")
    svc = (
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector: {app: web}\n  ports: [{port: 80}]\n"
    )
    (env.work / "apps/web/svc.yaml").write_text(svc, encoding="utf-8")
    k = (env.work / "apps/web/kustomization.yaml").read_text(encoding="utf-8")
    (env.work / "apps/web/kustomization.yaml").write_text(k + "  - svc.yaml\n", encoding="utf-8")
    d = (env.work / "apps/web/deploy.yaml").read_text(encoding="utf-8")
    (env.work / "apps/web/deploy.yaml").write_text(
        d.replace("matchLabels: {app: web}", "matchLabels: {app: web2}").replace(
            "labels: {app: web}", "labels: {app: web2}"
        ),
        encoding="utf-8",
    )
    w.git(env.work, "add", "-A")
    w.git(env.work, "-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-qm", "more")
    w.git(env.work, "push", "-q", "origin", "more")
    kind, name, ns = env.child
    s = env.app.cluster.sync_status(kind, name, ns, revision="more")
    e = s.live_effect
    assert e is not None and e.skipped is None, e
    assert [(c.kind, c.name) for c in e.created] == [("Service", "web")]
    assert [(c.kind, c.name) for c in e.refused] == [("Deployment", "web")]
    assert "field is immutable" in (e.refused[0].note or "")


def test_field_paths() -> None:
    before = {
        "metadata": {"name": "a", "resourceVersion": "1", "labels": {"app.kubernetes.io/name": "x"}},
        "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "a", "image": "x:1", "env": []}]}}},
        "status": {"ready": 1},
    }
    after = {
        "metadata": {"name": "a", "resourceVersion": "2", "labels": {"app.kubernetes.io/name": "y"}},
        "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "a", "image": "x:2"}]}}},
        "status": {"ready": 0},
    }
    assert object_diff(before, after) == [
        'metadata.labels["app.kubernetes.io/name"]',
        "spec.template.spec.containers[name=a].image",
        "spec.template.spec.containers[name=a].env",
    ]
    assert changed_paths([1, 2], [1, 2, 3]) == ["."]
    assert changed_paths({"a": [1, 2]}, {"a": [1, 3]}) == ["a[1]"]


def test_the_effect_is_bounded() -> None:
    e = LiveEffect(applier="Kustomization flux-system/x")
    for i in range(MAX_LISTED + 5):
        e.add(e.created, Effect(kind="ConfigMap", name=f"c{i}", fields=[f"data.k{j}" for j in range(40)]))
    assert len(e.created) == MAX_LISTED and e.more == 5
    assert len(e.created[0].fields) == 13 and e.created[0].fields[-1] == "... 28 more"
    assert len(e.text()) <= 6100


# -- the fake API server answers a dry-run apply as the real one does (measured on Kubernetes 1.37) ----------
DEPLOY_OBJ = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "d", "namespace": "t1"},
    "spec": {
        "selector": {"matchLabels": {"app": "d"}},
        "template": {
            "metadata": {"labels": {"app": "d"}},
            "spec": {"containers": [{"name": "c", "image": "nginx:1", "env": [{"name": "A", "value": "1"}]}]},
        },
    },
}


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[KubeClient]:
    with FakeKube() as kube:
        kube.ensure_namespace("t1")
        settings = Settings(
            allowed_roots=[tmp_path], state_dir=tmp_path / "s", kubeconfig=kube.kubeconfig(tmp_path / "kc")
        )
        with KubeClient(settings) as client:
            client.apply(DEPLOY_OBJ, dry_run=False, manager="kustomize-controller", force=True)
            yield client


def _with(**changes: Any) -> dict[str, Any]:
    d = copy.deepcopy(DEPLOY_OBJ)
    c = d["spec"]["template"]["spec"]["containers"][0]
    for k, v in changes.items():
        if v is None:
            c.pop(k)
        else:
            c[k] = v
    return d


def test_fake_dry_run_removes_what_the_manager_no_longer_applies(fake: KubeClient) -> None:
    live = fake.get("apps/v1", "Deployment", "d", "t1")
    after = fake.apply(_with(env=None), dry_run=True, manager="kustomize-controller", force=True)
    assert object_diff(live or {}, after) == ["spec.template.spec.containers[name=c].env"]
    assert fake.get("apps/v1", "Deployment", "d", "t1") == live  # a dry run stores nothing


def test_fake_dry_run_refuses_what_the_real_one_refuses(fake: KubeClient) -> None:
    d = copy.deepcopy(DEPLOY_OBJ)
    d["spec"]["selector"]["matchLabels"]["x"] = "y"
    d["spec"]["template"]["metadata"]["labels"]["x"] = "y"
    with pytest.raises(ClusterError, match=r'422 Deployment.apps "d" is invalid: spec.selector: .*field is immutable'):
        fake.apply(d, dry_run=True, manager="kustomize-controller", force=True)
    d = copy.deepcopy(DEPLOY_OBJ)
    d["spec"]["foo"] = 1
    with pytest.raises(
        ClusterError, match=r"500 failed to create typed patch object .*\.spec\.foo: field not declared"
    ):
        fake.apply(d, dry_run=True, manager="kustomize-controller", force=True)
    d = copy.deepcopy(DEPLOY_OBJ)
    d["metadata"]["namespace"] = "nons"
    with pytest.raises(ClusterError, match='404 namespaces "nons" not found'):
        fake.apply(d, dry_run=True, manager="kustomize-controller", force=True)
    d = copy.deepcopy(DEPLOY_OBJ)
    d["metadata"]["name"] = "new"
    del d["spec"]["selector"]
    with pytest.raises(ClusterError, match=r"422 .*spec.selector: Required value"):
        fake.apply(d, dry_run=True, manager="kustomize-controller", force=True)
    other = _with(image="nginx:3")
    with pytest.raises(ClusterError, match=r'409 Apply failed with 1 conflict: conflict with "kustomize-controller"'):
        fake.apply(other, dry_run=True, manager="other")  # not forced: another manager owns the image
    forced = fake.apply(other, dry_run=True, manager="other", force=True)
    assert forced["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "A", "value": "1"}]


# -- the wizard's preview -----------------------------------------------------------------------------------
@pytest.mark.parametrize("provider", ["flux", "argocd"])
def test_a_wizard_preview_shows_what_the_deploy_would_create(tmp_path: Path, provider: str) -> None:
    """podinfo (the shared fixture) not deployed yet: the preview's live effect lists the new GitOps
    objects and what they would apply from the package, dry-run as their controller; nothing is
    stored in the cluster."""
    with World(tmp_path, "effect-token-0123456789") as w:
        url = w.create_repo("org/podinfo.git")
        seed = make_repo(tmp_path / "seed", need_shared(FIXTURES / "podinfo"))
        w.git(seed, "push", "-q", url, "main")
        work = tmp_path / "work"
        w.git(tmp_path, "clone", "-q", url, str(work))
        for ns in ("flux-system", "argocd", "podinfo"):
            w.kube.ensure_namespace(ns)
        app = Services(w.settings())
        try:
            v = wizard_to_preview(
                app, work, {"package": "kustomize", "namespace": "podinfo", "app_name": "podinfo", "provider": provider}
            )
        finally:
            app.close()
    e = v.preview.live_effect
    assert e is not None and e.skipped is None, e
    created = {(c.kind, c.name) for c in e.created}
    own = (
        {("GitRepository", "podinfo"), ("Kustomization", "podinfo")}
        if provider == "flux"
        else {("Application", "podinfo")}
    )
    assert own | {("Deployment", "podinfo"), ("Service", "podinfo")} <= created, created
    assert not e.refused and not e.pruned and not e.changed, e
    assert all(r.query.get("dryRun") == ["All"] for r in w.kube.requests if r.content_type == APPLY)
    assert w.kube.find("apps/v1", "Deployment", "podinfo", "podinfo") is None


# -- how each engine renders (pure, with a real kustomize build) --------------------------------------------
class Reader:
    """The cluster as the providers read it: ConfigMaps, and Secrets it may not read (403)."""

    def __init__(self, objs: list[dict[str, Any]]) -> None:
        self.objs = objs

    def get(self, api_version: str, kind: str, name: str, namespace: str | None) -> dict[str, Any] | None:
        if kind == "Secret":
            raise ClusterError('secrets "vars" is forbidden', 403)
        return next((o for o in self.objs if (o["kind"], o["metadata"]["name"]) == (kind, name)), None)

    def list(self, api_version: str, kind: str) -> list[dict[str, Any]] | None:
        return [o for o in self.objs if o["kind"] == kind]


def _package(tmp_path: Path) -> Path:
    app = tmp_path / "repo/apps/web"
    app.mkdir(parents=True)
    (app / "kustomization.yaml").write_text("resources: [deploy.yaml, cm.yaml]\n", encoding="utf-8")
    (app / "deploy.yaml").write_text(
        yaml.safe_dump(
            {**DEPLOY_OBJ, "metadata": {"name": "web"}} | {"spec": {**DEPLOY_OBJ["spec"], "replicas": "${replicas:=2}"}}
        ),
        encoding="utf-8",
    )
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n  annotations:\n    {ann}\ndata:\n  env: ${{env}}\n"
    (app / "cm.yaml").write_text(cm.format(ann="kustomize.toolkit.fluxcd.io/substitute: disabled"), encoding="utf-8")
    return tmp_path / "repo"


def test_flux_renders_its_path_as_kustomize_controller_does(tmp_path: Path) -> None:
    from gitops_mcp.manifests.render import render
    from gitops_mcp.providers.flux.render import envsubst, rendering

    assert envsubst("${a} ${b:=x} ${c:-y} ${a:=z} ${unset}!", {"a": "1", "c": ""}) == "1 x y 1 !"
    root = _package(tmp_path)
    source = {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": "apps", "namespace": "flux-system"},
        "spec": {"url": "https://example.com/apps.git"},
    }
    vars_cm = {
        "kind": "ConfigMap",
        "metadata": {"name": "vars", "namespace": "flux-system"},
        "data": {"replicas": "3", "env": "prod"},
    }
    ks = {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "web", "namespace": "flux-system"},
        "spec": {
            "path": "./apps/web",
            "targetNamespace": "prod",
            "images": [{"name": "nginx", "newTag": "1.27"}],
            "sourceRef": {"kind": "GitRepository", "name": "apps"},
            "postBuild": {
                "substituteFrom": [{"kind": "ConfigMap", "name": "vars"}, {"kind": "Secret", "name": "vars"}]
            },
        },
    }
    how = rendering(Reader([source, vars_cm]), ks)
    assert not isinstance(how, str)
    assert how.field_manager == "kustomize-controller" and how.repo_url == "https://example.com/apps.git"
    assert any("Secret flux-system/vars are not substituted" in n for n in how.notes), how.notes
    out = render(root, how.plan)
    assert out.problem is None, out.problem
    objs = {o["kind"]: how.finish(o, True) for o in out.objects}
    dep, cm = objs["Deployment"], objs["ConfigMap"]
    assert dep["metadata"]["namespace"] == "prod" and dep["spec"]["replicas"] == 3
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert dep["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] == "web"
    assert cm["data"] == {"env": "${env}"}  # substitute: disabled
    ks["spec"]["sourceRef"] = {"kind": "OCIRepository", "name": "apps"}
    oci = {**source, "kind": "OCIRepository", "spec": {"url": "oci://registry.example/apps"}}
    assert str(rendering(Reader([oci]), ks)) == (
        "the artifact of oci://registry.example/apps is not rendered offline (the build sandbox has no network)"
    )


def test_argocd_renders_its_source_as_the_repo_server_does(tmp_path: Path) -> None:
    from gitops_mcp.manifests.render import render
    from gitops_mcp.providers.argocd.render import _images, rendering

    assert _images(["nginx=registry.example/nginx:1.27", "nginx:1.26", "redis@sha256:abc"]) == [
        {"name": "nginx", "newName": "registry.example/nginx", "newTag": "1.27"},
        {"name": "nginx", "newTag": "1.26"},
        {"name": "redis", "digest": "sha256:abc"},
    ]
    root = _package(tmp_path)
    app = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "web", "namespace": "argocd"},
        "spec": {
            "source": {
                "repoURL": "https://example.com/apps.git",
                "path": "apps/web",
                "kustomize": {"namePrefix": "p-"},
            },
            "destination": {"namespace": "prod"},
        },
    }
    how = rendering(Reader([]), app)
    assert not isinstance(how, str) and how.field_manager == "argocd-controller"
    out = render(root, how.plan)
    assert out.problem is None, out.problem
    dep = next(how.finish(o, True) for o in out.objects if o["kind"] == "Deployment")
    assert dep["metadata"]["name"] == "p-web" and dep["metadata"]["namespace"] == "prod"
    assert dep["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"] == "web:apps/Deployment:prod/p-web"
    assert dep["spec"]["replicas"] == "${replicas:=2}"  # Argo CD substitutes nothing
    app["spec"]["source"]["chart"] = "podinfo"
    assert str(rendering(Reader([]), app)).startswith(
        "chart podinfo from https://example.com/apps.git is not rendered offline"
    )


def test_a_remote_reference_is_never_fetched(tmp_path: Path) -> None:
    from gitops_mcp.manifests.render import RenderPlan, render

    root = _package(tmp_path)
    (root / "apps/web/kustomization.yaml").write_text(
        "resources: [deploy.yaml, https://github.com/org/repo//base?ref=v1]\n", encoding="utf-8"
    )
    out = render(root, RenderPlan(path="apps/web"))
    assert out.objects == [] and out.problem is not None and "is remote" in out.problem
    assert render(root, RenderPlan(path="../elsewhere")).problem == "../elsewhere leaves the repository"
