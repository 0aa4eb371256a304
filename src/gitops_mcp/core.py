"""The application core: every tool's behaviour, as plain Python (no MCP here).

:class:`GitOpsApp` is built once per server from :class:`Settings`; the MCP layer turns its
methods into tools. Callers are identified by an ``owner`` string (the authenticated
principal, or ``local`` on stdio).
"""

from __future__ import annotations

import os
import posixpath
import re
import time
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from gitops_mcp.cluster.ops import ControllerInfo, ReconcileResult, WaitResult
from gitops_mcp.cluster.owner import OwnerResult
from gitops_mcp.cluster.status import SyncStatus
from gitops_mcp.detection import DetectionReport, detect_packages
from gitops_mcp.detection.models import Package
from gitops_mcp.errors import GitOpsError, NotFoundError, PolicyViolation, ReadOnlyError, UserInputError
from gitops_mcp.git.delivery import CommitResult, GitDelivery, Mode, RollbackResult
from gitops_mcp.git.info import RepoInfo, read_repo_info
from gitops_mcp.manifests.validation import (
    CrdSchemas,
    ValidationResult,
    load_crd_dir,
    validate_documents,
    validate_text,
)
from gitops_mcp.manifests.write import WriteResult, diff_against, write_manifest_file
from gitops_mcp.manifests.yaml import dump_documents
from gitops_mcp.paths import resolve_allowed
from gitops_mcp.promotion import PromotionPlan
from gitops_mcp.providers.base import ExistingSource, ObjectSummary
from gitops_mcp.providers.registry import ProviderRegistry, default_registry
from gitops_mcp.questions import Question, comma_list, relative_dir
from gitops_mcp.remediation import Plan
from gitops_mcp.sessions import flow
from gitops_mcp.sessions.models import (
    DeliveryResult,
    Preview,
    SessionContext,
    SessionState,
    SessionSummary,
    SessionView,
)
from gitops_mcp.sessions.store import SessionStore, new_session_id
from gitops_mcp.settings import Settings

MAX_TAGS = 500
DETECTION_CACHE_SIZE = 16


class ProviderInfo(BaseModel):
    name: str
    title: str
    description: str
    questions: list[Question] = Field(description="Provider questions for a Git Kustomize package (defaults shown)")
    helm_questions: list[Question] = Field(description="Extra questions for Helm packages")


class ProviderReport(BaseModel):
    providers: list[ProviderInfo]
    cluster: str | None = Field(None, description="API server the controller check used")
    controllers: list[ControllerInfo] | None = Field(None, description="Installed controllers (None: no cluster)")
    cluster_error: str | None = Field(None, description="Why the cluster could not be asked")


class PromotionResult(BaseModel):
    plan: PromotionPlan
    diff: str
    validation: list[ValidationResult] = Field(default_factory=list)
    commit: CommitResult | None = None
    message: str


class RemediationResult(BaseModel):
    owner: OwnerResult
    plan: Plan | None = None
    diff: str = ""
    validation: list[ValidationResult] = Field(default_factory=list)
    commit: CommitResult | None = None
    verification: WaitResult | None = None
    live_ok: bool | None = Field(None, description="The live object shows the change")
    live_detail: str = ""
    message: str


def live_check(live: dict[str, Any] | None, change: Any, via_helm_release: bool) -> tuple[bool, str]:
    """Does the live object carry ``change``?"""
    from gitops_mcp.remediation import SetEnv, SetHelmValues, SetImage, SetReplicas, SetResources, _values_ops

    if live is None:
        return False, "the object is gone from the cluster"
    if via_helm_release:
        values = (live.get("spec") or {}).get("values") or {}
        for path, want in _values_ops(change):
            node: Any = values
            for p in path:
                node = node.get(p) if isinstance(node, dict) else None
            if node != want:
                return False, f"HelmRelease values {'.'.join(map(str, path))} = {node!r}, wanted {want!r}"
        return True, "the HelmRelease carries the new values"
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


class FleetFileResult(BaseModel):
    path: str
    status: Literal["created", "updated", "unchanged", "kept"] = Field(
        description="kept: an existing file that differs and was left alone (overwrite=false)"
    )
    purpose: str


class FleetResult(BaseModel):
    provider: str
    environments: list[str]
    auto_sync: list[str]
    files: list[FleetFileResult]
    diff: str
    validation: list[ValidationResult] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list, description="What to do next on each cluster")
    commit: CommitResult | None = None
    message: str


class ArtifactResult(BaseModel):
    url: str = Field(description="oci:// URL with the tag")
    digest: str = Field(description="Manifest digest the registry stored")
    flux_revision: str = Field(description="What an OCIRepository reports for it: <tag>@<digest>")
    source: str | None = Field(None, description="org.opencontainers.image.source")
    revision: str | None = Field(None, description="org.opencontainers.image.revision (the Git commit)")
    annotations: dict[str, str]
    files: list[str]
    ignored: list[str] = Field(default_factory=list)
    size: int = Field(description="Layer size in bytes")
    yaml: str | None = Field(None, description="OCIRepository + Kustomization that deploy it (generate=true)")
    validation: ValidationResult | None = None
    message: str


class GenerateResult(BaseModel):
    provider: str
    yaml: str
    objects: list[ObjectSummary]
    notes: list[str]
    validation: ValidationResult
    output_path: str | None = None
    diff: str | None = Field(None, description="Diff against the file in repo_path (when both were given)")


def _looks_like_url(path: str) -> bool:
    return "://" in path or path.startswith("git@")


class GitOpsApp:
    """Detection, generation, validation, sessions and writing, for one server."""

    def __init__(self, settings: Settings, registry: ProviderRegistry | None = None) -> None:
        self.settings = settings
        self.registry = registry or default_registry()
        self.delivery = GitDelivery(settings)
        self._store: SessionStore | None = None
        self._detections: OrderedDict[tuple[str, str, str], DetectionReport] = OrderedDict()

    @property
    def store(self) -> SessionStore:
        if self._store is None:
            self._store = SessionStore(self.settings.session_db_path, self.settings.session_ttl_seconds)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    # -- cluster ------------------------------------------------------------------------------------------
    def kube(self, context: str | None = None, timeout: float | None = None) -> Any:
        """A new client for the configured cluster (a context manager). Raises ClusterUnavailable."""
        from gitops_mcp.cluster.client import KubeClient

        settings = self.settings
        if timeout is not None:
            settings = settings.model_copy(update={"kube_timeout_seconds": timeout})
        return KubeClient(settings, context)

    def cluster_configured(self) -> bool:
        s = self.settings
        return bool(
            s.kubeconfig
            or os.environ.get("KUBECONFIG")
            or (Path.home() / ".kube/config").exists()
            or os.environ.get("KUBERNETES_SERVICE_HOST")
        )

    def sync_status(self, kind: str, name: str, namespace: str, context: str | None = None) -> SyncStatus:
        from gitops_mcp.cluster.ops import get_status

        with self.kube(context) as kube:
            return get_status(kube, kind, name, namespace)

    def reconcile(
        self,
        kind: str,
        name: str,
        namespace: str,
        with_source: bool = True,
        sync: bool = False,
        context: str | None = None,
    ) -> ReconcileResult:
        from gitops_mcp.cluster.ops import reconcile

        if self.settings.read_only:
            raise ReadOnlyError("the server is read-only")
        with self.kube(context) as kube:
            return reconcile(kube, kind, name, namespace, with_source, sync)

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
        from gitops_mcp.cluster.owner import OwnerFinder, SourceFile
        from gitops_mcp.git.urls import url_identity
        from gitops_mcp.manifests.locate import locate

        with self.kube(context) as kube:
            result = OwnerFinder(kube).find(api_version, kind, name, namespace)
        git = result.git
        if git is None:
            return result
        root: Path | None = None
        if repo_path:
            root = self._local_dir(repo_path)
            info = read_repo_info(root)
            root = info.root if info else root
            if info and info.origin_url and url_identity(info.origin_url) != url_identity(git.url):
                result.message += f"; note: {root} has origin {info.origin_url}, not {git.url}"
        else:
            root = self.delivery.cache.find(git.url)
        if root is None:
            result.message += "; pass repo_path (a local clone) to find the file"
            return result
        result.repo_root = str(root)
        ensure = None
        if self.delivery.is_cached(root):
            cached_root = root

            def ensure(rel: str) -> None:
                self.delivery.prepare_write(cached_root, [f"{rel}/x"] if rel != "." else ["x"])

        found = locate(root, git.path, git.defining_kind, git.defining_name, git.defining_namespace, ensure)
        if found is None:
            result.message += f"; no {git.defining_kind} {git.defining_name} found under {git.path} in {root}"
        else:
            result.file = SourceFile(
                repo_root=str(root), file=found[0], document=found[1], kind=git.defining_kind, name=git.defining_name
            )
            result.message += f"; file {found[0]} (document {found[1]})"
        return result

    def _validate_edits(self, edits: list[Any]) -> list[ValidationResult]:
        """Full objects against their schemas and policies; patches, kustomizations and values files must parse.

        Raises:
            PolicyViolation: an edited file would be invalid (nothing has been written).
        """
        schemas, origin = self._schemas()
        out = []
        for e in edits:
            v = validate_text(e.after, self.settings.policy, schemas if e.role == "object" else None, e.file, origin)
            if e.role != "object":
                broken = [i for i in v.issues if "YAML" in i.message]
                v = v.model_copy(update={"issues": broken, "valid": not broken})
            out.append(v)
            if not v.valid:
                raise PolicyViolation(f"the change would make {e.file} invalid: {v.describe()}; nothing was written")
        return out

    def _write_and_commit(self, root: Path, edits: list[Any], message: str, mode: Mode) -> CommitResult:
        from gitops_mcp.paths import safe_repo_file, write_text_atomic

        for e in edits:
            self.delivery.prepare_write(root, [e.file])
            write_text_atomic(safe_repo_file(root, e.file, "path"), e.after)
        return self.delivery.commit_and_push(root, [e.file for e in edits], message, mode=mode)

    def promote(
        self,
        repo_path: str,
        app: str,
        from_env: str,
        to_env: str,
        mode: Mode = "pull_request",
        message: str | None = None,
    ) -> PromotionResult:
        """Carry an app's image tags, chart version and changed values from one overlay to the next."""
        from gitops_mcp.manifests.write import unified_diff
        from gitops_mcp.promotion import plan_promotion

        if self.settings.read_only:
            raise ReadOnlyError("the server is read-only")
        directory = self._local_dir(repo_path)
        info = read_repo_info(directory)
        root = info.root if info else directory
        p = plan_promotion(root, app, from_env, to_env)
        diff = "".join(unified_diff(e.before, e.after, e.file) for e in p.edits)
        if not p.edits:
            return PromotionResult(plan=p, diff="", message=p.description.splitlines()[-1])
        validation = self._validate_edits(p.edits)
        title = message or f"Promote {app} from {from_env} to {to_env}"
        commit = self._write_and_commit(root, p.edits, f"{title}\n\n{p.description}", mode)
        return PromotionResult(plan=p, diff=diff, validation=validation, commit=commit, message=commit.message)

    def remediate(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None,
        change: Any,
        mode: Mode = "pull_request",
        wait: bool = True,
        repo_path: str | None = None,
        message: str | None = None,
        context: str | None = None,
    ) -> RemediationResult:
        """find_owner -> the file -> the edit -> validate -> commit or PR -> reconcile -> wait -> live check."""
        from gitops_mcp.cluster.ops import reconcile, wait_for_sync
        from gitops_mcp.manifests.write import unified_diff
        from gitops_mcp.remediation import plan

        if self.settings.read_only:
            raise ReadOnlyError("the server is read-only")
        owner = self.find_owner(api_version, kind, name, namespace, repo_path, context)
        root = Path(owner.repo_root) if owner.repo_root else Path(".")
        p = plan(root, owner, change)
        diff = "".join(unified_diff(e.before, e.after, e.file) for e in p.edits)
        result = RemediationResult(owner=owner, plan=p, diff=diff, message="")
        if not p.edits:
            result.message = "; ".join(p.notes)
            return result
        result.validation = self._validate_edits(p.edits)
        what = change.type.replace("_", " ")
        msg = message or f"Remediate {kind} {namespace}/{name}: {what}"
        commit = self._write_and_commit(root, p.edits, msg, mode)
        result.commit = commit
        result.message = commit.message
        if not (wait and mode == "push" and commit.commit_sha):
            if mode == "pull_request":
                result.message += "; after the merge, verify it with wait_for_sync"
            return result
        applier = next((c for c in owner.chain if c.kind in ("Kustomization", "Application")), None)
        if applier is None or applier.namespace is None:
            return result
        with self.kube(context) as kube:
            reconcile(
                kube,
                applier.kind,
                applier.name,
                applier.namespace,
                with_source=True,
                sync=applier.kind == "Application",
            )
            result.verification = wait_for_sync(
                kube,
                applier.kind,
                applier.name,
                applier.namespace,
                commit.commit_sha,
                self.settings.wizard_wait_seconds,
            )
            if result.verification.outcome != "synced":
                result.live_ok = False
                result.message += f"; not applied: {result.verification.message}"
                return result
            check = owner.chain[0] if owner.chain[0].kind == "HelmRelease" else owner.object
            live = kube.get(check.api_version, check.kind, check.name, check.namespace)
        result.live_ok, result.live_detail = live_check(live, change, check.kind == "HelmRelease")
        result.message += f"; live: {result.live_detail}"
        return result

    def scaffold_fleet(
        self,
        repo_path: str,
        provider: str,
        environments: list[str] | None = None,
        auto_sync: list[str] | None = None,
        repo_url: str | None = None,
        branch: str | None = None,
        flux_install: str = "bootstrap",
        install_manifests: str | None = None,
        flux_chart_version: str = "2.x",
        notifications: Mapping[str, Any] | None = None,
        delivery: Literal["write", "push", "pull_request"] = "write",
        message: str | None = None,
        overwrite: bool = False,
    ) -> FleetResult:
        """Write the multi-environment layout of :mod:`gitops_mcp.fleet`, validated, and deliver it.

        Existing files that differ are kept (and named) unless ``overwrite``; an existing Flux
        bootstrap (``clusters/<env>/flux-system``) is always kept.
        """
        from pydantic import ValidationError

        from gitops_mcp.fleet import FleetSpec, plan_fleet
        from gitops_mcp.manifests.write import unified_diff
        from gitops_mcp.paths import safe_repo_file, write_text_atomic
        from gitops_mcp.questions import AnswerError, git_url

        if self.settings.read_only:
            raise ReadOnlyError("the server is read-only")
        directory = self._local_dir(repo_path)
        info = read_repo_info(directory)
        if info is None:
            raise UserInputError(f"{directory} is not a git repository; scaffold_fleet writes into one")
        root = info.root
        url = repo_url or info.origin_url
        if not url:
            raise UserInputError("the repository has no origin remote: pass repo_url (https:// or ssh://)")
        try:
            url = git_url(not self.settings.policy.secure_git_urls)(url)
        except AnswerError as exc:
            raise UserInputError(f"repo_url: {exc}") from exc
        install_text: str | None = None
        if flux_install == "manifests":
            if provider != "flux" or not install_manifests:
                raise UserInputError(
                    "flux_install=manifests needs install_manifests: the path (in the repository) of the output "
                    "of `flux install --export`"
                )
            install_text = self._install_manifests(root, install_manifests)
        elif install_manifests:
            raise UserInputError("install_manifests is only used with provider=flux and flux_install=manifests")
        envs = environments or ["dev", "staging", "production"]
        try:
            spec = FleetSpec(
                provider=provider,
                environments=envs,
                auto_sync=auto_sync,
                repo_url=url,
                branch=branch or info.branch or info.default_branch or "main",
                flux_install=flux_install,
                flux_chart_version=flux_chart_version,
                notifications=notifications,
                bootstrapped=[
                    e
                    for e in envs
                    if provider == "flux" and self.delivery.dir_exists(root, f"clusters/{e}/flux-system")
                ],
            )
        except ValidationError as exc:
            raise UserInputError(
                "; ".join(f"{'.'.join(map(str, e['loc'])) or 'fleet'}: {e['msg']}" for e in exc.errors())
            ) from exc
        plan = plan_fleet(spec, install_text)
        schemas, origin = self._schemas()
        validation = []
        for f in plan.files:
            if f.path.endswith("kustomization.yaml") or f.path.endswith("gotk-components.yaml"):
                continue
            v = validate_text(f.content, self.settings.policy, schemas, f.path, origin)
            validation.append(v)
            if not v.valid:
                raise PolicyViolation(f"the generated {f.path} is invalid: {v.describe()}; nothing was written")
        files: list[FleetFileResult] = []
        diffs: list[str] = []
        to_write: list[tuple[Path, str, str]] = []
        self.delivery.prepare_write(root, [f.path for f in plan.files])
        for f in plan.files:
            target = safe_repo_file(root, f.path, "path")
            old = target.read_bytes().decode("utf-8", "replace") if target.is_file() else None
            if target.exists() and not target.is_file():
                raise UserInputError(f"{f.path} exists and is not a regular file; move it away first")
            if old == f.content:
                files.append(FleetFileResult(path=f.path, status="unchanged", purpose=f.purpose))
            elif old is not None and not overwrite:
                files.append(FleetFileResult(path=f.path, status="kept", purpose=f.purpose))
            else:
                status: Literal["created", "updated"] = "created" if old is None else "updated"
                files.append(FleetFileResult(path=f.path, status=status, purpose=f.purpose))
                diffs.append(unified_diff(old, f.content, f.path))
                to_write.append((target, f.path, f.content))
        for target, _, text in to_write:
            write_text_atomic(target, text)
        kept = [f.path for f in files if f.status == "kept"]
        written = [rel for _, rel, _ in to_write]
        summary = f"{len(written)} file(s) written" + (
            f"; kept {len(kept)} existing file(s) that differ (overwrite=true replaces them): {', '.join(kept)}"
            if kept
            else ""
        )
        result = FleetResult(
            provider=provider,
            environments=spec.environments,
            auto_sync=spec.auto_sync or [],
            files=files,
            diff="".join(diffs),
            validation=validation,
            notes=plan.notes,
            message=summary,
        )
        if delivery != "write" and written:
            title = message or f"Scaffold a {provider} fleet: {', '.join(spec.environments)}"
            result.commit = self.delivery.commit_and_push(root, written, title, mode=delivery)
            result.message += "; " + result.commit.message
        return result

    def push_artifact(
        self,
        path: str,
        oci_url: str,
        source: str | None = None,
        revision: str | None = None,
        annotations: Mapping[str, str] | None = None,
        ignore_paths: list[str] | None = None,
        reproducible: bool = False,
        generate: bool = False,
        name: str | None = None,
        namespace: str = "flux-system",
        target_namespace: str | None = None,
        interval: str = "5m",
    ) -> ArtifactResult:
        """Pack a manifest directory as a Flux OCI artifact, push it, and optionally generate the
        OCIRepository + Kustomization that deploy it.

        The source and revision annotations default to the directory's Git origin and
        ``<branch>@sha1:<HEAD>``; a directory with uncommitted changes is then refused, because the
        artifact would not be that commit.
        """
        from gitops_mcp import oci
        from gitops_mcp.detection import dns_label as to_label
        from gitops_mcp.git.repo import GitRepo
        from gitops_mcp.git.urls import normalize_git_url
        from gitops_mcp.providers.common import interval_parser
        from gitops_mcp.providers.flux.provider import artifact_objects
        from gitops_mcp.questions import AnswerError, dns_label

        if self.settings.read_only:
            raise ReadOnlyError("the server is read-only")
        directory = self._local_dir(path)
        ref = oci.parse_oci_url(oci_url, self.settings)
        info = read_repo_info(directory)
        if source is None and info is not None:
            source = info.origin_url
        elif source is not None:
            try:
                source = normalize_git_url(source)
            except ValueError as exc:
                raise UserInputError(f"source: {exc}") from exc
        if revision is None and info is not None and info.head_sha:
            with GitRepo(info.root, self.settings.git_timeout_seconds) as repo:
                rel = directory.relative_to(info.root).as_posix() if directory != info.root else "."
                dirty = repo.changed([rel])
            if dirty:
                raise UserInputError(
                    f"{directory} has uncommitted changes ({', '.join(dirty[:5])}); commit them so the artifact is "
                    f"the commit it names, or pass revision explicitly"
                )
            revision = f"{info.branch}@sha1:{info.head_sha}" if info.branch else f"sha1:{info.head_sha}"
        if revision is not None and (not revision.strip() or len(revision) > 256 or "\n" in revision):
            raise UserInputError("revision must be one line, e.g. main@sha1:<commit sha>")
        extra = dict(annotations or {})
        for key, value in extra.items():
            if not re.match(r"^[a-z0-9]([a-z0-9.\-/]*[a-z0-9])?$", key) or not isinstance(value, str):
                raise UserInputError(f"annotation {key!r} must be a lowercase key with a text value")
        ann = {oci.ANN_CREATED: oci.created_now(reproducible), **extra}
        if source:
            ann[oci.ANN_SOURCE] = source
        if revision:
            ann[oci.ANN_REVISION] = revision.strip()
        ignore = [*oci.DEFAULT_IGNORE, *(ignore_paths or [])]
        layer, packed = oci.pack(directory, ignore, self.settings.policy.refuse_secrets)
        yaml_text: str | None = None
        validation: ValidationResult | None = None
        if generate:
            try:
                obj_name = dns_label(name or to_label(ref.repository.rsplit("/", 1)[-1]))
                ns = dns_label(namespace)
                target = dns_label(target_namespace) if target_namespace else None
                every = interval_parser(self.settings.policy)(interval)
            except AnswerError as exc:
                raise UserInputError(str(exc)) from exc
            objs = artifact_objects(obj_name, ns, ref.url, ref.tag, every, target, True, ref.scheme == "http")
            yaml_text = dump_documents(objs)
            schemas, origin = self._schemas()
            validation = validate_text(yaml_text, self.settings.policy, schemas, "<artifact>", origin)
            if not validation.valid:
                raise PolicyViolation(f"the generated manifests are invalid: {validation.describe()}; nothing pushed")
        digest = oci.push(ref, self.settings, layer, ann)
        return ArtifactResult(
            url=f"{ref.url}:{ref.tag}",
            digest=digest,
            flux_revision=f"{ref.tag}@{digest}",
            source=source,
            revision=ann.get(oci.ANN_REVISION),
            annotations=ann,
            files=packed.files,
            ignored=packed.ignored,
            size=packed.layer_size,
            yaml=yaml_text,
            validation=validation,
            message=f"pushed {len(packed.files)} file(s) to {ref.url}:{ref.tag} as {digest}"
            + ("; write the yaml into the repository (write_manifests) to deploy it" if yaml_text else ""),
        )

    def _install_manifests(self, root: Path, rel: str) -> str:
        """The user's Flux install manifests (a file in the repository), checked to be that."""
        from gitops_mcp.manifests.yaml import load_documents
        from gitops_mcp.paths import safe_repo_file

        target = safe_repo_file(root, rel, "install_manifests")
        if not target.is_file():
            raise NotFoundError(f"install_manifests {rel} is not a file in the repository")
        text = target.read_text(encoding="utf-8")
        docs = load_documents(text, rel)
        crds = {
            (d.get("metadata") or {}).get("name", "")
            for d in docs
            if isinstance(d, dict) and d.get("kind") == "CustomResourceDefinition"
        }
        controllers = {
            (d.get("metadata") or {}).get("name", "")
            for d in docs
            if isinstance(d, dict) and d.get("kind") == "Deployment"
        }
        if not any(c.endswith(".toolkit.fluxcd.io") for c in crds) or not controllers:
            raise UserInputError(
                f"{rel} does not look like Flux install manifests (no *.toolkit.fluxcd.io CRDs and controller "
                "Deployments); generate them with `flux install --export > FILE`"
            )
        if any(isinstance(d, dict) and d.get("kind") == "Secret" for d in docs):
            raise PolicyViolation(f"{rel} holds a Secret; install manifests must not carry secrets")
        return text

    def wait(
        self,
        kind: str,
        name: str,
        namespace: str,
        revision: str | None,
        timeout_s: float,
        progress: Any = None,
        context: str | None = None,
    ) -> WaitResult:
        from gitops_mcp.cluster.ops import wait_for_sync

        if not 1 <= timeout_s <= 3600:
            raise UserInputError("timeout_s must be between 1 and 3600 seconds")
        with self.kube(context) as kube:
            return wait_for_sync(kube, kind, name, namespace, revision, timeout_s, progress)

    # -- helpers ----------------------------------------------------------------------------------
    @property
    def _roots(self) -> list[Path]:
        """Allowed roots plus the clone cache (clones of git URLs live there)."""
        return [*self.settings.allowed_roots, (self.settings.cache_dir / "repos").resolve()]

    def _local_dir(self, path: str) -> Path:
        """A local directory for ``path``; a git URL is cloned into (or refreshed in) the cache."""
        if _looks_like_url(path):
            return self.delivery.cached_clone(path).resolve()
        return resolve_allowed(path, self._roots)

    def _repo(self, directory: Path) -> tuple[Path, str, RepoInfo | None]:
        """(repository root, prefix of ``directory`` in it, git facts)."""
        info = read_repo_info(directory)
        if info is None:
            return directory, ".", None
        root = info.root
        roots = self._roots
        if not any(root == r or r in root.parents for r in roots):
            raise UserInputError(
                f"{directory} is inside the git repository {root}, which is outside the allowed roots; "
                "add the repository to GITOPS_MCP_ALLOWED_ROOTS"
            )
        prefix = directory.relative_to(root).as_posix() if directory != root else "."
        return root, prefix, info

    def _crds(self) -> CrdSchemas | None:
        return load_crd_dir(self.settings.crd_dir) if self.settings.crd_dir else None

    def _schemas(self) -> tuple[CrdSchemas | None, Literal["cluster", "crd_dir"]]:
        """The cluster's own CRD schemas when one is reachable, else GITOPS_MCP_CRD_DIR (else built-in)."""
        if self.cluster_configured():
            from gitops_mcp.cluster.ops import cluster_crd_documents
            from gitops_mcp.errors import ClusterError
            from gitops_mcp.manifests.validation import crd_schemas

            try:
                with self.kube(timeout=5.0) as kube:
                    schemas = crd_schemas(cluster_crd_documents(kube))
                if schemas.schemas:
                    return schemas, "cluster"
            except ClusterError:
                pass
        return self._crds(), "crd_dir"

    def _env(self, ctx: SessionContext) -> flow.FlowEnv:
        root = Path(ctx.repo_root) if ctx.repo_root else None

        def exists(rel: str) -> bool:
            return root is not None and self.delivery.dir_exists(root, rel)

        return flow.FlowEnv(self.registry, self.settings.policy, exists if root is not None else None)

    # -- read-only tools ----------------------------------------------------------------------------
    def _scan(self, directory: Path, root: Path, prefix: str) -> DetectionReport:
        """Detection. A cached clone (sparse, no full checkout) is read from its git objects, and
        its result is remembered per tree SHA: the same commit tree gives the same report."""
        if not self.delivery.is_cached(root):
            return detect_packages(directory, prefix)
        from gitops_mcp.git.tree import GitTree

        key = (str(root), prefix, self.delivery.tree_sha(root))
        cached = self._detections.get(key)
        if cached is not None:
            self._detections.move_to_end(key)
            return cached.model_copy(deep=True)
        with GitTree(root, subdir="" if prefix == "." else prefix) as tree:
            report = detect_packages(directory, prefix, tree=tree)
        self._detections[key] = report
        while len(self._detections) > DETECTION_CACHE_SIZE:
            self._detections.popitem(last=False)
        return report.model_copy(deep=True)

    def detect(self, path: str) -> DetectionReport:
        directory = self._local_dir(path)
        root, prefix, _ = self._repo(directory)
        report = self._scan(directory, root, prefix)
        return report.model_copy(update={"root": str(root)})

    def provider_report(self, context: str | None = None) -> ProviderReport:
        report = ProviderReport(providers=self.providers())
        if not self.cluster_configured() and context is None:
            report.cluster_error = "no cluster configured (GITOPS_MCP_KUBECONFIG / KUBECONFIG)"
            return report
        from gitops_mcp.cluster.ops import installed_controllers
        from gitops_mcp.errors import ClusterError

        try:
            with self.kube(context, timeout=5.0) as kube:
                report.cluster = kube.host
                report.controllers = installed_controllers(kube)
        except ClusterError as exc:
            report.cluster_error = str(exc)
        return report

    def providers(self) -> list[ProviderInfo]:
        from gitops_mcp.providers.base import QuestionContext

        out = []
        for p in self.registry:
            base = p.questions(QuestionContext("kustomize", "git", "app", policy=self.settings.policy))
            helm = p.questions(QuestionContext("helm", "git", "app", ("values.yaml",), self.settings.policy))
            base_ids = {q.id for q in base}
            out.append(
                ProviderInfo(
                    name=p.name,
                    title=p.title,
                    description=p.description,
                    questions=[q.question for q in base],
                    helm_questions=[q.question for q in helm if q.id not in base_ids],
                )
            )
        return out

    def validate(self, path: str | None = None, yaml_text: str | None = None) -> ValidationResult:
        if (path is None) == (yaml_text is None):
            raise UserInputError("pass exactly one of path (a YAML file) or yaml (the text)")
        source = "<yaml>"
        if path is not None:
            if _looks_like_url(path):
                raise UserInputError("path must be a local YAML file")
            target = resolve_allowed(path, self.settings.allowed_roots, must_be_dir=False)
            if not target.is_file():
                raise UserInputError(f"{path!r} is not a file")
            if target.stat().st_size > 5 << 20:
                raise UserInputError(f"{path!r} is larger than 5 MiB")
            yaml_text = target.read_text(encoding="utf-8")
            source = str(target)
        assert yaml_text is not None
        schemas, origin = self._schemas()
        return validate_text(yaml_text, self.settings.policy, schemas, source, origin)

    # -- contexts -----------------------------------------------------------------------------------
    def _context(
        self, directory: Path | None, intent: str | None, provider: str | None, packages: list[Package] | None = None
    ) -> SessionContext:
        ctx = SessionContext(intent=intent, provider_hint=provider)
        if directory is None:
            ctx.packages = packages or []
            return ctx
        root, prefix, info = self._repo(directory)
        report = self._scan(directory, root, prefix)
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
        if not self.settings.read_only:
            ctx.delivery_options = ["write", "push", "pull_request"] if ctx.origin_url else ["write"]
            ctx.can_wait = bool(ctx.origin_url) and self.cluster_configured()
        return ctx

    # -- sessions -----------------------------------------------------------------------------------
    def start(self, owner: str, path: str, intent: str | None = None, provider: str | None = None) -> SessionView:
        if provider is not None:
            self.registry.get(provider)
        directory = self._local_dir(path)
        ctx = self._context(directory, intent, provider)
        state = SessionState(id=new_session_id(), owner=owner, created_at=0, updated_at=0, expires_at=0, context=ctx)
        pending = {"provider": provider} if provider else {}
        adv = flow.advance(state, pending, self._env(ctx))
        state = self.store.create(adv.state)
        return self._view(state, adv.errors, adv.ignored, include_packages=True)

    def answer(
        self, owner: str, session_id: str, answers: Mapping[str, Any], accept_defaults: bool = False
    ) -> SessionView:
        state = self.store.get(session_id, owner)
        if state.status != "open":
            raise UserInputError(f"session {session_id} is {state.status}; start a new one with start_deployment")
        known = flow.all_question_ids(self.registry)
        unknown = sorted(k for k in answers if k not in known)
        if unknown:
            raise UserInputError(f"unknown question id(s): {', '.join(unknown)}; valid ids: {', '.join(sorted(known))}")
        env = self._env(state.context)
        shown = {q.id for q in flow.open_questions(state, env)} if accept_defaults else set()
        adv = flow.advance(state, answers, env, defaults_for=shown)
        new, errors = adv.state, dict(adv.errors)
        new = self._settle(new, errors, env)
        saved = self.store.save(new)
        return self._view(saved, errors, adv.ignored)

    def _settle(self, state: SessionState, errors: dict[str, str], env: flow.FlowEnv) -> SessionState:
        """Build the preview once everything is answered, and deliver when delivery was chosen."""
        if state.step not in ("preview", "done"):
            state.preview = None
            return state
        state.preview = self._preview(state)
        if state.step != "done":
            if not state.context.delivery_options:
                state.status = "done"
            return state
        if not state.preview.validation.valid:
            errors["delivery"] = "the manifests are not valid: " + state.preview.validation.describe()
            state.answers.pop("delivery", None)
            state.step = "preview"
            return state
        try:
            written = self._write_preview(state)
        except GitOpsError as exc:
            errors["output_path"] = str(exc)
            state.answers.pop("delivery", None)
            state.answers.pop("output_path", None)
            state.step = "output"
            state.preview = None
            return state
        try:
            state.result = self._deliver(state, written)
        except GitOpsError as exc:
            errors["delivery"] = f"{exc} (the file is written in the working tree; answer delivery again to retry)"
            state.answers.pop("delivery", None)
            state.step = "preview"
            return state
        state.status = "done"
        return state

    def _preview(self, state: SessionState) -> Preview:
        a, ctx = state.answers, state.context
        provider = self.registry.get(str(a["provider"]))
        spec = flow.build_spec(a, ctx)
        options = {q.id: a[q.id] for q in flow.questions_for("provider_options", a, ctx, self._env(ctx)) if q.id in a}
        gen = provider.generate(spec, options)
        text = dump_documents(gen.objects)
        validation = validate_documents(gen.objects, self.settings.policy, self._crds())
        out = str(a["output_path"])
        exists, diff = (False, "")
        if ctx.repo_root:
            self.delivery.prepare_write(Path(ctx.repo_root), [out])
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

    def _write_preview(self, state: SessionState) -> WriteResult:
        assert state.preview is not None
        if self.settings.read_only:
            raise ReadOnlyError("the server is read-only; nothing can be written")
        if not state.context.repo_root:
            raise UserInputError("the session has no local repository to write into")
        self.delivery.prepare_write(Path(state.context.repo_root), [state.preview.output_path])
        return write_manifest_file(Path(state.context.repo_root), state.preview.output_path, state.preview.yaml)

    def _deliver(self, state: SessionState, res: WriteResult) -> DeliveryResult:
        assert state.preview is not None and state.context.repo_root
        choice = state.answers.get("delivery")
        msg = (
            f"{'Created' if res.created else 'Updated'} {res.path}"
            if res.changed
            else f"{res.path} already had exactly this content"
        )
        if choice == "write":
            return DeliveryResult(action="write", file=res.path, changed=res.changed, diff=res.diff, message=msg)
        if choice not in ("push", "pull_request"):
            raise UserInputError(f"delivery {choice!r} is not available on this server")
        app, provider = state.answers.get("app_name", "app"), state.preview.provider
        commit = self.delivery.commit_and_push(
            Path(state.context.repo_root),
            [res.path],
            f"Deploy {app} with {provider}\n\nGenerated by gitops-mcp: "
            f"{', '.join(o.kind for o in state.preview.objects)} in {res.path}.",
            mode=choice,
        )
        result = DeliveryResult(
            action=choice,
            file=res.path,
            changed=commit.commit_sha is not None,
            diff=res.diff,
            message=f"{msg}; {commit.message}",
            commit_sha=commit.commit_sha,
            branch=commit.branch,
            pr_url=commit.pr_url,
        )
        sha = commit.commit_sha or (
            self._head(Path(state.context.repo_root)) if commit.status == "no_changes" else None
        )
        if choice == "push" and state.answers.get("wait") and state.context.can_wait and sha:
            result.live, note, result.verification = self._verify(state, sha)
            result.message += f"; {note}"
        return result

    def _head(self, root: Path) -> str | None:
        info = read_repo_info(root)
        return info.head_sha if info else None

    def _verify(self, state: SessionState, sha: str) -> tuple[bool, str, list[WaitResult]]:
        """After a push: make the controller apply the commit now, and wait until it is live."""
        from gitops_mcp.cluster.ops import get_status, reconcile, wait_for_sync
        from gitops_mcp.errors import ClusterError
        from gitops_mcp.git.urls import url_identity

        assert state.preview is not None
        deadline = time.monotonic() + self.settings.wizard_wait_seconds
        waits: list[WaitResult] = []
        objects = state.preview.objects
        try:
            with self.kube() as kube:
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

    # -- git delivery ----------------------------------------------------------------------------------
    def commit(
        self,
        repo_path: str,
        paths: list[str],
        message: str,
        branch: str | None = None,
        mode: Mode = "push",
        base: str | None = None,
        draft: bool = False,
        labels: list[str] | None = None,
    ) -> CommitResult:
        if self.settings.read_only:
            raise ReadOnlyError("the server is read-only")
        if mode not in ("push", "pull_request"):
            raise UserInputError("mode must be push or pull_request")
        root = self._local_dir(repo_path)
        return self.delivery.commit_and_push(
            root,
            paths,
            message,
            branch,
            mode,
            base,
            draft,
            labels or [],
        )

    def rollback(
        self,
        repo_path: str,
        paths: list[str] | None = None,
        shas: list[str] | None = None,
        mode: Mode = "pull_request",
        base: str | None = None,
        message: str | None = None,
        draft: bool = False,
        labels: list[str] | None = None,
    ) -> RollbackResult:
        if self.settings.read_only:
            raise ReadOnlyError("the server is read-only")
        if mode not in ("push", "pull_request"):
            raise UserInputError("mode must be push or pull_request")
        root = self._local_dir(repo_path)
        return self.delivery.rollback(
            root,
            paths or [],
            shas or [],
            mode,
            base,
            message,
            draft,
            labels or [],
        )

    def get(self, owner: str, session_id: str) -> SessionView:
        return self._view(self.store.get(session_id, owner), {}, [])

    def list_sessions(self, owner: str) -> list[SessionSummary]:
        return [
            SessionSummary(
                session_id=s.id,
                status=s.status,
                step=s.step,
                app_name=s.answers.get("app_name"),
                provider=s.answers.get("provider"),
                package=s.answers.get("package"),
                updated_at=s.updated_at,
                expires_at=s.expires_at,
            )
            for s in self.store.list(owner)
        ]

    def cancel(self, owner: str, session_id: str) -> SessionView:
        state = self.store.get(session_id, owner)
        if state.status == "open":
            state.status = "cancelled"
            state = self.store.save(state)
        return self._view(state, {}, [])

    def open_questions(self, view: SessionView) -> list[Question]:
        return view.questions

    def _view(
        self, state: SessionState, errors: Mapping[str, str], ignored: list[str], include_packages: bool = False
    ) -> SessionView:
        env = self._env(state.context)
        questions = flow.open_questions(state, env, errors) if state.status == "open" else []
        return SessionView(
            session_id=state.id,
            status=state.status,
            step=state.step,
            questions=questions,
            answers=dict(state.answers),
            errors=dict(errors),
            ignored=ignored,
            preview=state.preview,
            result=state.result,
            packages=state.context.packages if include_packages else None,
            next=self._next(state, questions),
            expires_at=state.expires_at,
        )

    def _next(self, state: SessionState, questions: list[Question]) -> str:
        if state.status == "cancelled":
            return "The session is cancelled. Start a new one with start_deployment."
        if state.status == "done" and state.result is not None:
            if state.result.action == "write":
                return (
                    f"{state.result.message}. Review the diff, then commit it with commit_and_push "
                    "(mode push or pull_request)."
                )
            return f"{state.result.message}."
        if state.status == "done":
            return (
                "The server is read-only: nothing can be written. Copy preview.yaml into "
                f"{state.preview.output_path if state.preview else 'the repository'} yourself."
            )
        if state.step == "preview":
            valid = state.preview is not None and state.preview.validation.valid
            return (
                "Show the user preview.yaml and preview.diff, then answer 'delivery'."
                if valid
                else "The preview is not valid (see preview.validation); change the answers named."
            )
        ids = ", ".join(q.id for q in questions)
        return (
            f"Ask the user, then call answer_questions with {{id: value}} for: {ids}. "
            "Answers for later steps may be given ahead; accept_defaults=true takes the defaults shown."
        )

    # -- one-shot generation and writing ----------------------------------------------------------
    def generate(
        self, args: Mapping[str, Any], repo_path: str | None = None, package_type: str | None = None
    ) -> GenerateResult:
        """Non-interactive generation through the same flow as the wizard; writes nothing."""
        answers = {k: v for k, v in args.items() if v is not None}
        directory = self._local_dir(repo_path) if repo_path else None
        packages: list[Package] | None = None
        pkg_answer = answers.get("package")
        if pkg_answer is None and answers.get("chart_url"):
            answers["package"] = pkg_answer = flow.CHART
        if pkg_answer not in (None, flow.CHART):
            if package_type is None and directory is None:
                raise UserInputError("give package_type (helm, kustomize, manifests, jsonnet) or repo_path")
            if package_type is not None:
                if package_type not in ("helm", "kustomize", "manifests", "jsonnet"):
                    raise UserInputError("package_type must be one of helm, kustomize, manifests, jsonnet")
                path = relative_dir(pkg_answer)
                answers["package"] = path
                answers.setdefault("path", path)
                vf = ["values.yaml", *comma_list(answers.get("value_files"))] if package_type == "helm" else []
                packages = [
                    Package(
                        path=path,
                        type=package_type,
                        name=os.path.basename(path) or "app",
                        confidence="high",
                        evidence=["given by the caller"],
                        values_files=vf,
                    )
                ]
        elif pkg_answer is None:
            raise UserInputError("give package (a path in the repository) or chart_url/chart/chart_version")
        ctx = self._context(directory, None, answers.get("provider"), packages)
        ctx.delivery_options = []
        if "output_path" not in answers:
            answers["output_path"] = flow.default_output_path(
                str(answers.get("provider", "app")), str(answers.get("app_name", "app")), ctx
            )
        state = SessionState(id="oneshot", owner="", created_at=0, updated_at=0, expires_at=0, context=ctx)
        adv = flow.advance(state, answers, self._env(ctx), defaults_for=None)
        if adv.errors:
            raise UserInputError("; ".join(f"{k}: {v}" for k, v in adv.errors.items()))
        if adv.state.step != "preview":
            missing = [q.id for q in flow.open_questions(adv.state, self._env(ctx))]
            raise UserInputError(f"missing answers: {', '.join(missing)}")
        preview = self._preview(adv.state)
        return GenerateResult(
            provider=preview.provider,
            yaml=preview.yaml,
            objects=preview.objects,
            notes=preview.notes,
            validation=preview.validation,
            output_path=preview.output_path if directory else None,
            diff=preview.diff if directory else None,
        )

    def write(
        self,
        owner: str,
        repo_path: str,
        output_path: str | None = None,
        yaml_text: str | None = None,
        session_id: str | None = None,
    ) -> WriteResult:
        if self.settings.read_only:
            raise ReadOnlyError("the server is read-only")
        if (yaml_text is None) == (session_id is None):
            raise UserInputError("pass exactly one of yaml or session_id")
        root = self._local_dir(repo_path)
        if session_id is not None:
            state = self.store.get(session_id, owner)
            if state.preview is None:
                raise UserInputError(f"session {session_id} has no preview yet; answer its questions first")
            yaml_text = state.preview.yaml
            output_path = output_path or state.preview.output_path
            if state.context.repo_root and Path(state.context.repo_root) != root:
                raise UserInputError(f"session {session_id} belongs to {state.context.repo_root}, not {root}")
        if not output_path:
            raise UserInputError("output_path is required: a .yaml path relative to the repository root")
        assert yaml_text is not None
        result = self.validate(yaml_text=yaml_text)
        if not result.valid:
            raise PolicyViolation(
                "refusing to write invalid manifests: " + result.describe(), [i.message for i in result.errors()]
            )
        if not output_path.endswith((".yaml", ".yml")):
            raise UserInputError(f"output_path {output_path!r} must end in .yaml or .yml")
        self.delivery.prepare_write(root, [output_path])
        return write_manifest_file(root, output_path, yaml_text)


__all__ = ["GenerateResult", "GitOpsApp", "NotFoundError", "ProviderInfo"]
