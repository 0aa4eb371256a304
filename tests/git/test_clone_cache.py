"""The clone cache cannot be steered out of itself, and git never runs a transport helper.

The reproduction of the hardening issue's first defect: a URL whose path climbs with ``..``
used to name a directory outside the cache; the second call ran ``git fetch`` in whatever
repository sat there, and a repository configured with an ``ext::`` insteadOf ran a shell
command. Every form of the URL is refused before any git call, and the marker is never made.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import git, make_repo
from doubles.git_remote import GitHttpServer
from gitops_mcp.errors import GitAuthError, GitError, GitOpsError, PathNotAllowedError, UserInputError
from gitops_mcp.git.cache import MARKER, CloneCache, cache_key, cache_name
from gitops_mcp.git.remote import check_repo_path, parse_remote
from gitops_mcp.git.safety import git_argv
from gitops_mcp.services import Services
from gitops_mcp.settings import Settings

TOKEN = "gt-cache-0123456789-SECRET"


def _victim(tmp_path: Path) -> tuple[Path, Path]:
    """A repository outside every root whose config would run a shell command on fetch."""
    victim = make_repo(tmp_path / "outside" / "victim")
    marker = tmp_path / "EXT_MARKER"
    git(victim, "config", f"url.ext::sh -c touch% {marker}% #.insteadOf", "https://github.com/")
    git(victim, "config", "protocol.ext.allow", "always")
    return victim, marker


def _urls(target: Path) -> list[str]:
    climb = "../" * 20 + str(target).lstrip("/")
    return [
        f"https://github.com/{climb}",
        f"ssh://git@github.com/{climb}",
        f"git@github.com:{climb}",
        f"https://github.com/%2e%2e/{'%2e%2e/' * 19}{str(target).lstrip('/')}",
        f"https://github.com/org/..%2f..%2f{str(target).lstrip('/')}",
        f"https://github.com/org/./{str(target).lstrip('/')}",
    ]


def test_ext_marker_is_what_the_victim_would_run(tmp_path: Path) -> None:
    """The trap is real: plain git in the victim runs the command (so the tests below can fail)."""
    victim, marker = _victim(tmp_path)
    subprocess.run(
        ["git", "fetch", "--quiet", "https://github.com/x/y"], cwd=victim, capture_output=True, timeout=60, check=False
    )
    assert marker.exists()
    marker.unlink()
    # ... and our git command line refuses the helper whatever the repository says.
    r = subprocess.run(
        git_argv("fetch", "--quiet", "https://github.com/x/y"), cwd=victim, capture_output=True, timeout=60, text=True
    )
    assert r.returncode != 0 and not marker.exists()


@pytest.mark.parametrize("form", range(6))
def test_traversal_urls_are_refused_before_any_git(tmp_path: Path, form: int) -> None:
    victim, marker = _victim(tmp_path)
    settings = Settings(
        allowed_roots=[tmp_path / "roots"],
        state_dir=tmp_path / "state",
        cache_dir=tmp_path / "cache",
        allowed_git_hosts=["github.com"],
    )
    app = Services(settings)
    url = _urls(victim)[form]
    before = sorted(p for p in tmp_path.rglob("*") if "cache" not in p.parts)
    for _ in range(2):  # the first call used to create the directories, the second to run git there
        with pytest.raises(UserInputError, match=r"segment|percent-encoded"):
            app.inspect.detect(url)
        with pytest.raises(UserInputError, match=r"segment|percent-encoded"):
            app.wizard.start("alice", url, "deploy podinfo", "flux")
    assert not marker.exists()
    assert sorted(p for p in tmp_path.rglob("*") if "cache" not in p.parts) == before
    assert git(victim, "log", "--oneline").count("\n") == 0  # nothing fetched into the victim
    app.close()


@pytest.mark.parametrize(
    "path",
    ["/org/../x", "/org/./x", "/org//x", "/org/%2e%2e/x", "/org/x\\..\\y", "/", "", "/org/...", "/org/x y", "/a/\x00"],
)
def test_repo_paths_a_forge_would_not_serve(path: str) -> None:
    with pytest.raises(UserInputError):
        check_repo_path(path)


@pytest.mark.parametrize("path", ["/org/repo.git", "/org/repo", "/group/sub/repo.git/", "/~user/repo", "/o/.github"])
def test_repo_paths_forges_serve(path: str) -> None:
    assert check_repo_path(path) == path.rstrip("/")


def test_cache_directory_cannot_be_named_by_a_url(tmp_path: Path) -> None:
    s = Settings(allowed_roots=[tmp_path], cache_dir=tmp_path / "cache", allowed_git_hosts=["github.com"])
    cache = CloneCache(s)
    https = parse_remote("https://github.com/Org/Repo.git", s)
    scp = parse_remote("git@github.com:Org/Repo", s)
    assert cache_key(https) == cache_key(scp) == "github.com/Org/Repo"
    dest = cache.destination(https)
    assert dest.parent == (tmp_path / "cache" / "repos").resolve()
    assert dest.name.endswith("-github.com-repo") and "/" not in dest.name
    assert cache_name("evil.example/../../../../x").count("/") == 0


def test_cache_runs_git_only_in_what_it_made(tmp_path: Path) -> None:
    """A directory at the cache's own destination that the cache did not make is removed, not used."""
    with GitHttpServer(tmp_path / "srv", users={"x-access-token": TOKEN}) as srv:
        srv.create_repo("org/app.git")
        seed = make_repo(tmp_path / "seed")
        subprocess.run(
            ["git", "push", "--quiet", srv.url("org/app.git"), "main"],
            cwd=seed,
            env=srv.client_env(),
            check=True,
            capture_output=True,
        )
        s = Settings(
            allowed_roots=[tmp_path / "roots"],
            cache_dir=tmp_path / "cache",
            git_token=TOKEN,
            allowed_git_hosts=[f"127.0.0.1:{srv.port}"],
            git_allow_http=True,
        )
        cache = CloneCache(s)
        url = srv.url("org/app.git")
        dest = cache.destination(parse_remote(url, s))
        # Someone planted a repository (with the ext:: trap) where the clone will go.
        dest.parent.mkdir(parents=True)
        planted = make_repo(dest)
        marker = tmp_path / "PLANTED_MARKER"
        git(planted, "config", f"url.ext::sh -c touch% {marker}% #.insteadOf", srv.base + "/")
        git(planted, "config", "protocol.ext.allow", "always")
        got = cache.clone(url)
        assert got == dest and (dest / ".git" / MARKER).is_file()
        assert not marker.exists()
        assert git(dest, "log", "--format=%s") == "initial"
        assert TOKEN not in (dest / ".git" / "config").read_text(encoding="utf-8")
        # A refresh works, and a clone cut off half-way (no marker) is made again.
        assert cache.clone(url) == dest
        (dest / ".git" / MARKER).unlink()
        assert cache.clone(url) == dest and (dest / ".git" / MARKER).is_file()
        assert not [p for p in dest.parent.iterdir() if p.name.startswith(".clone-")]
        assert cache.find(f"http://127.0.0.1:{srv.port}/org/app") == dest


def test_symlinked_destination_is_refused(tmp_path: Path) -> None:
    s = Settings(allowed_roots=[tmp_path], cache_dir=tmp_path / "cache", allowed_git_hosts=["github.com"])
    cache = CloneCache(s)
    remote = parse_remote("https://github.com/org/repo.git", s)
    dest = cache.destination(remote)
    dest.parent.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, dest)
    with pytest.raises(PathNotAllowedError):
        cache.destination(remote)
    with pytest.raises(GitOpsError):
        cache.clone("https://github.com/org/repo.git")
    assert elsewhere.is_dir() and not any(elsewhere.iterdir())


def test_a_missing_repository_is_not_taken_for_refused_credentials(tmp_path: Path) -> None:
    """git's message names the URL; "401" or "403" in it (a port, a path) is not a refusal. Wrong
    credentials still are."""
    with GitHttpServer(tmp_path / "srv", users={"x-access-token": TOKEN}) as srv:

        def settings(token: str) -> Settings:
            return Settings(
                allowed_roots=[tmp_path / "roots"],
                cache_dir=tmp_path / f"cache-{token[:4]}",
                git_token=token,
                allowed_git_hosts=[f"127.0.0.1:{srv.port}"],
                git_allow_http=True,
            )

        missing = srv.url("org/app-401-403.git")
        with pytest.raises(GitError, match="not found") as e:
            CloneCache(settings(TOKEN)).clone(missing)
        assert not isinstance(e.value, GitAuthError)
        srv.create_repo("org/app-401-403.git")
        with pytest.raises(GitAuthError, match="was refused"):
            CloneCache(settings("wrong-token-0123456789")).clone(missing)
