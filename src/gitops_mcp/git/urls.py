"""Git remote URLs: normalisation (scp-style to ssh://, credentials stripped) and identity."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

_SCP = re.compile(r"^(?:(?P<user>[^@/\s]+)@)?(?P<host>[A-Za-z0-9.-]+):(?!//)(?P<path>[^\s]+)$")


def normalize_git_url(url: str) -> str:
    """Return ``url`` in a form Flux and Argo CD accept, with any password removed.

    ``git@github.com:org/repo.git`` becomes ``ssh://git@github.com/org/repo.git``;
    ``https://user:token@host/x`` becomes ``https://host/x``.

    Raises:
        ValueError: not a URL a Git remote can have.
    """
    url = url.strip()
    if not url:
        raise ValueError("the repository URL is empty")
    if any(c.isspace() for c in url) or "\x00" in url:
        raise ValueError("a repository URL cannot contain spaces or control characters")
    m = _SCP.match(url)
    if m and "://" not in url:
        user = m.group("user")
        url = f"ssh://{user + '@' if user else ''}{m.group('host')}/{m.group('path').lstrip('/')}"
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if not scheme or not parts.hostname:
        raise ValueError(f"{url!r} is not a repository URL such as https://github.com/org/repo.git")
    if parts.query or parts.fragment:
        raise ValueError("a repository URL has no query string or fragment")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    if scheme == "ssh" and parts.username:
        netloc = f"{parts.username}@{netloc}"
    return urlunsplit((scheme, netloc, parts.path, "", ""))


def url_identity(url: str) -> tuple[str, str]:
    """(host, path) ignoring scheme, user, a trailing '.git' and case: two URLs of one repository."""
    try:
        parts = urlsplit(normalize_git_url(url))
    except ValueError:
        return ("", url.strip().lower())
    path = parts.path.rstrip("/")
    if path.endswith(".git"):
        path = path[:-4]
    return ((parts.hostname or "").lower(), path.lower())


def repo_name(url: str) -> str:
    """Last path segment of a repository URL without '.git' (``podinfo`` for .../podinfo.git)."""
    _host, path = url_identity(url)
    return path.rsplit("/", 1)[-1] or "repo"
