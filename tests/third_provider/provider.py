"""The kapp provider: questions, the pure generator, the schema rule and the status normaliser."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitops_mcp.manifests.validation.schema import BuiltinRules, KindRule, enum, obj
from gitops_mcp.providers.base import DeploymentSpec, Generated, PackageType, QuestionContext, SourceKind, summary_of
from gitops_mcp.providers.defaults import ProviderDefaults
from gitops_mcp.providers.live import KindInfo, Obj, ObjectRef, SyncStatus
from gitops_mcp.questions import Question, QuestionDef, dns_label, select

GROUP = "kapp.example.test"
API = f"{GROUP}/v1"
MODES = ("deploy", "dry-run")


class KappProvider(ProviderDefaults):
    name = "kapp"
    title = "Kapp GitOps"
    description = "A test-only engine: one App object that deploys a Kustomize path"
    keywords = ("kapp",)
    kinds = (KindInfo("App", API, "apps"),)
    verify_kinds = ("App",)

    def unsupported_reason(self, package_type: PackageType, source_kind: SourceKind) -> str | None:
        return None if package_type == "kustomize" and source_kind == "git" else "kapp deploys Kustomize paths only"

    def questions(self, ctx: QuestionContext) -> list[QuestionDef]:
        return [
            QuestionDef(
                Question(id="kapp_namespace", prompt="Namespace of the kapp controller", type="text", default="kapp"),
                dns_label,
            ),
            QuestionDef(
                Question(id="kapp_mode", prompt="Mode", type="select", options=list(MODES), default="deploy"),
                select(MODES),
            ),
        ]

    def generate(self, spec: DeploymentSpec, options: Mapping[str, Any]) -> Generated:
        app = {
            "apiVersion": API,
            "kind": "App",
            "metadata": {"name": spec.app_name, "namespace": options.get("kapp_namespace", "kapp")},
            "spec": {
                "git": {"url": spec.repo_url, "ref": spec.revision or "HEAD", "path": spec.path},
                "targetNamespace": spec.namespace,
                "mode": options.get("kapp_mode", "deploy"),
            },
        }
        return Generated(objects=[app], summary=[summary_of(app, f"deploys ./{spec.path} into {spec.namespace}")])

    def builtin_rules(self) -> BuiltinRules:
        git = obj({"url": {"type": "string"}, "ref": {"type": "string"}, "path": {"type": "string"}}, ["url", "path"])
        spec = obj({"git": git, "targetNamespace": {"type": "string"}, "mode": enum(*MODES)}, ["git", "mode"])
        return {(API, "App"): KindRule(spec)}

    def normalize_status(self, ref: ObjectRef, obj: Obj) -> SyncStatus:
        status = obj.get("status") or {}
        state = {"Reconciled": "ready", "Failed": "failed"}.get(str(status.get("phase")), "progressing")
        return SyncStatus(
            **ref.model_dump(),
            state=state,  # type: ignore[arg-type]
            message=str(status.get("message") or f"phase {status.get('phase') or 'pending'}"),
            revision=status.get("deployedRevision"),
        )
