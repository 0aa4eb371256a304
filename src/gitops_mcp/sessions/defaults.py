"""Defaults the wizard offers from what it knows: the intent, the detected packages, the layout.

Which provider a repository already uses, and where its manifests live, the providers say
(``Provider.keywords``, ``Provider.output_dirs``).
"""

from __future__ import annotations

import re

from gitops_mcp.providers.registry import ProviderRegistry, default_registry
from gitops_mcp.sessions.models import SessionContext


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

    When several match, the last registered wins (Flux over Argo CD in the default registry).
    """
    if ctx.provider_hint:
        return ctx.provider_hint
    candidates = list(registry)[::-1]
    intent = (ctx.intent or "").lower()
    named = next((p.name for p in candidates if any(word in intent for word in p.keywords)), None)
    if named is not None:
        return named
    return next((p.name for p in candidates if p.output_dirs(ctx)), None)


def default_output_path(provider: str, app: str, ctx: SessionContext, registry: ProviderRegistry | None = None) -> str:
    """Where the manifests of ``app`` go: into the first directory already holding the provider's
    manifests, else ``gitops/<provider>/``. ``registry``: default, the default providers."""
    registry = default_registry() if registry is None else registry
    dirs = registry.get(provider).output_dirs(ctx) if provider in registry else []
    if dirs:
        return f"{dirs[0]}/{app}.yaml" if dirs[0] != "." else f"{app}.yaml"
    return f"gitops/{provider}/{app}.yaml"
