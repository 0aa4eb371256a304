"""Remotes: which ones are allowed, and the per-command credentials for them.

A credential is only ever attached to the host it is configured for: HTTPS tokens go into an
``http.<scheme>://<host>/.extraHeader`` setting passed through the environment of the one git
command (never argv, never ``.git/config``), so git sends it to that host and nowhere else.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from gitops_mcp.errors import PathNotAllowedError, UserInputError
from gitops_mcp.git.safety import SAFE_ENV, git_argv
from gitops_mcp.git.urls import normalize_git_url
from gitops_mcp.settings import Settings

_HOST = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")
_SEGMENT = re.compile(r"^[A-Za-z0-9._~+-]{1,255}$")
MAX_PATH = 1024


def check_repo_path(path: str) -> str:
    """The path of a remote repository URL as a forge serves it: ``/org/repo(.git)``.

    Refused: ``.`` and ``..`` segments (also percent-encoded: any ``%``), empty segments,
    backslashes and every character outside ``A-Z a-z 0-9 . _ ~ + -``.

    Raises:
        UserInputError: the path could name something other than one repository on the host.
    """
    if len(path) > MAX_PATH:
        raise UserInputError(f"the repository path is {len(path)} characters long; at most {MAX_PATH}")
    if "%" in path:
        raise UserInputError("the repository path is percent-encoded; write it plainly (org/repo.git)")
    shown = path if len(path) <= 100 else path[:60] + "…" + path[-30:]
    trimmed = path[:-1] if path.endswith("/") else path
    if not trimmed.startswith("/") or trimmed == "/":
        raise UserInputError("the URL names no repository: add its path (org/repo.git)")
    for segment in trimmed[1:].split("/"):
        if not segment:
            raise UserInputError(f"the repository path {shown!r} has an empty segment ('//')")
        if set(segment) == {"."}:
            raise UserInputError(
                f"the repository path {shown!r} has a {segment!r} segment; a forge serves no such path"
            )
        if not _SEGMENT.match(segment):
            raise UserInputError(
                f"the repository path segment {segment[:80]!r} has characters a forge does not serve "
                "(allowed: letters, digits, . _ ~ + -)"
            )
    return trimmed


@dataclass(frozen=True)
class Remote:
    """A parsed, allowed remote URL (never with credentials)."""

    url: str
    scheme: str
    host: str
    port: int | None
    path: str

    @property
    def netloc(self) -> str:
        return self.host + (f":{self.port}" if self.port else "")

    @property
    def repo_path(self) -> str:
        """``org/repo`` (GitLab: ``group/sub/repo``) without ``.git``."""
        p = self.path.strip("/")
        return p[:-4] if p.endswith(".git") else p


def parse_remote(url: str, settings: Settings) -> Remote:
    """Parse ``url`` and check it against the allowed schemes and hosts.

    Raises:
        UserInputError: not a usable remote URL (credentials, query, bad characters).
        PathNotAllowedError: the scheme or host is not allowed by the configuration.
    """
    raw = url.strip()
    if raw.startswith("-"):
        raise UserInputError("a remote URL cannot start with '-'")
    if raw.startswith("file://"):
        if not settings.git_allow_file:
            raise PathNotAllowedError("file:// remotes are disabled; set GITOPS_MCP_GIT_ALLOW_FILE=true (tests only)")
        return Remote(url=raw, scheme="file", host="", port=None, path=urlsplit(raw).path)
    parts = urlsplit(raw)
    if parts.scheme in ("http", "https") and (parts.username or parts.password or "@" in parts.netloc):
        raise UserInputError("the remote URL contains credentials; remove them and set GITOPS_MCP_GIT_TOKEN instead")
    try:
        normalized = normalize_git_url(raw)
    except ValueError as exc:
        raise UserInputError(str(exc)) from exc
    p = urlsplit(normalized)
    scheme = p.scheme
    if scheme not in ("https", "ssh", "http"):
        raise PathNotAllowedError(f"{scheme}:// remotes are not allowed; use https:// or ssh://")
    if scheme == "http" and not settings.git_allow_http:
        raise PathNotAllowedError("http:// remotes are disabled; use https:// (or GITOPS_MCP_GIT_ALLOW_HTTP=true)")
    host = (p.hostname or "").lower()
    if not _HOST.match(host):
        raise UserInputError(f"{host!r} is not a valid host name")
    if scheme == "ssh" and p.username and not re.match(r"^[A-Za-z0-9._-]+$", p.username):
        raise UserInputError("the ssh user name contains characters that are not allowed")
    remote = Remote(url=normalized, scheme=scheme, host=host, port=p.port, path=check_repo_path(p.path))
    if not host_allowed(remote, settings.allowed_git_hosts):
        raise PathNotAllowedError(
            f"the host {remote.netloc} is not in GITOPS_MCP_ALLOWED_GIT_HOSTS "
            f"({', '.join(settings.allowed_git_hosts) or 'empty'}); add it there to allow it"
        )
    return remote


def host_allowed(remote: Remote, allowed: list[str]) -> bool:
    """Exact host match; an entry with a port also requires that port."""
    for entry in allowed:
        e = entry.strip().lower()
        if not e:
            continue
        host, _, port = e.partition(":")
        if host == remote.host and (not port or (remote.port is not None and port == str(remote.port))):
            return True
    return False


def git_env(remote: Remote | None, settings: Settings) -> dict[str, str]:
    """Environment for one git command talking to ``remote``: no prompts, credentials for that host only."""
    env = {
        **SAFE_ENV,
        "GCM_INTERACTIVE": "never",
        "GIT_CONFIG_COUNT": "0",
    }
    if "GIT_SSH_COMMAND" not in os.environ:
        env["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes"
    if remote is not None and remote.scheme in ("https", "http") and settings.git_token is not None:
        basic = f"{settings.git_username}:{settings.git_token.get_secret_value()}"
        header = "Authorization: Basic " + base64.b64encode(basic.encode()).decode()
        env.update(
            {
                "GIT_CONFIG_COUNT": "1",
                "GIT_CONFIG_KEY_0": f"http.{remote.scheme}://{remote.netloc}/.extraHeader",
                "GIT_CONFIG_VALUE_0": header,
            }
        )
    return env


def _rewrite(url: str, rules: list[tuple[str, str]]) -> str | None:
    """git's ``alias_url``: the base of the longest matching prefix put in its place, or None."""
    best: tuple[str, str] | None = None
    for base, prefix in rules:
        if url.startswith(prefix) and (best is None or len(prefix) > len(best[1])):
            best = (base, prefix)
    return None if best is None else best[0] + url[len(best[1]) :]


def effective_urls(url: str, cwd: Path | None = None) -> tuple[str, str]:
    """(fetch URL, push URL) git really uses for ``url`` in ``cwd`` (a repository: its own config
    too; None: the user's and system's only), after ``url.<base>.insteadOf`` and
    ``url.<base>.pushInsteadOf`` of every config file git reads there."""
    proc = subprocess.run(
        git_argv("config", "-z", "--get-regexp", r"^url\..*\.(push)?insteadof$"),
        cwd=str(cwd) if cwd is not None else os.path.abspath(os.sep),
        env={**os.environ, **SAFE_ENV},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    fetch: list[tuple[str, str]] = []
    push: list[tuple[str, str]] = []
    for entry in proc.stdout.split("\0"):
        key, _, value = entry.partition("\n")
        lower = key.lower()
        for suffix, rules in ((".pushinsteadof", push), (".insteadof", fetch)):
            if lower.startswith("url.") and lower.endswith(suffix):
                rules.append((key[4 : -len(suffix)], value))
                break
    fetched = _rewrite(url, fetch) or url
    return fetched, _rewrite(url, push) or fetched


def check_rewrites(remote: Remote, settings: Settings, cwd: Path | None = None) -> None:
    """The URLs git will really fetch from and push to for ``remote`` must be allowed too.

    Raises:
        PathNotAllowedError: a rewrite leads to a scheme or host that is not allowed.
    """
    from gitops_mcp.scrub import scrub

    if remote.scheme == "file":
        return
    fetch, push = effective_urls(remote.url, cwd)
    for what, target, key in (("fetches", fetch, "insteadOf"), ("pushes", push, "pushInsteadOf")):
        if target == remote.url:
            continue
        try:
            parse_remote(target, settings)
        except (PathNotAllowedError, UserInputError) as exc:
            raise PathNotAllowedError(
                f"git's configuration (url.<base>.{key}) rewrites {remote.url} so that git {what} {scrub(target)}: "
                f"{exc}. Nothing was fetched or pushed; remove the rewrite or allow that host"
            ) from None
