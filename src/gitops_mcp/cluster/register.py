"""Register a repository with its controller: apply the root GitOps objects of a committed file.

Only the kinds the providers name as roots (:attr:`Provider.root_kinds`: sources and the objects
that apply a path, e.g. GitRepository + Kustomization, or an Argo CD Application), and the
Namespaces the file creates beside them (the one a Kustomization deploys into), are applied, never
a workload object. Every root is first sent as a server-side dry run; only when the API
server accepts all of them is each applied for real (server-side apply, field manager
``gitops-mcp``, no forced ownership), so a refusal (RBAC, a kind the cluster does not serve, an
admission rejection) leaves nothing half-applied and is reported in the API server's words.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from gitops_mcp.errors import ClusterError
from gitops_mcp.model import Model
from gitops_mcp.providers.base import Provider
from gitops_mcp.providers.live import Obj, ObjectRef, api_group
from gitops_mcp.providers.registry import ProviderRegistry


class SkippedObject(Model):
    api_version: str
    kind: str
    name: str
    namespace: str | None = None
    reason: str


class RegisterResult(Model):
    ok: bool = Field(description="Every root object was applied")
    applied: list[ObjectRef] = Field(default_factory=list, description="Root objects applied (server-side apply)")
    skipped: list[SkippedObject] = Field(default_factory=list, description="Objects of the file not applied, and why")
    field_manager: str = "gitops-mcp"
    commit_sha: str | None = Field(None, description="The commit the file was read from")
    message: str


def _ref(doc: Obj) -> ObjectRef:
    meta = doc.get("metadata") or {}
    return ObjectRef(
        api_version=str(doc.get("apiVersion", "")),
        kind=str(doc.get("kind", "")),
        name=str(meta.get("name", "")),
        namespace=meta.get("namespace"),
    )


def _root_of(doc: Obj, providers: list[Provider]) -> Provider | None:
    group = api_group(str(doc.get("apiVersion", "")))
    for p in providers:
        if doc.get("kind") in p.root_kinds and any(k.kind == doc.get("kind") and k.group == group for k in p.kinds):
            return p
    return None


def split_roots(
    docs: list[Any], registry: ProviderRegistry, provider: str | None = None
) -> tuple[list[Obj], list[SkippedObject]]:
    """(the root objects of ``docs`` in file order, the others with the reason); ``provider``:
    only that provider's roots count."""
    providers = [registry.get(provider)] if provider else list(registry)
    roots: list[Obj] = []
    skipped: list[SkippedObject] = []
    for doc in docs:
        if not isinstance(doc, dict) or not doc.get("kind"):
            continue
        ref = _ref(doc)
        owner = _root_of(doc, providers)
        if doc.get("apiVersion") == "v1" and doc.get("kind") == "Namespace" and ref.name:
            roots.append(doc)  # a namespace the roots deploy into: nothing else would create it
            continue
        if owner is None:
            reason = "not a root GitOps object (its controller applies it from Git)"
        elif not ref.name:
            reason = "it has no metadata.name"
        elif not ref.namespace:
            reason = "it has no metadata.namespace (it would land in whatever namespace the kubeconfig defaults to)"
        else:
            roots.append(doc)
            continue
        skipped.append(SkippedObject(**ref.model_dump(), reason=reason))
    return roots, skipped


def register_roots(
    kube: Any, roots: list[Obj], skipped: list[SkippedObject], commit: str | None = None
) -> RegisterResult:
    """Dry-run every root, then apply every root; the API server's reason when it refuses."""
    if not roots:
        return RegisterResult(
            ok=False, skipped=skipped, commit_sha=commit, message="the file holds no root GitOps object to apply"
        )
    try:
        roots = [o for o in roots if not _exists(kube, o)]
        for obj in roots:
            _put(kube, obj, dry_run=True)
    except ClusterError as exc:
        return RegisterResult(
            ok=False, skipped=skipped, commit_sha=commit, message=f"nothing applied: the dry run was refused: {exc}"
        )
    refs = [_ref(o) for o in roots]
    applied: list[ObjectRef] = []
    refused: ClusterError | None = None
    for obj, ref in zip(roots, refs, strict=True):
        try:
            _put(kube, obj, dry_run=False)
        except ClusterError as exc:  # only when the cluster changed since the dry run a moment ago
            refused = exc
            break
        applied.append(ref)
    names = ", ".join(f"{r.kind} {r.namespace}/{r.name}" for r in applied) or "nothing"
    return RegisterResult(
        ok=refused is None,
        applied=applied,
        skipped=skipped,
        commit_sha=commit,
        message=(
            f"applied {names} (server-side apply, field manager gitops-mcp)"
            if refused is None
            else f"applied {names}, then refused: {refused}"
        ),
    )


def _is_namespace(obj: Obj) -> bool:
    return obj.get("apiVersion") == "v1" and obj.get("kind") == "Namespace"


def _exists(kube: Any, obj: Obj) -> bool:
    """A Namespace that exists is left alone (its controller, or whoever made it, owns it)."""
    return _is_namespace(obj) and kube.get("v1", "Namespace", _ref(obj).name, None) is not None


def _put(kube: Any, obj: Obj, dry_run: bool) -> None:
    """A root by server-side apply; a missing Namespace by create, which needs only the ``create`` verb
    (an apply needs ``patch`` on namespaces too, which would let labels such as Pod Security's change)."""
    if not _is_namespace(obj):
        kube.apply(obj, dry_run=dry_run)
        return
    try:
        kube.create(obj, dry_run=dry_run)
    except ClusterError as exc:
        if exc.status != 409:  # made by someone else since the check: it is there, which is what counts
            raise
