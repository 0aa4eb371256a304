"""The audit trail: one JSON object a line per call of a write tool and per wizard delivery.

Each line: ``time`` (UTC, ISO 8601), ``principal``, ``tool``, ``repository``, ``paths``,
``commit_sha``, ``pr_url``, ``cluster``, ``outcome`` (``ok``, ``no_changes``, ``refused`` by this
server's mode, scopes or tool list, ``failed``) and ``error`` (its first line). Never a secret
(URLs lose their user info, every line is scrubbed) and never a manifest: only names, paths,
SHAs and URLs are taken from a call.

Appended with one ``write`` per line to a file opened ``O_APPEND`` (replicas may share it), or
written to stderr.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from gitops_mcp.errors import ConfigError
from gitops_mcp.scrub import scrub

log = logging.getLogger("gitops_mcp.audit")

MAX_PATHS = 50
MAX_TEXT = 300
OUTCOMES = ("ok", "no_changes", "refused", "failed")


def first_line(text: str | None) -> str | None:
    if not text or not text.strip():
        return None
    return scrub(text.strip().splitlines()[0])[:MAX_TEXT]


def without_userinfo(location: str | None) -> str | None:
    """A repository or registry location without credentials in it."""
    if not location:
        return None
    try:
        parts = urlsplit(location)
        if parts.scheme and parts.hostname and ("@" in parts.netloc):
            netloc = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
            location = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    except ValueError:
        return None
    return scrub(location)[:MAX_TEXT]


def entry(
    *,
    principal: str,
    tool: str,
    outcome: str,
    repository: str | None = None,
    paths: Sequence[str] = (),
    commit_sha: str | None = None,
    pr_url: str | None = None,
    cluster: str | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """One audit record (see the module docstring)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}")
    return {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "principal": principal,
        "tool": tool,
        "repository": without_userinfo(repository),
        "paths": [str(p)[:MAX_TEXT] for p in list(paths)[:MAX_PATHS]],
        "commit_sha": commit_sha,
        "pr_url": without_userinfo(pr_url),
        "cluster": cluster,
        "outcome": outcome,
        "error": first_line(error),
    }


def from_call(
    tool: str,
    principal: str,
    arguments: Mapping[str, Any],
    result: Mapping[str, Any] | None,
    error: str | None = None,
    outcome: str | None = None,
    cluster: str | None = None,
) -> dict[str, Any]:
    """The record of one write tool call, from its arguments and its structured result (or error)."""
    res: Mapping[str, Any] = result or {}
    found = res.get("commit")
    commit: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    repository = arguments.get("repo_path") or arguments.get("oci_url") or commit.get("remote") or res.get("url")
    if outcome is None:
        if error is not None or res.get("ok") is False:
            outcome = "failed"
        elif "no_changes" in (commit.get("status"), res.get("status")):
            outcome = "no_changes"
        else:
            outcome = "ok"
    return entry(
        principal=principal,
        tool=tool,
        outcome=outcome,
        repository=repository if isinstance(repository, str) else None,
        paths=_paths(arguments, res, commit),
        commit_sha=_text(commit.get("commit_sha") or res.get("commit_sha")),
        pr_url=_text(commit.get("pr_url") or res.get("pr_url")),
        cluster=cluster,
        error=error,
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _paths(arguments: Mapping[str, Any], res: Mapping[str, Any], commit: Mapping[str, Any]) -> list[str]:
    for source, key in ((commit, "files"), (res, "files"), (arguments, "paths")):
        value = source.get(key)
        if isinstance(value, list) and value:
            out = [v if isinstance(v, str) else v.get("path") for v in value if isinstance(v, str | Mapping)]
            return [p for p in out if isinstance(p, str)]
    for source, key in ((res, "path"), (arguments, "output_path"), (arguments, "file"), (arguments, "path")):
        value = source.get(key)
        if isinstance(value, str) and value:
            return [value]
    return []


class AuditLog:
    """Where audit records go: ``target`` is a file path, ``stderr``, or None (no audit trail)."""

    def __init__(self, target: str | None) -> None:
        self.target = target.strip() if target and target.strip() else None
        self._lock = threading.Lock()
        if self.target not in (None, "stderr"):
            path = Path(self.target).expanduser()
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))
            except OSError as exc:
                raise ConfigError(f"GITOPS_MCP_AUDIT_LOG: cannot append to {path}: {exc.strerror}") from None
            self.target = str(path)

    @property
    def enabled(self) -> bool:
        return self.target is not None

    def write(self, record: Mapping[str, Any]) -> None:
        """Append ``record`` as one line; a failure is logged, never raised (the change is made)."""
        if self.target is None:
            return
        line = scrub(json.dumps(record, ensure_ascii=False, separators=(",", ":"))) + "\n"
        try:
            with self._lock:
                if self.target == "stderr":
                    sys.stderr.write(line)
                    sys.stderr.flush()
                    return
                fd = os.open(self.target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, line.encode("utf-8"))
                finally:
                    os.close(fd)
        except OSError as exc:
            log.error("could not write the audit record of %s: %s", record.get("tool"), exc)
