"""What every delivery mode shares: checked input, the origin remote, pushing, proposing.

A :class:`Checkout` is one delivery's git context (the local repository, its origin remote, the
environment with credentials); the modes (:mod:`.push_mode`, :mod:`.pr_mode`, :mod:`.rollback`)
work on it.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops_mcp.caller import pr_note
from gitops_mcp.errors import PolicyViolation, PushRefused, UserInputError
from gitops_mcp.git.forge import Forge, PullRequest, PullRequestSpec, forge_kind
from gitops_mcp.git.remote import Remote, check_rewrites, git_env, parse_remote
from gitops_mcp.git.repo import GitRepo, Identity
from gitops_mcp.paths import check_relative, safe_repo_file
from gitops_mcp.settings import Settings
from gitops_mcp.syntax import normalize_git_url

PRIVATE = "refs/gitops-mcp"  # where fetched refs are kept, out of the way of the user's branches


def slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s[:40].strip("-") or "change"


def title_body(message: str, files: Sequence[str], extra: str = "") -> tuple[str, str]:
    """Pull request title and body from a commit message and the files it changes."""
    title, _, rest = message.strip().partition("\n")
    body = rest.strip()
    listing = "\n".join(f"- `{f}`" for f in files)
    note = pr_note(title)  # who asked, through which tool, and why
    body = (
        (body + "\n\n" if body else "")
        + (extra + "\n\n" if extra else "")
        + f"Files:\n{listing}\n\n"
        + (note + "\n\n" if note else "")
        + "Opened by gitops-mcp."
    )
    return title.strip()[:250], body


def check_message(message: str) -> str:
    if not message or not message.strip():
        raise UserInputError("the commit message is empty")
    if "\x00" in message or len(message) > 20000:
        raise UserInputError("the commit message contains a NUL byte or is longer than 20,000 characters")
    return message.strip() + "\n"


def author(settings: Settings) -> Identity | None:
    """The configured commit author, or None (the repository's own)."""
    if settings.git_author_name or settings.git_author_email:
        return Identity(settings.git_author_name or "gitops-mcp", settings.git_author_email or "gitops-mcp@localhost")
    return None


def checked_paths(repo: GitRepo, paths: Sequence[str], settings: Settings) -> list[str]:
    """The files to commit, relative and inside the repository, regular files, no plain Secrets."""
    if not paths:
        raise UserInputError("paths is empty: name the files to commit, relative to the repository root")
    rels = [str(check_relative(p, "path")) for p in paths]
    repo.materialize(rels)  # a file outside a sparse checkout must not look deleted
    out: list[str] = []
    for rel in rels:
        target = safe_repo_file(repo.root, rel, "path")
        if target.exists() and not target.is_file():
            raise UserInputError(f"{rel} is not a regular file")
        if target.exists() and settings.policy.refuse_secrets and target.suffix in (".yaml", ".yml"):
            _refuse_secrets(target, rel)
        if rel not in out:
            out.append(rel)
    return out


def _refuse_secrets(target: Path, rel: str) -> None:
    from gitops_mcp.manifests.yaml import load_documents

    try:
        docs = load_documents(target.read_text(encoding="utf-8"), rel)
    except (UserInputError, UnicodeDecodeError):
        return
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == "Secret" and doc.get("apiVersion") == "v1":
            raise PolicyViolation(
                f"{rel} holds a plain Kubernetes Secret; it is refused for commit. Encrypt it (SOPS, "
                "Sealed Secrets) or use External Secrets"
            )


@dataclass(frozen=True)
class Checkout:
    """A local repository, its origin remote, and the git environment (credentials) for it.

    ``target`` is set for a private working tree of the clone cache (detached at the tip of that
    remote branch): push mode pushes there and nothing needs undoing locally. Fetched refs go under
    ``private``; ``lock`` is held around every fetch (the cached object store is shared)."""

    repo: GitRepo
    remote: Remote
    env: dict[str, str]
    settings: Settings
    target: str | None = None
    private: str = PRIVATE
    lock: Callable[[], AbstractContextManager[object]] = field(default=contextlib.nullcontext)

    @classmethod
    def of(cls, repo: GitRepo, settings: Settings) -> Checkout:
        raw = repo.remote_url("origin")
        if raw is None:
            raise UserInputError(f"{repo.root} has no 'origin' remote; add one (git remote add origin URL)")
        try:
            clean = raw if raw.startswith("file://") else normalize_git_url(raw)
        except ValueError as exc:
            raise UserInputError(f"the origin remote is not a usable URL: {exc}") from exc
        remote = parse_remote(clean, settings)
        check_rewrites(remote, settings, repo.root)
        return cls(repo, remote, git_env(remote, settings), settings)

    @property
    def who(self) -> Identity:
        return self.repo.identity(author(self.settings))

    def heads(self) -> dict[str, str]:
        """The remote's branches (``refs/heads/...`` -> sha) and ``symref:HEAD``."""
        return self.repo.ls_remote(self.remote.url, self.env, "HEAD", "refs/heads/*")

    def fetch(self, specs: list[str], unshallow: bool = False) -> None:
        """Fetch ``specs`` (all of their history with ``unshallow``, in a shallow repository)."""
        with self.lock():
            if unshallow and self.repo.is_shallow():
                self.repo.run(
                    "fetch", "--quiet", "--unshallow", "--no-tags", "--", self.remote.url, *specs, env=self.env
                )
            else:
                self.repo.fetch(self.remote.url, specs, self.env)

    def push_new_commit(self, sha: str, branch: str, hint: str) -> bool:
        """Push a commit built with plumbing (the working tree never had it, so nothing to undo).
        False: not a fast-forward; ``hint`` says what to do when the remote refuses the update."""
        try:
            return self.repo.push(self.remote.url, f"{sha}:refs/heads/{branch}", self.env)
        except PushRefused as exc:
            raise PushRefused(
                f"the remote refused the push to {branch}: {exc.reason}. Nothing was pushed and nothing changed "
                f"locally; {hint}",
                exc.reason,
            ) from None

    def propose(self, spec: PullRequestSpec) -> dict[str, Any]:
        """Open (or update) the pull request; the result fields that describe it."""
        with Forge(forge_kind(self.remote, self.settings), self.settings) as forge:
            pr: PullRequest = forge.open_or_update(spec)
        return {"pr_url": pr.url, "pr_number": pr.number, "pr_created": pr.created}


def default_branch(refs: dict[str, str]) -> str:
    target = refs.get("symref:HEAD", "")
    if target.startswith("refs/heads/"):
        return target[len("refs/heads/") :]
    raise UserInputError("the remote does not say its default branch; pass base explicitly")
