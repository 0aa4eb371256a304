"""A local repository's own git configuration (issue 17, item 7).

Decided: its hooks, filter/merge/diff drivers, commit signing (``gpg.program``) and credential
helpers run only when ``GITOPS_MCP_TRUST_REPO_GIT_CONFIG`` is on; by default that is so over stdio
(the user's own assistant on the user's machine) and not over HTTP/SSE, where the server acts for
remote callers who can write ``.gitattributes`` or a hook framework's config into the tree. Each of
them writes a marker file when it runs; with the setting off no marker ever appears, and with it
on they do (so the markers are seen when they run). ``url.<base>.insteadOf`` and
``pushInsteadOf`` are followed to the URL git will really use, and a rewrite to a host outside
``GITOPS_MCP_ALLOWED_GIT_HOSTS`` is refused before anything is fetched or pushed.
"""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest

from doubles.forge import FakeForge
from doubles.git_remote import GitHttpServer
from doubles.listener import Listener
from gitops_mcp.errors import GitAuthError, GitError, PathNotAllowedError
from gitops_mcp.git.delivery import GitDelivery
from gitops_mcp.git.remote import effective_urls
from gitops_mcp.services import Services
from test_git_delivery import CM, REPO, TOKEN, clone, forge, remote, settings_for, write

__all__ = ["forge", "remote"]  # the fixtures

HOOKS = ("pre-commit", "prepare-commit-msg", "commit-msg", "post-commit", "pre-push", "reference-transaction")
HOOKS += ("post-checkout", "post-rewrite", "pre-rebase", "post-index-change")


def script(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def cfg(repo: Path, key: str, value: str) -> None:
    subprocess.run(["git", "config", key, value], cwd=repo, check=True)


def armed(tmp_path: Path, remote: GitHttpServer) -> tuple[Path, Path]:
    """A clone whose hooks, filter, merge and diff drivers and credential helper write markers."""
    work = clone(remote, tmp_path / "work")
    marks = tmp_path / "marks"
    marks.mkdir()
    for hook in HOOKS:
        script(work / ".git/hooks" / hook, f'touch "{marks}/hook-{hook}"\ncat >/dev/null 2>&1 || true\nexit 0\n')
    clean = script(tmp_path / "bin/clean", f'touch "{marks}/filter"\ncat\n')
    cfg(work, "filter.evil.clean", str(clean))
    cfg(work, "filter.evil.smudge", str(clean))
    cfg(work, "merge.evil.driver", str(script(tmp_path / "bin/merge", f'touch "{marks}/merge"\nexit 1\n')))
    cfg(work, "diff.evil.textconv", str(script(tmp_path / "bin/textconv", f'touch "{marks}/textconv"\ncat "$1"\n')))
    helper = script(tmp_path / "bin/cred", f'touch "{marks}/credential"\necho username=x-access-token\n')
    (tmp_path / "bin/cred").write_text(helper.read_text() + f"echo password={TOKEN}\n", encoding="utf-8")
    cfg(work, "credential.helper", str(helper))
    write(work, ".gitattributes", "*.yaml filter=evil merge=evil diff=evil\n")  # as a caller could
    return work, marks


@pytest.mark.parametrize("mode", ["push", "pull_request"])
def test_nothing_of_a_local_repositorys_own_config_runs_when_not_trusted(
    tmp_path: Path, remote: GitHttpServer, forge: FakeForge, mode: str
) -> None:
    work, marks = armed(tmp_path, remote)
    settings = settings_for(tmp_path, remote, forge, transport="http")  # the default over HTTP: not trusted
    assert not settings.repo_git_config_trusted
    d = GitDelivery(settings)
    write(work, "apps/cm.yaml", CM.format("blue"))
    r = d.commit_and_push(work, ["apps/cm.yaml"], "Add app config", mode=mode)  # type: ignore[arg-type]
    assert r.status in ("pushed", "pull_request"), r
    assert remote.show(f"{REPO}.git", r.branch or "main", "apps/cm.yaml") == CM.format("blue")
    # a rejected push: fetched, rebased (post-rewrite, merge driver), pushed again
    other = clone(remote, tmp_path / "other")
    write(other, "apps/other.yaml", CM.format("red"))
    subprocess.run(["git", "add", "-A"], cwd=other, check=True)
    subprocess.run(["git", "commit", "-qm", "other"], cwd=other, check=True)
    subprocess.run(["git", "push", "-q", "origin", "HEAD:main"], cwd=other, check=True, env=remote.client_env())
    write(work, "apps/cm.yaml", CM.format("green"))
    d.commit_and_push(work, ["apps/cm.yaml"], "Green", mode=mode)  # type: ignore[arg-type]
    assert sorted(p.name for p in marks.iterdir()) == []


def test_signing_and_the_credential_helper_do_not_run_when_not_trusted(tmp_path: Path, remote: GitHttpServer) -> None:
    work, marks = armed(tmp_path, remote)
    gpg = script(tmp_path / "bin/gpg", f'touch "{marks}/gpg"\nexit 1\n')
    cfg(work, "commit.gpgSign", "true")
    cfg(work, "gpg.program", str(gpg))
    settings = settings_for(tmp_path, remote, transport="http", git_token=None)  # only the helper knows it
    write(work, "apps/cm.yaml", CM.format("blue"))
    with pytest.raises(GitAuthError):
        GitDelivery(settings).commit_and_push(work, ["apps/cm.yaml"], "Add app config")
    assert sorted(p.name for p in marks.iterdir()) == []


def test_trusted_the_repositorys_own_config_runs(tmp_path: Path, remote: GitHttpServer) -> None:
    """The other side of the setting, and proof that the markers appear when these do run."""
    work, marks = armed(tmp_path, remote)
    settings = settings_for(tmp_path, remote, git_token=None, trust_repo_git_config=True)
    assert settings.repo_git_config_trusted
    write(work, "apps/cm.yaml", CM.format("blue"))
    r = GitDelivery(settings).commit_and_push(work, ["apps/cm.yaml"], "Add app config")
    assert r.status == "pushed"  # with the helper's credentials
    seen = {p.name for p in marks.iterdir()}
    assert {"filter", "credential", "hook-post-commit", "hook-pre-push"} <= seen, seen
    cfg(work, "commit.gpgSign", "true")
    cfg(work, "gpg.program", str(script(tmp_path / "bin/gpg", f'touch "{marks}/gpg"\nexit 1\n')))
    write(work, "apps/cm.yaml", CM.format("red"))
    with pytest.raises(GitError, match="gpg"):
        GitDelivery(settings).commit_and_push(work, ["apps/cm.yaml"], "Signed")
    assert (marks / "gpg").exists()


def test_stdio_trusts_and_http_does_not_by_default(tmp_path: Path, remote: GitHttpServer) -> None:
    assert settings_for(tmp_path, remote, transport="stdio").repo_git_config_trusted
    assert not settings_for(tmp_path, remote, transport="http").repo_git_config_trusted
    assert not settings_for(tmp_path, remote, transport="sse").repo_git_config_trusted
    assert not settings_for(tmp_path, remote, transport="stdio", trust_repo_git_config=False).repo_git_config_trusted


@pytest.mark.parametrize("key", ["insteadOf", "pushInsteadOf"])
@pytest.mark.parametrize("trusted", [True, False])
def test_a_rewrite_to_a_host_not_allowed_is_refused(
    tmp_path: Path, remote: GitHttpServer, key: str, trusted: bool
) -> None:
    work = clone(remote, tmp_path / "work")
    head = remote.head(f"{REPO}.git")
    with Listener() as ear:
        base = remote.url("")
        cfg(work, f"url.http://127.0.0.1:{ear.port}/.{key}", base)
        fetch, push = effective_urls(remote.url(f"{REPO}.git"), work)
        assert (push if key == "pushInsteadOf" else fetch) == f"http://127.0.0.1:{ear.port}/{REPO}.git"
        if key == "insteadOf":  # the same answer as git's own
            said = subprocess.run(
                ["git", "ls-remote", "--get-url", "--", remote.url(f"{REPO}.git")],
                cwd=work,
                capture_output=True,
                text=True,
                check=True,
            )
            assert said.stdout.strip() == fetch
        write(work, "apps/cm.yaml", CM.format("blue"))
        d = GitDelivery(settings_for(tmp_path, remote, trust_repo_git_config=trusted))
        for mode in ("push", "pull_request"):
            with pytest.raises(PathNotAllowedError, match=key) as exc:
                d.commit_and_push(work, ["apps/cm.yaml"], "Add app config", mode=mode)  # type: ignore[arg-type]
            assert "ALLOWED_GIT_HOSTS" in str(exc.value) and f"127.0.0.1:{ear.port}" in str(exc.value)
        assert ear.count == 0
    assert remote.head(f"{REPO}.git") == head
    assert (
        "apps/cm.yaml"
        not in subprocess.run(
            ["git", "log", "-1", "--name-only", "--format="], cwd=work, capture_output=True, text=True, check=True
        ).stdout
    )


def test_the_servers_own_rewrite_is_checked_for_the_clone_cache(
    tmp_path: Path, remote: GitHttpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Listener() as ear:
        gitconfig = tmp_path / "gitconfig"
        gitconfig.write_text(f'[url "http://127.0.0.1:{ear.port}/"]\n\tinsteadOf = {remote.url("")}\n', "utf-8")
        monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
        app = Services(settings_for(tmp_path, remote))
        try:
            with pytest.raises(PathNotAllowedError, match="insteadOf"):
                app.inspect.detect(remote.url(f"{REPO}.git"))
        finally:
            app.close()
        assert ear.count == 0
