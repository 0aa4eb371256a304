"""Argo CD provider: questions and the pure ``Application`` generator."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from gitops_mcp.detection.kinds import GitOpsKinds
from gitops_mcp.detection.models import GitOpsStructure
from gitops_mcp.fleet import FleetLayout
from gitops_mcp.manifests.validation.schema import BuiltinRules
from gitops_mcp.providers.argocd import adapt, checks
from gitops_mcp.providers.argocd.cluster import ArgoCDCluster
from gitops_mcp.providers.argocd.fleet import ArgoCDFleet
from gitops_mcp.providers.argocd.kinds import GITOPS_KINDS
from gitops_mcp.providers.argocd.objects import SYNC_POLICIES, application, git_source, sync_policy
from gitops_mcp.providers.argocd.schemas import RULES
from gitops_mcp.providers.base import (
    DeploymentSpec,
    ExistingOwner,
    ExistingSource,
    Generated,
    OciArtifacts,
    PackageType,
    PlainDirs,
    QuestionContext,
    SourceKind,
    summary_of,
)
from gitops_mcp.providers.common import helm_questions
from gitops_mcp.providers.live import ChartRelease
from gitops_mcp.questions import Question, QuestionDef, boolean, dns_label, select


class ArgoCDProvider(ArgoCDCluster):
    name = "argocd"
    title = "Argo CD"
    description = "Argo CD Application (Helm, Kustomize, plain directories, Jsonnet, third-party charts)"
    fleet: FleetLayout = ArgoCDFleet()

    keywords: tuple[str, ...] = ("argo",)

    # -- what the rest of the code asks the provider: rules (schemas.py), kinds (kinds.py), layout
    def builtin_rules(self) -> BuiltinRules:
        return RULES

    reference_issues = staticmethod(checks.reference_issues)
    policy_issues = staticmethod(checks.policy_issues)

    def gitops_kinds(self) -> GitOpsKinds:
        return GITOPS_KINDS

    oci: OciArtifacts | None = None  # Argo CD reads OCI Helm charts, not manifest artifacts
    chart_releases: Mapping[str, ChartRelease] = MappingProxyType({})  # its charts are rendered, not released
    update_paths: Mapping[str, tuple[tuple[str, ...], ...]] = MappingProxyType(
        {
            "revision": (("spec", "source", "targetRevision"),),
            "namespace": (("spec", "destination", "namespace"),),
            "project": (("spec", "project"),),
            "sync_policy": (("spec", "syncPolicy", "automated"),),
        }
    )
    plain_dirs = PlainDirs((".yaml", ".yml", ".json"), subdirectories=False)  # recurse only with no nested package

    def output_dirs(self, found: GitOpsStructure) -> list[str]:
        """The directories of the committed Applications and ApplicationSets."""
        files = {o.file for o in found.objects if o.kind in ("Application", "ApplicationSet")}
        return sorted({posixpath.dirname(f) or "." for f in files})

    def existing_sources(self, found: GitOpsStructure) -> list[ExistingSource]:
        return []  # an Application names its repository itself

    def repo_appliers(self, found: GitOpsStructure) -> list[ExistingOwner]:
        """The committed Applications with a Git source path."""
        out = []
        for o in found.objects:
            if o.kind != "Application" or o.patch or not o.repo_url or o.path is None:
                continue
            path = posixpath.normpath(o.path.lstrip("/"))
            out.append(
                ExistingOwner(
                    kind=o.kind,
                    name=o.name,
                    namespace=o.namespace,
                    file=o.file,
                    path="" if path == "." else path,
                    repo_url=o.repo_url,
                    document=o.document,
                    revision=o.target_revision if o.target_revision not in (None, "HEAD") else None,
                )
            )
        return out

    def unsupported_reason(self, package_type: PackageType, source_kind: SourceKind) -> str | None:
        return None

    def current_api(self, doc: Mapping[str, Any]) -> str | None:
        return None  # argoproj.io/v1alpha1 is the only version served

    def questions(self, ctx: QuestionContext) -> list[QuestionDef]:
        qs = [
            QuestionDef(
                Question(
                    id="argocd_namespace",
                    prompt="Namespace where Argo CD runs (the Application goes there)",
                    type="text",
                    default="argocd",
                ),
                dns_label,
            ),
            QuestionDef(
                Question(id="project", prompt="Argo CD project", type="text", default="default"),
                dns_label,
            ),
            QuestionDef(
                Question(
                    id="sync_policy",
                    prompt="Sync policy",
                    type="select",
                    options=list(SYNC_POLICIES),
                    default="auto",
                    help="manual: sync by hand; auto: sync on every commit; auto-prune: also prune and self-heal",
                ),
                select(SYNC_POLICIES),
            ),
            QuestionDef(
                Question(
                    id="create_namespace",
                    prompt="Create the destination namespace if it is missing?",
                    type="boolean",
                    default=True,
                ),
                boolean,
            ),
        ]
        return qs + helm_questions(ctx)

    def generate(self, spec: DeploymentSpec, options: Mapping[str, Any]) -> Generated:
        notes: list[str] = []
        source: dict[str, Any]
        if spec.source_kind == "git":
            source = git_source(spec.repo_url, spec.revision or "HEAD", spec.path or ".")
            if spec.package_type == "manifests":
                # recursing into subdirectories that are packages of their own would read their
                # kustomization files and patches as objects
                source["directory"] = {"recurse": not spec.nested}
                if spec.nested:
                    notes.append(
                        f"Only the files in {spec.path} are applied, not its subdirectories "
                        f"{', '.join(spec.nested[:5])}{' ...' if len(spec.nested) > 5 else ''} "
                        "(packages of their own: deploy them separately)."
                    )
            if spec.package_type == "helm":
                helm: dict[str, Any] = {}
                if spec.value_files:
                    helm["valueFiles"] = list(spec.value_files)
                if spec.values:
                    helm["valuesObject"] = dict(spec.values)
                if helm:
                    source["helm"] = helm
        else:
            repo = spec.chart_url or ""
            if spec.source_kind == "oci":
                repo = repo.removeprefix("oci://")
                notes.append(
                    f"Argo CD needs the OCI registry {repo} registered as a Helm repository with enableOCI: true."
                )
            source = {"repoURL": repo, "chart": spec.chart, "targetRevision": spec.chart_version}
            if spec.values:
                source["helm"] = {"valuesObject": dict(spec.values)}

        policy = options.get("sync_policy", "auto")
        argocd_ns = str(options.get("argocd_namespace", "argocd"))
        sync = sync_policy(policy, bool(options.get("create_namespace", True)))
        name, name_notes = adapt.free_name(spec.app_name, argocd_ns, spec)
        notes += name_notes + adapt.owner_notes(spec)
        package_notes: list[str] = []
        if spec.source_kind == "git":
            notes += adapt.adjust(spec, source, sync, argocd_ns, package_notes)
        app = application(
            name,
            argocd_ns,
            project=str(options.get("project", "default")),
            source=source,
            destination_namespace=spec.namespace,
            sync=sync,
        )
        where = (
            f"{spec.repo_url} path {spec.path} at {spec.revision or 'HEAD'}"
            if spec.source_kind == "git"
            else f"chart {spec.chart} {spec.chart_version} from {spec.chart_url}"
        )
        text = f"deploys {where} into namespace {spec.namespace}, sync {policy}"
        if policy == "manual":
            notes.append("Sync policy is manual: nothing is deployed until someone syncs the Application.")
        return Generated(objects=[app], summary=[summary_of(app, text)], notes=notes, package_notes=package_notes)
