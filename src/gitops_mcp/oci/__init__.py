"""OCI artifacts of manifests: pack a manifest directory the way an engine's own CLI does (Flux:
``flux push artifact``) and push it to an OCI registry (distribution spec v1.1) with httpx. Plain
Python, no MCP. The media types are the engine's (``Provider.oci``).

- Layer: a gzipped tar of the directory, entries sorted, owner 0:0, modes 0644/0755, time 0: the
  same directory gives the same layer digest.
- Config: ``{}``; manifest: an OCI image manifest whose annotations carry
  ``org.opencontainers.image.created``, ``.source`` and ``.revision``.
- Credentials (``GITOPS_MCP_OCI_USERNAME`` / ``GITOPS_MCP_OCI_PASSWORD``) go only to the registry
  host, and to a token service only when it is that host or on ``GITOPS_MCP_ALLOWED_OCI_HOSTS``.
  Registries outside that list are refused before anything is sent.
"""

from gitops_mcp.oci.artifact import (
    ANN_CREATED,
    ANN_REVISION,
    ANN_SOURCE,
    DEFAULT_IGNORE,
    MANIFEST_TYPE,
    MediaTypes,
    OciError,
    OciRef,
    Packed,
    created_now,
    digest_of,
    manifest_for,
    pack,
    parse_oci_url,
)
from gitops_mcp.oci.registry import Registry, push

__all__ = [
    "ANN_CREATED",
    "ANN_REVISION",
    "ANN_SOURCE",
    "DEFAULT_IGNORE",
    "MANIFEST_TYPE",
    "MediaTypes",
    "OciError",
    "OciRef",
    "Packed",
    "Registry",
    "created_now",
    "digest_of",
    "manifest_for",
    "pack",
    "parse_oci_url",
    "push",
]
