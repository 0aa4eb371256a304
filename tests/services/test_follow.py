"""Following a pull request to live: ``wait_for_sync`` with ``pull_request`` waits for the merge
in the fake forge (a real merge commit in the served repository), takes the merge commit and waits
for the controller to apply it, with progress; a request closed unmerged is a clear failure.
remediate and the wizard in pull_request mode return the call that does it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conftest import wizard_to_preview
from doubles.clock import virtual_time
from doubles.forge import FakeForge
from doubles.world import World, application, git_repository, kustomization
from gitops_mcp.errors import UserInputError
from gitops_mcp.git.forge import Forge, PullRequestSpec, parse_pull_ref
from gitops_mcp.remediation import Remove, SetImage
from gitops_mcp.services import Services
from gitops_mcp.settings import Settings

FORGE_TOKEN = "ghp_" + "F" * 36
DEPLOY = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  selector:\n"
    "    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n"
    "      containers:\n        - name: web\n          image: nginx:1.25\n"
)


@dataclass
class Env:
    world: World
    forge: FakeForge
    app: Services
    engine: str
    progress: list[str] = field(default_factory=list)

    def image(self) -> str:
        live = self.world.kube.find("apps/v1", "Deployment", "web", "web")
        assert live is not None
        return str(live["spec"]["template"]["spec"]["containers"][0]["image"])


@pytest.fixture(params=["flux", "argocd"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    with World(tmp_path) as w, FakeForge(w.remote.root, FORGE_TOKEN) as forge:
        cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  a: '1'\n"
        url = w.seed("org/apps.git", tmp_path / "seed", {"apps/web/deploy.yaml": DEPLOY, "apps/web/cm.yaml": cm})
        w.kube.ensure_namespace("web")
        if request.param == "flux":  # the controllers poll their source every second, as an interval would
            w.kube.ensure_namespace("flux-system")
            w.kube.put(git_repository("apps", url, interval="1s"))
            ks = kustomization("web", "./apps/web", "apps", target_namespace="web", interval="1s")
            w.kube.put(ks)
            kind, ns = "Kustomization", "flux-system"
        else:
            w.kube.ensure_namespace("argocd")
            argo = application("web", url, "apps/web", "web", revision="main", automated=True)
            argo["spec"]["syncPolicy"]["automated"]["prune"] = True
            w.kube.put(argo)
            kind, ns = "Application", "argocd"
        app = Services(w.settings(**forge.settings()))
        try:
            with w.controllers() as sim:
                sim.argo_interval = 1.0
                assert app.cluster.wait(kind, "web", ns, None, 30).outcome == "synced"
                yield Env(w, forge, app, request.param)
        finally:
            app.close()


def propose(env: Env) -> Any:
    r = env.app.remediation.remediate("apps/v1", "Deployment", "web", "web", SetImage(image="nginx:1.27"))
    assert r.commit is not None and r.commit.pr_url, r.message
    assert r.follow is not None and r.follow.pull_request == r.commit.pr_url
    assert "after the merge, follow it to live: wait_for_sync with follow" in r.message
    return r.follow


def test_a_pull_request_followed_to_live_after_its_merge(env: Env) -> None:
    follow = propose(env)
    assert (follow.kind, follow.name) == (("Kustomization", "web") if env.engine == "flux" else ("Application", "web"))
    merged: list[str] = []

    def progress(elapsed: float, message: str) -> None:
        env.progress.append(message)
        if "to be merged (open)" in message and not merged:  # the reviewer merges while the tool waits
            merged.append(env.forge.merge("org/apps", 1))

    r = env.app.cluster.wait(
        follow.kind, follow.name, follow.namespace, None, 60, progress, pull_request=follow.pull_request
    )
    assert r.outcome == "synced", r.message
    assert r.revision == merged[0]  # the merge commit, not the PR branch's head
    assert env.world.remote.head("org/apps.git") == merged[0]
    assert env.image() == "nginx:1.27"
    assert env.progress[0] == "waiting for org/apps#1 to be merged (open)"
    assert any(m.startswith(f"org/apps#1 merged as {merged[0][:12]}") for m in env.progress)


def test_a_pull_request_closed_unmerged_fails_clearly(env: Env) -> None:
    follow = propose(env)

    def progress(elapsed: float, message: str) -> None:
        if "to be merged (open)" in message:
            env.forge.close("org/apps", 1)

    r = env.app.cluster.wait(
        follow.kind, follow.name, follow.namespace, None, 60, progress, pull_request=follow.pull_request
    )
    assert r.outcome == "failed"
    assert r.message == "org/apps#1 was closed without merging: none of it will go live"
    assert env.image() == "nginx:1.25"


def test_the_merge_wait_is_bounded_and_takes_one_of_revision_or_pull_request(env: Env) -> None:
    follow = propose(env)
    with virtual_time(env.app.shared) as clock:  # the merge poll's sleeps pass on the test's clock
        r = env.app.cluster.wait(follow.kind, follow.name, follow.namespace, None, 1, pull_request=follow.pull_request)
    assert r.outcome == "timeout" and "still open: not merged before the timeout" in r.message
    assert clock.slept and sum(clock.slept) == pytest.approx(
        1
    )  # polled, backing off, until the deadline and not past it
    with pytest.raises(UserInputError, match="revision or pull_request, not both"):
        env.app.cluster.wait(follow.kind, follow.name, follow.namespace, "a" * 40, 5, pull_request="org/apps#1")


def test_a_removal_proposed_says_its_live_effect_and_is_pruned_after_the_merge(env: Env) -> None:
    """'Remove the web Deployment': a pull request whose description says what the merge deletes;
    followed to live, the Deployment is gone."""
    r = env.app.remediation.remediate("apps/v1", "Deployment", "web", "web", Remove())
    assert r.commit is not None and r.commit.pr_url and r.follow is not None, r.message
    [pr] = env.forge.store.pulls["org/apps"]
    assert pr["title"] == "Remove Deployment web/web"
    assert "- prune: Deployment web/web" in pr["body"], pr["body"]  # the dry run of the merge
    assert env.world.kube.find("apps/v1", "Deployment", "web", "web") is not None  # nothing live before the merge

    def progress(elapsed: float, message: str) -> None:
        if "to be merged (open)" in message and pr["state"] == "open":
            env.forge.merge("org/apps", 1)

    f = r.follow
    w = env.app.cluster.wait(f.kind, f.name, f.namespace, None, 60, progress, pull_request=f.pull_request)
    assert w.outcome == "synced", w.message
    assert w.message.endswith("; pruned and gone from the cluster: Deployment web/web"), w.message
    assert env.world.kube.find("apps/v1", "Deployment", "web", "web") is None


def test_pull_request_references(tmp_path: Path) -> None:
    auto = Settings(allowed_roots=[tmp_path], state_dir=tmp_path / "s")
    gh = parse_pull_ref("https://github.com/org/apps/pull/12", auto)
    assert (gh.kind, gh.repo_path, gh.number, gh.label) == ("github", "org/apps", 12, "org/apps#12")
    gl = parse_pull_ref("https://gitlab.example/group/sub/apps/-/merge_requests/7/diffs", auto)
    assert (gl.kind, gl.repo_path, gl.number, gl.label) == ("gitlab", "group/sub/apps", 7, "group/sub/apps!7")
    with pytest.raises(UserInputError, match="does not say which forge"):
        parse_pull_ref("org/apps#12", auto)
    assert parse_pull_ref("org/apps#12", auto.model_copy(update={"forge": "github"})).number == 12
    for bad in ("12", "https://github.com/org/apps/issues/12", "org/../x#1", "https://h/a/b/pull/x"):
        with pytest.raises(UserInputError):
            parse_pull_ref(bad, auto)


def test_gitlab_merge_request_states(tmp_path: Path) -> None:
    with World(tmp_path) as w, FakeForge(w.remote.root, FORGE_TOKEN) as forge:
        w.seed("group/apps.git", tmp_path / "seed", {"a.yaml": "a: 1\n"})
        w.git(tmp_path / "seed", "checkout", "-qb", "change")
        (tmp_path / "seed" / "a.yaml").write_text("a: 2\n")
        w.git(tmp_path / "seed", "-c", "user.name=D", "-c", "user.email=d@x", "commit", "-qam", "two")
        w.git(tmp_path / "seed", "push", "-q", "origin", "change")
        settings = w.settings(forge="gitlab", gitlab_api_url=forge.gitlab_api, gitlab_token=FORGE_TOKEN)
        with Forge("gitlab", settings) as api:
            mr = api.open_or_update(PullRequestSpec("group/apps", "change", "main", "Two", ""))
            ref = parse_pull_ref(mr.url, settings)
            assert api.pull_state(ref).state == "open"
            sha = forge.merge("group/apps", mr.number)
            st = api.pull_state(ref)
            assert (st.state, st.merge_sha) == ("merged", sha)
            assert w.remote.show("group/apps.git", "main", "a.yaml") == "a: 2\n"


def test_the_wizard_in_pull_request_mode_returns_the_follow_call(tmp_path: Path) -> None:
    ns = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n"
    with World(tmp_path) as w, FakeForge(w.remote.root, FORGE_TOKEN) as forge:
        files = {"apps/web/deploy.yaml": DEPLOY, "clusters/dev/ns.yaml": ns}
        url = w.seed("org/apps.git", tmp_path / "seed", files)
        w.kube.ensure_namespace("flux-system")
        w.kube.put(git_repository("flux-system", url, interval="1s"))
        w.kube.put(kustomization("flux-system", "./clusters/dev", "flux-system", interval="1s"))
        app = Services(w.settings(**forge.settings()))
        try:
            with w.controllers():
                assert app.cluster.wait("Kustomization", "flux-system", "flux-system", None, 30).outcome == "synced"
                answers = {"package": "apps/web", "provider": "flux", "repo_url": url}
                v = wizard_to_preview(app, url, {**answers, "output_path": "clusters/dev/web.yaml"})  # type: ignore[arg-type]
                done = app.wizard.answer("local", v.session_id, {"delivery": "pull_request"})
                assert done.result is not None and done.result.pr_url
                follow = done.result.follow
                assert follow is not None and follow.pull_request == done.result.pr_url
                assert (follow.kind, follow.name, follow.namespace) == ("Kustomization", "flux-system", "flux-system")

                def progress(elapsed: float, message: str) -> None:
                    if "to be merged (open)" in message and forge.store.pulls["org/apps"][0]["state"] == "open":
                        forge.merge("org/apps", 1)

                r = app.cluster.wait(
                    follow.kind, follow.name, follow.namespace, None, 60, progress, pull_request=follow.pull_request
                )
                assert r.outcome == "synced", r.message
                assert w.kube.find("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "web") is not None
        finally:
            app.close()
