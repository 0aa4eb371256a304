"""What validation reports: issues, and the result of validating a set of documents."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gitops_mcp.model import Model

Severity = Literal["error", "warning"]
SchemaSource = Literal["cluster", "crd_dir", "builtin"]


class Issue(Model):
    severity: Severity
    document: int = Field(description="0-based index of the YAML document")
    kind: str | None = None
    name: str | None = None
    path: str = Field("", description="Field path, e.g. spec.interval")
    message: str
    rule: str = Field(description="schema, builtin, or policy:<name>")


class ValidationResult(Model):
    valid: bool
    documents: int
    schema_source: SchemaSource
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
