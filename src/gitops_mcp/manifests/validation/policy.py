"""Site policy (SPEC §5) checked on every document: secrets, suspension, intervals, URLs, paths."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitops_mcp.settings import PolicySettings
from gitops_mcp.syntax import DURATION, duration_seconds


def as_map(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _bad_rel_path(p: str) -> bool:
    stripped = p.removeprefix("./")
    return p.startswith("/") or ".." in stripped.split("/")


def policy_issues(doc: Mapping[str, Any], policy: PolicySettings) -> list[tuple[str, str, str]]:
    """(rule, field path, message) for each policy the document breaks."""
    out: list[tuple[str, str, str]] = []
    api, kind = str(doc.get("apiVersion", "")), str(doc.get("kind", ""))
    spec = as_map(doc.get("spec"))
    flux = api.split("/", 1)[0].endswith("fluxcd.io")
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
    if flux and policy.check_intervals:
        for key in ("interval", "retryInterval"):
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
    if kind == "GitRepository" and policy.secure_git_urls:
        url = spec.get("url")
        if isinstance(url, str) and not url.startswith(("https://", "ssh://")):
            out.append(("secure_git_urls", "spec.url", f"{url!r} must use https:// or ssh://"))
    if kind == "Kustomization" and flux:
        if policy.require_prune and spec.get("prune") is not True:
            out.append(("require_prune", "spec.prune", "prune must be true so removed objects are deleted"))
        if policy.require_source_ref and not spec.get("sourceRef"):
            out.append(("require_source_ref", "spec.sourceRef", "a Kustomization must reference a source"))
    if policy.relative_paths:
        paths: list[tuple[str, Any]] = []
        if kind == "Kustomization" and flux:
            paths.append(("spec.path", spec.get("path")))
        if kind == "HelmRelease":
            cs = as_map(as_map(spec.get("chart")).get("spec"))
            if cs:
                paths.append(("spec.chart.spec.chart", cs.get("chart")))
                paths.extend(
                    (f"spec.chart.spec.valuesFiles[{i}]", f) for i, f in enumerate(cs.get("valuesFiles") or [])
                )
        if kind == "Application":
            srcs = [spec.get("source"), *list(spec.get("sources") or [])]
            for i, s in enumerate(srcs):
                if isinstance(s, dict):
                    where = "spec.source" if i == 0 else f"spec.sources[{i - 1}]"
                    paths.append((f"{where}.path", s.get("path")))
        for where, p in paths:
            if isinstance(p, str) and _bad_rel_path(p):
                out.append(("relative_paths", where, f"{p!r} must be relative to the repository, without '..'"))
    if kind == "Application" and policy.secure_git_urls:
        srcs = [spec.get("source"), *list(spec.get("sources") or [])]
        for s in srcs:
            if isinstance(s, dict) and isinstance(s.get("repoURL"), str):
                url = s["repoURL"]
                if "://" in url and not url.startswith(("https://", "ssh://")):
                    out.append(("secure_git_urls", "spec.source.repoURL", f"{url!r} must use https:// or ssh://"))
    return out
