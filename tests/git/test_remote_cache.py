"""The clone cache's side of remote-first, in process: kept changes (a refused push keeps the
change on a named branch, says where and for how long, and a retry or mode=pull_request picks it
up; write_manifests on a URL keeps what it wrote for commit_and_push; they are the caller's own,
expire, and pin their repository against eviction), the cleanup at start-up of working trees
whose process is gone (never one of a live process), and a working tree removed after a failure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import wizard_to_preview
from doubles.forge import FakeForge
from doubles.world import World, git_repository, kustomization
from gitops_mcp.errors import GitOpsError, NotFoundError, PathNotAllowedError, PushRefused
from gitops_mcp.git.delivery import GitDelivery
from gitops_mcp.git.workspace import _me
from gitops_mcp.remediation import SetImage
from gitops_mcp.services import Services

FORGE_TOKEN = "ghp_" + "K" * 36
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}\n  namespace: apps\ndata:\n  a: '1'\n"
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
    url: str
    name: str = "org/apps.git"

    def kept_branches(self, repo: Path | None = None) -> list[str]:
        repo = repo or self.cached()
        out = subprocess.run(
            ["git", "for-each-ref", "--format=%(refname:short)", "refs/heads/gitops-mcp/kept/"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return out.split()

    def cached(self) -> Path:
        found = self.app.shared.delivery.cache.find(self.url)
        assert found is not None
        return found


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    with World(tmp_path) as w, FakeForge(w.remote.root, FORGE_TOKEN) as forge:
        url = w.seed("org/apps.git", tmp_path / "seed", {"apps/web/deploy.yaml": DEPLOY})
        settings = w.settings(**forge.settings())
        app = Services(settings)
        yield Env(w, forge, app, url)
        app.close()


def test_refused_push_keeps_the_change_until_commit_and_push_proposes_it(env: Env) -> None:
    app, url = env.app, env.url
    head = env.world.remote.head(env.name)
    w = app.manifests.write("alice", url, "apps/cm.yaml", CM.format("one"))
    assert w.repo_root == url and w.created and "+  name: one" in w.diff
    assert w.kept and "gitops-mcp/kept/" in w.kept and "commit_and_push(repo_path=" in w.kept
    assert env.world.remote.head(env.name) == head  # written, kept: nothing pushed
    assert len(env.kept_branches()) == 1
    env.world.remote.protect(env.name, "main")
    with pytest.raises(PushRefused) as refused:
        app.git.commit(url, ["apps/cm.yaml"], "Add cm", mode="push", principal="alice")
    text = str(refused.value)
    assert "GH006" in text and "Nothing is lost" in text and "for 7 days" in text and "gitops-mcp/kept/" in text
    assert env.world.remote.head(env.name) == head and len(env.kept_branches()) == 1  # the same change, kept once
    with pytest.raises(NotFoundError, match="none is kept for you"):  # another caller's change is not bob's
        app.git.commit(url, ["apps/cm.yaml"], "Add cm", mode="pull_request", principal="bob")
    with pytest.raises(NotFoundError, match=r"exactly these paths.*apps/cm.yaml"):
        app.git.commit(url, ["apps/other.yaml"], "Add cm", mode="pull_request", principal="alice")
    pr = app.git.commit(url, ["apps/cm.yaml"], "Add cm", mode="pull_request", principal="alice")
    assert pr.status == "pull_request" and pr.pr_url and pr.base == "main"
    assert "name: one" in env.world.remote.show(env.name, pr.branch, "apps/cm.yaml")
    assert env.kept_branches() == []  # delivered: no longer kept
    with pytest.raises(NotFoundError, match="none is kept for you"):
        app.git.commit(url, ["apps/cm.yaml"], "Add cm", mode="pull_request", principal="alice")
    assert not any((env.world.root / "cache" / "work").iterdir())


def test_remediation_refused_is_kept_and_its_retry_as_a_pull_request_picks_it_up(env: Env) -> None:
    w = env.world
    w.kube.ensure_namespace("flux-system")
    w.kube.ensure_namespace("web")
    w.kube.put(git_repository("apps", env.url))
    w.kube.put(kustomization("web", "./apps/web", "apps", target_namespace="web"))
    with w.controllers():
        assert env.app.cluster.wait("Kustomization", "web", "flux-system", None, 20).outcome == "synced"
        w.remote.protect(env.name, "main")
        change = SetImage(image="nginx:1.27")
        with pytest.raises(PushRefused, match=r"Nothing is lost: the change is kept on the branch gitops-mcp/kept/"):
            env.app.remediation.remediate("apps/v1", "Deployment", "web", "web", change, mode="push", principal="alice")
        [kept] = env.kept_branches()
        assert (
            "image: nginx:1.27"
            in subprocess.run(
                ["git", "show", f"{kept}:apps/web/deploy.yaml"], cwd=env.cached(), capture_output=True, text=True
            ).stdout
        )
        r = env.app.remediation.remediate("apps/v1", "Deployment", "web", "web", change, principal="alice")
        assert r.commit is not None and r.commit.status == "pull_request" and r.commit.pr_url
        assert env.kept_branches() == []  # the same change delivered: picked up, no longer kept


def test_kept_changes_expire_and_pin_their_repository(env: Env, tmp_path: Path) -> None:
    app, delivery = env.app, env.app.shared.delivery
    app.manifests.write("alice", env.url, "apps/cm.yaml", CM.format("one"))
    repo = env.cached()
    assert delivery.cache.keep(repo)  # never evicted while it holds a kept change
    [record] = (repo / ".git" / "gitops-mcp-kept").glob("*.json")
    data = json.loads(record.read_text(encoding="utf-8"))
    data["expires"] = time.time() - 1
    record.write_text(json.dumps(data), encoding="utf-8")
    assert not delivery.cache.keep(repo)
    with delivery.workspace(env.url) as ws:  # the next use of the repository drops expired ones
        assert (ws.root / "apps/web/deploy.yaml").is_file() and not (ws.root / "apps/cm.yaml").exists()
    assert env.kept_branches() == [] and not record.exists()


def test_a_working_tree_is_gone_after_a_failure_and_bad_urls_touch_nothing(env: Env) -> None:
    app = env.app
    with pytest.raises(GitOpsError, match="staging"):
        app.promotion.promote(env.url, "web", "staging", "production", principal="alice")
    work = env.world.root / "cache" / "work"
    assert not any(work.iterdir())
    with pytest.raises(GitOpsError, match="file:// remotes are disabled"):
        app.promotion.promote("file:///etc/passwd", "web", "a", "b")
    with pytest.raises(GitOpsError, match="ALLOWED_GIT_HOSTS"):
        app.git.rollback("https://example.com/org/x.git", paths=["a.yaml"])
    with pytest.raises(NotFoundError, match="branch nope does not exist"):
        app.git.rollback(env.url, paths=["apps/web/deploy.yaml"], base="nope", mode="push")
    with app.shared.delivery.workspace(env.url) as ws, pytest.raises(PathNotAllowedError, match="private"):
        app.git.commit(str(ws.root), ["apps/web/deploy.yaml"], "another operation's working tree")
    assert not any(work.iterdir())


def test_start_up_removes_working_trees_of_dead_processes_only(env: Env) -> None:
    delivery = env.app.shared.delivery
    with delivery.workspace(env.url) as ws:
        repo = ws.dest
    work = env.world.root / "cache" / "work"
    live = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    try:
        me = _me()
        other = {
            **me,
            "pid": live.pid,
            "start": Path(f"/proc/{live.pid}/stat").read_text().rsplit(")", 1)[1].split()[19],
        }
        owners = {
            "dead0000": {**me, "pid": dead.pid},
            "reboot00": {**me, "boot": "another-boot"},
            "live0000": other,
            "mine0000": me,
            "foreign0": {**me, "host": "elsewhere", "created": time.time()},
            "foreign1": {**me, "host": "elsewhere", "created": time.time() - 3 * 86400},
        }
        for op, owner in owners.items():
            subprocess.run(["git", "worktree", "add", "-q", "--detach", str(work / op), "HEAD"], cwd=repo, check=True)
            (work / f"{op}.json").write_text(
                json.dumps({**owner, "repo": repo.name, "created": owner.get("created", time.time())})
            )
        (work / "orphan00").mkdir()  # a tree whose marker was already gone
        GitDelivery(env.app.settings)  # start-up
        left = sorted(p.name for p in work.iterdir() if p.is_dir())
        assert left == ["foreign0", "live0000", "mine0000"]
        listed = subprocess.run(["git", "worktree", "list"], cwd=repo, capture_output=True, text=True).stdout
        assert "dead0000" not in listed and "reboot00" not in listed and "live0000" in listed
    finally:
        live.kill()
        live.wait()
    for op in ("foreign0", "live0000", "mine0000"):
        subprocess.run(["git", "worktree", "remove", "--force", str(work / op)], cwd=repo, check=True)
        os.unlink(work / f"{op}.json")


def test_the_wizard_on_a_url_writes_nothing_into_the_cache_and_keeps_a_write(env: Env) -> None:
    app = env.app
    v = wizard_to_preview(app, env.url, {"package": "apps/web", "provider": "flux", "repo_url": env.url})  # type: ignore[arg-type]
    assert v.preview.file_exists is False and v.preview.diff == ""
    done = app.wizard.answer("local", v.session_id, {"delivery": "write"})
    assert done.status == "done" and done.result is not None
    assert "gitops-mcp/kept/" in done.result.message and "commit_and_push(repo_path=" in done.next
    cached = env.cached()
    assert subprocess.run(["git", "status", "--porcelain"], cwd=cached, capture_output=True, text=True).stdout == ""
    pushed = app.git.commit(env.url, [done.result.file], "Deploy web", principal="local")
    assert pushed.status == "pushed" and env.kept_branches() == []
    assert "kind: Kustomization" in env.world.remote.show(env.name, "main", done.result.file)


def test_wizard_on_a_url_refused_push_is_kept_and_another_replica_proposes_it(env: Env, tmp_path: Path) -> None:
    """The session is started on one server and answered on another with a clone cache of its own
    (the session store shared, as stateless replicas have it): the push is refused, the change
    kept; the pull request picks it up."""
    app = env.app
    v = wizard_to_preview(app, env.url, {"package": "apps/web", "provider": "flux", "repo_url": env.url})  # type: ignore[arg-type]
    other = Services(app.settings.model_copy(update={"cache_dir": tmp_path / "replica-cache"}))
    try:
        env.world.remote.protect(env.name, "main")
        refused = other.wizard.answer("local", v.session_id, {"delivery": "push"})
        assert refused.status == "open" and refused.step == "preview"
        text = refused.errors["delivery"]
        assert "GH006" in text and "Nothing is lost" in text and "gitops-mcp/kept/" in text and "again" in text
        replica = other.shared.delivery.cache.find(env.url)
        assert replica is not None and replica.is_relative_to(tmp_path / "replica-cache")
        assert len(env.kept_branches(replica)) == 1
        done = other.wizard.answer("local", v.session_id, {"delivery": "pull_request"})
        assert done.status == "done" and done.result is not None and done.result.pr_url
        assert env.kept_branches(replica) == []  # the same change, delivered: picked up
    finally:
        other.close()


def test_scaffold_fleet_on_a_url(env: Env) -> None:
    app = env.app
    r = app.fleet.scaffold(env.url, "flux", ["dev", "prod"], delivery="pull_request", principal="alice")
    assert r.commit is not None and r.commit.status == "pull_request" and r.commit.base == "main"
    assert "kind: Kustomization" in env.world.remote.show(env.name, r.commit.branch, "clusters/dev/apps.yaml")
    kept = app.fleet.scaffold(env.url, "flux", ["dev", "prod"], principal="alice")  # delivery=write: kept
    assert kept.commit is None and "gitops-mcp/kept/" in kept.message and len(env.kept_branches()) == 1
    assert not any((env.world.root / "cache" / "work").iterdir())


def test_an_answer_holds_the_sessions_clone_in_use(env: Env) -> None:
    """No eviction removes the clone a wizard answer on a URL session is reading."""
    from gitops_mcp.git import cache_lru

    app = env.app
    v = app.wizard.start("local", env.url, provider="flux", answers={"package": "apps/web"})
    state = app.shared.store.get(v.session_id, "local")
    use = cache_lru.use_file(env.cached())
    with app.wizard._here(state) as here:
        assert here.context.repo_root == str(env.cached().resolve())
        assert cache_lru.try_flock(use) is None  # held: an eviction skips it
    fd = cache_lru.try_flock(use)
    assert fd is not None  # released afterwards
    os.close(fd)
