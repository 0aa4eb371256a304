"""The live effect of a change before it merges (:mod:`gitops_mcp.cluster.effect`), for the
use cases that propose one: a remediation's pull request, a wizard preview, a branch of an
applier's repository (``get_sync_status(revision=...)``). Absent, with the reason, when no cluster
is configured or reachable."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from gitops_mcp.cluster.effect import live_effect
from gitops_mcp.cluster.owner import OwnerFinder, OwnerResult
from gitops_mcp.errors import ClusterError, GitOpsError, UserInputError
from gitops_mcp.git.repo import check_ref
from gitops_mcp.git.urls import url_identity
from gitops_mcp.providers.effects import LiveEffect
from gitops_mcp.providers.live import APPLIES_NOTHING, Obj, SyncStatus
from gitops_mcp.sandbox import Limits
from gitops_mcp.services.shared import Shared
from gitops_mcp.sessions.models import SessionContext


def _limits(shared: Shared) -> tuple[Limits, int]:
    s = shared.settings
    limits = Limits(
        s.build_memory_mb, s.build_cpu_seconds, s.build_timeout_seconds, s.build_output_mb, s.build_require_netns
    )
    return limits, s.build_max_input_mb


def effect_of(
    shared: Shared,
    kube: Any,
    applier: Obj,
    root: Path,
    repo_url: str | None,
    revision: str | None = None,
    live: Obj | None = None,
) -> LiveEffect:
    """What ``applier`` (its provider's object) would do applying the tree at ``root`` (a checkout of
    ``repo_url``); ``live``: the applier as the cluster has it (what it applied before)."""
    found = shared.registry.kind_of(str(applier.get("apiVersion")), str(applier.get("kind")))
    if found is None:
        return LiveEffect(skipped=f"{applier.get('kind')} is not a GitOps object this server renders")
    provider = found[0]
    how = provider.rendering(OwnerFinder(kube, shared.registry), applier)
    if isinstance(how, str):
        return LiveEffect(skipped=how)
    if repo_url and how.repo_url and url_identity(how.repo_url) != url_identity(repo_url):
        return LiveEffect(skipped=f"it applies {how.repo_url}, not this repository")
    limits, max_mb = _limits(shared)
    return live_effect(
        kube, shared.registry, provider, applier, root, revision=revision, live_applier=live, limits=limits,
        max_input_mb=max_mb,
    )  # fmt: skip


def remediation_effect(
    shared: Shared, owner: OwnerResult, root: Path, repo_url: str | None, context: str | None
) -> LiveEffect:
    """The live effect of the edited tree at ``root`` through the applier of ``owner``'s chain."""
    if owner.manager is None or owner.manager not in shared.registry:
        return LiveEffect(skipped="no GitOps object applies it")
    link = shared.registry.get(owner.manager).applier_in(owner.chain)
    if link is None:
        return LiveEffect(skipped="no object of its chain applies a Git path")
    try:
        with shared.kube(context) as kube:
            live = kube.get(link.api_version, link.kind, link.name, link.namespace)
            if live is None:
                return LiveEffect(skipped=f"{link.kind} {link.namespace}/{link.name} is not in the cluster")
            return effect_of(shared, kube, live, root, repo_url, live=live)
    except (ClusterError, UserInputError) as exc:
        return LiveEffect(skipped=f"the cluster cannot be asked: {str(exc)[:300]}")


def branch_effect(shared: Shared, kube: Any, status: SyncStatus, branch: str, principal: str) -> LiveEffect:
    """What the applier of ``status`` would do applying the tip of ``branch`` of its repository."""
    from gitops_mcp.services.repository import Repository

    check_ref(branch, "revision")
    live = kube.get(status.api_version, status.kind, status.name, status.namespace)
    found = shared.registry.kind_of(status.api_version, status.kind)
    if live is None or found is None:
        return LiveEffect(skipped=f"{status.kind} {status.namespace}/{status.name} is not in the cluster")
    how = found[0].rendering(OwnerFinder(kube, shared.registry), live)
    if isinstance(how, str) or how.repo_url is None:
        return LiveEffect(skipped=how if isinstance(how, str) else "it applies no Git repository")
    with Repository.of(how.repo_url).working_tree(shared, principal, branch) as tree:
        return effect_of(shared, kube, live, tree.root, how.repo_url, revision=tree.tip or branch, live=live)


class _WithNew:
    """The cluster as the providers read it, with the objects of a new file in it already."""

    def __init__(self, kube: Any, shared: Shared, objs: list[Obj]) -> None:
        self.cluster, self.objs = OwnerFinder(kube, shared.registry), objs

    def get(self, api_version: str, kind: str, name: str, namespace: str | None) -> Obj | None:
        for o in self.objs:
            meta = o.get("metadata") or {}
            if (o.get("kind"), meta.get("name"), meta.get("namespace")) == (kind, name, namespace):
                return o
        return self.cluster.get(api_version, kind, name, namespace)

    def list(self, api_version: str, kind: str) -> list[Obj] | None:
        return self.cluster.list(api_version, kind)


def preview_effect(
    shared: Shared,
    objs: list[Obj],
    tree: Callable[[], contextlib.AbstractContextManager[Path]],
    repo_url: str | None,
    context: str | None,
) -> LiveEffect:
    """What the wizard's file would do once applied: its own objects, and what the applier among
    them renders from the working tree ``tree()`` opens (made only when something renders: a git
    URL's is a fresh checkout), with what it applied before, when it exists."""
    from gitops_mcp.cluster.effect import live_effect

    try:
        with shared.kube(context, timeout=10.0) as kube:
            reader = _WithNew(kube, shared, objs)
            unrendered: list[str] = []
            for obj in objs:
                found = shared.registry.kind_of(str(obj.get("apiVersion")), str(obj.get("kind")))
                how = found[0].rendering(reader, obj) if found is not None else "not a GitOps object"
                if isinstance(how, str):
                    unrendered += [how] if found is not None and not how.endswith(APPLIES_NOTHING) else []
                    continue
                if repo_url and how.repo_url and url_identity(how.repo_url) != url_identity(repo_url):
                    continue
                meta = obj.get("metadata") or {}
                live = kube.get(
                    str(obj.get("apiVersion")), str(obj.get("kind")), str(meta.get("name")), meta.get("namespace")
                )
                limits, max_mb = _limits(shared)
                assert found is not None
                with contextlib.ExitStack() as stack:
                    try:
                        root = stack.enter_context(tree())
                    except GitOpsError as exc:  # a git URL's checkout (scrubbed of credentials)
                        return LiveEffect(skipped=f"the repository cannot be read: {str(exc)[:300]}")
                    return live_effect(
                        kube, shared.registry, found[0], obj, root, live_applier=live, limits=limits,
                        max_input_mb=max_mb, first=objs, reader=reader,
                    )  # fmt: skip
            if unrendered:  # said, never left out: e.g. a chart from a Helm repository
                return LiveEffect(skipped=unrendered[0])
            return LiveEffect(skipped="nothing in the file applies a path of this repository")
    except (ClusterError, UserInputError) as exc:
        return LiveEffect(skipped=f"the cluster cannot be asked: {str(exc)[:300]}")


def wizard_effect(
    shared: Shared, objs: list[Obj], ctx: SessionContext, principal: str, context: str | None
) -> LiveEffect:
    """:func:`preview_effect` of a wizard session: a local repository's working tree, or for a
    session started by git URL a fresh working tree at the remote's tip of the session's branch
    (where the file will be delivered)."""
    from gitops_mcp.services.repository import Repository

    if ctx.source_url:
        url, branch = ctx.source_url, ctx.branch

        @contextlib.contextmanager
        def remote() -> Iterator[Path]:
            with Repository.of(url).working_tree(shared, principal, branch) as t:
                yield t.root

        return preview_effect(shared, objs, remote, url, context)
    root = Path(ctx.repo_root or ".")
    return preview_effect(shared, objs, lambda: contextlib.nullcontext(root), ctx.origin_url, context)
