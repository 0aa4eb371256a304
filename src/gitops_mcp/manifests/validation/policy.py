"""Site policy (SPEC §5) checked on every document, what every engine shares: no plain Secrets, no
suspended objects. Each engine checks its own kinds (``Provider.policy_issues``) with the helpers here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitops_mcp.settings import PolicySettings
from gitops_mcp.syntax import DURATION, duration_seconds

PolicyIssues = list[tuple[str, str, str]]  # (rule, field path, message)


def as_map(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def bad_rel_path(p: str) -> bool:
    """An absolute path, or one that climbs out with ``..``."""
    stripped = p.removeprefix("./")
    return p.startswith("/") or ".." in stripped.split("/")


def relative_path_issues(paths: list[tuple[str, Any]]) -> PolicyIssues:
    """``relative_paths`` for (field path, value) pairs."""
    return [
        ("relative_paths", where, f"{p!r} must be relative to the repository, without '..'")
        for where, p in paths
        if isinstance(p, str) and bad_rel_path(p)
    ]


def interval_issues(spec: Mapping[str, Any], policy: PolicySettings, keys: tuple[str, ...]) -> PolicyIssues:
    """``intervals``: each of ``keys`` of ``spec`` that is a duration within the allowed range."""
    out: PolicyIssues = []
    for key in keys:
        v = spec.get(key)
        if isinstance(v, str) and DURATION.match(v):
            secs = duration_seconds(v)
            if secs < policy.min_interval_seconds or secs > policy.max_interval_seconds:
                out.append(
                    (
                        "intervals",
                        f"spec.{key}",
                        f"{v} is outside the allowed range "
                        f"{policy.min_interval_seconds}s..{policy.max_interval_seconds}s",
                    )
                )
    return out


def insecure_url(url: Any) -> bool:
    """A URL with a scheme other than https:// and ssh:// (``secure_git_urls``)."""
    return isinstance(url, str) and "://" in url and not url.startswith(("https://", "ssh://"))


def policy_issues(doc: Mapping[str, Any], policy: PolicySettings) -> PolicyIssues:
    """(rule, field path, message) for each engine-neutral policy the document breaks."""
    out: PolicyIssues = []
    api, kind = str(doc.get("apiVersion", "")), str(doc.get("kind", ""))
    spec = as_map(doc.get("spec"))
    if policy.refuse_secrets and kind == "Secret" and api == "v1":
        out.append(
            (
                "refuse_secrets",
                "kind",
                "plain Secret manifests must not be committed; use SOPS, Sealed Secrets or External Secrets",
            )
        )
    if policy.forbid_suspend and spec.get("suspend") is True:
        out.append(("forbid_suspend", "spec.suspend", "the object is suspended and would never reconcile"))
    return out
