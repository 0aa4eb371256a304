"""The live side of removal and suspension through Git: the facts read before anything is
written, and the check after the controller applied the commit."""

from __future__ import annotations

from typing import Any

from gitops_mcp.cluster.owner import OwnerResult
from gitops_mcp.providers.live import ObjectRef, Removal
from gitops_mcp.providers.registry import ProviderRegistry
from gitops_mcp.remediation.lifecycle import LiveFacts

MAX_LISTED = 10


def live_facts(kube: Any, owner: OwnerResult, registry: ProviderRegistry) -> LiveFacts:
    """What the removed object's provider says of its deletion, and whether its applier prunes."""
    obj = owner.object
    target = kube.get(obj.api_version, obj.kind, obj.name, obj.namespace) or {}
    manager = registry.get(owner.manager) if owner.manager in registry and owner.manager else None
    found = registry.kind_of(obj.api_version, obj.kind)
    provider = found[0] if found is not None else manager
    removal = provider.removal(target) if provider is not None else Removal()
    keeps = None
    link = manager.applier_in(owner.chain) if manager is not None else None
    if manager is not None and link is not None:
        applier = kube.get(link.api_version, link.kind, link.name, link.namespace)
        keeps = manager.prunes(applier, target) if applier is not None else None
    return LiveFacts(removal=removal, applier_keeps=keeps)


def removal_effect(owner: OwnerResult, facts: LiveFacts) -> str:
    """What the merge of a removal does in the cluster, for the commit message and the pull request."""
    obj = owner.object
    if facts.applier_keeps or facts.removal.stays:
        return "Live effect after the merge: none; the live objects stay (pruning is off)."
    managed = facts.removal.managed
    names = ", ".join(_name(r) for r in managed[:MAX_LISTED]) + (" ..." if len(managed) > MAX_LISTED else "")
    what = f" and the {len(managed)} objects it applied ({names})" if managed else ""
    return f"Live effect after the merge: the controller deletes {_name(obj)}{what}."


def check_removed(kube: Any, owner: OwnerResult, facts: LiveFacts, deadline: float) -> tuple[bool, str]:
    """Wait (until ``deadline``) for the object and what it applied to be deleted."""
    from gitops_mcp.cluster.gone import wait_gone

    refs = [owner.object, *facts.removal.managed]
    left = wait_gone(kube, refs, deadline)
    if not left:
        extra = f" and the {len(refs) - 1} objects it applied" if len(refs) > 1 else ""
        return True, f"{owner.object.kind} {owner.object.name}{extra} are gone from the cluster"
    names = ", ".join(_name(r) for r in left[:MAX_LISTED]) + (" ..." if len(left) > MAX_LISTED else "")
    return False, f"{len(left)} still in the cluster at the deadline: {names}"


def check_suspension(kube: Any, owner: OwnerResult, registry: ProviderRegistry, suspend: bool) -> tuple[bool, str]:
    """Does the live object carry the fields that suspend (resume) it?"""
    obj = owner.object
    live = kube.get(obj.api_version, obj.kind, obj.name, obj.namespace)
    found = registry.kind_of(obj.api_version, obj.kind)
    if live is None or found is None:
        return False, "the object is gone from the cluster"
    missing = found[0].suspension(live, suspend)
    word = "suspended" if suspend else "resumed"
    if missing:
        return False, f"not {word} live yet: {', '.join('.'.join(p) for p, _ in missing)}"
    return True, f"{obj.kind} {obj.name} is {word}"


def _name(ref: ObjectRef) -> str:
    return f"{ref.kind} {ref.namespace + '/' if ref.namespace else ''}{ref.name}"
