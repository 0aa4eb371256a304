"""After a push: make the controllers apply the commit now, and wait until it is live.

Provider-neutral: each provider names the objects in the cluster that apply a directory of a
Git repository (:meth:`Provider.appliers`) and which generated kinds mean "live"
(:attr:`Provider.verify_kinds`). A parent that applies the output file's directory of this
repository is reconciled and waited for first; then the generated object itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gitops_mcp.cluster.ops import WaitResult, get_status, reconcile_and_wait
from gitops_mcp.cluster.owner import OwnerFinder
from gitops_mcp.errors import ClusterError
from gitops_mcp.git.info import read_repo_info
from gitops_mcp.git.urls import url_identity
from gitops_mcp.providers.live import ObjectRef, parent_of
from gitops_mcp.services.shared import Shared
from gitops_mcp.sessions.models import SessionState

__all__ = ["Verifier", "parent_of"]


class Verifier:
    def __init__(self, shared: Shared) -> None:
        self.shared = shared

    def head(self, root: Path) -> str | None:
        info = read_repo_info(root)
        return info.head_sha if info else None

    def _apply(self, kube: Any, ref: ObjectRef, revision: str | None, deadline: float, sync: bool) -> WaitResult:
        """Ask the controller to act now (``sync``: also start applying, where the engine tells
        comparing from applying), then wait (:func:`~gitops_mcp.cluster.ops.reconcile_and_wait`)."""

        return reconcile_and_wait(kube, ref, revision, deadline, registry=self.shared.registry, sync=sync)

    def verify(self, state: SessionState, sha: str) -> tuple[bool, str, list[WaitResult]]:
        """After a push: make the controller apply the commit now, and wait until it is live."""

        assert state.preview is not None
        registry = self.shared.registry
        provider = registry.get(state.preview.provider)
        deadline = self.shared.clock.monotonic() + self.shared.settings.wizard_wait_seconds
        waits: list[WaitResult] = []
        objects, out, origin = state.preview.objects, state.preview.output_path, state.context.origin_url
        try:
            with self.shared.kube(state.answers.get("cluster")) as kube:
                if origin:
                    reader = OwnerFinder(kube, registry)
                    appliers = [a for p in registry for a in p.appliers(reader)]
                    own = {(o.kind, o.name) for o in objects}
                    parent = parent_of(appliers, origin, out, own)
                    if parent is not None:
                        w = self._apply(
                            kube, parent.ref, sha, deadline, sync=True
                        )  # the parent must apply the new file
                        waits.append(w)
                        if w.outcome != "synced":
                            return False, f"{parent.ref.name} did not apply {sha[:12]}: {w.message}", waits
                target = next((o for o in objects if o.kind in provider.verify_kinds), None)
                if target is None or target.namespace is None:
                    return False, "nothing to wait for", waits
                status = get_status(kube, target.kind, target.name, target.namespace, registry=registry)
                if status.state == "not_found":
                    return (
                        False,
                        (
                            f"{target.kind} {target.namespace}/{target.name} is not in the cluster yet: apply "
                            f"{out} once (kubectl apply -f) or let a parent Kustomization/app-of-apps pick it up"
                        ),
                        waits,
                    )
                same_repo = (
                    origin
                    and state.answers.get("repo_url")
                    and url_identity(str(state.answers["repo_url"])) == url_identity(origin)
                )
                ref = ObjectRef(
                    api_version=target.api_version, kind=target.kind, name=target.name, namespace=target.namespace
                )
                w = self._apply(
                    kube, ref, sha if same_repo else None, deadline, sync=False
                )  # its own sync policy decides
                waits.append(w)
                if w.outcome == "synced":
                    return True, f"live: {w.message}", waits
                return False, f"not live: {w.message}", waits
        except ClusterError as exc:
            return False, f"could not verify on the cluster: {exc}", waits
