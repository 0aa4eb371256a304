"""Remediation: a live object's fix made in the Git file that defines it, delivered and verified."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import Field

from gitops_mcp.cluster.ops import Follow, WaitResult, reconcile_and_wait, wait_for_sync
from gitops_mcp.cluster.owner import GitLocation, OwnerResult
from gitops_mcp.git.delivery import CommitResult, Mode
from gitops_mcp.git.urls import url_identity
from gitops_mcp.manifests.validation import ValidationResult
from gitops_mcp.manifests.write import unified_diff
from gitops_mcp.model import Model
from gitops_mcp.providers.live import RemediationRoute
from gitops_mcp.remediation import (
    Plan,
    Refused,
    SetEnv,
    SetHelmValues,
    SetImage,
    SetReplicas,
    SetResources,
    check_owner,
    plan,
    values_ops,
)
from gitops_mcp.remediation.lifecycle import LiveFacts, plan_remove, plan_suspend
from gitops_mcp.remediation.plan import route_of
from gitops_mcp.services.cluster import ClusterService
from gitops_mcp.services.edits import Edits
from gitops_mcp.services.repository import Repository
from gitops_mcp.services.shared import Shared

LIFECYCLE = ("remove", "suspend", "resume")
"""Changes to whether the object exists or is applied, not to its fields."""


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
    follow: Follow | None = Field(None, description="pull_request: the wait_for_sync call to follow it to live")


def live_check(live: dict[str, Any] | None, change: Any, route: RemediationRoute) -> tuple[bool, str]:
    """Does the live object carry ``change``? (With a values route: the live owner document's values.)"""

    if live is None:
        return False, "the object is gone from the cluster"
    if route.values_kind is not None:
        values: Any = live
        for key in route.values_path:
            values = values.get(key) if isinstance(values, dict) else None
        for path, want in values_ops(change):
            node: Any = values or {}
            for p in path:
                node = node.get(p) if isinstance(node, dict) else None
            if node != want:
                return False, f"{route.values_kind} values {'.'.join(map(str, path))} = {node!r}, wanted {want!r}"
        return True, f"the {route.values_kind} carries the new values"
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


class RemediationService:
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
        repo_path: str | Repository | None = None,
        message: str | None = None,
        context: str | None = None,
        principal: str = "local",
    ) -> RemediationResult:
        """find_owner -> the file -> the edit -> validate -> commit or PR -> reconcile -> wait -> live check.

        The repository is ``repo_path`` (a local clone, or a git URL), by default the Git location of
        the owner chain; a git URL is worked on in a working tree of its own at the remote's tip of
        the branch the source follows.
        """

        self.shared.require_writable()
        self._refuse_autoscaled(api_version, kind, name, namespace, change, context)
        what = change.type.replace("_", " ")
        msg = message or f"Remediate {kind} {namespace}/{name}: {what}"
        if change.type in LIFECYCLE:
            msg = message or f"{what.capitalize()} {kind} {namespace + '/' if namespace else ''}{name}"
        chain = self.cluster.owner_chain(api_version, kind, name, namespace, context)
        check_owner(chain, self.shared.registry)
        assert chain.git is not None
        repo = Repository.of(repo_path or chain.git.url)
        follows = repo.url is not None and url_identity(repo.url) == url_identity(chain.git.url)
        with repo.working_tree(self.shared, principal, source_branch(chain.git) if follows else None) as tree:
            owner = self.cluster.locate(chain, tree.root, tree.url)
            result, facts = self._change(owner, tree.root, change, msg, mode, context, tree.url)
        if result.commit is None:
            return result
        if facts is not None and (facts.applier_keeps or facts.removal.stays):
            result.message += "; the live objects stay (orphan): nothing to wait for"
            return result
        if not (wait and mode == "push" and result.commit.commit_sha):
            if mode == "pull_request":
                result.follow = self._follow(result)
                result.message += (
                    "; after the merge, follow it to live: wait_for_sync with follow"
                    if result.follow
                    else "; after the merge, verify it with wait_for_sync"
                )
            return result
        return self._verify(result, change, result.commit.commit_sha, context, facts)

    def _refuse_autoscaled(
        self, api_version: str, kind: str, name: str, namespace: str | None, change: Any, context: str | None
    ) -> None:
        """Replicas of an object an autoscaler in the cluster scales: no edit in Git decides them."""
        from gitops_mcp.errors import ClusterError
        from gitops_mcp.remediation import MergePatch, Refused, SetReplicas

        patch = change.patch.get("spec") if isinstance(change, MergePatch) else None
        if not (isinstance(change, SetReplicas) or (isinstance(patch, dict) and "replicas" in patch)) or not namespace:
            return
        try:
            with self.shared.kube(context) as kube:
                items, _ = kube.list("autoscaling/v2", "HorizontalPodAutoscaler", namespace)
        except ClusterError:
            return  # not served or not readable: what Git holds is checked by the plan
        for hpa in items:
            spec, meta = hpa.get("spec") or {}, hpa.get("metadata") or {}
            target = spec.get("scaleTargetRef") or {}
            if target.get("kind") == kind and target.get("name") == name:
                raise Refused(
                    f"HorizontalPodAutoscaler {namespace}/{meta.get('name')} in the cluster scales {kind} {name} "
                    f"between {spec.get('minReplicas', 1)} and {spec.get('maxReplicas', '?')} replicas: it decides "
                    "the live replica count, so replicas in Git would not take effect; change its "
                    "minReplicas/maxReplicas instead, or remove it first; nothing was changed"
                )

    def _change(
        self,
        owner: OwnerResult,
        root: Path,
        change: Any,
        msg: str,
        mode: Mode,
        context: str | None,
        url: str | None = None,
    ) -> tuple[RemediationResult, LiveFacts | None]:
        """Plan, validate, write and deliver the edit in the repository at ``root`` (with, for a
        removal, what the cluster said of it before)."""
        from gitops_mcp.services.lifecycle import live_facts, removal_effect

        registry, facts = self.shared.registry, None
        removal = ""
        if change.type == "remove":
            with self.shared.kube(context) as kube:
                facts = live_facts(kube, owner, registry)
            p = plan_remove(root, owner, change, registry, facts)
            removal = "\n\n" + removal_effect(owner, facts)  # the pull request's description says it too
        elif change.type in LIFECYCLE:
            p = plan_suspend(root, owner, change, registry)
        else:
            p = plan(root, owner, change, registry, self.shared.gitops_kinds)
        diff = "".join(unified_diff(e.before, e.after, e.file) for e in p.edits)
        result = RemediationResult(owner=owner, plan=p, diff=diff, message="")
        if not p.edits:
            result.message = "; ".join(p.notes)
            return result, facts
        result.validation = self.edits.validate(p.edits, suspending=change.type == "suspend")
        self.edits.write(root, p.edits)
        if mode == "pull_request":  # what the merge would do, dry-run against the cluster, in the description
            from gitops_mcp.services.effect import remediation_effect

            effect = remediation_effect(
                self.shared, owner, root, url or (owner.git.url if owner.git else None), context
            )
            p.live_effect = effect  # in the result's plan, and in the pull request's description
            removal = removal if effect.skipped else ""  # the dry run says it, object by object
            msg += removal + "\n\n" + effect.text()
        else:
            msg += removal
        commit = self.edits.commit(root, p.edits, msg, mode)
        result.commit = commit
        result.message = commit.message
        return result, facts

    def _verify(
        self, result: RemediationResult, change: Any, sha: str, context: str | None, facts: LiveFacts | None
    ) -> RemediationResult:
        """After the push: reconcile the applier, wait for the commit, and check the live object."""

        owner = result.owner
        if owner.manager is None or owner.manager not in self.shared.registry:
            return result
        applier = self.shared.registry.get(owner.manager).applier_in(owner.chain)
        if applier is None or applier.namespace is None:
            return result
        route = route_of(owner, self.shared.registry)
        deadline = self.shared.clock.monotonic() + self.shared.settings.wizard_wait_seconds
        with self.shared.kube(context) as kube:
            result.verification = reconcile_and_wait(
                kube, applier, sha, deadline, registry=self.shared.registry, sync=change.type != "remove"
            )  # a removal is pruned by the applier's own automated sync (checked before writing)
            if result.verification.outcome != "synced":
                result.live_ok = False
                result.message += f"; not applied: {result.verification.message}"
                return result
            if change.type in LIFECYCLE:
                result.live_ok, result.live_detail = self._lifecycle_check(kube, owner, change, facts, deadline)
                result.message += f"; live: {result.live_detail}"
                return result
            check = owner.chain[0] if route.values_kind is not None else owner.object
            if route.values_kind is not None and check.namespace is not None:
                # the applier applied the new values; the release's controller upgrades after it (seen on
                # the real controllers): live once the release is ready at its new generation
                release = wait_for_sync(
                    kube,
                    check.kind,
                    check.name,
                    check.namespace,
                    None,
                    max(1.0, deadline - self.shared.clock.monotonic()),
                    registry=self.shared.registry,
                )
                if release.outcome != "synced":
                    result.live_ok = False
                    result.message += f"; {check.kind} not upgraded: {release.message}"
                    return result
            live = kube.get(check.api_version, check.kind, check.name, check.namespace)
        result.live_ok, result.live_detail = live_check(live, change, route)
        if isinstance(change, SetHelmValues) and route.chart_values and live is not None:
            # values no field of the object names: the applier, in sync at the commit, applied the chart
            # rendered with them (seen on the real Argo CD, which renders the chart at the path)
            result.live_ok = True
            result.live_detail = (
                f"{applier.kind} {applier.name} is in sync at {sha[:12]}: the live objects are the chart "
                "rendered with the new values"
            )
        result.message += f"; live: {result.live_detail}"
        return result

    def _lifecycle_check(
        self, kube: Any, owner: OwnerResult, change: Any, facts: LiveFacts | None, deadline: float
    ) -> tuple[bool, str]:
        from gitops_mcp.services.lifecycle import check_removed, check_suspension

        if change.type == "remove":
            return check_removed(kube, owner, facts or LiveFacts(), deadline)
        return check_suspension(kube, owner, self.shared.registry, change.type == "suspend")

    def _follow(self, result: RemediationResult) -> Follow | None:
        """The applier that will apply the pull request's merge commit."""
        owner, pr = result.owner, result.commit.pr_url if result.commit else None
        if pr is None or owner.manager is None or owner.manager not in self.shared.registry:
            return None
        applier = self.shared.registry.get(owner.manager).applier_in(owner.chain)
        if applier is None or applier.namespace is None:
            return None
        return Follow(kind=applier.kind, name=applier.name, namespace=applier.namespace, pull_request=pr)
