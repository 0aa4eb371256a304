"""The first deploy on a cluster with Flux or Argo CD but no bootstrap of the repository (issue 11):
register the committed root GitOps objects once (dry run, then server-side apply), or find the
parent in the cluster that will apply the file; on the fake API server, the simulated controllers
and the authenticated git remote."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES, make_repo, need_shared, wizard_to_preview
from doubles import world as shared
from doubles.kube import FakeKube
from gitops_mcp.services import Services
from gitops_mcp.sessions import flow

TOKEN = "register-token-0123456789"
APPLY = "application/apply-patch+yaml"
PODINFO = {"package": "kustomize", "namespace": "podinfo", "app_name": "podinfo"}


@dataclass
class Env:
    w: shared.World
    kube: FakeKube
    url: str
    work: Path

    def app(self, **overrides: Any) -> Services:
        return Services(self.w.settings(wizard_wait_seconds=30, **overrides))


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    """podinfo on the remote, no bootstrap in it; Flux and Argo CD installed (their namespaces), nothing
    in the cluster syncs the repository."""
    with shared.World(tmp_path, TOKEN) as w:
        url = w.create_repo("org/podinfo.git")
        seed = make_repo(tmp_path / "seed", need_shared(FIXTURES / "podinfo"))
        (seed / "clusters/dev").mkdir(parents=True)
        (seed / "clusters/dev/README.md").write_text("The dev cluster syncs this directory.\n", encoding="utf-8")
        w.git(seed, "add", "-A")
        w.git(seed, "commit", "-qm", "clusters/dev")
        w.git(seed, "push", "-q", url, "main")
        work = tmp_path / "work"
        w.git(tmp_path, "clone", "-q", url, str(work))
        for ns in ("flux-system", "argocd", "podinfo"):
            w.kube.ensure_namespace(ns)
        yield Env(w, w.kube, url, work)


def applies(kube: FakeKube) -> list[tuple[str, bool]]:
    """(path, dry run) of every server-side apply request of a registration, in order (the preview's
    live effect only ever sends dry runs, forced as the controllers apply: asserted here too)."""
    calls = [r for r in kube.requests if r.content_type == APPLY]
    assert all(r.query.get("dryRun") == ["All"] for r in calls if r.query.get("force") == ["true"])
    return [(r.path, r.query.get("dryRun") == ["All"]) for r in calls if r.query.get("force") == ["false"]]


def managers(obj: dict[str, Any] | None) -> list[str]:
    assert obj is not None
    return [m["manager"] for m in obj["metadata"].get("managedFields") or []]


# -- the wizard ---------------------------------------------------------------------------------------


def test_flux_without_bootstrap_registers_and_goes_live(env: Env) -> None:
    app = env.app()
    with env.w.controllers():
        v = wizard_to_preview(app, env.work, {**PODINFO, "provider": "flux"})
        out = next(q for q in v.questions if q.id == "register")
        assert {q.id for q in v.questions} == {"delivery", "wait", "register"}
        assert out.default is False and out.help and v.preview.output_path == "gitops/flux/podinfo.yaml"
        v = app.wizard.answer("local", v.session_id, {"delivery": "push", "wait": True, "register": True})
    r = v.result
    assert v.status == "done" and r is not None, v.errors
    assert r.commit_sha == env.w.remote.head("org/podinfo.git")
    assert r.registered is not None and r.registered.ok, r.message
    assert [o.kind for o in r.registered.applied] == ["GitRepository", "Kustomization"]
    assert r.live is True, r.message
    assert r.verification[-1].status.name == "podinfo"
    assert r.verification[-1].status.revision == f"main@sha1:{r.commit_sha}"
    dep = env.kube.find("apps/v1", "Deployment", "podinfo", "podinfo")
    assert dep is not None and dep["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] == "podinfo"
    ks = env.kube.find("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "podinfo")
    assert managers(ks) == ["gitops-mcp"]
    # every root is dry-run first, then applied; nothing else is ever applied by us
    calls = applies(env.kube)
    assert [dry for _, dry in calls] == [True, True, False, False], calls
    assert all("gitrepositories" in p or "kustomizations" in p for p, _ in calls)
    assert all(
        r.query["fieldManager"] == ["gitops-mcp"]
        for r in env.kube.requests
        if r.content_type == APPLY and r.query.get("dryRun") != ["All"]
    )


def test_argocd_without_bootstrap_registers_and_goes_live(env: Env) -> None:
    app = env.app()
    with env.w.controllers():
        v = wizard_to_preview(app, env.work, {**PODINFO, "provider": "argocd"})
        assert {q.id for q in v.questions} == {"delivery", "wait", "register"}
        v = app.wizard.answer("local", v.session_id, {"delivery": "push", "register": True})
    r = v.result
    assert r is not None and r.registered is not None and r.registered.ok, r.message if r else v.errors
    assert [(o.kind, o.name) for o in r.registered.applied] == [("Application", "podinfo")]
    assert r.live is True, r.message
    assert r.verification[-1].status.revision == r.commit_sha == env.w.remote.head("org/podinfo.git")
    dep = env.kube.find("apps/v1", "Deployment", "podinfo", "podinfo")
    assert dep is not None and "argocd.argoproj.io/tracking-id" in dep["metadata"]["annotations"]
    assert managers(env.kube.find("argoproj.io/v1alpha1", "Application", "argocd", "podinfo")) == ["gitops-mcp"]


def test_parent_in_the_cluster_gives_the_default_path_and_no_register(env: Env) -> None:
    spelled = env.url.removesuffix(".git")  # the same repository, spelled without .git
    assert spelled != env.url
    env.w.repos[spelled] = env.w.repos[env.url]  # the controllers fetch it under that spelling
    env.w.flux("flux-system", spelled, "./clusters/dev")
    app = env.app()
    with env.w.controllers():
        v = wizard_to_preview(app, env.work, {**PODINFO, "provider": "flux"})
        assert v.preview.output_path == "clusters/dev/podinfo.yaml"
        assert {q.id for q in v.questions} == {"delivery", "wait"}  # no register question
        state = app.shared.store.get(v.session_id, "local")
        env_ = app.wizard.prep.env(state.context)
        (q,) = [q.question for q in flow.questions_for("output", state.answers, state.context, env_)]
        assert q.default == "clusters/dev/podinfo.yaml"
        assert q.help and "Kustomization flux-system/flux-system" in q.help and "clusters/dev" in q.help
        v = app.wizard.answer("local", v.session_id, {"delivery": "push", "wait": True})
    r = v.result
    assert r is not None and r.registered is None and r.live is True, r.message if r else v.errors
    assert [w.status.name for w in r.verification] == ["flux-system", "podinfo"]
    assert applies(env.kube) == []  # the parent applied it; gitops-mcp applied nothing
    assert env.kube.find("apps/v1", "Deployment", "podinfo", "podinfo") is not None


def test_a_package_another_deploy_applies_is_no_home_for_the_next_file(env: Env) -> None:
    # After a first deploy registered a Kustomization applying ./kustomize (a workload package), the
    # second one's file must not go into kustomize/ (left out of its kustomization.yaml, or applied as
    # part of that package with its targetNamespace): it goes to gitops/flux/, and register is asked.
    env.w.flux("podinfo", env.url, "./kustomize")
    app = env.app()
    v = wizard_to_preview(app, env.work, {"package": "charts/podinfo", "provider": "flux", "app_name": "chart"})
    assert v.preview.output_path == "gitops/flux/chart.yaml"
    assert "register" in {q.id for q in v.questions}
    app.wizard.cancel("local", v.session_id)


def test_register_refused_by_rbac_keeps_the_commit_and_applies_nothing(env: Env) -> None:
    env.kube.forbid("patch", "kustomizations", "kustomize.toolkit.fluxcd.io")
    app = env.app()
    with env.w.controllers():
        v = wizard_to_preview(app, env.work, {**PODINFO, "provider": "flux"})
        v = app.wizard.answer("local", v.session_id, {"delivery": "push", "register": True})
    r = v.result
    assert r is not None and r.registered is not None and not r.registered.ok
    assert r.live is False and r.commit_sha == env.w.remote.head("org/podinfo.git")  # the commit is pushed
    msg = r.registered.message
    assert "\n" not in msg and "nothing applied" in msg and 'cannot patch resource "kustomizations"' in msg, msg
    assert r.registered.applied == []
    assert env.kube.find("source.toolkit.fluxcd.io/v1", "GitRepository", "flux-system", "podinfo") is None
    assert env.kube.find("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "podinfo") is None
    assert all(dry for _, dry in applies(env.kube))  # only dry runs reached the server


def test_register_with_a_pull_request_is_refused_and_nothing_is_delivered(env: Env) -> None:
    app = env.app()
    head = env.w.remote.head("org/podinfo.git")
    v = wizard_to_preview(app, env.work, {**PODINFO, "provider": "flux"})
    v = app.wizard.answer("local", v.session_id, {"delivery": "pull_request", "register": True})
    assert v.step == "preview" and v.result is None
    assert "merge it first" in v.errors["register"] and "register_gitops_objects" in v.errors["register"]
    assert env.w.remote.head("org/podinfo.git") == head


# -- the fake API server is as strict as the real one ----------------------------------------------------


def http(kube: FakeKube, method: str, path: str, body: Any = None, ctype: str | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(kube.base + path, data=data, method=method)
    if ctype:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_fake_server_side_apply_dry_run_and_rbac(env: Env) -> None:
    kube = env.kube
    base = "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations"
    ks = shared.kustomization("web", "./web", "web")
    code, out = http(kube, "PATCH", f"{base}/web", ks, APPLY)
    assert code == 400 and "fieldManager" in out["message"]
    code, out = http(
        kube, "PATCH", f"{base}/web?fieldManager=t&force=true", {"spec": {}}, "application/merge-patch+json"
    )
    assert code == 400 and "non-apply" in out["message"]
    code, out = http(kube, "PATCH", f"{base}/other?fieldManager=t", ks, APPLY)
    assert code == 400 and "name" in out["message"]
    code, out = http(kube, "PATCH", f"{base}/web?fieldManager=t&dryRun=All", ks, APPLY)
    assert code == 201 and out["metadata"]["name"] == "web"
    assert kube.find("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "web") is None
    rv = kube.rv
    code, out = http(kube, "PATCH", f"{base}/web?fieldManager=t&force=false", ks, APPLY)
    assert code == 201 and kube.rv == rv + 1
    code, out = http(kube, "PATCH", f"{base}/web?fieldManager=t", {**ks, "spec": {**ks["spec"], "path": "./x"}}, APPLY)
    assert code == 200 and out["spec"]["path"] == "./x" and out["metadata"]["generation"] == 2
    code, _ = http(kube, "DELETE", f"{base}/web?dryRun=All")
    assert code == 200 and kube.find("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "web")
    kube.forbid("patch", "kustomizations", "kustomize.toolkit.fluxcd.io", namespace="flux-system")
    code, out = http(kube, "PATCH", f"{base}/web?fieldManager=t&dryRun=All", ks, APPLY)
    assert code == 403 and out["reason"] == "Forbidden" and 'cannot patch resource "kustomizations"' in out["message"]
    assert http(kube, "GET", f"{base}/web")[0] == 200  # other verbs stay allowed


def test_a_package_that_does_not_build_is_pushed_only_when_the_user_goes_on(env: Env) -> None:
    app = env.app()
    staging = {"package": "deploy/overlays/staging", "provider": "flux", "namespace": "staging", "app_name": "staging"}
    v = wizard_to_preview(app, env.work, staging)
    assert v.preview.package_check is not None and not v.preview.package_check.ok
    v = app.wizard.answer("local", v.session_id, {"delivery": "push", "wait": False})
    assert v.result is None and "does not build" in v.errors["delivery"]
    v = app.wizard.answer("local", v.session_id, {"deliver_anyway": True, "delivery": "push", "wait": False})
    assert v.result is not None and v.result.commit_sha == env.w.remote.head("org/podinfo.git"), v.errors


def test_list_providers_says_what_already_syncs_the_repository(env: Env) -> None:
    env.kube.put(shared.crd("kustomize.toolkit.fluxcd.io", "Kustomization"))
    env.kube.put(shared.crd("argoproj.io", "Application"))
    app = env.app()
    before = app.inspect.provider_report(repo_path=str(env.work))
    assert before.repository == env.url
    assert {c.provider: c.syncs_repository for c in before.controllers or []} == {"argocd": [], "flux": []}
    env.w.flux("flux-system", env.url.removesuffix(".git") + "/", "./clusters/dev")
    env.kube.put(shared.application("other", "https://example.com/other.git", "x", "podinfo"))
    after = {c.provider: c for c in app.inspect.provider_report(repo_path=str(env.work)).controllers or []}
    flux = after["flux"].syncs_repository
    assert flux is not None and [(s.kind, s.name, s.path) for s in flux] == [
        ("Kustomization", "flux-system", "clusters/dev")
    ]
    assert after["argocd"].syncs_repository == []  # the other Application syncs another repository
    assert app.inspect.provider_report().controllers is not None  # without repo_path: nothing asked


@pytest.mark.parametrize("provider", ["flux", "argocd"])
def test_a_new_users_first_deploy_through_an_mcp_client(env: Env, provider: str) -> None:
    """The issue's "done when": through a real MCP client (the SDK's, in memory), "deploy
    kustomize/ of podinfo" on a cluster with the controller and no bootstrap ends live at the
    pushed SHA: start_deployment with answers ahead, the preview, then one answer — no kubectl."""
    from anyio.from_thread import start_blocking_portal
    from mcp import Client

    from gitops_mcp.server import build_server

    app = env.app()
    with (
        env.w.controllers(),
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(Client(build_server(app.settings, app))) as c,
    ):
        start = {
            "path": str(env.work),
            "intent": "deploy kustomize/ of podinfo",
            "provider": provider,
            "answers": PODINFO,
            "accept_defaults": True,
        }
        r = portal.call(c.call_tool, "start_deployment", start)
        assert not r.is_error, r.content
        view = r.structured_content
        assert view is not None and view["step"] == "preview", view
        assert {q["id"] for q in view["questions"]} >= {"delivery", "register"}
        final = {"delivery": "push", "wait": True, "register": True}
        r = portal.call(c.call_tool, "answer_questions", {"session_id": view["session_id"], "answers": final})
        assert not r.is_error, r.content
        done = r.structured_content
    assert done is not None and done["status"] == "done", done
    result = done["result"]
    head = env.w.remote.head("org/podinfo.git")
    assert result["commit_sha"] == head and result["live"] is True, result["message"]
    assert head[:12] in json.dumps(result["verification"])
    assert env.kube.find("apps/v1", "Deployment", "podinfo", "podinfo") is not None
