"""Git delivery against a real ``git http-backend`` remote with Basic auth and a fake forge API."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES, make_repo, need_shared
from doubles.forge import FakeForge
from doubles.git_remote import GitHttpServer
from gitops_mcp.errors import (
    GitAuthError,
    GitOpsError,
    PushConflict,
    PushRefused,
)
from gitops_mcp.git.delivery import GitDelivery
from gitops_mcp.services import Services
from gitops_mcp.settings import Settings

TOKEN = "gt-remote-0123456789-SECRET"
FORGE_TOKEN = "ghp_" + "F" * 36
REPO = "org/gitops"


def tgit(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[GitHttpServer]:
    with GitHttpServer(tmp_path / "srv", users={"x-access-token": TOKEN}) as srv:
        srv.create_repo(f"{REPO}.git")
        seed = make_repo(tmp_path / "seed", need_shared(FIXTURES / "podinfo"))
        tgit(seed, "push", "--quiet", srv.url(f"{REPO}.git"), "main", env=srv.client_env())
        yield srv


@pytest.fixture
def forge(remote: GitHttpServer) -> Iterator[FakeForge]:
    with FakeForge(remote.root, FORGE_TOKEN) as f:
        yield f


def settings_for(tmp_path: Path, remote: GitHttpServer, fake: FakeForge | None = None, **kw: Any) -> Settings:
    base: dict[str, Any] = {
        "allowed_roots": [tmp_path],
        "state_dir": tmp_path / "state",
        "cache_dir": tmp_path / "cache",
        "git_token": TOKEN,
        "allowed_git_hosts": [f"127.0.0.1:{remote.port}"],
        "git_allow_http": True,
        "forge": "github",
        "github_api_url": fake.github_api if fake else "http://127.0.0.1:9",
        "github_token": FORGE_TOKEN,
        "gitlab_api_url": fake.gitlab_api if fake else "http://127.0.0.1:9",
        "gitlab_token": FORGE_TOKEN,
    }
    base.update(kw)
    return Settings(**base)


def server_env(remote: GitHttpServer, fake: FakeForge) -> dict[str, str]:
    """The environment a user gives the server: tokens, the allowed host, the forge API (DEBUG logs)."""
    return {
        "GITOPS_MCP_GIT_TOKEN": TOKEN,
        "GITOPS_MCP_ALLOWED_GIT_HOSTS": f"127.0.0.1:{remote.port}",
        "GITOPS_MCP_GIT_ALLOW_HTTP": "true",
        "GITOPS_MCP_FORGE": "github",
        "GITHUB_TOKEN": FORGE_TOKEN,
        "GITOPS_MCP_GITHUB_API_URL": fake.github_api,
        "GITOPS_MCP_LOG_LEVEL": "DEBUG",
    }


def clone(remote: GitHttpServer, dest: Path) -> Path:
    subprocess.run(
        ["git", "clone", "--quiet", remote.url(f"{REPO}.git"), str(dest)],
        check=True,
        env=remote.client_env(),
        capture_output=True,
    )
    return dest


def write(repo: Path, rel: str, text: str) -> None:
    p = repo / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")


CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  color: {}\n"


def test_push_with_token(tmp_path: Path, remote: GitHttpServer) -> None:
    work = clone(remote, tmp_path / "work")
    d = GitDelivery(settings_for(tmp_path, remote))
    write(work, "apps/cm.yaml", CM.format("blue"))
    write(work, "unrelated.txt", "not committed\n")
    r = d.commit_and_push(work, ["apps/cm.yaml"], "Add app config")
    assert r.status == "pushed" and r.commit_sha == remote.head(f"{REPO}.git")
    assert remote.show(f"{REPO}.git", "main", "apps/cm.yaml") == CM.format("blue")
    assert "unrelated.txt" in tgit(work, "status", "--porcelain")  # only the given path was committed
    again = d.commit_and_push(work, ["apps/cm.yaml"], "Add app config")
    assert again.status == "no_changes" and again.commit_sha is None
    assert remote.head(f"{REPO}.git") == r.commit_sha
    assert TOKEN not in (work / ".git/config").read_text(encoding="utf-8")


@pytest.mark.parametrize("token", ["wrong-token", None], ids=["wrong", "missing"])
def test_bad_credentials_fail_clearly_and_change_nothing(
    tmp_path: Path, remote: GitHttpServer, token: str | None
) -> None:
    work = clone(remote, tmp_path / "work")
    d = GitDelivery(settings_for(tmp_path, remote, git_token=token))
    write(work, "apps/cm.yaml", CM.format("red"))
    head, status = tgit(work, "rev-parse", "HEAD"), tgit(work, "status", "--porcelain")
    with pytest.raises(GitAuthError, match="GITOPS_MCP_GIT_TOKEN") as err:
        d.commit_and_push(work, ["apps/cm.yaml"], "Add config")
    assert "wrong-token" not in str(err.value)
    assert tgit(work, "rev-parse", "HEAD") == head and tgit(work, "status", "--porcelain") == status
    assert (work / "apps/cm.yaml").read_text(encoding="utf-8") == CM.format("red")


def test_racing_push_rebases_and_succeeds(tmp_path: Path, remote: GitHttpServer) -> None:
    a, b = clone(remote, tmp_path / "a"), clone(remote, tmp_path / "b")
    d = GitDelivery(settings_for(tmp_path, remote))
    write(a, "apps/a.yaml", CM.format("a"))
    write(b, "apps/b.yaml", CM.format("b"))
    ra = d.commit_and_push(a, ["apps/a.yaml"], "A")
    rb = d.commit_and_push(b, ["apps/b.yaml"], "B")
    assert ra.attempts == 1 and rb.attempts == 2 and rb.status == "pushed"
    log = tgit(remote.root / f"{REPO}.git", "log", "--format=%s", "-3", "main")
    assert log.splitlines()[:2] == ["B", "A"]
    assert remote.show(f"{REPO}.git", "main", "apps/a.yaml") == CM.format("a")


def test_many_concurrent_pushes_all_land(tmp_path: Path, remote: GitHttpServer) -> None:
    d = GitDelivery(settings_for(tmp_path, remote))
    clones = [clone(remote, tmp_path / f"c{i}") for i in range(3)]
    errors: list[BaseException] = []

    def push(i: int, repo: Path) -> None:
        write(repo, f"apps/c{i}.yaml", CM.format(i))
        try:
            d.commit_and_push(repo, [f"apps/c{i}.yaml"], f"C{i}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=push, args=(i, r)) for i, r in enumerate(clones)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    for i in range(3):
        assert remote.show(f"{REPO}.git", "main", f"apps/c{i}.yaml") == CM.format(i)


def test_conflict_keeps_the_commit(tmp_path: Path, remote: GitHttpServer) -> None:
    a, b = clone(remote, tmp_path / "a"), clone(remote, tmp_path / "b")
    d = GitDelivery(settings_for(tmp_path, remote))
    write(a, "kustomize/deployment.yaml", "a: 1\n")
    write(b, "kustomize/deployment.yaml", "b: 2\n")
    d.commit_and_push(a, ["kustomize/deployment.yaml"], "A")
    with pytest.raises(PushConflict) as err:
        d.commit_and_push(b, ["kustomize/deployment.yaml"], "B")
    kept = err.value.kept_branch
    assert kept.startswith("gitops-mcp/unpushed-")
    assert tgit(b, "rev-parse", kept) == err.value.commit == tgit(b, "rev-parse", "HEAD")
    assert tgit(b, "log", "-1", "--format=%s") == "B"
    assert tgit(b, "status", "--porcelain") == ""  # no half-finished rebase left behind
    assert not (b / ".git/rebase-merge").exists() and not (b / ".git/rebase-apply").exists()
    assert remote.show(f"{REPO}.git", "main", "kustomize/deployment.yaml") == "a: 1\n"


def test_protected_branch_refusal_loses_nothing_and_a_pull_request_lands(
    tmp_path: Path, remote: GitHttpServer, forge: FakeForge
) -> None:
    """The remote refuses direct pushes to main (a real pre-receive hook): no retry loop, the
    remote's own reason, the branch not left diverged, the files and the commit kept."""
    remote.protect(f"{REPO}.git", "main")
    work = clone(remote, tmp_path / "work")
    d = GitDelivery(settings_for(tmp_path, remote, forge))
    write(work, "apps/cm.yaml", CM.format("blue"))
    head, remote_head = tgit(work, "rev-parse", "HEAD"), remote.head(f"{REPO}.git")
    with pytest.raises(PushRefused) as err:
        d.commit_and_push(work, ["apps/cm.yaml"], "Add app config")
    text = str(err.value)
    assert "GH006: Protected branch update failed" in text and "mode=pull_request" in text
    assert "pre-receive hook declined" in err.value.reason
    assert remote.head(f"{REPO}.git") == remote_head
    assert tgit(work, "rev-parse", "HEAD") == head  # the branch is where it was, not ahead of the remote
    assert tgit(work, "status", "--porcelain", "-uall") == "?? apps/cm.yaml"  # the file as before
    kept = next(b for b in tgit(work, "branch", "--format=%(refname:short)").split() if "unpushed" in b)
    assert kept in text and tgit(work, "show", f"{kept}:apps/cm.yaml") == CM.format("blue").rstrip("\n")
    # the same change, proposed: the branch push is allowed and the pull request opens
    pr = d.commit_and_push(work, ["apps/cm.yaml"], "Add app config", mode="pull_request")
    assert pr.status == "pull_request" and pr.pr_url
    assert remote.show(f"{REPO}.git", pr.branch, "apps/cm.yaml") == CM.format("blue")
    # reverting on the protected branch is refused the same way; as a pull request it works
    remote.merge(f"{REPO}.git", pr.commit_sha or "")
    with pytest.raises(PushRefused, match="mode=pull_request"):
        d.rollback(work, paths=["apps/cm.yaml"], mode="push")
    assert remote.head(f"{REPO}.git") == pr.commit_sha
    assert d.rollback(work, paths=["apps/cm.yaml"], mode="pull_request").pr_url


def test_pull_request_github_and_rerun_updates_it(tmp_path: Path, remote: GitHttpServer, forge: FakeForge) -> None:
    work = clone(remote, tmp_path / "work")
    d = GitDelivery(settings_for(tmp_path, remote, forge))
    write(work, "clusters/prod/podinfo.yaml", CM.format("green"))
    head_before, branch_before = tgit(work, "rev-parse", "HEAD"), tgit(work, "branch", "--show-current")
    r = d.commit_and_push(
        work,
        ["clusters/prod/podinfo.yaml"],
        "Deploy podinfo\n\nWith Flux.",
        mode="pull_request",
        draft=True,
        labels=["gitops"],
    )
    assert r.status == "pull_request" and r.pr_created and r.pr_number == 1 and r.base == "main"
    assert r.branch.startswith("gitops-mcp/deploy-podinfo-")
    assert remote.head(f"{REPO}.git", r.branch) == r.commit_sha
    assert remote.show(f"{REPO}.git", r.branch, "clusters/prod/podinfo.yaml") == CM.format("green")
    # the user's checkout is untouched
    assert tgit(work, "rev-parse", "HEAD") == head_before and tgit(work, "branch", "--show-current") == branch_before
    assert "podinfo.yaml" in tgit(work, "status", "--porcelain", "-uall")
    posted = [q for q in forge.requests if q.method == "POST" and q.path.endswith("/pulls")]
    assert (
        posted[0].body["draft"] is True and posted[0].body["base"] == "main" and "With Flux." in posted[0].body["body"]
    )
    assert forge.store.pulls[REPO][0]["labels"] == [{"name": "gitops"}]
    # re-run with a change: same branch, same PR, one more commit on top
    write(work, "clusters/prod/podinfo.yaml", CM.format("yellow"))
    r2 = d.commit_and_push(work, ["clusters/prod/podinfo.yaml"], "Deploy podinfo", mode="pull_request")
    assert r2.branch == r.branch and r2.pr_number == 1 and r2.pr_created is False
    assert tgit(remote.root / f"{REPO}.git", "rev-parse", f"{r2.commit_sha}^") == r.commit_sha
    assert len(forge.store.pulls[REPO]) == 1
    # re-run without a change: no commit, the PR is reported
    r3 = d.commit_and_push(work, ["clusters/prod/podinfo.yaml"], "Deploy podinfo", mode="pull_request")
    assert r3.status == "no_changes" and r3.pr_url == r.pr_url
    assert all(q.auth == f"Bearer {FORGE_TOKEN}" for q in forge.requests)


def test_merge_request_gitlab(tmp_path: Path, remote: GitHttpServer, forge: FakeForge) -> None:
    work = clone(remote, tmp_path / "work")
    d = GitDelivery(settings_for(tmp_path, remote, forge, forge="gitlab"))
    write(work, "apps/x.yaml", CM.format("x"))
    r = d.commit_and_push(work, ["apps/x.yaml"], "Add x", mode="pull_request", labels=["a", "b"])
    mr = forge.store.pulls[REPO][0]
    assert r.pr_url == mr["web_url"] and mr["labels"] == ["a", "b"] and mr["source_branch"] == r.branch
    write(work, "apps/x.yaml", CM.format("y"))
    r2 = d.commit_and_push(work, ["apps/x.yaml"], "Add x", mode="pull_request")
    assert r2.pr_number == r.pr_number and r2.pr_created is False and len(forge.store.pulls[REPO]) == 1


def test_forge_refusal_is_clear(tmp_path: Path, remote: GitHttpServer, forge: FakeForge) -> None:
    work = clone(remote, tmp_path / "work")
    d = GitDelivery(settings_for(tmp_path, remote, forge, github_token="ghp_" + "W" * 36))
    write(work, "apps/x.yaml", CM.format("x"))
    with pytest.raises(GitOpsError, match="refused the token") as err:
        d.commit_and_push(work, ["apps/x.yaml"], "Add x", mode="pull_request")
    assert "W" * 36 not in str(err.value)


def test_rollback_push_and_pull_request(tmp_path: Path, remote: GitHttpServer, forge: FakeForge) -> None:
    work = clone(remote, tmp_path / "work")
    d = GitDelivery(settings_for(tmp_path, remote, forge))
    write(work, "apps/cm.yaml", CM.format("v1"))
    d.commit_and_push(work, ["apps/cm.yaml"], "v1")
    write(work, "apps/cm.yaml", CM.format("v2"))
    bad = d.commit_and_push(work, ["apps/cm.yaml"], "v2 (broken)")
    pr = d.rollback(work, paths=["apps/cm.yaml"], mode="pull_request")
    assert pr.reverted == [bad.commit_sha] and pr.pr_created
    assert remote.show(f"{REPO}.git", pr.branch, "apps/cm.yaml") == CM.format("v1")
    assert remote.show(f"{REPO}.git", "main", "apps/cm.yaml") == CM.format("v2")  # main untouched until merged
    pushed = d.rollback(work, paths=["apps/cm.yaml"], mode="push")
    assert remote.show(f"{REPO}.git", "main", "apps/cm.yaml") == CM.format("v1")
    assert tgit(work, "rev-parse", "HEAD") == pushed.commit_sha  # the local branch fast-forwarded
    assert 'Revert "v2 (broken)"' in tgit(work, "log", "-1", "--format=%B")
    with pytest.raises(GitOpsError, match="not a commit SHA"):
        d.rollback(work, shas=["--upload-pack=evil"], mode="push")


def test_promote_as_pull_request(tmp_path: Path, remote: GitHttpServer, forge: FakeForge) -> None:
    work = clone(remote, tmp_path / "work")
    k = work / "deploy/overlays/staging/kustomization.yaml"
    k.write_text(
        k.read_text(encoding="utf-8") + "images:\n  - name: ghcr.io/stefanprodan/podinfo\n    newTag: 6.7.1\n",
        encoding="utf-8",
    )
    tgit(work, "commit", "-qam", "staging runs 6.7.1")
    tgit(work, "push", "-q", "origin", "main", env=remote.client_env())
    app = Services(settings_for(tmp_path, remote, forge))
    r = app.promotion.promote(str(work), "frontend", "staging", "production")
    assert r.commit is not None and r.commit.pr_url
    pr = forge.store.pulls[REPO][0]
    assert pr["title"] == "Promote frontend from staging to production"
    assert "What moves" in pr["body"] and "6.7.1" in pr["body"]
    assert "newTag: 6.7.1" in remote.show(
        f"{REPO}.git", r.commit.branch, "deploy/overlays/production/kustomization.yaml"
    )
    assert app.promotion.promote(str(work), "frontend", "staging", "production").commit is None  # nothing left to move
    k.write_text(k.read_text(encoding="utf-8").replace("6.7.1", "6.7.2"), encoding="utf-8")
    tgit(work, "commit", "-qam", "staging runs 6.7.2")
    tgit(work, "push", "-q", "origin", "main", env=remote.client_env())
    again = app.promotion.promote(str(work), "frontend", "staging", "production")
    assert again.commit is not None and again.commit.pr_number == r.commit.pr_number  # the same PR, updated
    assert "newTag: 6.7.2" in remote.show(
        f"{REPO}.git", r.commit.branch, "deploy/overlays/production/kustomization.yaml"
    )
