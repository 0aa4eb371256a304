"""Normalised status of GitOps objects: the provider that manages a kind normalises its objects.

Also the provider-neutral revision matching: which applied revision corresponds to a commit.
"""

from __future__ import annotations

import re

from gitops_mcp.errors import UserInputError
from gitops_mcp.providers.base import Provider
from gitops_mcp.providers.live import Condition, KindInfo, Obj, ObjectRef, State, SyncStatus
from gitops_mcp.providers.registry import ProviderRegistry

__all__ = [
    "Condition",
    "State",
    "SyncStatus",
    "commit_of",
    "normalize",
    "revision_matches",
    "status_kind",
    "status_kinds",
    "status_of",
]
_HEX = re.compile(r"^[0-9a-f]{7,64}$")


def commit_of(revision: str | None) -> str | None:
    """The commit (or digest) a revision ends with, after its last ``:``, ``+`` or ``/``.

    E.g. ``main@sha1:abc`` -> ``abc``; ``6.0.3+abc123`` -> ``abc123``; ``main/abc`` -> ``abc``; a bare
    hex string is itself; anything else (``6.0.3``) gives None.
    """
    if not revision:
        return None
    rev = revision.strip()
    if ":" in rev:
        rev = rev.rsplit(":", 1)[1]
    elif "+" in rev:
        rev = rev.rsplit("+", 1)[1]
    elif "/" in rev:  # an older form: main/<sha>
        rev = rev.rsplit("/", 1)[1]
    return rev.lower() if _HEX.match(rev.lower()) else None


def revision_matches(revision: str | None, wanted: str) -> bool:
    """Does an applied revision correspond to ``wanted`` (a SHA, a short SHA, or a full revision string)?"""
    if not revision:
        return False
    if revision == wanted:
        return True
    commit, want = commit_of(revision), (commit_of(wanted) or wanted.strip()).lower()
    if commit is None or not _HEX.match(want):
        return False
    return commit.startswith(want) or want.startswith(commit)


def status_kinds(registry: ProviderRegistry) -> list[tuple[Provider, KindInfo]]:
    """The kinds whose status can be read, reconciled and waited for, first registered first."""
    return [(p, k) for p, k in registry.kinds() if k.status]


def status_kind(registry: ProviderRegistry, kind: str) -> tuple[Provider, KindInfo]:
    """The provider and kind for a kind name (the first provider that has it).

    Raises:
        UserInputError: no registered provider reports the status of ``kind``.
    """
    kinds = status_kinds(registry)
    found = next(((p, k) for p, k in kinds if k.kind == kind), None)
    if found is None:
        raise UserInputError(f"kind must be one of {', '.join(k.kind for _, k in kinds)} (got {kind!r})")
    return found


def status_of(provider: Provider, ref: ObjectRef, obj: Obj | None) -> SyncStatus:
    """The status of ``obj`` (None: it does not exist) as ``provider`` normalises it."""
    if obj is None:
        return SyncStatus(
            **ref.model_dump(), state="not_found", message=f"{ref.kind} {ref.namespace}/{ref.name} does not exist"
        )
    return provider.normalize_status(ref, obj)


def normalize(
    api_version: str,
    kind: str,
    name: str,
    namespace: str | None,
    obj: Obj | None,
    registry: ProviderRegistry,
) -> SyncStatus:
    """The status of ``obj`` (None: it does not exist), normalised by the provider that manages ``kind``."""
    found = registry.kind_of(api_version, kind)
    if found is None:
        raise UserInputError(f"no registered provider manages {kind} in {api_version}")
    return status_of(found[0], ObjectRef(api_version=api_version, kind=kind, name=name, namespace=namespace), obj)
