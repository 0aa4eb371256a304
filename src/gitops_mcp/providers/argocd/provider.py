"""Argo CD provider: questions and the pure ``Application`` generator."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitops_mcp.detection.kinds import GitOpsKinds
from gitops_mcp.manifests.validation.schema import BuiltinRules
from gitops_mcp.providers.argocd import kinds, schemas
from gitops_mcp.providers.base import (
    DeploymentSpec,
    Generated,
    PackageType,
    QuestionContext,
    RepoFacts,
    SourceKind,
    summary_of,
)
from gitops_mcp.providers.common import helm_questions
from gitops_mcp.questions import Question, QuestionDef, boolean, dns_label, select

API_VERSION = "argoproj.io/v1alpha1"
IN_CLUSTER = "https://kubernetes.default.svc"
SYNC_POLICIES = ("manual", "auto", "auto-prune")


class ArgoCDProvider:
    name = "argocd"
    title = "Argo CD"
    description = "Argo CD Application (Helm, Kustomize, plain directories, Jsonnet, third-party charts)"
    keywords: tuple[str, ...] = ("argo",)

    # -- what the rest of the code asks the provider: rules (schemas.py), kinds (kinds.py), layout
    def builtin_rules(self) -> BuiltinRules:
        return schemas.RULES

    def gitops_kinds(self) -> GitOpsKinds:
        return kinds.GITOPS_KINDS

    def output_dirs(self, repo: RepoFacts) -> list[str]:
        return list(repo.argocd_app_dirs)

    def unsupported_reason(self, package_type: PackageType, source_kind: SourceKind) -> str | None:
        return None

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
            source = {"repoURL": spec.repo_url, "targetRevision": spec.revision or "HEAD", "path": spec.path or "."}
            if spec.package_type == "manifests":
                source["directory"] = {"recurse": True}
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
        sync: dict[str, Any] = {}
        if policy == "auto":
            sync["automated"] = {"prune": False, "selfHeal": False}
        elif policy == "auto-prune":
            sync["automated"] = {"prune": True, "selfHeal": True}
        if options.get("create_namespace", True):
            sync["syncOptions"] = ["CreateNamespace=true"]

        app_spec: dict[str, Any] = {
            "project": options.get("project", "default"),
            "source": source,
            "destination": {"server": IN_CLUSTER, "namespace": spec.namespace},
        }
        if sync:
            app_spec["syncPolicy"] = sync
        app = {
            "apiVersion": API_VERSION,
            "kind": "Application",
            "metadata": {"name": spec.app_name, "namespace": options.get("argocd_namespace", "argocd")},
            "spec": app_spec,
        }
        where = (
            f"{spec.repo_url} path {spec.path} at {spec.revision or 'HEAD'}"
            if spec.source_kind == "git"
            else f"chart {spec.chart} {spec.chart_version} from {spec.chart_url}"
        )
        text = f"deploys {where} into namespace {spec.namespace}, sync {policy}"
        if policy == "manual":
            notes.append("Sync policy is manual: nothing is deployed until someone syncs the Application.")
        return Generated(objects=[app], summary=[summary_of(app, text)], notes=notes)
