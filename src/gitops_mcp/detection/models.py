"""What detection reports."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gitops_mcp.model import Model

PackageType = Literal["helm", "kustomize", "manifests", "jsonnet"]
Confidence = Literal["high", "medium", "low"]


PAGE_SIZE = 20
"""Packages (and GitOps objects) per page of a detection: about 7 KB at most."""


class Package(Model):
    """One deployable unit found in a repository."""

    path: str = Field(description="Directory relative to the repository root, POSIX; '.' for the root")
    type: PackageType
    name: str = Field(description="Helm chart name, else the directory name")
    confidence: Confidence
    evidence: list[str] = Field(description="Why this is a package, file by file")
    values_files: list[str] = Field(default_factory=list, description="Helm values files in the chart dir")
    chart_version: str | None = None
    namespace: str | None = Field(None, description="Namespace the package sets for itself, if any")
    kinds: list[str] = Field(default_factory=list, description="Kinds of the objects found (local files)")
    used_by: list[str] = Field(default_factory=list, description="Overlays and GitOps objects (files) using it")
    dependencies: list[str] = Field(default_factory=list, description="Chart dependencies")
    custom_kinds: list[str] = Field(default_factory=list, description="CRD kinds (group/Kind)")


class GitOpsObject(Model):
    """An Argo CD or Flux object already committed in the repository."""

    api_version: str
    kind: str
    name: str
    namespace: str | None = None
    file: str
    document: int = Field(description="Index of the YAML document in the file (0-based)")
    patch: bool = Field(False, description="The file is a Kustomize patch, not a full object")
    url: str | None = Field(None, description="Source URL (GitRepository, OCIRepository, HelmRepository)")
    ref: dict[str, str] | None = Field(None, description="Source ref (branch/tag/semver/commit/name)")
    path: str | None = Field(None, description="Path in the source (Kustomization) or repo (Application)")
    source_ref: str | None = Field(None, description="Kind/name[.namespace] of the source a Flux object uses")
    repo_url: str | None = Field(None, description="Argo CD Application source repoURL")
    target_revision: str | None = None
    copies: list[str] = Field(
        default_factory=list,
        description="ArtifactGenerator: 'artifact|source kind/name|from|to' for each copy into an ExternalArtifact",
    )


class BootstrapDir(Model):
    """A directory an engine's bootstrap committed (Flux: ``clusters/<name>/flux-system``)."""

    cluster: str
    path: str = Field(description="The cluster directory; new app manifests belong here")
    system_path: str = Field(description="The bootstrap's own directory")


class GitOpsStructure(Model):
    bootstraps: list[BootstrapDir] = Field(default_factory=list)
    objects: list[GitOpsObject] = Field(default_factory=list)
    directories: list[str] = Field(
        default_factory=list, description="Directories that hold only Argo CD / Flux objects"
    )
    app_of_apps_charts: list[str] = Field(
        default_factory=list, description="Helm charts whose templates render Argo CD Applications"
    )


class Skipped(Model):
    path: str
    reason: str


class DetectionReport(Model):
    """Result of :func:`gitops_mcp.detection.detect_packages`."""

    root: str
    packages: list[Package]
    gitops: GitOpsStructure
    skipped: list[Skipped] = Field(default_factory=list, description="Files or dirs not read, and why")
    skipped_total: int = 0
    files_scanned: int = 0
    directories_scanned: int = 0
    page: int = 1
    pages: int = 1
    packages_total: int | None = Field(None, description="All packages found, on every page")
    objects_total: int | None = Field(None, description="All GitOps objects found, on every page")

    def paged(self, page: int, size: int = PAGE_SIZE) -> DetectionReport:
        """Page ``page`` (1-based) of at most ``size`` packages and ``size`` GitOps objects."""
        objects = self.gitops.objects
        pages = max(1, -(-len(self.packages) // size), -(-len(objects) // size))
        if page > pages:
            from gitops_mcp.errors import UserInputError

            raise UserInputError(f"page {page} does not exist: this detection has {pages} page(s)")
        window = slice((page - 1) * size, page * size)
        gitops = self.gitops.model_copy(update={"objects": objects[window]})
        return self.model_copy(
            update={
                "packages": self.packages[window],
                "gitops": gitops,
                "page": page,
                "pages": pages,
                "packages_total": len(self.packages),
                "objects_total": len(objects),
            }
        )
