"""Pure syntax shared by questions, git, detection and manifests: names, durations, refs, Git URLs.

Nothing here imports the rest of the project, so both :mod:`gitops_mcp.questions` (which turns a
failed check into an :class:`~gitops_mcp.questions.AnswerError`) and :mod:`gitops_mcp.git`
(which turns it into a :class:`~gitops_mcp.errors.UserInputError`) can use it without importing
each other.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$")
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_BAD_REF_CHARS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
_SCP = re.compile(r"^(?:(?P<user>[^@/\s]+)@)?(?P<host>[A-Za-z0-9.-]+):(?!//)(?P<path>[^\s]+)$")


def duration_seconds(value: str) -> float:
    """Seconds in a Go duration (``1h30m`` -> 5400.0); parts that are not durations count 0."""
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(value))


def is_ref_name(value: str) -> bool:
    """True when ``git check-ref-format --branch`` would accept ``value`` (and it is not an option)."""
    return not (
        not value
        or value.startswith(("-", "/", "."))
        or value.endswith(("/", ".", ".lock"))
        or ".." in value
        or "@{" in value
        or "//" in value
        or value == "@"
        or _BAD_REF_CHARS.search(value)
        or any(p.startswith(".") or p.endswith(".lock") for p in value.split("/"))
    )


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


def to_dns_label(name: str, fallback: str = "app") -> str:
    """Turn any name into a DNS-1123 label (lowercase, [a-z0-9-], <= 63)."""
    out = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    out = re.sub(r"-{2,}", "-", out)[:63].strip("-")
    return out or fallback
