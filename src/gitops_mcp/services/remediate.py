"""Remediation: a live object's fix made in the Git file that defines it, delivered and verified."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import Field

from gitops_mcp.cluster.ops import WaitResult
from gitops_mcp.cluster.owner import GitLocation, OwnerResult
from gitops_mcp.git.delivery import CommitResult, Mode
from gitops_mcp.git.urls import url_identity
from gitops_mcp.manifests.validation import ValidationResult
from gitops_mcp.model import Model
from gitops_mcp.remediation import Plan
from gitops_mcp.services.cluster import ClusterService
from gitops_mcp.services.edits import Edits
from gitops_mcp.services.shared import Shared, looks_like_url


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


def source_branch(git: GitLocation) -> str | None:
    """The branch a commit must land on for the source to apply it (None: the remote's default).

    Raises:
        Refused: the source follows a tag, a version range or a commit: no commit changes what it applies.
    """
    from gitops_mcp.remediation import Refused

    if git.ref.get("branch"):
        return git.ref["branch"]
    revision = git.ref.get("targetRevision")
    if revision is not None and not re.fullmatch(r"[0-9a-f]{40}", revision):
        return None if revision in ("", "HEAD") else revision
    pinned = {k: v for k, v in git.ref.items() if v and k != "branch"}
    if pinned:
        what = ", ".join(f"{k} {v}" for k, v in pinned.items())
        raise Refused(
            f"the source follows {what}, not a branch: no commit changes what it applies; make it follow a "
            "branch, or pass repo_path to change a branch anyway"
        )
    return None


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
        caller: str = "local",
    ) -> RemediationResult:
        """find_owner -> the file -> the edit -> validate -> commit or PR -> reconcile -> wait -> live check.

        The repository is ``repo_path`` (a local clone, or a git URL), by default the Git location of
        the owner chain; a git URL is worked on in a working tree of its own at the remote's tip of
        the branch the source follows.
        """
        from gitops_mcp.remediation import check_owner

        self.shared.require_writable()
        what = change.type.replace("_", " ")
        msg = message or f"Remediate {kind} {namespace}/{name}: {what}"
        if repo_path and not looks_like_url(repo_path):
            owner = self.cluster.find_owner(api_version, kind, name, namespace, repo_path, context)
            root = Path(owner.repo_root) if owner.repo_root else Path(".")
            result = self._change(owner, root, change, msg, mode)
        else:
            chain = self.cluster.owner_chain(api_version, kind, name, namespace, context)
            check_owner(chain)
            assert chain.git is not None
            url = repo_path or chain.git.url
            same = url_identity(url) == url_identity(chain.git.url)
            with self.shared.working_tree(url, caller, source_branch(chain.git) if same else None) as tree:
                owner = self.cluster.locate(chain, tree.root, tree.url)
                result = self._change(owner, tree.root, change, msg, mode)
        if result.commit is None:
            return result
        if not (wait and mode == "push" and result.commit.commit_sha):
            if mode == "pull_request":
                result.message += "; after the merge, verify it with wait_for_sync"
            return result
        return self._verify(result, change, result.commit.commit_sha, context)

    def _change(self, owner: OwnerResult, root: Path, change: Any, msg: str, mode: Mode) -> RemediationResult:
        """Plan, validate, write and deliver the edit in the repository at ``root``."""
        from gitops_mcp.manifests.write import unified_diff
        from gitops_mcp.remediation import plan

        p = plan(root, owner, change, self.shared.gitops_kinds)
        diff = "".join(unified_diff(e.before, e.after, e.file) for e in p.edits)
        result = RemediationResult(owner=owner, plan=p, diff=diff, message="")
        if not p.edits:
            result.message = "; ".join(p.notes)
            return result
        result.validation = self.edits.validate(p.edits)
        commit = self.edits.write_and_commit(root, p.edits, msg, mode)
        result.commit = commit
        result.message = commit.message
        return result

    def _verify(self, result: RemediationResult, change: Any, sha: str, context: str | None) -> RemediationResult:
        """After the push: reconcile the applier, wait for the commit, and check the live object."""
        from gitops_mcp.cluster.ops import reconcile, wait_for_sync

        owner = result.owner
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
                sha,
                self.shared.settings.wizard_wait_seconds,
                registry=self.shared.registry,
            )
            if result.verification.outcome != "synced":
                result.live_ok = False
                result.message += f"; not applied: {result.verification.message}"
                return result
            check = owner.chain[0] if owner.chain[0].kind == "HelmRelease" else owner.object
            if check.kind == "HelmRelease" and check.namespace is not None:
                # the Kustomization applied the new values; helm-controller upgrades after it (seen on
                # the real controllers): live once the HelmRelease is ready at its new generation
                release = wait_for_sync(
                    kube,
                    "HelmRelease",
                    check.name,
                    check.namespace,
                    None,
                    max(1.0, self.shared.settings.wizard_wait_seconds - result.verification.waited_s),
                    registry=self.shared.registry,
                )
                if release.outcome != "synced":
                    result.live_ok = False
                    result.message += f"; HelmRelease not upgraded: {release.message}"
                    return result
            live = kube.get(check.api_version, check.kind, check.name, check.namespace)
        result.live_ok, result.live_detail = live_check(live, change, check.kind == "HelmRelease")
        result.message += f"; live: {result.live_detail}"
        return result
