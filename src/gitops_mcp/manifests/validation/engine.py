"""Validate GitOps manifests: schema (CRDs or built-in rules), references, and policy (SPEC §5).

Schema source, best first:
1. CRD schemas handed in by the caller (from the cluster, when one is reachable);
2. CRD files in ``GITOPS_MCP_CRD_DIR``;
3. built-in rules covering every field this project generates (unknown fields are warnings).

Whatever the schema source, image references and source URLs are checked against their grammars
(:mod:`.references`, and each engine's checks of its own sources), and the site policy is
checked (:mod:`.policy`, and each engine's policy of its own kinds).

The built-in rules and the engines' checks belong to the providers (``Provider.builtin_rules``,
``Provider.reference_issues``, ``Provider.policy_issues``); callers pass them in
(``rules=registry.builtin_rules()``, a :class:`~.schema.Rules`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from gitops_mcp.errors import UserInputError
from gitops_mcp.manifests.validation.crd import CrdSchemas, crd_issues
from gitops_mcp.manifests.validation.policy import as_map, policy_issues
from gitops_mcp.manifests.validation.references import reference_issues
from gitops_mcp.manifests.validation.result import Issue, SchemaSource, Severity, ValidationResult
from gitops_mcp.manifests.validation.schema import BuiltinRules, Found, Rules, api_domain, check
from gitops_mcp.manifests.yaml import load_documents
from gitops_mcp.settings import PolicySettings
from gitops_mcp.syntax import DNS1123_LABEL, DNS1123_SUBDOMAIN


def _builtin_issues(doc: dict[str, Any], api: str, kind: str, rules: BuiltinRules) -> Found:
    """Issues from the built-in rule of the document's kind; a wrong version of a known kind is one."""
    rule = rules.get((api, kind))
    if rule is not None:
        spec = doc.get("spec")
        if not isinstance(spec, dict):
            return [("error", "spec", "is required and must be a mapping")]
        found: Found = []
        check(spec, rule, "spec", found)
        return found
    group = api.rsplit("/", 1)[0] if "/" in api else ""
    known = sorted(a for a, k in rules if k == kind)
    if known and group.endswith(tuple({api_domain(a) for a, _ in rules})):
        return [("error", "apiVersion", f"{api} is not a current API version for {kind}; use " + ", ".join(known))]
    return []


def validate_documents(
    docs: Iterable[Any],
    policy: PolicySettings,
    crds: CrdSchemas | None = None,
    schema_source: Literal["cluster", "crd_dir"] = "crd_dir",
    *,
    rules: BuiltinRules | None = None,
) -> ValidationResult:
    """Validate parsed YAML documents; never raises for bad content (it reports issues).

    ``rules``: the built-in rules (``ProviderRegistry.builtin_rules()``) used where ``crds`` do not
    cover a document, with the engines' reference and policy checks; without them only CRD
    schemas, images and the engine-neutral policies are checked.
    """
    rules = rules or {}
    references = rules.references if isinstance(rules, Rules) else ()
    policies = rules.policies if isinstance(rules, Rules) else ()
    name_in_label = {k for (_, k), rule in rules.items() if rule.name_in_label}
    issues: list[Issue] = []
    n = 0
    for index, doc in enumerate(docs):
        n += 1
        if not isinstance(doc, dict):
            issues.append(Issue(severity="error", document=index, message="document is not a mapping", rule="builtin"))
            continue
        api, kind = doc.get("apiVersion"), doc.get("kind")
        meta = as_map(doc.get("metadata"))
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
        elif kind in name_in_label and len(name) > 63:
            add("error", "metadata.name", "longer than 63 characters; it must fit in a label value", "builtin")
        ns = meta.get("namespace")
        if ns is not None and (not isinstance(ns, str) or not DNS1123_LABEL.match(ns) or len(ns) > 63):
            add("error", "metadata.namespace", f"{ns!r} is not a valid namespace name", "builtin")

        crd_result = crd_issues(doc, crds) if crds is not None else None
        if crd_result is not None:
            for sev, path, msg in crd_result:
                add(sev, path, msg, "schema")
        else:
            for sev, path, msg in _builtin_issues(doc, api, kind, rules):
                add(sev, path, msg, "builtin")
        for found_refs in (reference_issues, *references):
            for sev, path, msg in found_refs(doc):
                add(sev, path, msg, "builtin")
        for found_policy in (policy_issues, *policies):
            for rule, path, msg in found_policy(doc, policy):
                add("error", path, msg, f"policy:{rule}")
    if n == 0:
        issues.append(Issue(severity="error", document=0, message="no YAML documents found", rule="builtin"))
    source: SchemaSource = schema_source if crds is not None else "builtin"
    return ValidationResult(
        valid=not any(i.severity == "error" for i in issues), documents=n, schema_source=source, issues=issues
    )


def validate_text(
    text: str,
    policy: PolicySettings,
    crds: CrdSchemas | None = None,
    source: str = "<yaml>",
    schema_source: Literal["cluster", "crd_dir"] = "crd_dir",
    *,
    rules: BuiltinRules | None = None,
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
    return validate_documents(docs, policy, crds, schema_source, rules=rules)
