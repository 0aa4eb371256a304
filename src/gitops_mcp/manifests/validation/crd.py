"""CRD schemas: loaded from CustomResourceDefinition documents (files or a cluster), and checked.

A CRD's structural schema is turned into a JSON schema that rejects unknown fields the way
``kubectl --validate=strict`` does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from gitops_mcp.errors import UserInputError
from gitops_mcp.manifests.validation.schema import Found
from gitops_mcp.manifests.yaml import load_documents


@dataclass(frozen=True)
class CrdSchemas:
    """openAPIV3Schema per (apiVersion, kind), and the versions served per (group, kind)."""

    schemas: Mapping[tuple[str, str], Mapping[str, Any]]
    served: Mapping[tuple[str, str], tuple[str, ...]]


def _strict(schema: Any) -> Any:
    """CRD structural schema -> JSON schema that rejects unknown fields like ``kubectl --validate=strict``."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    # properties' names are not schema keywords: each property is converted once, below (converting the
    # map too made the work double at every level: 50 s for Argo CD's CRDs, read from the real cluster)
    out = {k: _strict(v) for k, v in schema.items() if not k.startswith("x-kubernetes-") and k != "properties"}
    if isinstance(schema.get("properties"), dict):
        out["properties"] = {k: _strict(v) for k, v in schema["properties"].items()}
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    out.pop("nullable", None)
    if (
        out.get("type") == "object"
        and "properties" in out
        and "additionalProperties" not in out
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def load_crd_dir(directory: Path) -> CrdSchemas:
    """Read every CRD in ``directory`` (recursively).

    Raises:
        UserInputError: the directory has no CRD.
    """
    stamp = tuple(sorted((str(p), p.stat().st_mtime_ns) for p in directory.rglob("*") if p.suffix in (".yaml", ".yml")))
    return _load_crd_dir_cached(str(directory), stamp)


@lru_cache(maxsize=4)
def _load_crd_dir_cached(directory: str, stamp: tuple[tuple[str, int], ...]) -> CrdSchemas:
    docs: list[Any] = []
    for file, _ in stamp:
        try:
            docs.extend(load_documents(Path(file).read_text(encoding="utf-8"), file))
        except (UserInputError, OSError, UnicodeDecodeError):
            continue
    schemas = crd_schemas(docs)
    if not schemas.schemas:
        raise UserInputError(f"no CustomResourceDefinition found in {directory} (GITOPS_MCP_CRD_DIR)")
    return schemas


def crd_schemas(crds: Iterable[Any]) -> CrdSchemas:
    """Schemas of the served versions of CustomResourceDefinition objects (from files or a cluster)."""
    schemas: dict[tuple[str, str], Mapping[str, Any]] = {}
    served: dict[tuple[str, str], list[str]] = {}
    for d in crds:
        if not isinstance(d, dict) or d.get("kind") not in (None, "CustomResourceDefinition"):
            continue
        spec = d.get("spec") or {}
        group, kind = spec.get("group"), (spec.get("names") or {}).get("kind")
        for v in spec.get("versions") or []:
            schema = (v.get("schema") or {}).get("openAPIV3Schema")
            if v.get("served") and schema and group and kind:
                schemas[(f"{group}/{v['name']}", kind)] = _strict(schema)
                served.setdefault((group, kind), []).append(v["name"])
    return CrdSchemas(schemas, {k: tuple(v) for k, v in served.items()})


def crd_issues(doc: Mapping[str, Any], crds: CrdSchemas) -> Found | None:
    """Issues from the CRD schema, or None when the CRDs do not define this group at all."""
    import jsonschema

    api, kind = str(doc.get("apiVersion", "")), str(doc.get("kind", ""))
    group = api.rsplit("/", 1)[0] if "/" in api else ""
    schema = crds.schemas.get((api, kind))
    if schema is None:
        versions = crds.served.get((group, kind))
        if versions is None:
            return None
        return [
            (
                "error",
                "apiVersion",
                f"{api} is not served for {kind}; served: " + ", ".join(f"{group}/{v}" for v in versions),
            )
        ]
    out: Found = []
    validator = jsonschema.Draft7Validator(schema)
    for err in sorted(validator.iter_errors(dict(doc)), key=lambda e: list(e.absolute_path)):
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path).lstrip(".")
        if err.validator == "additionalProperties":
            extra = (
                sorted(set(err.instance) - set(err.schema.get("properties", {})))
                if isinstance(err.instance, dict)
                else []
            )
            msg = f"unknown field(s) {', '.join(extra)} (the API server would drop or reject them)"
        else:
            msg = err.message
        out.append(("error", where, msg))
    return out
