"""Validate Flux / Argo CD manifests: schema (CRDs or built-in rules) plus policy (SPEC §5).

Schema source, best first:
1. CRD schemas handed in by the caller (from the cluster, when one is reachable);
2. CRD files in ``GITOPS_MCP_CRD_DIR``;
3. built-in rules covering every field this project generates (unknown fields are warnings).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from gitops_mcp.errors import UserInputError
from gitops_mcp.manifests.yaml import load_documents
from gitops_mcp.questions import DNS1123_LABEL, DNS1123_SUBDOMAIN, DURATION, duration_seconds
from gitops_mcp.settings import PolicySettings

Severity = Literal["error", "warning"]


class Issue(BaseModel):
    severity: Severity
    document: int = Field(description="0-based index of the YAML document")
    kind: str | None = None
    name: str | None = None
    path: str = Field("", description="Field path, e.g. spec.interval")
    message: str
    rule: str = Field(description="schema, builtin, or policy:<name>")


class ValidationResult(BaseModel):
    valid: bool
    documents: int
    schema_source: Literal["cluster", "crd_dir", "builtin"]
    issues: list[Issue]

    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    def describe(self, limit: int = 10) -> str:
        lines = [
            f"document {i.document} {i.kind or '?'}/{i.name or '?'} {i.path}: {i.message}".replace("  ", " ")
            for i in self.errors()[:limit]
        ]
        more = len(self.errors()) - limit
        if more > 0:
            lines.append(f"... and {more} more")
        return "; ".join(lines)


# -- a very small schema language for the built-in rules ---------------------------------------

S = dict[str, Any]
_DUR = {"type": "string", "pattern": DURATION.pattern, "hint": "a Go duration such as 30s, 5m, 1h"}
_SRC_DUR = {"type": "string", "pattern": r"^([0-9]+(\.[0-9]+)?(ms|s|m))+$", "hint": "a duration in ms, s or m"}
_NAME = {"type": "string", "pattern": DNS1123_SUBDOMAIN.pattern, "maxLength": 253}
_LABEL = {"type": "string", "pattern": DNS1123_LABEL.pattern, "maxLength": 63}
_STR = {"type": "string"}
_BOOL = {"type": "boolean"}
_OBJ_ANY = {"type": "object", "open": True}
_STR_LIST = {"type": "array", "items": _STR}


def _obj(props: Mapping[str, S], required: Sequence[str] = (), **kw: Any) -> S:
    return {"type": "object", "properties": dict(props), "required": list(required), **kw}


_CROSS_NS_REF = _obj({"kind": _STR, "name": _NAME, "namespace": _LABEL, "apiVersion": _STR}, ["kind", "name"])
_GIT_REF = _obj({"branch": _STR, "tag": _STR, "semver": _STR, "commit": _STR, "name": _STR})
_SOURCE_COMMON = {"interval": _DUR, "suspend": _BOOL, "timeout": _SRC_DUR, "secretRef": _obj({"name": _NAME}, ["name"])}

BUILTIN: dict[tuple[str, str], S] = {
    ("source.toolkit.fluxcd.io/v1", "GitRepository"): _obj(
        {
            **_SOURCE_COMMON,
            "url": {"type": "string", "pattern": r"^(http|https|ssh)://.*$"},
            "ref": _GIT_REF,
            "provider": {"type": "string", "enum": ["generic", "azure", "github", "aws"]},
            "ignore": _STR,
            "recurseSubmodules": _BOOL,
            "sparseCheckout": _STR_LIST,
            "include": {"type": "array", "items": _OBJ_ANY},
            "proxySecretRef": _OBJ_ANY,
            "verify": _OBJ_ANY,
            "serviceAccountName": _STR,
        },
        ["interval", "url"],
    ),
    ("source.toolkit.fluxcd.io/v1", "HelmRepository"): _obj(
        {
            **_SOURCE_COMMON,
            "url": {"type": "string", "pattern": r"^(http|https|oci)://.*$"},
            "type": {"type": "string", "enum": ["default", "oci"]},
            "provider": _STR,
            "passCredentials": _BOOL,
            "insecure": _BOOL,
            "certSecretRef": _OBJ_ANY,
            "accessFrom": _OBJ_ANY,
        },
        ["url"],
    ),
    ("source.toolkit.fluxcd.io/v1", "OCIRepository"): _obj(
        {
            **_SOURCE_COMMON,
            "url": {"type": "string", "pattern": r"^oci://.*$"},
            "ref": _obj({"tag": _STR, "semver": _STR, "semverFilter": _STR, "digest": _STR}),
            "layerSelector": _obj({"mediaType": _STR, "operation": {"type": "string", "enum": ["extract", "copy"]}}),
            "provider": _STR,
            "insecure": _BOOL,
            "verify": _OBJ_ANY,
            "serviceAccountName": _STR,
            "certSecretRef": _OBJ_ANY,
            "proxySecretRef": _OBJ_ANY,
            "ignore": _STR,
        },
        ["interval", "url"],
    ),
    ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"): _obj(
        {
            "interval": _DUR,
            "retryInterval": _DUR,
            "timeout": _DUR,
            "path": _STR,
            "prune": _BOOL,
            "wait": _BOOL,
            "force": _BOOL,
            "suspend": _BOOL,
            "targetNamespace": _LABEL,
            "sourceRef": _obj(
                {
                    "kind": {
                        "type": "string",
                        "enum": ["OCIRepository", "GitRepository", "Bucket", "ExternalArtifact"],
                    },
                    "name": _NAME,
                    "namespace": _LABEL,
                    "apiVersion": _STR,
                },
                ["kind", "name"],
            ),
            "dependsOn": {
                "type": "array",
                "items": _obj({"name": _NAME, "namespace": _LABEL, "readyExpr": _STR}, ["name"]),
            },
            "healthChecks": {"type": "array", "items": _OBJ_ANY},
            "patches": {"type": "array", "items": _OBJ_ANY},
            "images": {"type": "array", "items": _OBJ_ANY},
            "postBuild": _OBJ_ANY,
            "decryption": _OBJ_ANY,
            "components": _STR_LIST,
            "commonMetadata": _OBJ_ANY,
            "namePrefix": _STR,
            "nameSuffix": _STR,
            "serviceAccountName": _STR,
            "kubeConfig": _OBJ_ANY,
            "deletionPolicy": _STR,
            "healthCheckExprs": {"type": "array", "items": _OBJ_ANY},
            "ignoreMissingComponents": _BOOL,
        },
        ["interval", "prune", "sourceRef"],
    ),
    ("helm.toolkit.fluxcd.io/v2", "HelmRelease"): _obj(
        {
            "interval": _DUR,
            "timeout": _DUR,
            "suspend": _BOOL,
            "releaseName": {"type": "string", "maxLength": 53},
            "targetNamespace": _LABEL,
            "storageNamespace": _LABEL,
            "serviceAccountName": _STR,
            "chart": _obj(
                {
                    "spec": _obj(
                        {
                            "chart": _STR,
                            "version": _STR,
                            "interval": _DUR,
                            "reconcileStrategy": {"type": "string", "enum": ["ChartVersion", "Revision"]},
                            "sourceRef": _obj(
                                {
                                    "kind": {"type": "string", "enum": ["HelmRepository", "GitRepository", "Bucket"]},
                                    "name": _NAME,
                                    "namespace": _LABEL,
                                    "apiVersion": _STR,
                                },
                                ["kind", "name"],
                            ),
                            "valuesFiles": _STR_LIST,
                            "ignoreMissingValuesFiles": _BOOL,
                            "verify": _OBJ_ANY,
                        },
                        ["chart", "sourceRef"],
                    ),
                    "metadata": _OBJ_ANY,
                },
                ["spec"],
            ),
            "chartRef": _obj(
                {
                    "kind": {"type": "string", "enum": ["OCIRepository", "HelmChart", "ExternalArtifact"]},
                    "name": _NAME,
                    "namespace": _LABEL,
                    "apiVersion": _STR,
                },
                ["kind", "name"],
            ),
            "install": _obj(
                {
                    "createNamespace": _BOOL,
                    "crds": _STR,
                    "remediation": _OBJ_ANY,
                    "strategy": _OBJ_ANY,
                    "timeout": _DUR,
                    "disableWait": _BOOL,
                    "replace": _BOOL,
                },
                open=True,
            ),
            "upgrade": _OBJ_ANY,
            "rollback": _OBJ_ANY,
            "uninstall": _OBJ_ANY,
            "test": _OBJ_ANY,
            "values": _OBJ_ANY,
            "valuesFrom": {"type": "array", "items": _OBJ_ANY},
            "dependsOn": {"type": "array", "items": _OBJ_ANY},
            "driftDetection": _OBJ_ANY,
            "postRenderers": {"type": "array", "items": _OBJ_ANY},
            "kubeConfig": _OBJ_ANY,
            "maxHistory": {"type": "integer"},
            "persistentClient": _BOOL,
            "commonMetadata": _OBJ_ANY,
        },
        ["interval"],
        one_of=[["chart", "chartRef"]],
    ),
    ("argoproj.io/v1alpha1", "Application"): _obj(
        {
            "project": _STR,
            "source": _obj(
                {
                    "repoURL": _STR,
                    "path": _STR,
                    "targetRevision": _STR,
                    "chart": _STR,
                    "ref": _STR,
                    "name": _STR,
                    "helm": _obj(
                        {
                            "valueFiles": _STR_LIST,
                            "valuesObject": _OBJ_ANY,
                            "values": _STR,
                            "releaseName": _STR,
                            "parameters": {"type": "array", "items": _OBJ_ANY},
                            "ignoreMissingValueFiles": _BOOL,
                            "skipCrds": _BOOL,
                            "namespace": _STR,
                            "version": _STR,
                            "passCredentials": _BOOL,
                        },
                        open=True,
                    ),
                    "directory": _obj({"recurse": _BOOL, "include": _STR, "exclude": _STR, "jsonnet": _OBJ_ANY}),
                    "kustomize": _OBJ_ANY,
                    "plugin": _OBJ_ANY,
                },
                ["repoURL"],
            ),
            "sources": {"type": "array", "items": _OBJ_ANY},
            "destination": _obj({"server": _STR, "name": _STR, "namespace": _STR}),
            "syncPolicy": _obj(
                {
                    "automated": _obj({"prune": _BOOL, "selfHeal": _BOOL, "allowEmpty": _BOOL, "enabled": _BOOL}),
                    "syncOptions": _STR_LIST,
                    "retry": _OBJ_ANY,
                    "managedNamespaceMetadata": _OBJ_ANY,
                }
            ),
            "ignoreDifferences": {"type": "array", "items": _OBJ_ANY},
            "info": {"type": "array", "items": _OBJ_ANY},
            "revisionHistoryLimit": {"type": "integer"},
            "sourceHydrator": _OBJ_ANY,
        },
        ["project", "destination"],
        one_of=[["source", "sources"]],
    ),
    ("notification.toolkit.fluxcd.io/v1beta3", "Provider"): _obj(
        {
            "type": {
                "type": "string",
                "enum": [
                    "slack",
                    "discord",
                    "msteams",
                    "rocket",
                    "generic",
                    "generic-hmac",
                    "github",
                    "gitlab",
                    "gitea",
                    "bitbucketserver",
                    "bitbucket",
                    "azuredevops",
                    "googlechat",
                    "googlepubsub",
                    "webex",
                    "sentry",
                    "azureeventhub",
                    "telegram",
                    "lark",
                    "matrix",
                    "opsgenie",
                    "alertmanager",
                    "grafana",
                    "githubdispatch",
                    "pagerduty",
                    "datadog",
                    "nats",
                    "zulip",
                    "otel",
                ],
            },
            "channel": {"type": "string", "maxLength": 2048},
            "username": {"type": "string", "maxLength": 2048},
            "address": {"type": "string", "maxLength": 2048},
            "timeout": _DUR,
            "interval": _DUR,
            "proxy": _STR,
            "secretRef": _obj({"name": _NAME}, ["name"]),
            "certSecretRef": _obj({"name": _NAME}, ["name"]),
            "proxySecretRef": _obj({"name": _NAME}, ["name"]),
            "serviceAccountName": _STR,
            "commitStatusExpr": _STR,
            "suspend": _BOOL,
        },
        ["type"],
    ),
    ("notification.toolkit.fluxcd.io/v1beta3", "Alert"): _obj(
        {
            "providerRef": _obj({"name": _NAME}, ["name"]),
            "eventSeverity": {"type": "string", "enum": ["info", "error"]},
            "eventSources": {
                "type": "array",
                "items": _obj(
                    {
                        "kind": {
                            "type": "string",
                            "enum": [
                                "Bucket",
                                "GitRepository",
                                "Kustomization",
                                "HelmRelease",
                                "HelmChart",
                                "HelmRepository",
                                "ImageRepository",
                                "ImagePolicy",
                                "ImageUpdateAutomation",
                                "OCIRepository",
                                "ArtifactGenerator",
                                "ExternalArtifact",
                            ],
                        },
                        "name": {"type": "string", "maxLength": 253},
                        "namespace": _LABEL,
                        "apiVersion": _STR,
                        "matchLabels": _OBJ_ANY,
                    },
                    ["kind", "name"],
                ),
            },
            "eventMetadata": _OBJ_ANY,
            "inclusionList": _STR_LIST,
            "exclusionList": _STR_LIST,
            "summary": {"type": "string", "maxLength": 255},
            "suspend": _BOOL,
        },
        ["eventSources", "providerRef"],
    ),
}
# kinds whose name is copied into label values on every object they apply
NAME_IN_LABEL = {"Kustomization", "HelmRelease"}
GITOPS_GROUP_SUFFIXES = ("fluxcd.io", "argoproj.io")
_TYPE_CHECK = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}


def _check(node: Any, schema: S, path: str, out: list[tuple[Severity, str, str]]) -> None:
    typ = schema.get("type")
    if typ and not _TYPE_CHECK[typ](node):
        out.append(("error", path, f"must be {'an' if typ[0] in 'aeiou' else 'a'} {typ}"))
        return
    if typ == "string":
        if "enum" in schema and node not in schema["enum"]:
            out.append(("error", path, f"{node!r} is not one of {', '.join(schema['enum'])}"))
        if "pattern" in schema and not re.match(schema["pattern"], node):
            out.append(("error", path, f"{node!r} is not {schema.get('hint') or 'valid (' + schema['pattern'] + ')'}"))
        if "maxLength" in schema and len(node) > schema["maxLength"]:
            out.append(("error", path, f"is longer than {schema['maxLength']} characters"))
    elif typ == "array" and "items" in schema:
        for i, item in enumerate(node):
            _check(item, schema["items"], f"{path}[{i}]", out)
    elif typ == "object" and "properties" in schema:
        out.extend(("error", f"{path}.{req}", "is required") for req in schema.get("required", []) if req not in node)
        for group in schema.get("one_of", []):
            present = [k for k in group if k in node]
            if len(present) != 1:
                out.append(("error", path, f"exactly one of {', '.join(group)} must be set"))
        props = schema["properties"]
        for key, value in node.items():
            if key in props:
                _check(value, props[key], f"{path}.{key}", out)
            elif not schema.get("open"):
                out.append(("warning", f"{path}.{key}", "is not a field gitops-mcp knows; check its spelling"))


# -- CRD schemas -------------------------------------------------------------------------------


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
    out = {k: _strict(v) for k, v in schema.items() if not k.startswith("x-kubernetes-")}
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
    if "properties" in out:
        out["properties"] = {k: _strict(v) for k, v in schema["properties"].items()}
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


def _crd_issues(doc: Mapping[str, Any], crds: CrdSchemas) -> list[tuple[Severity, str, str]] | None:
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
    out: list[tuple[Severity, str, str]] = []
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


# -- policies ------------------------------------------------------------------------------------


def _map(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _bad_rel_path(p: str) -> bool:
    stripped = p.removeprefix("./")
    return p.startswith("/") or ".." in stripped.split("/")


def _policy_issues(doc: Mapping[str, Any], policy: PolicySettings) -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []  # (rule, path, message)
    api, kind = str(doc.get("apiVersion", "")), str(doc.get("kind", ""))
    spec = _map(doc.get("spec"))
    flux = api.split("/", 1)[0].endswith("fluxcd.io")
    if policy.refuse_secrets and kind == "Secret" and api == "v1":
        out.append(
            (
                "refuse_secrets",
                "kind",
                "plain Secret manifests must not be committed; use SOPS, Sealed Secrets or External Secrets",
            )
        )
    if policy.forbid_suspend and spec.get("suspend") is True:
        out.append(("forbid_suspend", "spec.suspend", "the object is suspended and would never reconcile"))
    if flux and policy.check_intervals:
        for key in ("interval", "retryInterval"):
            v = spec.get(key)
            if isinstance(v, str) and DURATION.match(v):
                secs = duration_seconds(v)
                if secs < policy.min_interval_seconds or secs > policy.max_interval_seconds:
                    out.append(
                        (
                            "intervals",
                            f"spec.{key}",
                            f"{v} is outside the allowed range "
                            f"{policy.min_interval_seconds}s..{policy.max_interval_seconds}s",
                        )
                    )
    if kind == "GitRepository" and policy.secure_git_urls:
        url = spec.get("url")
        if isinstance(url, str) and not url.startswith(("https://", "ssh://")):
            out.append(("secure_git_urls", "spec.url", f"{url!r} must use https:// or ssh://"))
    if kind == "Kustomization" and flux:
        if policy.require_prune and spec.get("prune") is not True:
            out.append(("require_prune", "spec.prune", "prune must be true so removed objects are deleted"))
        if policy.require_source_ref and not spec.get("sourceRef"):
            out.append(("require_source_ref", "spec.sourceRef", "a Kustomization must reference a source"))
    if policy.relative_paths:
        paths: list[tuple[str, Any]] = []
        if kind == "Kustomization" and flux:
            paths.append(("spec.path", spec.get("path")))
        if kind == "HelmRelease":
            cs = _map(_map(spec.get("chart")).get("spec"))
            if cs:
                paths.append(("spec.chart.spec.chart", cs.get("chart")))
                paths.extend(
                    (f"spec.chart.spec.valuesFiles[{i}]", f) for i, f in enumerate(cs.get("valuesFiles") or [])
                )
        if kind == "Application":
            srcs = [spec.get("source"), *list(spec.get("sources") or [])]
            for i, s in enumerate(srcs):
                if isinstance(s, dict):
                    where = "spec.source" if i == 0 else f"spec.sources[{i - 1}]"
                    paths.append((f"{where}.path", s.get("path")))
        for where, p in paths:
            if isinstance(p, str) and _bad_rel_path(p):
                out.append(("relative_paths", where, f"{p!r} must be relative to the repository, without '..'"))
    if kind == "Application" and policy.secure_git_urls:
        srcs = [spec.get("source"), *list(spec.get("sources") or [])]
        for s in srcs:
            if isinstance(s, dict) and isinstance(s.get("repoURL"), str):
                url = s["repoURL"]
                if "://" in url and not url.startswith(("https://", "ssh://")):
                    out.append(("secure_git_urls", "spec.source.repoURL", f"{url!r} must use https:// or ssh://"))
    return out


# -- entry point ---------------------------------------------------------------------------------


def validate_documents(
    docs: Iterable[Any],
    policy: PolicySettings,
    crds: CrdSchemas | None = None,
    schema_source: Literal["cluster", "crd_dir"] = "crd_dir",
) -> ValidationResult:
    """Validate parsed YAML documents; never raises for bad content (it reports issues)."""
    issues: list[Issue] = []
    n = 0
    for index, doc in enumerate(docs):
        n += 1
        if not isinstance(doc, dict):
            issues.append(Issue(severity="error", document=index, message="document is not a mapping", rule="builtin"))
            continue
        api, kind = doc.get("apiVersion"), doc.get("kind")
        meta = _map(doc.get("metadata"))
        name = meta.get("name") if isinstance(meta.get("name"), str) else None

        def add(
            sev: Severity, path: str, msg: str, rule: str, *, _i: int = index, _k: Any = kind, _n: str | None = name
        ) -> None:
            issues.append(
                Issue(
                    severity=sev,
                    document=_i,
                    kind=_k if isinstance(_k, str) else None,
                    name=_n,
                    path=path,
                    message=msg,
                    rule=rule,
                )
            )

        if not isinstance(api, str) or not isinstance(kind, str):
            add("error", "", "apiVersion and kind are required strings", "builtin")
            continue
        if not name:
            add("error", "metadata.name", "is required", "builtin")
        elif not DNS1123_SUBDOMAIN.match(name) or len(name) > 253:
            add("error", "metadata.name", f"{name!r} is not a DNS-1123 name (lowercase, digits, '-', '.')", "builtin")
        elif kind in NAME_IN_LABEL and len(name) > 63:
            add("error", "metadata.name", "longer than 63 characters; it must fit in a label value", "builtin")
        ns = meta.get("namespace")
        if ns is not None and (not isinstance(ns, str) or not DNS1123_LABEL.match(ns) or len(ns) > 63):
            add("error", "metadata.namespace", f"{ns!r} is not a valid namespace name", "builtin")

        crd_result = _crd_issues(doc, crds) if crds is not None else None
        if crd_result is not None:
            for sev, path, msg in crd_result:
                add(sev, path, msg, "schema")
        else:
            schema = BUILTIN.get((api, kind))
            group = api.rsplit("/", 1)[0] if "/" in api else ""
            if schema is not None:
                spec = doc.get("spec")
                if not isinstance(spec, dict):
                    add("error", "spec", "is required and must be a mapping", "builtin")
                else:
                    found: list[tuple[Severity, str, str]] = []
                    _check(spec, schema, "spec", found)
                    for sev, path, msg in found:
                        add(sev, path, msg, "builtin")
            elif group.endswith(GITOPS_GROUP_SUFFIXES) and kind in {k for _, k in BUILTIN}:
                known = sorted(a for a, k in BUILTIN if k == kind)
                add(
                    "error",
                    "apiVersion",
                    f"{api} is not a current API version for {kind}; use " + ", ".join(known),
                    "builtin",
                )
        for rule, path, msg in _policy_issues(doc, policy):
            add("error", path, msg, f"policy:{rule}")
    if n == 0:
        issues.append(Issue(severity="error", document=0, message="no YAML documents found", rule="builtin"))
    source: Literal["cluster", "crd_dir", "builtin"] = schema_source if crds is not None else "builtin"
    return ValidationResult(
        valid=not any(i.severity == "error" for i in issues), documents=n, schema_source=source, issues=issues
    )


def validate_text(
    text: str,
    policy: PolicySettings,
    crds: CrdSchemas | None = None,
    source: str = "<yaml>",
    schema_source: Literal["cluster", "crd_dir"] = "crd_dir",
) -> ValidationResult:
    """Parse and validate a multi-document YAML text; a YAML syntax error is reported as an issue."""
    try:
        docs = load_documents(text, source)
    except UserInputError as exc:
        return ValidationResult(
            valid=False,
            documents=0,
            schema_source="builtin",
            issues=[Issue(severity="error", document=0, message=str(exc), rule="builtin")],
        )
    return validate_documents(docs, policy, crds, schema_source)
