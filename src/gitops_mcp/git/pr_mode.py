"""Pull request mode: never touches the working tree, index or checked-out branch.

The commit is built with plumbing on the remote base (or the existing pull request branch) and
pushed to ``gitops-mcp/<slug>-<id>``, a name that is the same for the same files and base, so a
re-run updates the open pull request instead of opening another.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from gitops_mcp.caller import sign
from gitops_mcp.errors import GitError, NotFoundError, UserInputError
from gitops_mcp.git.forge import PullRequestSpec
from gitops_mcp.git.publish import Checkout, default_branch, slug, title_body
from gitops_mcp.git.repo import check_ref
from gitops_mcp.git.results import CommitResult


def pr_mode(
    co: Checkout,
    files: list[str],
    message: str,
    branch: str | None,
    base: str | None,
    draft: bool,
    labels: Sequence[str],
) -> CommitResult:
    """Commit ``files`` (as in the working tree) on the remote base, or on the open pull request's
    branch, without touching the working tree; push it and open or update the pull request."""
    repo, remote = co.repo, co.remote
    refs = co.heads()
    base = base or co.target or default_branch(refs)
    digest = hashlib.sha256(("\0".join([base, *sorted(files)])).encode()).hexdigest()[:8]
    head = branch or f"gitops-mcp/{slug(message.splitlines()[0])}-{digest}"
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
    title, body = title_body(message, files)
    proposal = PullRequestSpec(remote.repo_path, head, base, title, body, draft, tuple(labels))
    for attempt in range(1, co.settings.push_attempts + 1):
        existing = refs.get(f"refs/heads/{head}")
        specs = [f"+refs/heads/{base}:{co.private}/base"]
        if existing:
            specs.append(f"+refs/heads/{head}:{co.private}/head")
        co.fetch(specs)
        parent = existing or base_sha
        sha = repo.commit_files_on(parent, contents, sign(message), co.who)
        if sha is None:  # nothing new: the base (no pull request then) or the open one has it all
            pr = co.propose(proposal) if existing else {}
            return CommitResult(
                status="no_changes",
                branch=head,
                base=base,
                remote=remote.url,
                files=files,
                message=f"the pull request branch already has these contents: {pr['pr_url']}"
                if existing
                else f"{base} already has these contents; nothing to propose",
                **pr,
            )
        if co.push_new_commit(sha, head, "name another pull request branch (branch=...)"):
            pr = co.propose(proposal)
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
        refs = co.heads()
    raise GitError(f"the push to {head} was still rejected after {co.settings.push_attempts} attempts")
