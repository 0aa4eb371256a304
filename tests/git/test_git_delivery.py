"""Git delivery against a real ``git http-backend`` remote with Basic auth and a fake forge API."""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES, git, make_repo, need_shared
from doubles.forge import FakeForge
from doubles.git_remote import GitHttpServer, RecordingServer
from gitops_mcp.errors import (
    GitAuthError,
    GitOpsError,
    PathNotAllowedError,
    PolicyViolation,
    PushConflict,
    PushRefused,
)
from gitops_mcp.git.delivery import GitDelivery
from gitops_mcp.git.remote import parse_remote
from gitops_mcp.scrub import scrub
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


def test_wizard_delivers_as_pull_request(tmp_path: Path, remote: GitHttpServer, forge: FakeForge) -> None:
    work = clone(remote, tmp_path / "work")
    app = Services(settings_for(tmp_path, remote, forge))
    v = app.wizard.start("local", str(work), intent="deploy charts/podinfo with flux")
    answers: dict[str, Any] = {
        "package": "charts/podinfo",
        "provider": "flux",
        "repo_url": "https://github.com/stefanprodan/podinfo.git",
    }
    for _ in range(6):
        v = app.wizard.answer("local", v.session_id, answers, accept_defaults=True)
        answers = {}
        if v.step == "preview":
            break
    assert v.questions[0].options == ["write", "push", "pull_request"]
    v = app.wizard.answer("local", v.session_id, {"delivery": "pull_request"})
    assert v.status == "done", v.errors
    assert v.result is not None and v.result.pr_url and v.result.commit_sha
    assert remote.show(f"{REPO}.git", v.result.branch or "", v.result.file).startswith("apiVersion:")
    first = v.result
    # running the wizard again with a changed answer updates the same pull request
    v2 = app.wizard.start("local", str(work), intent="deploy charts/podinfo with flux")
    answers = {
        "package": "charts/podinfo",
        "provider": "flux",
        "interval": "10m",
        "repo_url": "https://github.com/stefanprodan/podinfo.git",
    }
    for _ in range(6):
        v2 = app.wizard.answer("local", v2.session_id, answers, accept_defaults=True)
        answers = {}
        if v2.step == "preview":
            break
    assert v2.preview is not None and "interval: 10m" in v2.preview.diff
    v2 = app.wizard.answer("local", v2.session_id, {"delivery": "pull_request"})
    assert v2.result is not None and v2.result.pr_url == first.pr_url and v2.result.branch == first.branch
    assert len(forge.store.pulls[REPO]) == 1
    assert "interval: 10m" in remote.show(f"{REPO}.git", first.branch or "", first.file)


def test_wizard_git_failure_is_reported_on_delivery(tmp_path: Path, remote: GitHttpServer) -> None:
    work = clone(remote, tmp_path / "work")
    app = Services(settings_for(tmp_path, remote, git_token="nope-wrong"))
    v = app.wizard.start("local", str(work), provider="argocd")
    answers: dict[str, Any] = {"package": "kustomize", "repo_url": "https://github.com/x/y.git"}
    for _ in range(6):
        v = app.wizard.answer("local", v.session_id, answers, accept_defaults=True)
        answers = {}
    v = app.wizard.answer("local", v.session_id, {"delivery": "push"})
    assert v.status == "open" and v.step == "preview" and "credentials" in v.errors["delivery"]
    assert "nope-wrong" not in v.model_dump_json()


# -- the dot-ai class of attacks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/org/repo.git",
        "https://127.0.0.1.evil.example/org/repo.git",
        "https://github.com.evil.example/org/repo.git",
        "https://evilgithub.com/org/repo.git",
        "https://github.com@evil.example/org/repo.git",
        "https://user:pass@github.com/org/repo.git",
        "https://github.com/org/repo.git?x=@evil.example",
        "https://github.com/org/repo.git#@evil.example",
        "http://github.com/org/repo.git",
        "file:///etc/passwd",
        "git://github.com/org/repo.git",
        "ext::sh -c touch% /tmp/pwned",
        "-oProxyCommand=touch /tmp/pwned",
        "ssh://-oProxyCommand=touch/x",
    ],
)
def test_disallowed_remotes(url: str) -> None:
    s = Settings(allowed_git_hosts=["github.com"], git_token="tok-0123456789")
    with pytest.raises(GitOpsError) as err:
        parse_remote(url, s)
    assert "tok-0123456789" not in str(err.value) and ":pass@" not in str(err.value)


def test_allowed_host_needs_exact_match() -> None:
    s = Settings(allowed_git_hosts=["github.com", "git.internal:8443"])
    assert parse_remote("https://GitHub.com/org/repo.git", s).host == "github.com"
    assert parse_remote("git@github.com:org/repo.git", s).url == "ssh://git@github.com/org/repo.git"
    assert parse_remote("https://git.internal:8443/x.git", s).port == 8443
    with pytest.raises(PathNotAllowedError):
        parse_remote("https://git.internal/x.git", s)


def test_token_is_only_sent_to_its_host(tmp_path: Path, remote: GitHttpServer) -> None:
    """A caller-named host gets nothing; a redirect from the allowed host does not carry the token."""
    with RecordingServer() as evil:
        app = Services(settings_for(tmp_path, remote))
        with pytest.raises(PathNotAllowedError):
            app.inspect.detect(f"{evil.base}/org/repo.git")
        assert evil.log == []
    with RecordingServer() as evil:
        with RecordingServer(redirect_to=evil.base) as redirector:
            s = settings_for(tmp_path, remote, allowed_git_hosts=[f"127.0.0.1:{redirector.port}"])
            with pytest.raises(GitOpsError):
                GitDelivery(s).cached_clone(f"{redirector.base}/org/repo.git")
            assert redirector.log  # git talked to the allowed host ...
        assert all(entry.authorization is None for entry in evil.log)  # ... and never sent the token elsewhere


def test_paths_and_refs_are_guarded(tmp_path: Path, remote: GitHttpServer) -> None:
    work = clone(remote, tmp_path / "work")
    d = GitDelivery(settings_for(tmp_path, remote))
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, work / "out")
    os.symlink(work / ".git", work / "dotgit")
    for bad in ("../x.yaml", ".git/config", ".GIT/config", "out/x.yaml", "dotgit/config", "/etc/passwd"):
        with pytest.raises(GitOpsError):
            d.commit_and_push(work, [bad], "x")
    for branch in ("-f", "--upload-pack=evil", "a..b", "x.lock", "@{-1}", "has space"):
        with pytest.raises(GitOpsError, match="not a valid git ref"):
            d.commit_and_push(work, ["README.md"], "x", branch=branch, mode="pull_request")
    write(work, "secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  p: x\n")
    with pytest.raises(PolicyViolation, match="Secret"):
        d.commit_and_push(work, ["secret.yaml"], "x")
    assert remote.head(f"{REPO}.git") == tgit(work, "rev-parse", "origin/main")


def test_clone_cache_is_reused_and_clean(tmp_path: Path, remote: GitHttpServer) -> None:
    app = Services(settings_for(tmp_path, remote))
    url = remote.url(f"{REPO}.git")
    r1 = app.inspect.detect(url)
    assert any(p.path == "charts/podinfo" for p in r1.packages) and r1.root == url  # not the cache's path
    cached = app.shared.delivery.cache.find(url)
    assert cached is not None
    assert cached.is_relative_to(tmp_path / "cache")
    marker = cached / ".git" / "gitops-mcp-marker"
    marker.write_text("x", encoding="utf-8")
    seed = clone(remote, tmp_path / "other")
    write(seed, "apps/new/deploy.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: n\n")
    tgit(seed, "add", "-A")
    tgit(seed, "commit", "-qm", "new app")
    tgit(seed, "push", "-q", "origin", "main", env=remote.client_env())
    r2 = app.inspect.detect(url)
    assert marker.exists()  # fetched, not re-cloned
    assert any(p.path == "apps/new" for p in r2.packages)
    assert TOKEN not in (cached / ".git/config").read_text(encoding="utf-8")
    # shallow and sparse: detection read the tree from git objects, nothing below the root was checked out
    assert tgit(cached, "rev-parse", "--is-shallow-repository") == "true"
    assert tgit(cached, "config", "--bool", "core.sparseCheckout") == "true"
    assert not (cached / "charts").exists() and tgit(cached, "status", "--porcelain") == ""


def test_wizard_on_a_url_writes_pushes_and_rolls_back(tmp_path: Path, remote: GitHttpServer) -> None:
    app = Services(settings_for(tmp_path, remote))
    url = remote.url(f"{REPO}.git")
    v = app.wizard.start("local", url, intent="deploy kustomize with argo")
    answers: dict[str, Any] = {
        "package": "kustomize",
        "provider": "argocd",
        "repo_url": "https://github.com/o/r.git",
        "output_path": "apps/argocd/podinfo.yaml",
    }
    for _ in range(6):
        v = app.wizard.answer("local", v.session_id, answers, accept_defaults=True)
        answers = {}
    assert v.step == "preview" and v.preview is not None and v.preview.validation.valid
    v = app.wizard.answer("local", v.session_id, {"delivery": "push"})
    assert v.status == "done", v.errors
    assert remote.show(f"{REPO}.git", "main", "apps/argocd/podinfo.yaml").startswith("apiVersion: argoproj.io")
    cached = app.shared.delivery.cache.find(url)  # delivered from a working tree of its own, removed since
    assert cached is not None
    assert not (cached / "apps").exists() and tgit(cached, "status", "--porcelain") == ""
    assert not any((tmp_path / "cache/work").iterdir()) and tgit(cached, "worktree", "list").count("\n") == 0
    r = app.git.rollback(url, paths=["apps/argocd/podinfo.yaml"], mode="push")  # needs history: unshallowed
    assert r.reverted and "apps/argocd/podinfo.yaml" not in tgit(
        remote.root / f"{REPO}.git", "ls-tree", "-r", "--name-only", "main"
    )


def test_commit_in_sparse_cache_never_deletes_unmaterialized_files(
    tmp_path: Path, remote: GitHttpServer, forge: FakeForge
) -> None:
    """The cached clone is not a local path at all (issue 17, item 5; tests/git/test_private_dirs.py);
    its sparse files stay as they are."""
    app = Services(settings_for(tmp_path, remote, forge))
    app.inspect.detect(remote.url(f"{REPO}.git"))
    cached = app.shared.delivery.cache.find(remote.url(f"{REPO}.git"))
    assert cached is not None
    assert not (cached / "kustomize/deployment.yaml").exists()
    with pytest.raises(PathNotAllowedError, match="private to this server"):
        app.git.commit(str(cached), ["kustomize/deployment.yaml"], "touch nothing", mode="pull_request")
    assert not (cached / "kustomize/deployment.yaml").exists()


def test_token_never_lands_in_artifacts(tmp_path: Path, remote: GitHttpServer, forge: FakeForge) -> None:
    work = clone(remote, tmp_path / "work")
    d = GitDelivery(settings_for(tmp_path, remote, forge))
    write(work, "apps/a.yaml", CM.format("a"))
    outputs = [d.commit_and_push(work, ["apps/a.yaml"], "a").model_dump_json()]
    write(work, "apps/a.yaml", CM.format("b"))
    outputs.append(d.commit_and_push(work, ["apps/a.yaml"], "b", mode="pull_request").model_dump_json())
    outputs.append(d.rollback(work, paths=["apps/a.yaml"], mode="pull_request").model_dump_json())
    blobs = []
    for repo in (work, remote.root / f"{REPO}.git"):
        blobs.append(tgit(repo, "log", "--all", "-p", "--format=%H %an %ae %s %b"))
        blobs.append(
            subprocess.run(
                ["git", "cat-file", "--batch-all-objects", "--batch"], cwd=repo, capture_output=True, check=True
            ).stdout.decode("utf-8", "replace")
        )
    configs = [p.read_text(encoding="utf-8", errors="replace") for p in (work / ".git").rglob("config")]
    for text in outputs + blobs + configs:
        for secret in (TOKEN, FORGE_TOKEN, base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()):
            assert secret not in text


# -- scrubber ------------------------------------------------------------------------------------------


def test_scrubber_masks_credentials() -> None:
    text = (
        "fatal: unable to access 'https://user:hunter2@git.example/x.git/': Authorization: Basic dXNlcjpwYXNz "
        "token ghp_" + "a" * 36 + " and glpat-" + "b" * 20 + " PRIVATE-TOKEN: zzz"
    )
    out = scrub(text)
    for s in ("hunter2", "dXNlcjpwYXNz", "a" * 36, "b" * 20, "zzz"):
        assert s not in out
    assert "https://***@git.example/x.git/" in out


@pytest.mark.parametrize(
    "adversarial",
    [
        "https://" * 25000,
        "a" * 200_000,
        "Authorization:" * 14000,
        ("x://" + "a" * 300 + ":" + "b" * 600) * 220,
        "ghp_" + "a" * 199_990,
        "@" * 200_000,
        ("https://u:" + "p" * 500) * 390,
    ],
    ids=["schemes", "plain", "headers", "near-userinfo", "long-token", "ats", "unterminated"],
)
def test_scrubber_is_prompt_on_adversarial_input(adversarial: str) -> None:
    assert len(adversarial) >= 190_000
    done = threading.Event()
    threading.Thread(target=lambda: (scrub(adversarial), done.set()), daemon=True).start()
    assert done.wait(10), "the scrubber took more than 10 s on 200 KB"


def test_git_and_git_cmd_paths_avoid_options(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    from gitops_mcp.git.repo import GitRepo

    with GitRepo(repo) as g:
        assert g.rev("--all") is None  # treated as a ref name, not an option
    assert git(repo, "status", "--porcelain") == ""


# -- through MCP, with the server's logs and state searched for the credentials ------------------------


@pytest.mark.anyio
async def test_commit_tools_over_http_leak_nothing(tmp_path: Path, remote: GitHttpServer, forge: FakeForge) -> None:
    from mcp import Client

    from doubles.mcp_server import ServerProcess

    work = clone(remote, tmp_path / "work")
    write(work, "apps/cm.yaml", CM.format("mcp"))
    env = server_env(remote, forge)
    outputs: list[str] = []
    with ServerProcess(tmp_path, env=env) as srv:
        async with Client(srv.url) as c:
            r = await c.call_tool(
                "commit_and_push",
                {"repo_path": str(work), "paths": ["apps/cm.yaml"], "message": "Add cm", "mode": "pull_request"},
            )
            assert not r.is_error, r.content
            assert r.structured_content["pr_url"]  # type: ignore[index]
            outputs.append(r.model_dump_json())
            r = await c.call_tool(
                "commit_and_push", {"repo_path": str(work), "paths": ["../escape.yaml"], "message": "x"}
            )
            assert r.is_error and "'..'" in r.content[0].text  # type: ignore[union-attr]
            outputs.append(r.model_dump_json())
            r = await c.call_tool("rollback", {"repo_path": str(work), "shas": ["deadbeef"], "mode": "push"})
            assert r.is_error
            outputs.append(r.model_dump_json())
            r = await c.call_tool("detect_packages", {"repo_path": remote.url(f"{REPO}.git")})
            assert not r.is_error, r.content
            outputs.append(r.model_dump_json())
    texts = [*outputs, "".join(srv.stderr)]
    texts.extend(p.read_bytes().decode("utf-8", "replace") for p in (tmp_path / "state").rglob("*") if p.is_file())
    texts.extend(p.read_text(encoding="utf-8", errors="replace") for p in (tmp_path / "cache").rglob("config"))
    for text in texts:
        assert TOKEN not in text and FORGE_TOKEN not in text


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


async def test_new_user_flux_pull_request_to_a_protected_branch(
    tmp_path: Path, remote: GitHttpServer, forge: FakeForge
) -> None:
    """As a new user would: tokens in the server's environment, a real MCP client over streamable
    HTTP, main protected on the remote. The wizard's push is refused with the remote's reason and
    nothing is lost; the pull request opens; re-running the wizard updates that pull request; a
    wrong token and a disallowed host fail clearly; no token in any artifact."""
    from mcp import Client

    from doubles.mcp_server import ServerProcess

    remote.protect(f"{REPO}.git", "main")
    work = clone(remote, tmp_path / "work")
    head = tgit(work, "rev-parse", "HEAD")
    env = server_env(remote, forge)
    outputs: list[str] = []

    async def call(c: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
        r = await c.call_tool(tool, args)
        outputs.append(r.model_dump_json())
        assert not r.is_error, r.content
        assert r.structured_content is not None
        return r.structured_content

    async def to_preview(c: Client, answers: dict[str, Any]) -> str:
        v = await call(c, "start_deployment", {"repo_path": str(work), "intent": "deploy podinfo", "provider": "flux"})
        sid = str(v["session_id"])
        for _ in range(8):
            v = await call(c, "answer_questions", {"session_id": sid, "answers": answers, "accept_defaults": True})
            answers = {}
            if v["step"] == "preview":
                return sid
        raise AssertionError(f"no preview: {v}")

    first_answers = {"package": "charts/podinfo", "repo_url": "https://github.com/stefanprodan/podinfo.git"}
    servers: list[ServerProcess] = []
    with ServerProcess(tmp_path, env=env) as srv:
        servers.append(srv)
        async with Client(srv.url) as c:
            sid = await to_preview(c, dict(first_answers))
            v = await call(c, "answer_questions", {"session_id": sid, "answers": {"delivery": "push"}})
            assert v["status"] == "open" and v["step"] == "preview"
            refusal = v["errors"]["delivery"]
            assert "GH006: Protected branch update failed" in refusal and "delivery=pull_request" in refusal
            assert tgit(work, "rev-parse", "HEAD") == head and remote.head(f"{REPO}.git", "main") is not None
            assert tgit(work, "status", "--porcelain", "-uall").startswith("??")  # the written file is still there
            v = await call(c, "answer_questions", {"session_id": sid, "answers": {"delivery": "pull_request"}})
            assert v["status"] == "done", v
            first = v["result"]
            assert first["pr_url"] and first["commit_sha"] and first["branch"].startswith("gitops-mcp/")
            assert "kind: HelmRelease" in remote.show(f"{REPO}.git", first["branch"], first["file"])
            # a second run with another answer updates the same pull request
            sid = await to_preview(c, {**first_answers, "interval": "10m"})
            v = await call(c, "answer_questions", {"session_id": sid, "answers": {"delivery": "pull_request"}})
            again = v["result"]
            assert (again["pr_url"], again["branch"]) == (first["pr_url"], first["branch"])
            assert again["commit_sha"] != first["commit_sha"]
            assert len(forge.store.pulls[REPO]) == 1
            assert "interval: 10m" in remote.show(f"{REPO}.git", first["branch"], first["file"])
    assert tgit(work, "rev-parse", "HEAD") == head  # the user's branch never moved
    # a wrong token, and a host that is not allowed: clear errors, nothing pushed
    pushed = remote.head(f"{REPO}.git", first["branch"])
    for extra, expect in (
        ({"GITOPS_MCP_GIT_TOKEN": "wrong-" + TOKEN[::-1]}, "GITOPS_MCP_GIT_TOKEN"),
        ({"GITOPS_MCP_ALLOWED_GIT_HOSTS": "github.com"}, "GITOPS_MCP_ALLOWED_GIT_HOSTS"),
    ):
        with ServerProcess(tmp_path, env={**env, **extra}) as srv:
            servers.append(srv)
            async with Client(srv.url) as c:
                r = await c.call_tool(
                    "commit_and_push",
                    {"repo_path": str(work), "paths": [first["file"]], "message": "x", "mode": "pull_request"},
                )
                outputs.append(r.model_dump_json())
                assert r.is_error and expect in r.content[0].text, r.content  # type: ignore[union-attr]
    assert remote.head(f"{REPO}.git", first["branch"]) == pushed and len(forge.store.pulls[REPO]) == 1
    texts = [*outputs, *("".join(s.stderr) for s in servers), (work / ".git/config").read_text(encoding="utf-8")]
    texts.extend(p.read_bytes().decode("utf-8", "replace") for p in (tmp_path / "state").rglob("*") if p.is_file())
    texts.append(tgit(tmp_path / "srv" / f"{REPO}.git", "log", "--all", "-p", "--format=%H %an %ae%n%B"))
    texts.extend(str(q.body) + str(q.path) for q in forge.requests)
    for text in texts:
        assert TOKEN not in text and FORGE_TOKEN not in text and TOKEN[::-1] not in text
