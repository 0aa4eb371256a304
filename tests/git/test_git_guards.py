"""What git delivery refuses and never leaks: remotes of the dot-ai class of attacks, a token sent
only to its host, paths and refs guarded, credentials scrubbed from every output, and none in any
artifact (commits, configs, the server's logs and state through MCP)."""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from pathlib import Path

import pytest

from conftest import git, make_repo
from doubles.forge import FakeForge
from doubles.git_remote import GitHttpServer, RecordingServer
from gitops_mcp.errors import GitOpsError, PathNotAllowedError, PolicyViolation
from gitops_mcp.git.delivery import GitDelivery
from gitops_mcp.git.remote import parse_remote
from gitops_mcp.scrub import scrub
from gitops_mcp.services import Services
from gitops_mcp.settings import Settings
from test_git_delivery import CM, FORGE_TOKEN, REPO, TOKEN, clone, forge, remote, server_env, settings_for, tgit, write

__all__ = ["forge", "remote"]  # the fixtures

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
