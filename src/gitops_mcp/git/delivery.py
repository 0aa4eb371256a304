"""Commit, push, pull/merge requests, rollback, and the clone cache. Plain Python.

Guarantees:
- only the given paths are committed; no empty commits ("no_changes" is an answer);
- credentials are checked (``ls-remote``) before anything changes locally;
- a rejected push is fetched, rebased and retried a bounded number of times; a conflicting
  rebase is aborted and the commit kept on a named local branch;
- pull request mode never touches the working tree, index or checked-out branch: the commit
  is built with plumbing on the remote base (or the existing PR branch) and pushed to
  ``gitops-mcp/<slug>-<id>``, a name that is the same for the same files and base, so a
  re-run updates the open pull request instead of opening another.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from gitops_mcp.errors import (
    GitError,
    NotFoundError,
    PolicyViolation,
    PushConflict,
    PushRefused,
    UserInputError,
)
from gitops_mcp.git.cache import CloneCache
from gitops_mcp.git.forge import Forge, PullRequest, PullRequestSpec, forge_kind
from gitops_mcp.git.remote import Remote, git_env, parse_remote
from gitops_mcp.git.repo import GitRepo, Identity, check_ref, check_sha
from gitops_mcp.git.urls import normalize_git_url
from gitops_mcp.paths import check_relative, safe_repo_file
from gitops_mcp.scrub import register_secrets
from gitops_mcp.settings import Settings

Mode = Literal["push", "pull_request"]
PRIVATE = "refs/gitops-mcp"


class CommitResult(BaseModel):
    status: Literal["pushed", "pull_request", "no_changes"]
    commit_sha: str | None = Field(None, description="The new commit (None when nothing changed)")
    branch: str = Field(description="Branch the commit was pushed to")
    base: str | None = Field(None, description="Target branch of the pull request")
    remote: str = Field(description="Remote URL (never with credentials)")
    pr_url: str | None = None
    pr_number: int | None = None
    pr_created: bool | None = Field(None, description="False when an open pull request was updated")
    attempts: int = Field(1, description="Push attempts (rebase-and-retry rounds)")
    files: list[str] = Field(default_factory=list)
    message: str


class RollbackResult(CommitResult):
    reverted: list[str] = Field(default_factory=list, description="Commits reverted, newest first")


def _slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s[:40].strip("-") or "change"


def _title_body(message: str, files: Sequence[str], extra: str = "") -> tuple[str, str]:
    title, _, rest = message.strip().partition("\n")
    body = rest.strip()
    listing = "\n".join(f"- `{f}`" for f in files)
    body = (
        (body + "\n\n" if body else "") + (extra + "\n\n" if extra else "") + f"Files:\n{listing}\n\n"
        "Opened by gitops-mcp."
    )
    return title.strip()[:250], body


def _check_message(message: str) -> str:
    if not message or not message.strip():
        raise UserInputError("the commit message is empty")
    if "\x00" in message or len(message) > 20000:
        raise UserInputError("the commit message contains a NUL byte or is longer than 20,000 characters")
    return message.strip() + "\n"


class GitDelivery:
    """Git delivery for one server (settings hold credentials, allowed hosts, author)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cache = CloneCache(settings)
        register_secrets(settings.secret_values())

    @property
    def _who(self) -> Identity | None:
        s = self.settings
        if s.git_author_name or s.git_author_email:
            return Identity(s.git_author_name or "gitops-mcp", s.git_author_email or "gitops-mcp@localhost")
        return None

    # -- helpers --------------------------------------------------------------------------------------
    def _origin(self, repo: GitRepo) -> Remote:
        raw = repo.remote_url("origin")
        if raw is None:
            raise UserInputError(f"{repo.root} has no 'origin' remote; add one (git remote add origin URL)")
        try:
            clean = raw if raw.startswith("file://") else normalize_git_url(raw)
        except ValueError as exc:
            raise UserInputError(f"the origin remote is not a usable URL: {exc}") from exc
        return parse_remote(clean, self.settings)

    def _paths(self, repo: GitRepo, paths: Sequence[str]) -> list[str]:
        if not paths:
            raise UserInputError("paths is empty: name the files to commit, relative to the repository root")
        rels = [str(check_relative(p, "path")) for p in paths]
        repo.materialize(rels)  # a file outside a sparse checkout must not look deleted
        out: list[str] = []
        for rel in rels:
            target = safe_repo_file(repo.root, rel, "path")
            if target.exists() and not target.is_file():
                raise UserInputError(f"{rel} is not a regular file")
            if target.exists() and self.settings.policy.refuse_secrets and target.suffix in (".yaml", ".yml"):
                self._refuse_secrets(target, rel)
            if rel not in out:
                out.append(rel)
        return out

    def _refuse_secrets(self, target: Path, rel: str) -> None:
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

    def _push_new_commit(
        self, repo: GitRepo, remote: Remote, env: dict[str, str], sha: str, branch: str, hint: str
    ) -> bool:
        """Push a commit built with plumbing (the working tree never had it, so nothing to undo).
        False: not a fast-forward; ``hint`` says what to do when the remote refuses the update."""
        try:
            return repo.push(remote.url, f"{sha}:refs/heads/{branch}", env)
        except PushRefused as exc:
            raise PushRefused(
                f"the remote refused the push to {branch}: {exc.reason}. Nothing was pushed and nothing changed "
                f"locally; {hint}",
                exc.reason,
            ) from None

    def _default_branch(self, refs: dict[str, str]) -> str:
        target = refs.get("symref:HEAD", "")
        if target.startswith("refs/heads/"):
            return target[len("refs/heads/") :]
        raise UserInputError("the remote does not say its default branch; pass base explicitly")

    def _propose(self, remote: Remote, spec: PullRequestSpec) -> dict[str, Any]:
        """Open (or update) the pull request; the result fields that describe it."""
        with Forge(forge_kind(remote, self.settings), self.settings) as forge:
            pr: PullRequest = forge.open_or_update(spec)
        return {"pr_url": pr.url, "pr_number": pr.number, "pr_created": pr.created}

    # -- commit_and_push --------------------------------------------------------------------------------
    def commit_and_push(
        self,
        repo_root: Path,
        paths: Sequence[str],
        message: str,
        branch: str | None = None,
        mode: Mode = "push",
        base: str | None = None,
        draft: bool = False,
        labels: Sequence[str] = (),
    ) -> CommitResult:
        message = _check_message(message)
        if branch is not None:
            check_ref(branch)
        if base is not None:
            check_ref(base, "base")
        with GitRepo(repo_root, self.settings.git_timeout_seconds) as repo:
            files = self._paths(repo, paths)
            remote = self._origin(repo)
            env = git_env(remote, self.settings)
            if mode == "push":
                return self._push_mode(repo, remote, env, files, message, branch)
            return self._pr_mode(repo, remote, env, files, message, branch, base, draft, labels)

    def _push_mode(
        self, repo: GitRepo, remote: Remote, env: dict[str, str], files: list[str], message: str, branch: str | None
    ) -> CommitResult:
        current = repo.current_branch()
        if current is None:
            raise UserInputError("HEAD is detached; check out a branch, or use mode=pull_request")
        target = branch or current
        if target != current:
            raise UserInputError(
                f"mode=push commits on the checked-out branch ({current}), not {target}; check out {target} "
                "or use mode=pull_request"
            )
        repo.ls_remote(remote.url, env, f"refs/heads/{target}")  # credentials checked before any change
        sha = repo.commit_paths(files, message, repo.identity(self._who))
        if sha is None:
            return CommitResult(
                status="no_changes",
                branch=target,
                remote=remote.url,
                files=files,
                message=f"no changes in {', '.join(files)}; nothing committed",
            )
        for attempt in range(1, self.settings.push_attempts + 1):
            try:
                pushed = repo.push(remote.url, f"HEAD:refs/heads/{target}", env)
            except PushRefused as exc:
                raise self._undo_refused(repo, target, files, exc) from None
            if pushed:
                head = repo.rev("HEAD")
                return CommitResult(
                    status="pushed",
                    commit_sha=head,
                    branch=target,
                    remote=remote.url,
                    attempts=attempt,
                    files=files,
                    message=f"committed {head and head[:12]} and pushed to {target}",
                )
            repo.fetch(remote.url, [f"+refs/heads/{target}:{PRIVATE}/remote/{target}"], env)
            before = repo.rev("HEAD") or sha
            if not repo.rebase(f"{PRIVATE}/remote/{target}"):
                keep = f"gitops-mcp/unpushed-{before[:8]}"
                repo.create_branch(keep, before)
                raise PushConflict(
                    f"the remote branch {target} changed the same lines; rebasing conflicted and was aborted. "
                    f"Your commit {before[:12]} is still on {target} and also kept on the local branch {keep}. "
                    "Resolve it by hand (git pull --rebase) and push again",
                    keep,
                    before,
                )
        raise GitError(
            f"the push to {target} was still rejected after {self.settings.push_attempts} rebase rounds; "
            "the remote changes too fast, try again"
        )

    def _undo_refused(self, repo: GitRepo, target: str, files: list[str], exc: PushRefused) -> PushRefused:
        """The remote refused the update itself (a protected branch, a hook): retrying cannot help.
        Take our commit off the branch again (kept on a named branch), so the branch does not
        diverge from the remote; the files stay changed in the working tree."""
        sha = repo.rev("HEAD") or ""
        keep = f"gitops-mcp/unpushed-{sha[:8]}"
        repo.create_branch(keep, sha)
        where = (
            f"Nothing was pushed; the commit was taken off {target} again and kept on the local branch {keep}, "
            "and your changes are still in the working tree"
            if repo.uncommit(files)
            else f"Nothing was pushed; the commit {sha[:12]} stays on {target} and is kept on {keep}"
        )
        return PushRefused(
            f"the remote refused the push to {target}: {exc.reason}. {where}. If {target} is protected, "
            "propose the change instead: mode=pull_request (in the wizard: delivery=pull_request)",
            exc.reason,
        )

    def _pr_mode(
        self,
        repo: GitRepo,
        remote: Remote,
        env: dict[str, str],
        files: list[str],
        message: str,
        branch: str | None,
        base: str | None,
        draft: bool,
        labels: Sequence[str],
    ) -> CommitResult:
        refs = repo.ls_remote(remote.url, env, "HEAD", "refs/heads/*")
        base = base or self._default_branch(refs)
        digest = hashlib.sha256(("\0".join([base, *sorted(files)])).encode()).hexdigest()[:8]
        head = branch or f"gitops-mcp/{_slug(message.splitlines()[0])}-{digest}"
        check_ref(head)
        if head == base:
            raise UserInputError("the pull request branch cannot be the base branch")
        base_sha = refs.get(f"refs/heads/{base}")
        if base_sha is None:
            raise NotFoundError(f"the base branch {base} does not exist on the remote")
        contents: dict[str, bytes | None] = {}
        for rel in files:
            p = repo.root / rel
            contents[rel] = p.read_bytes() if p.exists() else None
        title, body = _title_body(message, files)
        for attempt in range(1, self.settings.push_attempts + 1):
            existing = refs.get(f"refs/heads/{head}")
            specs = [f"+refs/heads/{base}:{PRIVATE}/base"]
            if existing:
                specs.append(f"+refs/heads/{head}:{PRIVATE}/head")
            repo.fetch(remote.url, specs, env)
            parent = existing or base_sha
            sha = repo.commit_files_on(parent, contents, message, repo.identity(self._who))
            if sha is None:
                if not existing:
                    return CommitResult(
                        status="no_changes",
                        branch=head,
                        base=base,
                        remote=remote.url,
                        files=files,
                        message=f"{base} already has these contents; nothing to propose",
                    )
                pr = self._propose(
                    remote, PullRequestSpec(remote.repo_path, head, base, title, body, draft, tuple(labels))
                )
                return CommitResult(
                    status="no_changes",
                    branch=head,
                    base=base,
                    remote=remote.url,
                    files=files,
                    message=f"the pull request branch already has these contents: {pr['pr_url']}",
                    **pr,
                )
            if self._push_new_commit(repo, remote, env, sha, head, "name another pull request branch (branch=...)"):
                pr = self._propose(
                    remote, PullRequestSpec(remote.repo_path, head, base, title, body, draft, tuple(labels))
                )
                verb = "opened" if pr["pr_created"] else "updated"
                return CommitResult(
                    status="pull_request",
                    commit_sha=sha,
                    branch=head,
                    base=base,
                    remote=remote.url,
                    attempts=attempt,
                    files=files,
                    message=f"pushed {sha[:12]} to {head} and {verb} {pr['pr_url']}",
                    **pr,
                )
            refs = repo.ls_remote(remote.url, env, "HEAD", "refs/heads/*")
        raise GitError(f"the push to {head} was still rejected after {self.settings.push_attempts} attempts")

    # -- rollback -----------------------------------------------------------------------------------------
    def rollback(
        self,
        repo_root: Path,
        paths: Sequence[str] = (),
        shas: Sequence[str] = (),
        mode: Mode = "pull_request",
        base: str | None = None,
        message: str | None = None,
        draft: bool = False,
        labels: Sequence[str] = (),
    ) -> RollbackResult:
        if not paths and not shas:
            raise UserInputError("name the app's files (paths) or the commits (shas) to revert")
        if base is not None:
            check_ref(base, "base")
        with GitRepo(repo_root, self.settings.git_timeout_seconds) as repo:
            remote = self._origin(repo)
            env = git_env(remote, self.settings)
            refs = repo.ls_remote(remote.url, env, "HEAD", "refs/heads/*")
            if mode == "push":
                current = repo.current_branch()
                target = base or current
                if target is None:
                    raise UserInputError("HEAD is detached; pass base (the branch to revert on)")
            else:
                target = base or self._default_branch(refs)
            tip = refs.get(f"refs/heads/{target}")
            if tip is None:
                raise NotFoundError(f"the branch {target} does not exist on the remote")
            if repo.is_shallow():  # the clone cache is shallow; a revert needs the history
                repo.run(
                    "fetch",
                    "--quiet",
                    "--unshallow",
                    "--no-tags",
                    "--",
                    remote.url,
                    f"+refs/heads/{target}:{PRIVATE}/base",
                    env=env,
                )
            else:
                repo.fetch(remote.url, [f"+refs/heads/{target}:{PRIVATE}/base"], env)
            files = [str(check_relative(p, "path")) for p in paths]
            if shas:
                reverted = []
                for s in shas:
                    full = repo.rev(check_sha(s))
                    if full is None:
                        raise NotFoundError(f"commit {s} is not known in this repository")
                    if repo.run_full("merge-base", "--is-ancestor", full, tip)[0] != 0:
                        raise UserInputError(f"commit {s} is not on {target}; nothing to revert there")
                    reverted.append(full)
            else:
                reverted = repo.log_paths(tip, files, 1)
                if not reverted:
                    raise NotFoundError(f"no commit on {target} changed {', '.join(files)}")
            subjects = [repo.subject(s) for s in reverted]
            msg = _check_message(
                message or (f'Revert "{subjects[0]}"' if len(reverted) == 1 else f"Revert {len(reverted)} commits")
            )
            msg += "\n" + "\n".join(f"This reverts commit {s}." for s in reverted) + "\n"
            who = repo.identity(self._who)
            for attempt in range(1, self.settings.push_attempts + 1):
                new = repo.revert_on(tip, reverted, msg, who)
                if mode == "push":
                    if self._push_new_commit(
                        repo, remote, env, new, target, f"if {target} is protected, use mode=pull_request"
                    ):
                        if repo.current_branch() == target and repo.rev("HEAD") == tip:
                            repo.run_full("merge", "--ff-only", "--quiet", new)
                        return RollbackResult(
                            status="pushed",
                            commit_sha=new,
                            branch=target,
                            remote=remote.url,
                            attempts=attempt,
                            files=files,
                            reverted=reverted,
                            message=f"reverted {len(reverted)} commit(s) in {new[:12]} on {target}",
                        )
                else:
                    head = f"gitops-mcp/revert-{reverted[0][:8]}"
                    if self._push_new_commit(
                        repo,
                        remote,
                        env,
                        new,
                        head,
                        "the remote refuses gitops-mcp/revert-* branches; allow them, or revert by hand",
                    ):
                        title, body = _title_body(msg, files, "Reverts " + ", ".join(reverted))
                        pr = self._propose(
                            remote, PullRequestSpec(remote.repo_path, head, target, title, body, draft, tuple(labels))
                        )
                        return RollbackResult(
                            status="pull_request",
                            commit_sha=new,
                            branch=head,
                            base=target,
                            remote=remote.url,
                            attempts=attempt,
                            files=files,
                            reverted=reverted,
                            message=f"proposed the revert in {pr['pr_url']}",
                            **pr,
                        )
                refs = repo.ls_remote(remote.url, env, "HEAD", "refs/heads/*")
                tip = refs.get(f"refs/heads/{target}", tip)
                repo.fetch(remote.url, [f"+refs/heads/{target}:{PRIVATE}/base"], env)
            raise GitError(f"the revert push was still rejected after {self.settings.push_attempts} attempts")

    # -- clone cache (see gitops_mcp.git.cache) ---------------------------------------------------------
    def cached_clone(self, url: str) -> Path:
        return self.cache.clone(url)

    def prepare_write(self, repo_root: Path, paths: Sequence[str]) -> None:
        self.cache.prepare_write(repo_root, paths)

    def dir_exists(self, repo_root: Path, rel: str) -> bool:
        return self.cache.dir_exists(repo_root, rel)

    def tree_sha(self, repo_root: Path) -> str:
        return self.cache.tree_sha(repo_root)

    def is_cached(self, path: Path) -> bool:
        return self.cache.contains(path)
