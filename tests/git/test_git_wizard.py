"""The wizard and the tools on a repository's URL, delivering through the real remote: pull requests
opened and updated, a git failure reported on delivery, the clone cache reused and never written
through, and a new user's first pull request to a protected branch over MCP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import wizard_to_preview
from doubles.forge import FakeForge
from doubles.git_remote import GitHttpServer
from gitops_mcp.errors import PathNotAllowedError
from gitops_mcp.services import Services
from test_git_delivery import FORGE_TOKEN, REPO, TOKEN, clone, forge, remote, server_env, settings_for, tgit, write

__all__ = ["forge", "remote"]  # the fixtures


def test_wizard_delivers_as_pull_request(tmp_path: Path, remote: GitHttpServer, forge: FakeForge) -> None:
    work = clone(remote, tmp_path / "work")
    app = Services(settings_for(tmp_path, remote, forge))
    answers: dict[str, Any] = {
        "package": "charts/podinfo",
        "provider": "flux",
        "repo_url": "https://github.com/stefanprodan/podinfo.git",
    }
    v = wizard_to_preview(app, work, answers, intent="deploy charts/podinfo with flux")
    assert v.questions[0].options == ["write", "push", "pull_request"]
    v = app.wizard.answer("local", v.session_id, {"delivery": "pull_request"})
    assert v.status == "done", v.errors
    assert v.result is not None and v.result.pr_url and v.result.commit_sha
    assert remote.show(f"{REPO}.git", v.result.branch or "", v.result.file).startswith("apiVersion:")
    first = v.result
    # running the wizard again with a changed answer updates the same pull request
    v2 = wizard_to_preview(app, work, {**answers, "interval": "10m"}, intent="deploy charts/podinfo with flux")
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
    answers: dict[str, Any] = {
        "package": "kustomize",
        "provider": "argocd",
        "repo_url": "https://github.com/o/r.git",
        "output_path": "apps/argocd/podinfo.yaml",
    }
    v = wizard_to_preview(app, url, answers, intent="deploy kustomize with argo")
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
