"""Cluster use cases: sync status, reconcile, wait, and the owner of a live object."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gitops_mcp.cluster.ops import ReconcileResult, WaitResult, get_status, reconcile, wait_for_sync
from gitops_mcp.cluster.owner import OwnerFinder, OwnerResult, SourceFile
from gitops_mcp.cluster.status import SyncStatus
from gitops_mcp.errors import UserInputError
from gitops_mcp.git.info import read_repo_info
from gitops_mcp.git.urls import url_identity
from gitops_mcp.manifests.locate import locate
from gitops_mcp.providers.effects import pruned_in
from gitops_mcp.services.shared import Shared


class ClusterService:
    """get_sync_status, reconcile, wait_for_sync, find_owner."""

    def __init__(self, shared: Shared) -> None:
        self.shared = shared

    def sync_status(
        self,
        kind: str,
        name: str,
        namespace: str,
        context: str | None = None,
        revision: str | None = None,
        principal: str = "local",
    ) -> SyncStatus:
        """With ``revision`` (a branch of the repository it applies): also what applying its tip would
        do (:func:`~gitops_mcp.services.effect.branch_effect`)."""
        from gitops_mcp.services.effect import branch_effect

        with self.shared.kube(context) as kube:
            st = get_status(kube, kind, name, namespace, registry=self.shared.registry, diagnose=True)
            if revision is not None:
                st.live_effect = branch_effect(self.shared, kube, st, revision, principal)
            return st

    def reconcile(
        self,
        kind: str,
        name: str,
        namespace: str,
        with_source: bool = True,
        sync: bool = False,
        context: str | None = None,
    ) -> ReconcileResult:

        self.shared.require_writable()
        with self.shared.kube(context) as kube:
            return reconcile(kube, kind, name, namespace, with_source, sync, registry=self.shared.registry)

    def wait(
        self,
        kind: str,
        name: str,
        namespace: str,
        revision: str | None,
        timeout_s: float,
        progress: Any = None,
        context: str | None = None,
        pull_request: str | None = None,
    ) -> WaitResult:
        """With ``pull_request``: first its merge (the revision is then its merge commit)."""
        from gitops_mcp.services.follow import wait_for_merge

        clock = self.shared.clock

        if not 1 <= timeout_s <= 3600:
            raise UserInputError("timeout_s must be between 1 and 3600 seconds")
        if pull_request is not None and revision is not None:
            raise UserInputError("give revision or pull_request, not both: the merge commit is the revision")
        start = clock.monotonic()
        gone: list[tuple[str, str, str, str]] = []
        if pull_request is not None:
            merge = wait_for_merge(self.shared.settings, pull_request, start + timeout_s, clock, progress)
            if merge.outcome != "merged":
                with self.shared.kube(context) as kube:
                    st = get_status(kube, kind, name, namespace, registry=self.shared.registry)
                return WaitResult(
                    outcome="failed" if merge.outcome == "closed" else "timeout",
                    status=st,
                    waited_s=round(clock.monotonic() - start, 3),
                    message=merge.message,
                )
            revision = merge.sha
            gone = pruned_in(merge.body)  # what its description says the merge deletes
            offset = clock.monotonic() - start
            if progress is not None:
                outer = progress
                progress = lambda elapsed, msg: outer(elapsed + offset, msg)  # noqa: E731
        left = max(1.0, timeout_s - (clock.monotonic() - start))
        with self.shared.kube(context) as kube:
            result = wait_for_sync(kube, kind, name, namespace, revision, left, progress, registry=self.shared.registry)
            if gone and result.outcome == "synced":
                from gitops_mcp.cluster.gone import report_gone

                result.message += "; " + report_gone(kube, gone, start + timeout_s)
            return result

    def find_owner(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None,
        repo_path: str | None = None,
        context: str | None = None,
    ) -> OwnerResult:
        """The GitOps chain managing a live object, its Git location, and (from a local clone or the
        clone cache) the file and document that define it."""

        result = self.owner_chain(api_version, kind, name, namespace, context)
        git = result.git
        if git is None:
            return result
        root: Path | None = None
        if repo_path:
            root = self.shared.local_dir(repo_path)
            info = read_repo_info(root)
            root = info.root if info else root
            if info and info.origin_url and url_identity(info.origin_url) != url_identity(git.url):
                result.message += f"; note: {root} has origin {info.origin_url}, not {git.url}"
        else:
            root = self.shared.delivery.cache.find(git.url)
        if root is None:
            result.message += "; pass repo_path (a local clone or the git URL) to find the file"
            return result
        return self.locate(result, root)

    def owner_chain(
        self, api_version: str, kind: str, name: str, namespace: str | None, context: str | None = None
    ) -> OwnerResult:
        """The GitOps chain managing a live object and its Git location (no file lookup)."""

        with self.shared.kube(context) as kube:
            return OwnerFinder(kube, registry=self.shared.registry).find(api_version, kind, name, namespace)

    def locate(self, result: OwnerResult, root: Path, shown: str | None = None) -> OwnerResult:
        """``result`` with the file and document that define the object in the repository at ``root``
        (named ``shown`` in what it says: a git URL for a working tree of the clone cache)."""

        git = result.git
        if git is None:
            return result
        result.repo_root = shown or str(root)
        ensure = None
        if self.shared.delivery.is_cached(root):
            cached_root = root

            def ensure(rel: str) -> None:
                self.shared.delivery.prepare_write(cached_root, [f"{rel}/x"] if rel != "." else ["x"])

        found = locate(root, git.path, git.defining_kind, git.defining_name, git.defining_namespace, ensure)
        if found is None:
            result.message += f"; no {git.defining_kind} {git.defining_name} found under {git.path} in {shown or root}"
        else:
            result.file = SourceFile(
                repo_root=shown or str(root),
                file=found[0],
                document=found[1],
                kind=git.defining_kind,
                name=git.defining_name,
            )
            result.message += f"; file {found[0]} (document {found[1]})"
        return result
