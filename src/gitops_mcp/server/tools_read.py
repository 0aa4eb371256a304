"""Read-only tools: detection, providers, sync status, owners, waiting, generation, validation."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from pydantic import Field

from gitops_mcp.cluster.ops import WaitResult
from gitops_mcp.cluster.owner import OwnerResult
from gitops_mcp.cluster.status import SyncStatus
from gitops_mcp.detection import DetectionReport
from gitops_mcp.manifests.validation import ValidationResult
from gitops_mcp.server.common import READ, READ_CLUSTER, ProviderName, SyncKind, answer
from gitops_mcp.services import Services
from gitops_mcp.services.inspect import ProviderReport
from gitops_mcp.services.manifests import GenerateResult
from gitops_mcp.settings import Settings


def register(mcp: MCPServer, svc: Services, settings: Settings) -> None:
    @mcp.tool(annotations=READ)
    async def detect_packages(
        path: Annotated[str, Field(description="Absolute path of a local directory (a repository or part of one)")],
    ) -> DetectionReport:
        """Find deployable packages under a local directory.

        Reports Helm charts (with their values files), Kustomize directories, plain manifest
        directories and Jsonnet, each with a confidence and the evidence, plus the GitOps
        structure already in the repository (Flux bootstraps, GitRepository/Kustomization,
        Argo CD Applications). Paths in the result are relative to the repository root.
        Reads files only.
        """
        return await answer(svc.inspect.detect, path)

    @mcp.tool(annotations=READ_CLUSTER)
    async def list_providers(
        context: Annotated[str | None, Field(description="Kubeconfig context (default: the current one)")] = None,
        repo_path: Annotated[
            str | None, Field(description="A local repository: also say what in the cluster already syncs it")
        ] = None,
    ) -> ProviderReport:
        """List the GitOps providers (argocd, flux) with the questions each asks, and — when a
        cluster is configured — which controllers it has installed (their CRDs and served versions)."""
        return await answer(svc.inspect.provider_report, context, repo_path)

    @mcp.tool(annotations=READ_CLUSTER)
    async def get_sync_status(
        kind: SyncKind,
        name: Annotated[str, Field(description="Object name")],
        namespace: Annotated[str, Field(description="Object namespace (Flux: usually flux-system; Argo: argocd)")],
        context: Annotated[str | None, Field(description="Kubeconfig context (default: the current one)")] = None,
    ) -> SyncStatus:
        """Normalised status of a Flux object or Argo CD Application.

        state: ready, progressing, failed, suspended, not_found or unknown; the revision applied
        and attempted; the controller's message and conditions; for Argo CD sync, health and
        the operation phase. Reads only.
        """
        return await answer(svc.cluster.sync_status, kind, name, namespace, context)

    @mcp.tool(annotations=READ_CLUSTER)
    async def find_owner(
        api_version: Annotated[str, Field(description="apiVersion of the live object, e.g. apps/v1 or v1")],
        kind: Annotated[str, Field(description="Kind of the live object, e.g. Deployment")],
        name: Annotated[str, Field(description="Name of the live object")],
        namespace: Annotated[str | None, Field(description="Namespace (omit for cluster-scoped objects)")] = None,
        repo_path: Annotated[
            str | None, Field(description="Absolute path of a local clone of the source repository (names the file)")
        ] = None,
        context: Annotated[str | None, Field(description="Kubeconfig context (default: the current one)")] = None,
    ) -> OwnerResult:
        """Which GitOps objects manage a live object, and where in Git it is defined.

        Follows Flux ownership labels and inventories, Argo CD tracking annotations / instance
        labels and status.resources, up to the source: e.g. Deployment -> HelmRelease ->
        Kustomization -> GitRepository, or -> Application. Returns the repository URL, ref and
        path, and — from repo_path or the clone cache — the file and document index that define
        it (for Helm-rendered objects: the HelmRelease). A few API calls, no cluster-wide scan.
        """
        return await answer(svc.cluster.find_owner, api_version, kind, name, namespace, repo_path, context)

    @mcp.tool(annotations=READ_CLUSTER)
    async def wait_for_sync(
        kind: SyncKind,
        name: Annotated[str, Field(description="Object name")],
        namespace: Annotated[str, Field(description="Object namespace")],
        ctx: Context,
        revision: Annotated[
            str | None, Field(description="Commit SHA (or revision) that must be applied; omit: just ready")
        ] = None,
        timeout_s: Annotated[float, Field(description="Give up after this many seconds (1..3600)")] = 300,
        context: Annotated[str | None, Field(description="Kubeconfig context (default: the current one)")] = None,
    ) -> WaitResult:
        """Wait until the object has applied that revision and is healthy; or fail fast with the
        controller's own message (Stalled, Ready=False on that revision, a failed sync, Degraded);
        or time out with the last state. Uses watches; sends progress notifications meanwhile."""

        def progress(elapsed: float, message: str) -> None:
            anyio.from_thread.run(ctx.report_progress, elapsed, timeout_s, message)

        return await answer(svc.cluster.wait, kind, name, namespace, revision, timeout_s, progress, context)

    @mcp.tool(annotations=READ)
    async def generate_manifests(
        provider: ProviderName,
        app_name: Annotated[str, Field(description="Application name (DNS-1123 label, <= 63)")],
        namespace: Annotated[str, Field(description="Namespace the workload is deployed into")],
        package: Annotated[
            str | None, Field(description="Package directory relative to the repository root (omit for a chart)")
        ] = None,
        package_type: Annotated[
            Literal["helm", "kustomize", "manifests", "jsonnet"] | None,
            Field(description="Type of the package when repo_path is not given"),
        ] = None,
        repo_path: Annotated[
            str | None,
            Field(description="Absolute local path of the repository: enables detection, defaults and a diff"),
        ] = None,
        repo_url: Annotated[
            str | None, Field(description="Git URL the controller fetches (https:// or ssh://)")
        ] = None,
        revision: Annotated[str | None, Field(description="Branch, tag or commit; HEAD = default branch")] = None,
        chart_url: Annotated[str | None, Field(description="Third-party chart: https:// or oci:// repository")] = None,
        chart: Annotated[str | None, Field(description="Third-party chart name")] = None,
        chart_version: Annotated[str | None, Field(description="Third-party chart version or range")] = None,
        output_path: Annotated[str | None, Field(description="Target file, relative to the repository")] = None,
        options: Annotated[
            dict[str, Any] | None,
            Field(
                description="Provider answers by question id, e.g. {sync_policy: auto-prune} or "
                "{interval: 10m, prune: true}; values: a mapping of Helm values"
            ),
        ] = None,
    ) -> GenerateResult:
        """Generate Argo CD or Flux manifests in one call, without writing anything.

        Same engine and validation as the wizard; unanswered questions take their defaults.
        Returns the YAML (one file, documents separated by ---), a per-object summary, notes
        and the validation result.
        """
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
        return await answer(svc.manifests.generate, args, repo_path, package_type)

    @mcp.tool(annotations=READ)
    async def validate_manifests(
        path: Annotated[str | None, Field(description="Absolute path of a local YAML file")] = None,
        yaml: Annotated[str | None, Field(description="YAML text (one or more documents)")] = None,
    ) -> ValidationResult:
        """Validate Flux / Argo CD manifests against their CRD schemas and the policy rules.

        Schemas come from GITOPS_MCP_CRD_DIR when set, else from built-in rules for the
        fields this server generates. Policies: https/ssh Git URLs, interval bounds, prune,
        a source for every Kustomization, no suspend, relative paths, no plain Secrets.
        """
        return await answer(svc.inspect.validate, path, yaml)
