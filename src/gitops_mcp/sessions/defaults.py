"""Defaults the wizard offers from what it knows: the intent, the detected packages, the layout.

Which provider a repository already uses, and where its manifests live, the providers say
(``Provider.keywords``, ``Provider.output_dirs`` as the session found them).
"""

from __future__ import annotations

import posixpath
import re

from gitops_mcp.git.urls import url_identity
from gitops_mcp.providers.live import parent_of
from gitops_mcp.providers.registry import ProviderRegistry
from gitops_mcp.sessions.models import ClusterApplier, SessionContext


def intent_package(ctx: SessionContext) -> str | None:
    """The package the intent names (by path, else by a unique name); the only one if there is one."""
    if len(ctx.packages) == 1:
        return ctx.packages[0].path
    intent = (ctx.intent or "").lower()
    if not intent:
        return None
    by_path = [p for p in ctx.packages if p.path != "." and p.path.lower() in intent]
    if by_path:
        return max(by_path, key=lambda p: len(p.path)).path
    words = set(re.findall(r"[a-z0-9][a-z0-9._-]*", intent))
    by_name = [p for p in ctx.packages if p.name.lower() in words]
    return by_name[0].path if len(by_name) == 1 else None


def provider_default(ctx: SessionContext, registry: ProviderRegistry) -> str | None:
    """The hinted provider, else the one the intent names, else the one the repository uses.

    When several match, the last registered wins.
    """
    if ctx.provider_hint:
        return ctx.provider_hint
    candidates = list(registry)[::-1]
    intent = (ctx.intent or "").lower()
    named = next((p.name for p in candidates if any(word in intent for word in p.keywords)), None)
    if named is not None:
        return named
    return next((p.name for p in candidates if ctx.output_dirs.get(p.name)), None)


def _in(directory: str, app: str) -> str:
    return f"{directory}/{app}.yaml" if directory not in ("", ".") else f"{app}.yaml"


def own_objects(provider: str, app: str, registry: ProviderRegistry) -> set[tuple[str, str]]:
    """(kind, name) of the root objects the wizard generates for ``app``: in the cluster they are
    the app itself (from an earlier deploy), not a parent."""
    kinds = registry.get(provider).root_kinds if provider in registry else ()
    return {(k, app) for k in kinds}


def cluster_parents(ctx: SessionContext, own: set[tuple[str, str]]) -> list[ClusterApplier]:
    """What in the cluster applies a directory of this repository (its origin), nearest path first."""

    if not ctx.origin_url or not ctx.cluster_appliers:
        return []
    repo = url_identity(ctx.origin_url)
    found = [
        a for a in ctx.cluster_appliers if url_identity(a.repo_url) == repo and (a.ref.kind, a.ref.name) not in own
    ]
    return sorted(found, key=lambda a: (-len(a.path), a.ref.kind, a.ref.name))


def parent_for(ctx: SessionContext, output_path: str, own: set[tuple[str, str]]) -> ClusterApplier | None:
    """The object in the cluster that will apply ``output_path`` of this repository, or None."""
    if not ctx.origin_url or not ctx.cluster_appliers:
        return None
    found = parent_of([a.applier() for a in ctx.cluster_appliers], ctx.origin_url, output_path, own)
    if found is None:
        return None
    return next(a for a in ctx.cluster_appliers if a.ref == found.ref and a.path == found.path)


_EXAMPLES = re.compile(r"(^|/)(examples?|samples?|demos?|tests?|testdata|docs?)(/|$)")


def output_dirs(provider: str, ctx: SessionContext, registry: ProviderRegistry) -> list[str]:
    """The directories already holding the provider's manifests, best first: those the repository's
    own objects apply, then the others but example, sample and test folders, then those."""
    dirs = ctx.output_dirs.get(provider, []) if provider in registry else []
    applied = ctx.applied_dirs.get(provider, [])

    def rank(d: str) -> tuple[int, int]:
        rel = "" if d == "." else d
        covered = any(a == "" or rel == a or rel.startswith(a + "/") for a in applied)
        return (0 if covered or not applied else 1, 1 if _EXAMPLES.search(rel) else 0)

    return sorted(dirs, key=rank)


def default_output_path(provider: str, app: str, ctx: SessionContext, registry: ProviderRegistry) -> str:
    """Where the manifests of ``app`` go: into the first directory already holding the provider's
    manifests that something in the cluster applies, else into the directory such a parent
    applies, else into the best directory holding the provider's manifests (:func:`output_dirs`;
    not an example folder nothing applies), else ``gitops/<provider>/``."""
    dirs = [d for d in output_dirs(provider, ctx, registry) if not _EXAMPLES.search(d) or _applied(provider, d, ctx)]
    candidates = [_in(d, app) for d in dirs] + [f"gitops/{provider}/{app}.yaml"]
    own = own_objects(provider, app, registry)
    parents = [p for p in cluster_parents(ctx, own) if _home(provider, p.path, ctx)]
    if parents:
        covered = next((c for c in candidates if parent_for(ctx, c, own) is not None), None)
        return covered or _in(parents[0].path, app)
    return candidates[0]


def _home(provider: str, d: str, ctx: SessionContext) -> bool:
    """A directory a new file of GitOps objects may go to: not inside a workload package (the file
    would be deployed as part of it, or left out of its kustomization.yaml), unless the directory
    already holds the provider's manifests."""
    rel = "" if d == "." else d.strip("/")
    if rel in ctx.output_dirs.get(provider, []):
        return True
    return not any(p.path not in ("", ".") and (rel == p.path or rel.startswith(p.path + "/")) for p in ctx.packages)


def _applied(provider: str, d: str, ctx: SessionContext) -> bool:
    rel = "" if d == "." else d
    return any(a == "" or rel == a or rel.startswith(a + "/") for a in ctx.applied_dirs.get(provider, []))


def choice_help(path: str | None, provider: str, ctx: SessionContext, registry: ProviderRegistry) -> str | None:
    """Why the default directory, and the other real candidates (the question is the user's when there are several)."""
    dirs = output_dirs(provider, ctx, registry)
    if not dirs:
        return None
    chosen = posixpath.dirname(path or "") or "."
    others = [d for d in dirs if d != chosen]
    if not others:
        return None
    why = "applied by the repository's own objects" if _applied(provider, chosen, ctx) else "holding its manifests"
    return (
        f"{chosen} is the first directory {why}; also holding {provider} manifests: {', '.join(others[:5])} "
        "(each a separate cluster or environment: answer output_path there to deploy to it)"
    )


def output_help(
    path: str | None, provider: str, app: str, ctx: SessionContext, registry: ProviderRegistry
) -> str | None:
    """Which object in the cluster will apply ``path`` (and the other parents), or that none will."""
    if ctx.cluster_appliers is None or not ctx.origin_url:
        return None
    own = own_objects(provider, app, registry)
    parents = cluster_parents(ctx, own)
    if not parents:
        return (
            "Nothing in the cluster applies a directory of this repository: after the push, the "
            "delivery step can register the objects once (question register)"
        )
    parent = parent_for(ctx, path, own) if path else None
    others = [p.describe() for p in parents if parent is None or p.ref != parent.ref]
    head = (
        f"{parent.describe()} picks up a file written in {posixpath.dirname(path or '') or '.'}"
        if parent is not None
        else "Nothing in the cluster applies that directory"
    )
    return head + (f"; also syncing this repository: {'; '.join(others)}" if others else "")
