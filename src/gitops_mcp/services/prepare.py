"""What the wizard and one-shot generation share: the session context of a directory, the
flow environment, and the preview (generated YAML, validation, diff)."""

from __future__ import annotations

import os
from pathlib import Path

from gitops_mcp.detection.models import Package
from gitops_mcp.manifests.validation import validate_documents
from gitops_mcp.manifests.write import diff_against
from gitops_mcp.manifests.yaml import dump_documents
from gitops_mcp.providers.base import ExistingSource
from gitops_mcp.services.shared import Shared
from gitops_mcp.sessions import flow
from gitops_mcp.sessions.models import ClusterApplier, Preview, SessionContext, SessionState

MAX_TAGS = 500


class Preparation:
    def __init__(self, shared: Shared) -> None:
        self.shared = shared

    def context(
        self, directory: Path | None, intent: str | None, provider: str | None, packages: list[Package] | None = None
    ) -> SessionContext:
        ctx = SessionContext(intent=intent, provider_hint=provider)
        if directory is None:
            ctx.packages = packages or []
            return ctx
        root, prefix, info = self.shared.repo(directory)
        report = self.shared.scan(directory, root, prefix)
        ctx.repo_root = str(root)
        ctx.scan_path = str(directory)
        ctx.packages = packages or report.packages
        ctx.flux_bootstraps = report.gitops.flux_bootstraps
        ctx.existing_sources = [
            ExistingSource(kind=o.kind, name=o.name, namespace=o.namespace, url=o.url, ref=o.ref, file=o.file)
            for o in report.gitops.objects
            if o.kind in ("GitRepository", "OCIRepository", "HelmRepository") and o.url and not o.patch
        ]
        argo_files = {o.file for o in report.gitops.objects if o.kind in ("Application", "ApplicationSet")}
        flux_files = {o.file for o in report.gitops.objects if o.api_version.split("/")[0].endswith("fluxcd.io")}
        ctx.argocd_app_dirs = sorted({os.path.dirname(f) or "." for f in argo_files})
        ctx.flux_dirs = sorted({os.path.dirname(f) or "." for f in flux_files} & set(report.gitops.directories))
        if info is not None:
            ctx.origin_url = info.origin_url
            ctx.branch = info.branch
            ctx.default_branch = info.default_branch
            ctx.tags = sorted(info.tags)[:MAX_TAGS]
        if not self.shared.settings.read_only:
            ctx.delivery_options = ["write", "push", "pull_request"] if ctx.origin_url else ["write"]
            ctx.can_wait = bool(ctx.origin_url) and self.shared.cluster_configured()
        if ctx.can_wait:
            ctx.cluster_appliers = self.cluster_appliers()
        return ctx

    def cluster_appliers(self) -> list[ClusterApplier] | None:
        """What in the cluster applies a directory of a Git repository (every provider's
        :meth:`~gitops_mcp.providers.base.Provider.appliers`); None when the cluster cannot be read."""
        from gitops_mcp.cluster.owner import OwnerFinder
        from gitops_mcp.errors import ClusterError

        try:
            with self.shared.kube(timeout=5.0) as kube:
                reader = OwnerFinder(kube, self.shared.registry)
                found = [a for p in self.shared.registry for a in p.appliers(reader)]
        except ClusterError:
            return None
        return [ClusterApplier(ref=a.ref, repo_url=a.repo_url, path=a.path) for a in found]

    def env(self, ctx: SessionContext) -> flow.FlowEnv:
        root = Path(ctx.repo_root) if ctx.repo_root else None
        delivery = self.shared.delivery

        def exists(rel: str) -> bool:
            return root is not None and delivery.dir_exists(root, rel)

        return flow.FlowEnv(self.shared.registry, self.shared.settings.policy, exists if root is not None else None)

    def preview(self, state: SessionState) -> Preview:
        a, ctx = state.answers, state.context
        provider = self.shared.registry.get(str(a["provider"]))
        spec = flow.build_spec(a, ctx)
        options = {q.id: a[q.id] for q in flow.questions_for("provider_options", a, ctx, self.env(ctx)) if q.id in a}
        gen = provider.generate(spec, options)
        text = dump_documents(gen.objects)
        validation = validate_documents(
            gen.objects, self.shared.settings.policy, self.shared.crds(), rules=self.shared.rules
        )
        out = str(a["output_path"])
        exists, diff = (False, "")
        if ctx.repo_root:
            self.shared.delivery.prepare_write(Path(ctx.repo_root), [out])
            exists, diff = diff_against(Path(ctx.repo_root), out, text)
        return Preview(
            provider=provider.name,
            output_path=out,
            yaml=text,
            objects=gen.summary,
            notes=gen.notes,
            diff=diff,
            file_exists=exists,
            validation=validation,
        )
