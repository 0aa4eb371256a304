"""The MCP layer: tools, resources and prompts over :class:`gitops_mcp.core.GitOpsApp`.

Thin on purpose: each tool checks nothing itself, calls the core in a worker thread and
returns its pydantic result. Domain errors become ``is_error`` results whose text says
what to do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from gitops_mcp import __version__
from gitops_mcp.cluster.ops import ReconcileResult, WaitResult
from gitops_mcp.cluster.owner import OwnerResult
from gitops_mcp.cluster.status import SyncStatus
from gitops_mcp.core import (
    ArtifactResult,
    FleetResult,
    GenerateResult,
    GitOpsApp,
    PromotionResult,
    ProviderInfo,
    ProviderReport,
    RemediationResult,
)
from gitops_mcp.detection import DetectionReport
from gitops_mcp.errors import GitOpsError, NotFoundError
from gitops_mcp.fleet import Notifications
from gitops_mcp.git.delivery import CommitResult, RollbackResult
from gitops_mcp.manifests.validation import ValidationResult
from gitops_mcp.manifests.write import WriteResult
from gitops_mcp.prompts import deploy_with_gitops_text, prompt_text
from gitops_mcp.remediation import Change
from gitops_mcp.scrub import install_log_scrubbing, register_secrets
from gitops_mcp.server.auth import current_owner, make_auth
from gitops_mcp.server.elicit import elicit_rounds
from gitops_mcp.sessions.models import SessionSummary, SessionView
from gitops_mcp.settings import Settings

log = logging.getLogger("gitops_mcp")
T = TypeVar("T")

INSTRUCTIONS = """\
gitops-mcp deploys and repairs Kubernetes workloads the GitOps way (Argo CD or Flux): every change \
goes through Git, and nothing is applied to the cluster directly. Deploy: detect_packages(path); \
start_deployment(path, intent, provider); answer_questions(session_id, answers) until the preview \
(YAML, target file, diff, validation); show it to the user; then answer delivery (write, push or \
pull_request) and wait. Question ids are stable and can be answered ahead; generate_manifests does \
the same in one call without writing. Verify: get_sync_status, reconcile, wait_for_sync(revision=SHA). \
Repair: find_owner names the GitOps objects and the Git file behind a live object; remediate changes \
that file (pull request by default) and verifies it live; promote and rollback move versions \
between environments and back. Paths are absolute local paths (or git URLs for detect_packages and \
start_deployment)."""

READ = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
SESSION_WRITE = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False
)


SyncKind = Literal["GitRepository", "OCIRepository", "HelmRepository", "Kustomization", "HelmRelease", "Application"]


class ProviderList(BaseModel):
    providers: list[ProviderInfo]


class SessionList(BaseModel):
    sessions: list[SessionSummary]


async def _run(fn: Callable[..., T], *args: Any) -> T:
    """Run core work in a worker thread; our errors become tool errors the model can read."""
    try:
        return await anyio.to_thread.run_sync(fn, *args)
    except GitOpsError as exc:
        raise ToolError(str(exc)) from exc


def _resource(fn: Callable[[], str]) -> str:
    try:
        return fn()
    except NotFoundError as exc:
        raise ResourceNotFoundError(str(exc)) from exc
    except GitOpsError as exc:
        raise ResourceError(str(exc)) from exc


def build_server(settings: Settings, app: GitOpsApp | None = None) -> MCPServer:
    """Build the MCP server. Write tools are not registered when ``settings.read_only``."""
    core = app or GitOpsApp(settings)
    token_verifier, auth = make_auth(settings)
    register_secrets(settings.secret_values())
    mcp = MCPServer(
        "gitops-mcp",
        version=__version__,
        title="GitOps MCP",
        instructions=INSTRUCTIONS,
        log_level=settings.log_level,
        token_verifier=token_verifier,
        auth=auth,
    )

    install_log_scrubbing()

    # -- read-only tools --------------------------------------------------------------------------
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
        return await _run(core.detect, path)

    @mcp.tool(
        annotations=ToolAnnotations(
            read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True
        )
    )
    async def list_providers(
        context: Annotated[str | None, Field(description="Kubeconfig context (default: the current one)")] = None,
    ) -> ProviderReport:
        """List the GitOps providers (argocd, flux) with the questions each asks, and — when a
        cluster is configured — which controllers it has installed (their CRDs and served versions)."""
        return await _run(core.provider_report, context)

    @mcp.tool(
        annotations=ToolAnnotations(
            read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True
        )
    )
    async def get_sync_status(
        kind: Annotated[SyncKind, Field(description="Flux or Argo CD kind")],
        name: Annotated[str, Field(description="Object name")],
        namespace: Annotated[str, Field(description="Object namespace (Flux: usually flux-system; Argo: argocd)")],
        context: Annotated[str | None, Field(description="Kubeconfig context (default: the current one)")] = None,
    ) -> SyncStatus:
        """Normalised status of a Flux object or Argo CD Application.

        state: ready, progressing, failed, suspended, not_found or unknown; the revision applied
        and attempted; the controller's message and conditions; for Argo CD sync, health and
        the operation phase. Reads only.
        """
        return await _run(core.sync_status, kind, name, namespace, context)

    @mcp.tool(
        annotations=ToolAnnotations(
            read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True
        )
    )
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
        return await _run(core.find_owner, api_version, kind, name, namespace, repo_path, context)

    @mcp.tool(
        annotations=ToolAnnotations(
            read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True
        )
    )
    async def wait_for_sync(
        kind: Annotated[SyncKind, Field(description="Flux or Argo CD kind")],
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

        return await _run(core.wait, kind, name, namespace, revision, timeout_s, progress, context)

    @mcp.tool(annotations=READ)
    async def generate_manifests(
        provider: Annotated[Literal["argocd", "flux"], Field(description="GitOps engine")],
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
        return await _run(core.generate, args, repo_path, package_type)

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
        return await _run(core.validate, path, yaml)

    @mcp.tool(annotations=READ)
    async def get_session(
        session_id: Annotated[str, Field(description="Id returned by start_deployment")],
    ) -> SessionView:
        """Show a wizard session: step, open questions, answers, preview and result."""
        return await _run(core.get, current_owner(), session_id)

    @mcp.tool(annotations=READ)
    async def list_sessions() -> SessionList:
        """List this caller's wizard sessions, newest first."""
        return SessionList(sessions=await _run(core.list_sessions, current_owner()))

    # -- sessions ---------------------------------------------------------------------------------
    @mcp.tool(annotations=SESSION_WRITE)
    async def start_deployment(
        path: Annotated[str, Field(description="Absolute path of the local repository (or a directory in it)")],
        ctx: Context,
        intent: Annotated[
            str | None, Field(description="What the user asked for, e.g. 'deploy charts/podinfo with Flux'")
        ] = None,
        provider: Annotated[
            Literal["argocd", "flux"] | None, Field(description="GitOps engine, if the user said")
        ] = None,
    ) -> SessionView:
        """Open a deployment session: detects packages and returns the first questions.

        Then call answer_questions with {question id: value}. Stable ids: package, provider,
        repo_url, path, revision, namespace, app_name, output_path; Argo CD argocd_namespace,
        project, sync_policy; Flux flux_namespace, interval, prune; delivery. Later answers
        may be given ahead. Clients that support elicitation are asked inline.
        """
        owner = current_owner()
        view = await _run(core.start, owner, path, intent, provider)
        return await elicit_rounds(ctx, view, lambda a: _run(core.answer, owner, view.session_id, a, False))

    answer_annotations = (
        SESSION_WRITE
        if settings.read_only
        else ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False)
    )

    @mcp.tool(annotations=answer_annotations)
    async def answer_questions(
        session_id: Annotated[str, Field(description="Id returned by start_deployment")],
        answers: Annotated[
            dict[str, Any],
            Field(
                description='Answers by question id, e.g. {"package": "charts/podinfo", "provider": '
                '"flux"}; any subset, including later steps'
            ),
        ],
        ctx: Context,
        accept_defaults: Annotated[
            bool, Field(description="Take the shown default for every open question not answered")
        ] = False,
    ) -> SessionView:
        """Answer wizard questions; returns the next questions or, at the end, the preview.

        A refused answer is returned as the same question with an `error` (nothing changes).
        At the preview step answer delivery=write to write the file into the working tree
        (this overwrites the target file; the diff is in the preview and the result).
        """
        owner = current_owner()
        view = await _run(core.answer, owner, session_id, answers, accept_defaults)
        return await elicit_rounds(ctx, view, lambda a: _run(core.answer, owner, session_id, a, False))

    @mcp.tool(
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
        )
    )
    async def cancel_session(
        session_id: Annotated[str, Field(description="Id returned by start_deployment")],
    ) -> SessionView:
        """End a wizard session without doing anything more. Files already written stay."""
        return await _run(core.cancel, current_owner(), session_id)

    # -- write tools ------------------------------------------------------------------------------
    if not settings.read_only:

        @mcp.tool(
            annotations=ToolAnnotations(
                read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
            )
        )
        async def write_manifests(
            repo_path: Annotated[str, Field(description="Absolute path of the repository working tree")],
            output_path: Annotated[
                str | None,
                Field(description="Target .yaml file relative to the repository (default: the session's output path)"),
            ] = None,
            yaml: Annotated[str | None, Field(description="Manifests to write (validated first)")] = None,
            session_id: Annotated[str | None, Field(description="Write this session's preview instead")] = None,
        ) -> WriteResult:
            """Write manifests into the working tree, only inside the repository, and show the diff.

            Refuses paths with '..', absolute paths, anything under .git (any spelling),
            symlinks that leave the repository, and manifests that fail validation.
            Overwrites the target file if it exists.
            """
            return await _run(core.write, current_owner(), repo_path, output_path, yaml, session_id)

        git_write = ToolAnnotations(
            read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=True
        )

        @mcp.tool(annotations=git_write)
        async def commit_and_push(
            repo_path: Annotated[str, Field(description="Absolute path of the local repository")],
            paths: Annotated[list[str], Field(description="Files to commit, relative to the repository root")],
            message: Annotated[str, Field(description="Commit message (first line = pull request title)")],
            mode: Annotated[
                Literal["push", "pull_request"],
                Field(
                    description="push: commit on the checked-out branch and push; pull_request: commit on a "
                    "new branch (working tree untouched) and open a GitHub PR / GitLab MR"
                ),
            ] = "push",
            branch: Annotated[
                str | None,
                Field(
                    description="push: must be the checked-out branch; pull_request: the branch to "
                    "use (default gitops-mcp/<slug>-<id>, stable across re-runs)"
                ),
            ] = None,
            base: Annotated[
                str | None, Field(description="Pull request target (default: the remote's default)")
            ] = None,
            draft: Annotated[bool, Field(description="Open the pull request as a draft")] = False,
            labels: Annotated[list[str] | None, Field(description="Labels for the pull request")] = None,
        ) -> CommitResult:
            """Commit exactly the given files and push them, or propose them as a pull/merge request.

            No empty commits ("no_changes" is a normal answer). Credentials come from the server's
            environment (GITOPS_MCP_GIT_TOKEN, GITHUB_TOKEN, GITLAB_TOKEN, SSH agent), never from
            arguments, and are checked before anything changes. A rejected push is rebased and
            retried; a conflict stops with the commit kept on a named local branch. Re-running a
            pull request updates the same open pull request. Plain Secret manifests are refused.
            """
            return await _run(core.commit, repo_path, paths, message, branch, mode, base, draft, labels)

        @mcp.tool(
            annotations=ToolAnnotations(
                read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
            )
        )
        async def reconcile(
            kind: Annotated[SyncKind, Field(description="Flux or Argo CD kind")],
            name: Annotated[str, Field(description="Object name")],
            namespace: Annotated[str, Field(description="Object namespace")],
            with_source: Annotated[
                bool, Field(description="Flux: reconcile the source first (fetch the new commit)")
            ] = True,
            sync: Annotated[bool, Field(description="Argo CD: also start a sync operation")] = False,
            context: Annotated[str | None, Field(description="Kubeconfig context (default: the current one)")] = None,
        ) -> ReconcileResult:
            """Ask the controller to act now: Flux reconcile.fluxcd.io/requestedAt (source first),
            confirmed through status.lastHandledReconcileAt; Argo CD refresh and, when asked, a sync
            operation (never while one is running). Refused for suspended objects."""
            return await _run(core.reconcile, kind, name, namespace, with_source, sync, context)

        @mcp.tool(annotations=git_write)
        async def remediate(
            api_version: Annotated[str, Field(description="apiVersion of the broken live object, e.g. apps/v1")],
            kind: Annotated[str, Field(description="Kind of the live object, e.g. Deployment")],
            name: Annotated[str, Field(description="Name of the live object")],
            change: Annotated[
                Change,
                Field(
                    description="What to change: {type: set_image, image, container?} | {type: set_replicas, "
                    "replicas} | {type: set_resources, requests?, limits?, container?} | {type: set_env, "
                    "name, value, container?} | {type: set_helm_values, values: {dot.path: value}} | "
                    "{type: merge_patch, patch}"
                ),
            ],
            namespace: Annotated[str | None, Field(description="Namespace of the live object")] = None,
            mode: Annotated[
                Literal["push", "pull_request"], Field(description="Propose as a pull request (default) or push")
            ] = "pull_request",
            wait: Annotated[bool, Field(description="push: reconcile, wait, and check the live object")] = True,
            repo_path: Annotated[
                str | None, Field(description="Absolute path of a local clone of the repository that defines it")
            ] = None,
            message: Annotated[str | None, Field(description="Commit message (default: describes the change)")] = None,
        ) -> RemediationResult:
            """Fix a live object through Git: find its owner and the file that defines it, make a
            minimal edit there (comments and formatting of every other line kept), validate, commit
            or open a pull request, then (push + wait) reconcile, wait for the commit and check the
            live object. Helm-rendered objects change through their HelmRelease values; an object
            from a shared Kustomize base changes in the environment's overlay. Unmanaged objects and
            ApplicationSet-generated Applications are refused with the reason; nothing changes."""
            return await _run(
                core.remediate, api_version, kind, name, namespace, change, mode, wait, repo_path, message
            )

        @mcp.tool(annotations=git_write)
        async def promote(
            repo_path: Annotated[str, Field(description="Absolute path of the local repository")],
            app: Annotated[str, Field(description="App name (as in the overlays' patches and directories)")],
            from_env: Annotated[str, Field(description="Environment to promote from, e.g. staging")],
            to_env: Annotated[str, Field(description="Environment to promote to, e.g. production")],
            mode: Annotated[
                Literal["push", "pull_request"], Field(description="A pull request (default) or a direct push")
            ] = "pull_request",
            message: Annotated[str | None, Field(description="Title (default: Promote <app> from A to B)")] = None,
        ) -> PromotionResult:
            """Carry an app's version from one environment overlay to the next: kustomization image
            tags, the HelmRelease chart version and changed values, workload images in patches. Values
            that name the source environment stay. The pull request lists what moves and what stays."""
            return await _run(core.promote, repo_path, app, from_env, to_env, mode, message)

        @mcp.tool(annotations=git_write)
        async def scaffold_fleet(
            repo_path: Annotated[str, Field(description="Absolute path of the local repository to lay out")],
            provider: Annotated[Literal["flux", "argocd"], Field(description="GitOps engine of every cluster")],
            environments: Annotated[
                list[str] | None,
                Field(description="Environment names in promotion order (default dev, staging, production)"),
            ] = None,
            auto_sync: Annotated[
                list[str] | None,
                Field(description="Environments that sync on their own (default: the first); the rest are promoted"),
            ] = None,
            repo_url: Annotated[
                str | None, Field(description="Git URL the clusters fetch (default: the origin remote)")
            ] = None,
            branch: Annotated[
                str | None, Field(description="Branch the clusters follow (default: the current one)")
            ] = None,
            flux_install: Annotated[
                Literal["bootstrap", "chart", "manifests"],
                Field(
                    description="Flux: bootstrap = leave flux-system to `flux bootstrap`; chart = a HelmRelease of "
                    "the flux2 chart; manifests = your `flux install --export` file (install_manifests)"
                ),
            ] = "bootstrap",
            install_manifests: Annotated[
                str | None, Field(description="flux_install=manifests: that file, relative to the repository")
            ] = None,
            flux_chart_version: Annotated[str, Field(description="flux_install=chart: chart version or range")] = "2.x",
            notifications: Annotated[
                Notifications | None,
                Field(description="Report sync failures: {type: slack|msteams|..., channel?, secret_name?}"),
            ] = None,
            delivery: Annotated[
                Literal["write", "push", "pull_request"],
                Field(description="write (working tree only), push, or a pull request (default write)"),
            ] = "write",
            message: Annotated[str | None, Field(description="Commit message / pull request title")] = None,
            overwrite: Annotated[
                bool, Field(description="Replace existing files that differ (default: keep them and say so)")
            ] = False,
        ) -> FleetResult:
            """Lay out a multi-environment GitOps repository: clusters/<env> (sync objects), infrastructure/
            (controllers, then configs), apps/base and one overlay per environment under apps/. Flux:
            Kustomizations with dependsOn (infrastructure before apps), the Flux install (bootstrap, the flux2
            chart, or your manifests), notification Provider/Alert. Argo CD: an app of apps per environment
            with sync waves and notification subscriptions. auto_sync environments sync automatically; the
            others move through promote pull requests (Argo CD: manual sync). Every file is validated; existing
            files that differ and existing Flux bootstraps are kept. Returns the files, diff and next steps."""
            return await _run(
                core.scaffold_fleet,
                repo_path,
                provider,
                environments,
                auto_sync,
                repo_url,
                branch,
                flux_install,
                install_manifests,
                flux_chart_version,
                notifications.model_dump() if notifications else None,
                delivery,
                message,
                overwrite,
            )

        @mcp.tool(annotations=git_write)
        async def push_artifact(
            path: Annotated[str, Field(description="Absolute path of the manifest directory to pack")],
            oci_url: Annotated[str, Field(description="Where to push: oci://host/repository:tag")],
            source: Annotated[
                str | None, Field(description="Git URL it comes from (default: the directory's origin)")
            ] = None,
            revision: Annotated[
                str | None, Field(description="Git revision, e.g. main@sha1:<sha> (default: the checked-out commit)")
            ] = None,
            annotations: Annotated[
                dict[str, str] | None, Field(description="Extra manifest annotations, key -> value")
            ] = None,
            ignore_paths: Annotated[
                list[str] | None,
                Field(description="More patterns to leave out (.git/, images and archives already are)"),
            ] = None,
            reproducible: Annotated[
                bool, Field(description="Fixed created time, so the same files give the same digest")
            ] = False,
            generate: Annotated[
                bool, Field(description="Also return the OCIRepository + Kustomization that deploy it")
            ] = False,
            name: Annotated[str | None, Field(description="generate: object name (default: the repository's)")] = None,
            namespace: Annotated[str, Field(description="generate: namespace of the Flux objects")] = "flux-system",
            target_namespace: Annotated[
                str | None, Field(description="generate: namespace the manifests are applied into")
            ] = None,
            interval: Annotated[str, Field(description="generate: reconcile interval")] = "5m",
        ) -> ArtifactResult:
            """Pack a manifest directory as a Flux OCI artifact (the media types and annotations of
            `flux push artifact`: created, source, revision) and push it to an OCI registry. Credentials
            come from GITOPS_MCP_OCI_USERNAME / GITOPS_MCP_OCI_PASSWORD and go only to registries on
            GITOPS_MCP_ALLOWED_OCI_HOSTS. A directory with uncommitted changes is refused unless revision
            is given; plain Secrets are refused. Overwrites the tag. With generate=true, returns the
            validated OCIRepository + Kustomization (nothing written). Returns the digest and the revision
            Flux will report (<tag>@<digest>)."""
            return await _run(
                core.push_artifact,
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

        @mcp.tool(annotations=git_write)
        async def rollback(
            repo_path: Annotated[str, Field(description="Absolute path of the local repository")],
            paths: Annotated[
                list[str] | None, Field(description="The app's files: the last commit that changed them is reverted")
            ] = None,
            shas: Annotated[list[str] | None, Field(description="Or: the commits to revert, newest first")] = None,
            mode: Annotated[
                Literal["push", "pull_request"], Field(description="Push the revert, or propose it as a PR")
            ] = "pull_request",
            base: Annotated[
                str | None,
                Field(
                    description="Branch to revert on (default: checked-out branch for "
                    "push, the remote default for pull_request)"
                ),
            ] = None,
            message: Annotated[str | None, Field(description='Commit message (default: Revert "...")')] = None,
        ) -> RollbackResult:
            """Revert the commit(s) that last changed an app's files (or named SHAs), pushed or as a PR.

            The revert is built on the remote branch in a temporary worktree; the working tree is
            not touched. Verifying the rollback on the cluster is done with the sync tools.
            """
            return await _run(core.rollback, repo_path, paths, shas, mode, base, message)

    # -- resources and prompts ----------------------------------------------------------------------
    @mcp.resource("gitops://providers", mime_type="application/json", title="GitOps providers")
    def providers_resource() -> str:
        """The registered providers and their questions."""
        return _resource(lambda: ProviderList(providers=core.providers()).model_dump_json(indent=2))

    @mcp.resource("gitops://sessions", mime_type="application/json", title="Wizard sessions")
    def sessions_resource() -> str:
        """This caller's wizard sessions."""
        owner = current_owner()
        return _resource(lambda: SessionList(sessions=core.list_sessions(owner)).model_dump_json(indent=2))

    @mcp.resource("gitops://sessions/{session_id}", mime_type="application/json", title="Wizard session")
    def session_resource(session_id: str) -> str:
        """One wizard session."""
        owner = current_owner()
        return _resource(lambda: core.get(owner, session_id).model_dump_json(indent=2))

    @mcp.prompt(title="Deploy with GitOps")
    def deploy_with_gitops(path: str, intent: str = "", provider: str = "") -> str:
        """Guide the assistant through detecting, asking, previewing and writing a deployment."""
        return deploy_with_gitops_text(path, intent, provider, read_only=settings.read_only)

    @mcp.prompt(title="Remediate with GitOps")
    def remediate_with_gitops(api_version: str, kind: str, name: str, namespace: str = "", problem: str = "") -> str:
        """Guide the assistant to fix a live object through Git, reviewed and verified."""
        return prompt_text(
            "remediate_with_gitops.md",
            api_version=api_version,
            kind=kind,
            name=name,
            namespace=namespace or "(cluster-scoped)",
            problem=problem or "(describe it)",
        )

    @mcp.prompt(title="Diagnose a sync")
    def diagnose_sync(kind: str, name: str, namespace: str) -> str:
        """Guide the assistant to find out why a Flux object or Argo CD Application is not synced."""
        return prompt_text("diagnose_sync.md", kind=kind, name=name, namespace=namespace)

    @mcp.custom_route("/healthz", methods=["GET"])  # type: ignore[untyped-decorator]
    async def healthz(request: Any) -> Any:
        from starlette.responses import PlainTextResponse

        return PlainTextResponse("ok")

    return mcp
