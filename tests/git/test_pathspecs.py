"""commit_and_push paths are literal file names (issue 17, item 2): pathspec patterns and magic
(``*``, ``:/``, ``:(glob)**``, ``apps/s.y*``) and a tracked directory never commit or push files
that were not named, a plain Secret among them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from doubles.git_remote import GitHttpServer
from gitops_mcp.errors import UserInputError
from gitops_mcp.git.delivery import GitDelivery
from test_git_delivery import REPO, clone, remote, settings_for, write

__all__ = ["remote"]  # the fixture

SECRET = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: hunter2\n"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: sky\ndata:\n  a: b\n"


def _files_on_remote(srv: GitHttpServer) -> set[str]:
    out = subprocess.run(
        ["git", "--git-dir", str(srv.root / f"{REPO}.git"), "ls-tree", "-r", "--name-only", "main"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return set(out.splitlines())


@pytest.mark.parametrize("spec", ["*", ":/", ":(glob)**", "apps/s?y*", "apps/s.y*", ":(top)apps", ":!kustomize"])
@pytest.mark.parametrize("mode", ["push", "pull_request"])
def test_a_pathspec_commits_nothing_unnamed(tmp_path: Path, remote: GitHttpServer, spec: str, mode: str) -> None:
    work = clone(remote, tmp_path / "work")
    write(work, "apps/s.yaml", SECRET)  # a plain Secret nobody named
    write(work, "apps/sky.yaml", CM)
    before_head, before_files = remote.head(f"{REPO}.git"), _files_on_remote(remote)
    d = GitDelivery(settings_for(tmp_path, remote, forge="github"))
    try:
        r = d.commit_and_push(work, [spec], "pathspec", mode=mode)  # type: ignore[arg-type]
        assert r.status == "no_changes", r
    except UserInputError:
        pass
    assert remote.head(f"{REPO}.git") == before_head
    assert _files_on_remote(remote) == before_files
    status = subprocess.run(["git", "status", "--porcelain"], cwd=work, capture_output=True, text=True).stdout
    assert "?? apps/" in status  # still untracked, nothing committed locally either


def test_a_named_file_beside_pattern_lookalikes_commits_only_itself(tmp_path: Path, remote: GitHttpServer) -> None:
    work = clone(remote, tmp_path / "work")
    write(work, "apps/s.yaml", SECRET)
    write(work, "apps/sky.yaml", CM)
    d = GitDelivery(settings_for(tmp_path, remote))
    before = _files_on_remote(remote)
    r = d.commit_and_push(work, ["apps/sky.yaml", "apps/s*"], "one file")
    assert r.status == "pushed" and r.files == ["apps/sky.yaml", "apps/s*"]
    assert _files_on_remote(remote) == before | {"apps/sky.yaml"}


def test_a_tracked_directory_is_not_a_file_even_when_deleted(tmp_path: Path, remote: GitHttpServer) -> None:
    work = clone(remote, tmp_path / "work")
    for f in (work / "kustomize").iterdir():
        f.unlink()
    (work / "kustomize").rmdir()
    before = remote.head(f"{REPO}.git")
    d = GitDelivery(settings_for(tmp_path, remote))
    with pytest.raises(UserInputError, match="name each file") as exc:
        d.commit_and_push(work, ["kustomize"], "delete the app")
    assert "kustomize/kustomization.yaml" in str(exc.value)
    assert remote.head(f"{REPO}.git") == before
    head = subprocess.run(["git", "log", "-1", "--format=%s"], cwd=work, capture_output=True, text=True).stdout
    assert head.strip() != "delete the app"
