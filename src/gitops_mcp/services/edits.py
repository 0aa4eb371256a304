"""Validate and commit a set of file edits (shared by remediation and promotion)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gitops_mcp.errors import PolicyViolation
from gitops_mcp.git.delivery import CommitResult, Mode
from gitops_mcp.manifests.validation import ValidationResult, validate_text
from gitops_mcp.paths import check_writable, safe_repo_file, write_text_atomic
from gitops_mcp.services.shared import Shared


class Edits:
    def __init__(self, shared: Shared) -> None:
        self.shared = shared

    def validate(self, edits: list[Any]) -> list[ValidationResult]:
        """Full objects against their schemas and policies; patches, kustomizations and values files must parse.

        Raises:
            PolicyViolation: an edited file would be invalid (nothing has been written).
        """
        schemas, origin = self.shared.schemas()
        out = []
        for e in edits:
            v = validate_text(
                e.after,
                self.shared.settings.policy,
                schemas if e.role == "object" else None,
                e.file,
                origin,
                rules=self.shared.rules,
            )
            if e.role != "object":
                broken = [i for i in v.issues if "YAML" in i.message]
                v = v.model_copy(update={"issues": broken, "valid": not broken})
            out.append(v)
            if not v.valid:
                raise PolicyViolation(f"the change would make {e.file} invalid: {v.describe()}; nothing was written")
        return out

    def write_and_commit(self, root: Path, edits: list[Any], message: str, mode: Mode) -> CommitResult:

        self.shared.delivery.prepare_write(root, [e.file for e in edits])
        targets = [safe_repo_file(root, e.file, "path") for e in edits]
        for target in targets:  # every target checked before anything is written
            check_writable(root, target)
        for e, target in zip(edits, targets, strict=True):
            write_text_atomic(root, target, e.after)
        return self.shared.delivery.commit_and_push(root, [e.file for e in edits], message, mode=mode)
