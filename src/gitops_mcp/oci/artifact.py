"""The Flux OCI artifact: its reference (oci://host/repository:tag), media types, annotations,
and the reproducible packing of a manifest directory (as ``flux push artifact`` does)."""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import io
import json
import os
import re
import tarfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from gitops_mcp.errors import GitOpsError, PolicyViolation, UserInputError
from gitops_mcp.manifests.yaml import load_documents
from gitops_mcp.model import Model
from gitops_mcp.settings import Settings

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
ANN_CREATED = "org.opencontainers.image.created"
ANN_SOURCE = "org.opencontainers.image.source"
ANN_REVISION = "org.opencontainers.image.revision"
DEFAULT_IGNORE = (
    ".git/",
    ".gitignore",
    ".gitmodules",
    ".gitattributes",
    "*.jpg",
    "*.jpeg",
    "*.gif",
    "*.png",
    "*.wmv",
    "*.flv",
    "*.tar.gz",
    "*.zip",
)
MAX_ARTIFACT_BYTES = 100 * 1024 * 1024
_REPO = re.compile(r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
_HOST = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$")


class OciError(GitOpsError):
    """The registry refused or failed a request (the message says which and why)."""


@dataclass(frozen=True)
class OciRef:
    """``oci://host[:port]/repository:tag``."""

    host: str  # host[:port] as written
    repository: str
    tag: str
    scheme: str  # https, or http where allowed

    @property
    def base(self) -> str:
        host = "registry-1.docker.io" if self.host == "docker.io" else self.host
        return f"{self.scheme}://{host}"

    @property
    def url(self) -> str:
        """The URL without the tag (an OCIRepository's ``spec.url``)."""
        return f"oci://{self.host}/{self.repository}"


def parse_oci_url(url: str, settings: Settings) -> OciRef:
    """Validate ``oci://host/repo:tag`` against the allowed registries.

    Raises:
        UserInputError: not an oci:// URL with a repository and a tag, or a host that is not allowed.
    """
    if not url.startswith("oci://"):
        raise UserInputError(f"{url!r} is not an OCI URL: use oci://host/repository:tag")
    rest = url[len("oci://") :]
    if any(c in rest for c in "@?#\\ \t\n") or not rest:
        raise UserInputError(
            f"{url!r}: no credentials, digests, query or fragment in the URL; use oci://host/repository:tag"
        )
    host, _, path = rest.partition("/")
    if not _HOST.match(host) or not path:
        raise UserInputError(f"{url!r} has no registry host and repository: use oci://host/repository:tag")
    repository, sep, tag = path.rpartition(":")
    if not sep or "/" in tag:
        raise UserInputError(f"{url!r} has no tag: add one, e.g. oci://{host}/{path}:latest")
    if not _REPO.match(repository):
        raise UserInputError(f"{repository!r} is not a valid repository name (lowercase, '/', '.', '_', '-')")
    if not _TAG.match(tag):
        raise UserInputError(f"{tag!r} is not a valid tag (letters, digits, '.', '_', '-'; at most 128)")
    if host.lower() not in {h.lower() for h in settings.allowed_oci_hosts}:
        raise UserInputError(
            f"the registry {host} is not in GITOPS_MCP_ALLOWED_OCI_HOSTS "
            f"({', '.join(settings.allowed_oci_hosts) or 'empty'}); add it there to allow it"
        )
    hostname = host.rsplit(":", 1)[0]
    loopback = hostname in ("127.0.0.1", "localhost", "::1")
    scheme = "http" if settings.oci_allow_http and loopback else "https"
    return OciRef(host=host, repository=repository, tag=tag, scheme=scheme)


# -- packing ------------------------------------------------------------------------------------------------


class Packed(Model):
    layer_digest: str
    layer_size: int
    files: list[str] = Field(description="Files in the artifact, relative to the directory")
    ignored: list[str] = Field(default_factory=list)


def _ignored(rel: str, is_dir: bool, patterns: Sequence[str]) -> bool:
    name = rel.rsplit("/", 1)[-1]
    for pat in patterns:
        if pat.endswith("/"):
            if is_dir and (name == pat[:-1] or fnmatch.fnmatch(rel, pat[:-1])):
                return True
        elif fnmatch.fnmatch(name, pat) or fnmatch.fnmatch(rel, pat):
            return True
    return False


def pack(directory: Path, ignore: Sequence[str] = DEFAULT_IGNORE, refuse_secrets: bool = True) -> tuple[bytes, Packed]:
    """The gzipped tar layer of ``directory`` (reproducible) and what went into it.

    Raises:
        UserInputError: nothing to pack, a symlink leaving the directory, or too large.
        PolicyViolation: a plain Kubernetes Secret manifest (when ``refuse_secrets``).
    """

    root = directory.resolve()
    entries: list[tuple[str, Path, bool]] = []
    ignored: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        rel_dir = here.relative_to(root).as_posix()
        keep_dirs = []
        for d in sorted(dirnames):
            rel = f"{rel_dir}/{d}" if rel_dir != "." else d
            if (here / d).is_symlink():
                raise UserInputError(f"{rel} is a symlink to a directory; pack the real directory instead")
            if _ignored(rel, True, ignore):
                ignored.append(rel + "/")
            else:
                keep_dirs.append(d)
                entries.append((rel, here / d, True))
        dirnames[:] = keep_dirs
        for f in sorted(filenames):
            rel = f"{rel_dir}/{f}" if rel_dir != "." else f
            p = here / f
            if _ignored(rel, False, ignore):
                ignored.append(rel)
                continue
            real = p.resolve()
            if p.is_symlink() and root not in real.parents:
                raise UserInputError(f"{rel} is a symlink that leaves {directory}; refusing to pack it")
            if not real.is_file():
                continue
            entries.append((rel, real, False))
    entries.sort(key=lambda e: e[0])
    files = [rel for rel, _, is_dir in entries if not is_dir]
    if not files:
        raise UserInputError(f"{directory} has nothing to pack (every file is ignored or it is empty)")
    raw = io.BytesIO()
    total = 0
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel, path, is_dir in entries:
            info = tarfile.TarInfo(rel)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            if is_dir:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
                continue
            data = path.read_bytes()
            total += len(data)
            if total > MAX_ARTIFACT_BYTES:
                raise UserInputError(f"{directory} holds more than {MAX_ARTIFACT_BYTES // 2**20} MiB; not an artifact")
            if refuse_secrets and rel.endswith((".yaml", ".yml")):
                try:
                    docs = load_documents(data.decode("utf-8"), rel)
                except (UserInputError, UnicodeDecodeError):
                    docs = []
                if any(isinstance(d, dict) and d.get("kind") == "Secret" and d.get("apiVersion") == "v1" for d in docs):
                    raise PolicyViolation(
                        f"{rel} holds a plain Kubernetes Secret; it is refused for an artifact. Encrypt it (SOPS, "
                        "Sealed Secrets) or use External Secrets"
                    )
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
        gz.write(raw.getvalue())
    layer = out.getvalue()
    return layer, Packed(layer_digest=digest_of(layer), layer_size=len(layer), files=files, ignored=ignored)


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class MediaTypes:
    """The engine's media types of an artifact's config and layer (``Provider.oci``)."""

    config: str
    content: str


def manifest_for(layer: bytes, config: bytes, annotations: Mapping[str, str], types: MediaTypes) -> bytes:
    doc = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": types.config, "digest": digest_of(config), "size": len(config)},
        "layers": [{"mediaType": types.content, "digest": digest_of(layer), "size": len(layer)}],
        "annotations": dict(sorted(annotations.items())),
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def created_now(reproducible: bool) -> str:
    return "1970-01-01T00:00:00Z" if reproducible else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
