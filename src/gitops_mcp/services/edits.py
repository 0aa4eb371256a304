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

    def validate(self, edits: list[Any], suspending: bool = False) -> list[ValidationResult]:
        """Full objects against their schemas and policies; patches, kustomizations and values files must parse.
        ``suspending``: the change asked for is a suspension (the no-suspend policy does not apply).

        Raises:
            PolicyViolation: an edited file would be invalid (nothing has been written).
        """
        schemas, origin = self.shared.schemas()
        policy = self.shared.settings.policy
        if suspending:
            policy = policy.model_copy(update={"forbid_suspend": False})
        out = []
        for e in edits:
            if not e.after:  # the file is removed
                continue
            v = validate_text(
                e.after,
                policy,
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
        self.write(root, edits)
        return self.commit(root, edits, message, mode)

    def write(self, root: Path, edits: list[Any]) -> None:
        """Write every edit into the working tree at ``root`` (each target checked first)."""
        self.shared.delivery.prepare_write(root, [e.file for e in edits])
        targets = [safe_repo_file(root, e.file, "path") for e in edits]
        for target in targets:  # every target checked before anything is written
            check_writable(root, target)
        for e, target in zip(edits, targets, strict=True):
            if e.after:
                write_text_atomic(root, target, e.after)
            else:  # a removal: the file held nothing else
                target.unlink()

    def commit(self, root: Path, edits: list[Any], message: str, mode: Mode) -> CommitResult:
        return self.shared.delivery.commit_and_push(root, [e.file for e in edits], message, mode=mode)
