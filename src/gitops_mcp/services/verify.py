"""After a push: make the controller apply the commit now, and wait until it is live."""

from __future__ import annotations

import posixpath
import time
from pathlib import Path

from gitops_mcp.cluster.ops import WaitResult
from gitops_mcp.git.info import read_repo_info
from gitops_mcp.services.shared import Shared
from gitops_mcp.sessions.models import SessionState


class Verifier:
    def __init__(self, shared: Shared) -> None:
        self.shared = shared

    def head(self, root: Path) -> str | None:
        info = read_repo_info(root)
        return info.head_sha if info else None

    def verify(self, state: SessionState, sha: str) -> tuple[bool, str, list[WaitResult]]:
        """After a push: make the controller apply the commit now, and wait until it is live."""
        from gitops_mcp.cluster.ops import get_status, reconcile, wait_for_sync
        from gitops_mcp.errors import ClusterError
        from gitops_mcp.git.urls import url_identity

        assert state.preview is not None
        deadline = time.monotonic() + self.shared.settings.wizard_wait_seconds
        waits: list[WaitResult] = []
        objects = state.preview.objects
        try:
            with self.shared.kube() as kube:
                out = state.preview.output_path
                parent = next(
                    (b for b in state.context.flux_bootstraps if out.startswith(b.path.rstrip("/") + "/")), None
                )
                if state.preview.provider == "flux" and parent is not None:
                    # the bootstrap's Kustomization applies every file under the cluster directory
                    reconcile(kube, "Kustomization", "flux-system", "flux-system", with_source=True)
                    w = wait_for_sync(
                        kube, "Kustomization", "flux-system", "flux-system", sha, max(1.0, deadline - time.monotonic())
                    )
                    waits.append(w)
                    if w.outcome != "synced":
                        return False, f"flux-system did not apply {sha[:12]}: {w.message}", waits
                if state.preview.provider == "argocd" and state.context.origin_url:
                    # an app of apps that deploys the directory of the output file
                    apps, _ = kube.list("argoproj.io/v1alpha1", "Application")
                    out_dir = posixpath.dirname(out)
                    for app in apps:
                        src = (app.get("spec") or {}).get("source") or {}
                        path = str(src.get("path") or ".").strip("/").removeprefix("./")
                        if (
                            src.get("repoURL")
                            and url_identity(str(src["repoURL"])) == url_identity(state.context.origin_url)
                            and (out_dir == path or out_dir.startswith(path + "/") or path in ("", "."))
                        ):
                            meta = app["metadata"]
                            if any(o.name == meta["name"] and o.kind == "Application" for o in objects):
                                continue
                            reconcile(kube, "Application", meta["name"], meta["namespace"], sync=True)
                            w = wait_for_sync(
                                kube,
                                "Application",
                                meta["name"],
                                meta["namespace"],
                                sha,
                                max(1.0, deadline - time.monotonic()),
                            )
                            waits.append(w)
                            if w.outcome != "synced":
                                return False, f"{meta['name']} did not apply {sha[:12]}: {w.message}", waits
                            break
                kinds = ("Kustomization", "HelmRelease") if state.preview.provider == "flux" else ("Application",)
                target = next((o for o in objects if o.kind in kinds), None)
                if target is None or target.namespace is None:
                    return False, "nothing to wait for", waits
                if get_status(kube, target.kind, target.name, target.namespace).state == "not_found":
                    return (
                        False,
                        (
                            f"{target.kind} {target.namespace}/{target.name} is not in the cluster yet: apply "
                            f"{out} once (kubectl apply -f) or let a parent Kustomization/app-of-apps pick it up"
                        ),
                        waits,
                    )
                reconcile(kube, target.kind, target.name, target.namespace, with_source=True)
                same_repo = (
                    state.context.origin_url
                    and state.answers.get("repo_url")
                    and url_identity(str(state.answers["repo_url"])) == url_identity(state.context.origin_url)
                )
                w = wait_for_sync(
                    kube,
                    target.kind,
                    target.name,
                    target.namespace,
                    sha if same_repo else None,
                    max(1.0, deadline - time.monotonic()),
                )
                waits.append(w)
                if w.outcome == "synced":
                    return True, f"live: {w.message}", waits
                return False, f"not live: {w.message}", waits
        except ClusterError as exc:
            return False, f"could not verify on the cluster: {exc}", waits
