"""Read-only use cases: detection, provider report, validation."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from gitops_mcp.cluster.ops import ControllerInfo, RepoSync, installed_controllers
from gitops_mcp.cluster.owner import OwnerFinder
from gitops_mcp.detection import DetectionReport
from gitops_mcp.errors import ClusterError, UserInputError
from gitops_mcp.git.urls import url_identity
from gitops_mcp.manifests.validation import ValidationResult, validate_text
from gitops_mcp.model import Model
from gitops_mcp.paths import resolve_allowed
from gitops_mcp.providers.base import QuestionContext
from gitops_mcp.questions import Question
from gitops_mcp.services.repository import Repository
from gitops_mcp.services.shared import Shared


class ProviderInfo(Model):
    name: str
    title: str
    description: str
    questions: list[Question] = Field(description="Provider questions for a Git Kustomize package (defaults shown)")
    helm_questions: list[Question] = Field(description="Extra questions for Helm packages")


class ProviderList(Model):
    providers: list[ProviderInfo]


class ProviderReport(Model):
    providers: list[ProviderInfo]
    cluster: str | None = Field(None, description="API server the controller check used")
    controllers: list[ControllerInfo] | None = Field(None, description="Installed controllers (None: no cluster)")
    cluster_error: str | None = Field(None, description="Why the cluster could not be asked")
    repository: str | None = Field(None, description="With repo_path: its origin, matched against the cluster")
    clusters: list[str] | None = Field(None, description="The contexts a cluster argument may name (several)")


class InspectService:
    """detect_packages, list_providers, validate_manifests."""

    def __init__(self, shared: Shared) -> None:
        self.shared = shared

    def detect(self, path: str, page: int = 1) -> DetectionReport:
        with self.shared.reading(path) as directory:
            root, prefix, _ = self.shared.repo(directory)
            report = self.shared.scan(directory, root, prefix)
        shown = path.strip() if Repository.of(path).url else str(root)  # the clone cache is never shown
        return report.model_copy(update={"root": shown}).paged(page)

    def provider_report(self, context: str | None = None, repo_path: str | None = None) -> ProviderReport:
        repo_url: str | None = None
        if repo_path is not None:
            from gitops_mcp.git.info import read_repo_info

            info = read_repo_info(self.shared.local_dir(repo_path))
            if info is None or not info.origin_url:
                raise UserInputError(f"{repo_path} is not a git repository with an origin remote")
            repo_url = info.origin_url
        report = ProviderReport(
            providers=self.providers(), repository=repo_url, clusters=list(self.shared.settings.clusters) or None
        )
        if not self.shared.cluster_configured() and context is None:
            report.cluster_error = "no cluster configured (GITOPS_MCP_KUBECONFIG / KUBECONFIG)"
            return report

        try:
            with self.shared.kube(context, timeout=5.0) as kube:
                report.cluster = kube.host
                report.controllers = installed_controllers(kube, registry=self.shared.registry)
                if repo_url is not None:
                    self._syncs(kube, repo_url, report.controllers)
        except ClusterError as exc:
            report.cluster_error = str(exc)
        return report

    def _syncs(self, kube: Any, repo_url: str, controllers: list[ControllerInfo]) -> None:
        """Per installed controller, what of its provider already applies ``repo_url`` (normalised)."""

        reader, repo = OwnerFinder(kube, self.shared.registry), url_identity(repo_url)
        for c in controllers:
            if not c.installed:
                continue
            c.syncs_repository = [
                RepoSync(kind=a.ref.kind, name=a.ref.name, namespace=a.ref.namespace, path=a.path, repo_url=a.repo_url)
                for a in self.shared.registry.get(c.provider).appliers(reader)
                if url_identity(a.repo_url) == repo
            ]

    def providers(self) -> list[ProviderInfo]:

        out = []
        for p in self.shared.registry:
            base = p.questions(QuestionContext("kustomize", "git", "app", policy=self.shared.settings.policy))
            helm = p.questions(QuestionContext("helm", "git", "app", ("values.yaml",), self.shared.settings.policy))
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
            if Repository.of(path).url:
                raise UserInputError("path must be a local YAML file")
            target = resolve_allowed(
                path, self.shared.settings.allowed_roots, must_be_dir=False, private=self.shared.private_dirs
            )
            if not target.is_file():
                raise UserInputError(f"{path!r} is not a file")
            if target.stat().st_size > 5 << 20:
                raise UserInputError(f"{path!r} is larger than 5 MiB")
            raw = target.read_bytes()
            try:
                yaml_text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                line = raw.count(b"\n", 0, exc.start) + 1
                raise UserInputError(
                    f"{path!r} is not UTF-8 text: byte {exc.start} (line {line}) is 0x{raw[exc.start]:02x}; "
                    "save it as UTF-8"
                ) from None
            source = str(target)
        assert yaml_text is not None
        schemas, origin = self.shared.schemas()
        return validate_text(yaml_text, self.shared.settings.policy, schemas, source, origin, rules=self.shared.rules)
