"""Questions and answer validation shared by the wizard, one-shot generation and providers.

A :class:`QuestionDef` pairs the public :class:`Question` (what a client shows) with a
parser that turns a raw answer into a typed value or raises :class:`AnswerError` with a
reason the user can act on.

Every text answer is bounded by what it is (a revision, a chart name, a URL, a path, ...; free
text at most :data:`~gitops_mcp.syntax.MAX_FREE_TEXT`), and the limit is in the message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field

from gitops_mcp.errors import GitOpsError, UserInputError
from gitops_mcp.model import Model
from gitops_mcp.paths import MAX_PATH, check_relative
from gitops_mcp.syntax import DNS1123_LABEL as DNS1123_LABEL  # re-exported: callers import these from here
from gitops_mcp.syntax import DNS1123_SUBDOMAIN as DNS1123_SUBDOMAIN
from gitops_mcp.syntax import DURATION as DURATION
from gitops_mcp.syntax import (
    MAX_CHART_NAME,
    MAX_CHART_VERSION,
    MAX_FREE_TEXT,
    MAX_REF,
    MAX_URL,
    bounded,
    is_ref_name,
    normalize_git_url,
    shown,
)
from gitops_mcp.syntax import duration_seconds as duration_seconds

MAX_DURATION = 64  # a Go duration such as 1h30m
MAX_VALUES_TEXT = 64 << 10  # Helm values given as YAML or JSON text
_CHART_NAME = re.compile(r"^[a-z0-9]([-a-z0-9._]*[a-z0-9])?$", re.IGNORECASE)
_CHART_VERSION_BAD = re.compile(r"[^0-9A-Za-z.+\-<>=~^*|, ]")

QuestionType = Literal["text", "select", "boolean"]


class Question(Model):
    """One question of the wizard, as a client sees it."""

    id: str = Field(description="Stable id; answer with {id: value}")
    prompt: str
    type: QuestionType
    options: list[str] | None = Field(None, description="Allowed values of a select")
    default: str | bool | None = None
    required: bool = True
    help: str | None = None
    error: str | None = Field(None, description="Why the last answer to this question was refused")


class AnswerError(UserInputError, ValueError):
    """An answer that cannot be used; the message is shown with the question again.

    A ValueError (pydantic validators use the parsers) and a UserInputError (a parser used outside
    the wizard, e.g. on generate_manifests' package path, refuses like any wrong argument).
    """


Parser = Callable[[Any], Any]


@dataclass(frozen=True)
class QuestionDef:
    question: Question
    parse: Parser

    @property
    def id(self) -> str:
        return self.question.id


# -- validators (the syntax itself is checked in gitops_mcp.syntax) ----------------------------


def as_text(value: Any, limit: int = MAX_FREE_TEXT, what: str = "a text answer") -> str:
    """The answer as stripped text of at most ``limit`` characters (``what`` names it in the message)."""
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        raise AnswerError("expected a text answer")
    return within(str(value).strip(), limit, what)


def within(value: str, limit: int, what: str) -> str:
    """``value`` when it has at most ``limit`` characters; else an AnswerError that says the limit."""
    try:
        return bounded(value, limit, what)
    except ValueError as exc:
        raise AnswerError(str(exc)) from None


def dns_label(value: Any) -> str:
    v = as_text(value)
    if len(v) > 63:
        raise AnswerError(f"{shown(v)} is {len(v)} characters long; the limit is 63")
    if not DNS1123_LABEL.match(v):
        raise AnswerError(
            f"{v!r} is not a valid name: use lowercase letters, digits and '-', "
            "starting and ending with a letter or digit (e.g. 'podinfo')"
        )
    return v


def duration(value: Any) -> str:
    raw = as_text(value, MAX_DURATION, "a duration")
    v = raw.replace(" ", "")
    if not DURATION.match(v):
        raise AnswerError(f"{raw!r} is not a duration: use Go units ms, s, m, h, e.g. '30s', '5m', '1h30m'")
    return v


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    v = as_text(value).lower()
    if v in ("true", "yes", "y", "1", "on"):
        return True
    if v in ("false", "no", "n", "0", "off"):
        return False
    raise AnswerError(f"{shown(v)} is not a yes/no answer: use true or false")


def select(options: Sequence[str]) -> Parser:
    def parse(value: Any) -> str:
        v = as_text(value)
        if v not in options:
            raise AnswerError(f"{shown(v)} is not one of: {', '.join(options)}")
        return v

    return parse


def git_url(allow_insecure: bool) -> Parser:
    def parse(value: Any) -> str:
        v = as_text(value, MAX_URL, "a repository URL")
        try:
            url = normalize_git_url(v)
        except ValueError as exc:
            raise AnswerError(str(exc)) from exc
        scheme = urlsplit(url).scheme
        if scheme not in ("https", "ssh") and not (allow_insecure and scheme == "http"):
            raise AnswerError(
                f"{v!r} uses {scheme}://; Git URLs must use https:// or ssh:// "
                "(e.g. https://github.com/org/repo.git or ssh://git@github.com/org/repo.git)"
            )
        return url

    return parse


def chart_url(value: Any) -> str:
    v = as_text(value, MAX_URL, "a chart repository URL").rstrip("/")
    parts = urlsplit(v)
    if parts.scheme not in ("https", "oci") or not parts.netloc:
        raise AnswerError(
            f"{v!r} is not a chart repository URL: use https://host/path for a Helm repository "
            "or oci://host/path for an OCI registry"
        )
    if parts.username or parts.password:
        raise AnswerError("credentials must not be part of the URL; configure them as a Secret instead")
    if parts.query or parts.fragment:
        raise AnswerError("a chart repository URL has no query or fragment")
    return v


def relative_dir(value: Any) -> str:
    """A path inside the repository, as POSIX, without './' prefix; '.' for the root."""
    v = as_text(value, MAX_PATH, "a path").replace("\\", "/")
    if v.startswith("/") or re.match(r"^[A-Za-z]:", v):
        raise AnswerError(f"{v!r} is absolute; give a path relative to the repository root")
    parts = [p for p in v.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise AnswerError(f"{v!r} contains '..'; the path must stay inside the repository")
    if parts and parts[0].lower() == ".git":
        raise AnswerError(f"{v!r} is inside .git")
    return "/".join(parts) or "."


def repo_dir(value: Any, root: str | None, what: str = "a path") -> str:
    """:func:`relative_dir`, also taking an absolute path inside the repository ``root``; a path
    starting with ``~`` is refused (the server does not expand it: its home is not the caller's)."""
    import os

    v = as_text(value, MAX_PATH, what).strip()
    if v.startswith("~"):
        raise AnswerError(
            f"{shown(v)} starts with ~, which is not expanded: give the path relative to the repository root"
        )
    if v.startswith("/") and root:
        real = os.path.realpath(v)
        for cand in (os.path.normpath(v), real):
            if cand == root or cand.startswith(root.rstrip("/") + "/"):
                return relative_dir(os.path.relpath(cand, root))
        raise AnswerError(f"{shown(v)} is outside the repository {root}; give a path relative to its root")
    return relative_dir(v)


def output_file(value: Any) -> str:
    v = relative_dir(value)
    if v == "." or not v.endswith((".yaml", ".yml")):
        raise AnswerError(f"{v!r} must name a .yaml file relative to the repository root, e.g. apps/podinfo.yaml")
    try:
        check_relative(v, "output_path")
    except GitOpsError as exc:
        raise AnswerError(str(exc)) from exc
    return v


def ref_name(value: str) -> str:
    """Check a branch or tag name the way ``git check-ref-format --branch`` would (<= 255 characters)."""
    within(value, MAX_REF, "a branch or tag name")
    if not is_ref_name(value):
        raise AnswerError(f"{shown(value)} is not a valid branch or tag name")
    return value


def chart_name(value: Any) -> str:
    """A chart name: letters, digits, '-', '_' and '.', at most 253 characters."""
    v = as_text(value, MAX_CHART_NAME, "a chart name")
    if not _CHART_NAME.match(v):
        raise AnswerError(f"{shown(v)} is not a chart name (letters, digits, '-', '_', '.')")
    return v


def chart_version(value: Any) -> str:
    """A chart version or semver range such as 6.7.0 or '>=6.0.0 <7.0.0', at most 128 characters."""
    v = as_text(value, MAX_CHART_VERSION, "a chart version")
    if not v or _CHART_VERSION_BAD.search(v):
        raise AnswerError(f"{shown(v)} is not a chart version or semver range")
    return v


def optional_text(value: Any) -> str:
    return "" if value is None else as_text(value)


def comma_list(value: Any) -> list[str]:
    if isinstance(value, list):
        items = [as_text(v) for v in value]
    else:
        items = [s.strip() for s in optional_text(value).split(",")]
    return [i for i in items if i]
