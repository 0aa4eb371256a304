"""Read-only tools: detection, providers, sync status, owners, waiting, generation, validation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context
from pydantic import Field

from gitops_mcp.server.common import (
    READ,
    READ_CLUSTER,
    Cluster,
    ObjectName,
    ObjectNamespace,
    ProviderName,
    SyncKind,
    answer,
)
from gitops_mcp.server.toolset import ToolSet
from gitops_mcp.settings import Settings

if TYPE_CHECKING:
    from gitops_mcp.cluster.ops import WaitResult
    from gitops_mcp.cluster.owner import OwnerResult
    from gitops_mcp.cluster.status import SyncStatus
    from gitops_mcp.detection import DetectionReport
    from gitops_mcp.manifests.validation import ValidationResult
    from gitops_mcp.services import Services
    from gitops_mcp.services.inspect import ProviderReport
    from gitops_mcp.services.manifests import GenerateResult


def register(tools: ToolSet, svc: Services, settings: Settings) -> None:
    @tools.tool(annotations=READ)
    async def detect_packages(
        repo_path: Annotated[str, Field(description="Local directory or git URL")],
        page: Annotated[int, Field(ge=1, le=10_000, description="Page: 20 packages and 20 GitOps objects each")] = 1,
    ) -> DetectionReport:
        """Deployable packages (Helm, Kustomize, plain manifests, Jsonnet) under a directory, with
        evidence, and the Flux / Argo CD objects already there. Paths are relative to the
        repository root."""
        local = svc.shared.computes_only(repo_path, asks_cluster=False)
        return await answer(svc.inspect.detect, repo_path, page, local=local)

    @tools.tool(annotations=READ_CLUSTER)
    async def list_providers(
        cluster: Cluster = None,
        repo_path: Annotated[str | None, Field(description="Local repository: what already syncs it")] = None,
    ) -> ProviderReport:
        """The GitOps providers and the questions each asks; with a cluster, which controllers are
        installed and (with repo_path) what already syncs the repository."""
        return await answer(svc.inspect.provider_report, cluster, repo_path)

    @tools.tool(annotations=READ_CLUSTER)
    async def get_sync_status(
        kind: SyncKind,
        name: ObjectName,
        namespace: Annotated[str, Field(description="Object namespace (Flux: usually flux-system; Argo: argocd)")],
        cluster: Cluster = None,
    ) -> SyncStatus:
        """Normalised status of a Flux object or Argo CD Application: state, revisions, the
        controller's message and conditions (Argo CD: sync, health, operation phase)."""
        return await answer(svc.cluster.sync_status, kind, name, namespace, cluster)

    @tools.tool(annotations=READ_CLUSTER)
    async def find_owner(
        api_version: Annotated[str, Field(description="e.g. apps/v1")],
        kind: Annotated[str, Field(description="e.g. Deployment")],
        name: Annotated[str, Field(description="Object name")],
        namespace: Annotated[str | None, Field(description="Omit if cluster-scoped")] = None,
        repo_path: Annotated[str | None, Field(description="Local clone of the source (to name the file)")] = None,
        cluster: Cluster = None,
    ) -> OwnerResult:
        """The GitOps objects that manage a live object (e.g. Deployment -> HelmRelease ->
        Kustomization -> GitRepository, or -> Application) and where Git defines it: URL, ref,
        path and, with repo_path, the file and document."""
        return await answer(svc.cluster.find_owner, api_version, kind, name, namespace, repo_path, cluster)

    @tools.tool(annotations=READ_CLUSTER)
    async def wait_for_sync(
        kind: SyncKind,
        name: ObjectName,
        namespace: ObjectNamespace,
        ctx: Context,
        revision: Annotated[
            str | None, Field(description="Commit SHA that must be applied (omit: ready is enough)")
        ] = None,
        timeout_s: Annotated[float, Field(description="Seconds (1..3600)")] = 300,
        cluster: Cluster = None,
        pull_request: Annotated[str | None, Field(description="PR/MR URL or org/repo#N: its merge first")] = None,
    ) -> WaitResult:
        """Wait until the object has applied the revision and is healthy; fails fast with the
        controller's message (stalled, failed sync, degraded), or times out with the last state.
        Reports progress."""

        def progress(elapsed: float, message: str) -> None:
            anyio.from_thread.run(ctx.report_progress, elapsed, timeout_s, message)

        return await answer(
            svc.cluster.wait, kind, name, namespace, revision, timeout_s, progress, cluster, pull_request
        )

    @tools.tool(annotations=READ)
    async def generate_manifests(
        provider: ProviderName,
        app_name: Annotated[str | None, Field(description="Default: the package's")] = None,
        namespace: Annotated[str | None, Field(description="Workload namespace (default: the app name)")] = None,
        package: Annotated[str | None, Field(description="Package directory (omit for a chart)")] = None,
        package_type: Annotated[
            Literal["helm", "kustomize", "manifests", "jsonnet"] | None,
            Field(description="When repo_path is not given"),
        ] = None,
        repo_path: Annotated[str | None, Field(description="Local repository (defaults, diff)")] = None,
        repo_url: Annotated[
            str | None, Field(description="Git URL the controller fetches (https:// or ssh://)")
        ] = None,
        revision: Annotated[str | None, Field(description="Branch, tag or commit; HEAD = default branch")] = None,
        chart_url: Annotated[str | None, Field(description="Chart repository: https:// or oci://")] = None,
        chart: Annotated[str | None, Field(description="Chart name (with chart_url)")] = None,
        chart_version: Annotated[str | None, Field(description="Chart version or range")] = None,
        output_path: Annotated[str | None, Field(description="Target file, relative to the repository")] = None,
        options: Annotated[
            dict[str, Any] | None,
            Field(description="Answers by question id, e.g. {interval: 10m}; values: Helm values"),
        ] = None,
    ) -> GenerateResult:
        """The wizard in one call, writing nothing: Argo CD or Flux manifests, validated; what is
        not given takes the wizard's defaults (from repo_path: package, origin, branch)."""
        args: dict[str, Any] = dict(options or {})
        args.update(
            provider=provider,
            app_name=app_name,
            namespace=namespace,
            package=package,
            repo_url=repo_url,
            revision=revision,
            chart_url=chart_url,
            chart=chart,
            chart_version=chart_version,
            output_path=output_path,
        )
        if package is not None and "path" not in args:
            args["path"] = package
        local = svc.shared.computes_only(repo_path, asks_cluster=True)
        return await answer(svc.manifests.generate, args, repo_path, package_type, local=local)

    @tools.tool(annotations=READ)
    async def validate_manifests(
        path: Annotated[str | None, Field(description="Absolute path of a local YAML file")] = None,
        yaml: Annotated[str | None, Field(description="YAML text (one or more documents)")] = None,
    ) -> ValidationResult:
        """Validate Flux / Argo CD manifests (file or text) against their CRD schemas and the
        policies: https/ssh Git URLs, interval bounds, prune, sources, no suspend, relative paths,
        no plain Secrets."""
        return await answer(svc.inspect.validate, path, yaml)
