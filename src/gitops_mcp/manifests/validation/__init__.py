"""Validate Flux / Argo CD manifests: schema (CRDs or built-in rules) plus policy (SPEC §5).

- :mod:`.result`: what validation reports (``Issue``, ``ValidationResult``);
- :mod:`.schema`: the built-in rules (``KindRule``): JSON Schema, checked with jsonschema;
- :mod:`.crd`: CRD schemas from files or a cluster, checked with JSON schema;
- :mod:`.references`: image references and source URLs, checked against their grammars;
- :mod:`.policy`: the site policy;
- :mod:`.engine`: ``validate_documents`` / ``validate_text``, which combine them.
"""

from gitops_mcp.manifests.validation.crd import CrdSchemas, crd_schemas, load_crd_dir
from gitops_mcp.manifests.validation.engine import validate_documents, validate_text
from gitops_mcp.manifests.validation.result import Issue, SchemaSource, Severity, ValidationResult
from gitops_mcp.manifests.validation.schema import BuiltinRules, KindRule

__all__ = [
    "BuiltinRules",
    "CrdSchemas",
    "Issue",
    "KindRule",
    "SchemaSource",
    "Severity",
    "ValidationResult",
    "crd_schemas",
    "load_crd_dir",
    "validate_documents",
    "validate_text",
]
