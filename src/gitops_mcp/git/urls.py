"""Git remote URLs: identity and names (normalisation lives in :mod:`gitops_mcp.syntax`, re-exported)."""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

from gitops_mcp.syntax import normalize_git_url

__all__ = ["normalize_git_url", "repo_name", "url_identity"]


@lru_cache(maxsize=256)
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
