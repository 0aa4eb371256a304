"""Write tools (absent in read-only mode): files, commits, reconcile, remediation, promotion,
fleet, artifacts, rollback."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from gitops_mcp.server.auth import current_principal
from gitops_mcp.server.common import (
    CLUSTER_ACTION,
    CLUSTER_WRITE,
    GIT_WRITE,
    WRITE_FILE,
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
    from gitops_mcp.cluster.ops import ReconcileResult
    from gitops_mcp.cluster.register import RegisterResult
    from gitops_mcp.fleet import Notifications
    from gitops_mcp.git.delivery import CommitResult, RollbackResult
    from gitops_mcp.manifests.write import WriteResult
    from gitops_mcp.remediation import Change
    from gitops_mcp.services import Services
    from gitops_mcp.services.artifact import ArtifactResult
    from gitops_mcp.services.fleet import FleetResult
    from gitops_mcp.services.promote import PromotionResult
    from gitops_mcp.services.remediate import RemediationResult

# Every write tool works from a local clone or, with a git URL, in a working tree of the server's clone cache.
RepoRef = Annotated[str, Field(description="Local path or git URL")]


def add_write_manifests(tools: ToolSet, svc: Services) -> None:
    @tools.tool(annotations=WRITE_FILE)
    async def write_manifests(
        repo_path: RepoRef,
        output_path: Annotated[str | None, Field(description="Target .yaml file (default: the session's)")] = None,
        yaml: Annotated[str | None, Field(description="Manifests to write")] = None,
        session_id: Annotated[str | None, Field(description="Write this session's preview instead")] = None,
        overwrite: Annotated[bool, Field(description="Replace a file that is not GitOps of these objects")] = False,
    ) -> WriteResult:
        """Write manifests to a file in the repository and show the diff (a git URL: kept on a
        branch for commit_and_push). Refuses invalid manifests, and paths that leave the repository
        or enter .git."""
        return await answer(
            svc.manifests.write, current_principal(), repo_path, output_path, yaml, session_id, overwrite
        )


def add_commit_and_push(tools: ToolSet, svc: Services) -> None:
    @tools.tool(annotations=GIT_WRITE)
    async def commit_and_push(
        repo_path: Annotated[str, Field(description="Local path, or git URL: delivers the change kept for paths")],
        paths: Annotated[list[str], Field(description="Relative to the repository root")],
        message: Annotated[str, Field(description="Commit message (first line: PR title)")],
        mode: Annotated[
            Literal["push", "pull_request"],
            Field(description="push, or pull_request from a new branch"),
        ] = "push",
        branch: Annotated[
            str | None, Field(description="push: the checked-out branch; pull_request: its branch (default: generated)")
        ] = None,
        base: Annotated[str | None, Field(description="PR target (default: the remote's default)")] = None,
        draft: Annotated[bool, Field(description="Open the PR as a draft")] = False,
        labels: Annotated[list[str] | None, Field(description="PR labels")] = None,
    ) -> CommitResult:
        """Commit exactly the given files and push, or open a pull/merge request (working tree
        untouched; a re-run updates it). Credentials are the server's. A rejected push is rebased
        and retried; a conflict leaves the commit on a named local branch. Plain Secrets are
        refused."""
        return await answer(
            svc.git.commit, repo_path, paths, message, branch, mode, base, draft, labels, current_principal()
        )


def add_reconcile(tools: ToolSet, svc: Services) -> None:
    @tools.tool(annotations=CLUSTER_ACTION)
    async def reconcile(
        kind: SyncKind,
        name: ObjectName,
        namespace: ObjectNamespace,
        with_source: Annotated[bool, Field(description="Flux: reconcile the source first")] = True,
        sync: Annotated[bool, Field(description="Argo CD: also start a sync operation")] = False,
        cluster: Cluster = None,
    ) -> ReconcileResult:
        """Ask the controller to act now (Flux: source first; Argo CD: refresh and, if asked, a
        sync, never while one runs), confirmed by the controller. Refused when suspended."""
        return await answer(svc.cluster.reconcile, kind, name, namespace, with_source, sync, cluster)


def add_remediate(tools: ToolSet, svc: Services) -> None:
    @tools.tool(annotations=GIT_WRITE)
    async def remediate(
        api_version: Annotated[str, Field(description="e.g. apps/v1")],
        kind: Annotated[str, Field(description="e.g. Deployment")],
        name: Annotated[str, Field(description="Object name")],
        change: Annotated[Change, Field(description="The edit, by type")],
        namespace: Annotated[str | None, Field(description="Omit if cluster-scoped")] = None,
        mode: Annotated[Literal["push", "pull_request"], Field(description="A PR, or a direct push")] = "pull_request",
        wait: Annotated[bool, Field(description="push: reconcile and check it live")] = True,
        repo_path: Annotated[str | None, Field(description="Local path or git URL (default: the owner's)")] = None,
        message: Annotated[str | None, Field(description="Commit message (default: generated)")] = None,
    ) -> RemediationResult:
        """Change a live object through Git: the minimal edit in the file that defines it
        (Helm-rendered: HelmRelease values; shared base: the overlay), validated. Not for unmanaged
        or ApplicationSet-made objects."""
        return await answer(
            svc.remediation.remediate,
            api_version,
            kind,
            name,
            namespace,
            change,
            mode,
            wait,
            repo_path,
            message,
            None,
            current_principal(),
        )


def add_promote(tools: ToolSet, svc: Services) -> None:
    @tools.tool(annotations=GIT_WRITE)
    async def promote(
        repo_path: RepoRef,
        app: Annotated[str, Field(description="App name (as in the overlays' patches and directories)")],
        from_env: Annotated[str, Field(description="e.g. staging")],
        to_env: Annotated[str, Field(description="e.g. production")],
        mode: Annotated[Literal["push", "pull_request"], Field(description="A PR, or a direct push")] = (
            "pull_request"
        ),
        message: Annotated[str | None, Field(description="Title (default: Promote <app> from A to B)")] = None,
    ) -> PromotionResult:
        """Carry an app's version from one environment overlay to the next: image tags, HelmRelease
        chart version and changed values, workload images in patches. Values naming the source
        environment stay."""
        return await answer(svc.promotion.promote, repo_path, app, from_env, to_env, mode, message, current_principal())


def add_scaffold_fleet(tools: ToolSet, svc: Services) -> None:
    @tools.tool(annotations=GIT_WRITE)
    async def scaffold_fleet(
        repo_path: RepoRef,
        provider: ProviderName,
        environments: Annotated[
            list[str] | None, Field(description="In promotion order (default dev, staging, production)")
        ] = None,
        auto_sync: Annotated[
            list[str] | None, Field(description="Environments that sync on their own (default: the first)")
        ] = None,
        repo_url: Annotated[str | None, Field(description="Git URL the clusters fetch (default: origin)")] = None,
        branch: Annotated[str | None, Field(description="Branch the clusters follow (default: current)")] = None,
        flux_install: Annotated[
            Literal["bootstrap", "chart", "manifests"],
            Field(description="Flux: leave it to `flux bootstrap`, the flux2 chart, or install_manifests"),
        ] = "bootstrap",
        install_manifests: Annotated[
            str | None, Field(description="`flux install --export` output, in the repository")
        ] = None,
        flux_chart_version: Annotated[str, Field(description="flux_install=chart: chart version or range")] = "2.x",
        notifications: Annotated[Notifications | None, Field(description="Where sync failures are reported")] = None,
        delivery: Annotated[
            Literal["write", "push", "pull_request"], Field(description="write (working tree only), push or a PR")
        ] = "write",
        message: Annotated[str | None, Field(description="Commit message / pull request title")] = None,
        overwrite: Annotated[
            bool, Field(description="Replace existing files that differ (Flux bootstraps stay)")
        ] = False,
    ) -> FleetResult:
        """Lay out a multi-environment GitOps repository: clusters/<env>, infrastructure/
        (controllers, then configs), apps/base and an overlay per environment, notifications; Flux
        Kustomizations with dependsOn, or an Argo CD app of apps with sync waves. Environments not
        in auto_sync move by promote."""
        return await answer(
            partial(svc.fleet.scaffold, flux_install=flux_install, flux_chart_version=flux_chart_version),
            repo_path,
            provider,
            environments,
            auto_sync,
            repo_url,
            branch,
            install_manifests,
            notifications.model_dump() if notifications else None,
            delivery,
            message,
            overwrite,
            current_principal(),
        )


def add_push_artifact(tools: ToolSet, svc: Services) -> None:
    @tools.tool(annotations=GIT_WRITE)
    async def push_artifact(
        path: Annotated[str, Field(description="Manifest directory (absolute path)")],
        oci_url: Annotated[str, Field(description="oci://host/repository:tag")],
        source: Annotated[str | None, Field(description="Git URL it comes from (default: the origin)")] = None,
        revision: Annotated[str | None, Field(description="Git revision, e.g. main@sha1:<sha> (default: HEAD)")] = None,
        annotations: Annotated[dict[str, str] | None, Field(description="Extra manifest annotations")] = None,
        ignore_paths: Annotated[
            list[str] | None, Field(description="More patterns to leave out (.git/, images and archives are)")
        ] = None,
        reproducible: Annotated[bool, Field(description="Fixed created time: same files, same digest")] = False,
        generate: Annotated[bool, Field(description="Also return the OCIRepository + Kustomization for it")] = False,
        name: Annotated[str | None, Field(description="generate: object name (default: the repository's)")] = None,
        namespace: Annotated[str, Field(description="generate: namespace of the Flux objects")] = "flux-system",
        target_namespace: Annotated[str | None, Field(description="generate: the manifests' namespace")] = None,
        interval: Annotated[str, Field(description="generate: reconcile interval")] = "5m",
    ) -> ArtifactResult:
        """Pack a manifest directory as a Flux OCI artifact (as `flux push artifact`) and push it,
        overwriting the tag (allowed registries only; the server's credentials). Uncommitted
        changes need revision; plain Secrets are refused."""
        return await answer(
            svc.artifacts.push,
            path,
            oci_url,
            source,
            revision,
            annotations,
            ignore_paths,
            reproducible,
            generate,
            name,
            namespace,
            target_namespace,
            interval,
        )


def add_rollback(tools: ToolSet, svc: Services) -> None:
    @tools.tool(annotations=GIT_WRITE)
    async def rollback(
        repo_path: RepoRef,
        paths: Annotated[
            list[str] | None, Field(description="App files: the last commit changing them is reverted")
        ] = None,
        shas: Annotated[list[str] | None, Field(description="Or: the commits to revert, newest first")] = None,
        mode: Annotated[Literal["push", "pull_request"], Field(description="A PR, or a direct push")] = "pull_request",
        base: Annotated[
            str | None, Field(description="Branch to revert on (default: checked-out for push, remote's for a PR)")
        ] = None,
        message: Annotated[str | None, Field(description='Commit message (default: Revert "...")')] = None,
    ) -> RollbackResult:
        """Revert the commit(s) that last changed an app's files (or given SHAs), pushed or as a
        PR, built on the remote branch (working tree untouched). Verify with the sync tools."""
        return await answer(
            svc.git.rollback, repo_path, paths, shas, mode, base, message, False, None, current_principal()
        )


def add_register_gitops_objects(tools: ToolSet, svc: Services) -> None:
    @tools.tool(annotations=CLUSTER_WRITE)
    async def register_gitops_objects(
        repo_path: RepoRef,
        file: Annotated[str, Field(description="Pushed file, relative to the repository root")],
        cluster: Cluster = None,
    ) -> RegisterResult:
        """Apply only the GitOps source/sync objects of a pushed file to the cluster, once (dry run
        first), so the controller takes over; never workloads."""
        return await answer(svc.registrar.register, repo_path, file, cluster)


def register(tools: ToolSet, svc: Services, settings: Settings) -> None:
    """Register the write tools; call only when the server is not read-only."""
    for add in (
        add_write_manifests,
        add_commit_and_push,
        add_reconcile,
        add_remediate,
        add_promote,
        add_scaffold_fleet,
        add_push_artifact,
        add_rollback,
        add_register_gitops_objects,
    ):
        add(tools, svc)
