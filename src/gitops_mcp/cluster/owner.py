"""Which GitOps objects manage a live object, up to the Git location that defines it.

A few API calls per lookup: the object itself, then each owner that a provider's own markers
name, and finally the source. The registry's providers are asked in passes, cheapest and
surest first (:data:`~gitops_mcp.providers.live.OwnerStage`): explicit ownership markers, then
weaker hints, then searches (listing objects). An object of a kind that a provider manages is
asked of that provider only, so a chain stays in one provider's world until it ends at a kind
that is an owner root (where the manifests come from).
"""

from __future__ import annotations

from typing import get_args

from pydantic import Field

from gitops_mcp.cluster.client import KubeClient, Obj
from gitops_mcp.errors import ClusterError, NotFoundError
from gitops_mcp.model import Model
from gitops_mcp.providers.base import Provider
from gitops_mcp.providers.live import GitLocation, ObjectRef, OwnerLink, OwnerStage, OwnerStep
from gitops_mcp.providers.registry import ProviderRegistry

__all__ = ["GitLocation", "ObjectRef", "OwnerFinder", "OwnerLink", "OwnerResult", "SourceFile"]
MAX_DEPTH = 8
STAGES: tuple[OwnerStage, ...] = get_args(OwnerStage)


class SourceFile(Model):
    repo_root: str
    file: str = Field(description="Relative to the repository root")
    document: int
    kind: str
    name: str


class OwnerResult(Model):
    object: ObjectRef
    managed: bool
    manager: str | None = Field(None, description="The provider whose objects manage it (e.g. argocd, flux)")
    chain: list[OwnerLink] = Field(default_factory=list, description="Nearest owner first, the source last")
    git: GitLocation | None = None
    file: SourceFile | None = None
    repo_root: str | None = Field(None, description="Local clone the file lookup used")
    message: str
    api_calls: int = 0


class OwnerFinder:
    """Walks up the owners of one object; also the (counting) reader the providers use."""

    def __init__(self, kube: KubeClient, registry: ProviderRegistry) -> None:
        self.kube = kube
        self.registry = registry
        self.calls = 0

    # -- the reader the providers get ------------------------------------------------------------------------
    def get(self, api_version: str, kind: str, name: str, namespace: str | None) -> Obj | None:
        self.calls += 1
        return self.kube.get(api_version, kind, name, namespace)

    def list(self, api_version: str, kind: str) -> list[Obj] | None:
        self.calls += 1
        try:
            items, _ = self.kube.list(api_version, kind)
        except ClusterError as exc:
            if exc.status == 404:
                return None
            raise
        return items

    # -- the walk --------------------------------------------------------------------------------------------
    def find(self, api_version: str, kind: str, name: str, namespace: str | None) -> OwnerResult:
        target = ObjectRef(api_version=api_version, kind=kind, name=name, namespace=namespace)
        obj = self.get(api_version, kind, name, namespace)
        if obj is None:
            raise NotFoundError(f"{kind} {namespace + '/' if namespace else ''}{name} does not exist in the cluster")
        chain: list[OwnerLink] = []
        current, seen = obj, set()
        manager: Provider | None = None
        for _ in range(MAX_DEPTH):
            found = self._owner_of(current)
            if found is None:
                break
            provider, (link, owner) = found
            key = (link.kind, link.namespace, link.name)
            if key in seen:
                break
            seen.add(key)
            chain.append(link)
            manager, current = provider, owner
            info = self.registry.kind_of(link.api_version, link.kind)
            if info is not None and info[1].owner_root:
                break
        if manager is None:
            titles = " or ".join(p.title for p in self.registry)
            return OwnerResult(
                object=target,
                managed=False,
                api_calls=self.calls,
                message=f"{kind} {name} is not managed by {titles} (no ownership labels, "
                "tracking annotation or inventory entry); change it in the cluster or adopt it "
                "into Git",
            )
        git = manager.git_location(self, obj, chain)
        where = f"{git.url} path {git.path}" if git else "an unknown source"
        if git is not None and git.note:
            where += f" ({git.note})"
        return OwnerResult(
            object=target,
            managed=True,
            manager=manager.name,
            chain=chain,
            git=git,
            api_calls=self.calls,
            message=f"managed by {' -> '.join(f'{c.kind} {c.namespace}/{c.name}' for c in chain)}; defined in {where}",
        )

    def _owner_of(self, obj: Obj) -> tuple[Provider, OwnerStep] | None:
        """One step up: the provider of the object's kind alone, else every provider, pass by pass."""
        mine = self.registry.kind_of(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
        providers = [mine[0]] if mine is not None else list(self.registry)
        for stage in STAGES:
            for p in providers:
                step = p.owner_of(self, obj, stage)
                if step is not None:
                    return p, step
        return None
