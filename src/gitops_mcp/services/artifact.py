"""OCI artifacts of manifests: pack a manifest directory, push it, and optionally generate the
objects that deploy it, in the format of the registered provider that deploys artifacts
(``Provider.oci``)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from pydantic import Field

from gitops_mcp import oci
from gitops_mcp.detection import dns_label as to_label
from gitops_mcp.errors import PolicyViolation, UserInputError
from gitops_mcp.git.info import read_repo_info
from gitops_mcp.git.repo import GitRepo
from gitops_mcp.git.urls import normalize_git_url
from gitops_mcp.manifests.validation import ValidationResult, validate_text
from gitops_mcp.manifests.yaml import dump_documents
from gitops_mcp.model import Model
from gitops_mcp.providers.common import interval_parser
from gitops_mcp.questions import AnswerError, dns_label
from gitops_mcp.services.shared import Shared


class ArtifactResult(Model):
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


class ArtifactService:
    def __init__(self, shared: Shared) -> None:
        self.shared = shared

    def push(
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
        namespace: str | None = None,
        target_namespace: str | None = None,
        interval: str = "5m",
    ) -> ArtifactResult:
        """Pack a manifest directory as the engine's OCI artifact, push it, and optionally generate
        the objects that deploy it (in ``namespace``, default: the engine's).

        The source and revision annotations default to the directory's Git origin and
        ``<branch>@sha1:<HEAD>``; a directory with uncommitted changes is then refused, because the
        artifact would not be that commit.
        """

        self.shared.require_writable()
        engine = next((p.oci for p in self.shared.registry if p.oci is not None), None)
        if engine is None:
            raise UserInputError("no registered provider deploys OCI artifacts")
        directory = self.shared.local_dir(path)
        ref = oci.parse_oci_url(oci_url, self.shared.settings)
        info = read_repo_info(directory)
        if source is None and info is not None:
            source = info.origin_url
        elif source is not None:
            try:
                source = normalize_git_url(source)
            except ValueError as exc:
                raise UserInputError(f"source: {exc}") from exc
        if revision is None and info is not None and info.head_sha:
            with GitRepo(info.root, self.shared.settings.git_timeout_seconds) as repo:
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
        layer, packed = oci.pack(directory, ignore, self.shared.settings.policy.refuse_secrets)
        yaml_text: str | None = None
        validation: ValidationResult | None = None
        if generate:
            try:
                obj_name = dns_label(name or to_label(ref.repository.rsplit("/", 1)[-1]))
                ns = dns_label(namespace or engine.namespace)
                target = dns_label(target_namespace) if target_namespace else None
                every = interval_parser(self.shared.settings.policy)(interval)
            except AnswerError as exc:
                raise UserInputError(str(exc)) from exc
            objs = engine.objects(obj_name, ns, ref.url, ref.tag, every, target, ref.scheme == "http")
            yaml_text = dump_documents(objs)
            schemas, origin = self.shared.schemas()
            validation = validate_text(
                yaml_text, self.shared.settings.policy, schemas, "<artifact>", origin, rules=self.shared.rules
            )
            if not validation.valid:
                raise PolicyViolation(f"the generated manifests are invalid: {validation.describe()}; nothing pushed")
        types = oci.MediaTypes(engine.config_type, engine.content_type)
        digest = oci.push(ref, self.shared.settings, layer, ann, types)
        return ArtifactResult(
            url=f"{ref.url}:{ref.tag}",
            digest=digest,
            flux_revision=engine.revision(ref.tag, digest),
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
