"""Remediation: a live object's fix made in the Git file that defines it, delivered and verified."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from gitops_mcp.cluster.ops import WaitResult
from gitops_mcp.cluster.owner import OwnerResult
from gitops_mcp.git.delivery import CommitResult, Mode
from gitops_mcp.manifests.validation import ValidationResult
from gitops_mcp.model import Model
from gitops_mcp.remediation import Plan
from gitops_mcp.services.cluster import ClusterService
from gitops_mcp.services.edits import Edits
from gitops_mcp.services.shared import Shared


class RemediationResult(Model):
    owner: OwnerResult
    plan: Plan | None = None
    diff: str = ""
    validation: list[ValidationResult] = Field(default_factory=list)
    commit: CommitResult | None = None
    verification: WaitResult | None = None
    live_ok: bool | None = Field(None, description="The live object shows the change")
    live_detail: str = ""
    message: str


def live_check(live: dict[str, Any] | None, change: Any, via_helm_release: bool) -> tuple[bool, str]:
    """Does the live object carry ``change``?"""
    from gitops_mcp.remediation import SetEnv, SetHelmValues, SetImage, SetReplicas, SetResources, values_ops

    if live is None:
        return False, "the object is gone from the cluster"
    if via_helm_release:
        values = (live.get("spec") or {}).get("values") or {}
        for path, want in values_ops(change):
            node: Any = values
            for p in path:
                node = node.get(p) if isinstance(node, dict) else None
            if node != want:
                return False, f"HelmRelease values {'.'.join(map(str, path))} = {node!r}, wanted {want!r}"
        return True, "the HelmRelease carries the new values"
    spec = live.get("spec") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []

    def container(name: str | None) -> dict[str, Any]:
        if name is None:
            return containers[0] if containers else {}
        return next((c for c in containers if c.get("name") == name), {})

    if isinstance(change, SetReplicas):
        ok = spec.get("replicas") == change.replicas
        return ok, f"spec.replicas = {spec.get('replicas')}"
    if isinstance(change, SetImage):
        image = container(change.container).get("image")
        return image == change.image, f"image = {image}"
    if isinstance(change, SetEnv):
        env = {e.get("name"): e.get("value") for e in container(change.container).get("env") or []}
        return env.get(change.name) == change.value, f"{change.name} = {env.get(change.name)!r}"
    if isinstance(change, SetResources):
        res = container(change.container).get("resources") or {}
        ok = all((res.get(s) or {}).get(k) == v for s in ("requests", "limits") for k, v in getattr(change, s).items())
        return ok, f"resources = {res}"
    if isinstance(change, SetHelmValues):
        return False, "Helm values cannot be checked on this object"
    return True, "applied (merge patch: not compared field by field)"


class Remediation:
    def __init__(self, shared: Shared, cluster: ClusterService) -> None:
        self.shared = shared
        self.cluster = cluster
        self.edits = Edits(shared)

    def remediate(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None,
        change: Any,
        mode: Mode = "pull_request",
        wait: bool = True,
        repo_path: str | None = None,
        message: str | None = None,
        context: str | None = None,
    ) -> RemediationResult:
        """find_owner -> the file -> the edit -> validate -> commit or PR -> reconcile -> wait -> live check."""
        from gitops_mcp.cluster.ops import reconcile, wait_for_sync
        from gitops_mcp.manifests.write import unified_diff
        from gitops_mcp.remediation import plan

        self.shared.require_writable()
        owner = self.cluster.find_owner(api_version, kind, name, namespace, repo_path, context)
        root = Path(owner.repo_root) if owner.repo_root else Path(".")
        p = plan(root, owner, change, self.shared.gitops_kinds)
        diff = "".join(unified_diff(e.before, e.after, e.file) for e in p.edits)
        result = RemediationResult(owner=owner, plan=p, diff=diff, message="")
        if not p.edits:
            result.message = "; ".join(p.notes)
            return result
        result.validation = self.edits.validate(p.edits)
        what = change.type.replace("_", " ")
        msg = message or f"Remediate {kind} {namespace}/{name}: {what}"
        commit = self.edits.write_and_commit(root, p.edits, msg, mode)
        result.commit = commit
        result.message = commit.message
        if not (wait and mode == "push" and commit.commit_sha):
            if mode == "pull_request":
                result.message += "; after the merge, verify it with wait_for_sync"
            return result
        applier = next((c for c in owner.chain if c.kind in ("Kustomization", "Application")), None)
        if applier is None or applier.namespace is None:
            return result
        with self.shared.kube(context) as kube:
            reconcile(
                kube,
                applier.kind,
                applier.name,
                applier.namespace,
                with_source=True,
                sync=applier.kind == "Application",
                registry=self.shared.registry,
            )
            result.verification = wait_for_sync(
                kube,
                applier.kind,
                applier.name,
                applier.namespace,
                commit.commit_sha,
                self.shared.settings.wizard_wait_seconds,
                registry=self.shared.registry,
            )
            if result.verification.outcome != "synced":
                result.live_ok = False
                result.message += f"; not applied: {result.verification.message}"
                return result
            check = owner.chain[0] if owner.chain[0].kind == "HelmRelease" else owner.object
            live = kube.get(check.api_version, check.kind, check.name, check.namespace)
        result.live_ok, result.live_detail = live_check(live, change, check.kind == "HelmRelease")
        result.message += f"; live: {result.live_detail}"
        return result
