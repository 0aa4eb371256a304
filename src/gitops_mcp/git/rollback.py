"""Rollback: revert the commits that changed an app's files (or given commits) on a branch.

The revert is built with plumbing on the remote branch's tip, then pushed to the branch (mode
push) or proposed from ``gitops-mcp/revert-<sha>`` (mode pull_request).
"""

from __future__ import annotations

from collections.abc import Sequence

from gitops_mcp.caller import sign
from gitops_mcp.errors import GitError, NotFoundError, UserInputError
from gitops_mcp.git.forge import PullRequestSpec
from gitops_mcp.git.publish import Checkout, check_message, default_branch, title_body
from gitops_mcp.git.repo import GitRepo, check_sha
from gitops_mcp.git.results import Mode, RollbackResult
from gitops_mcp.paths import check_relative


def revert(
    co: Checkout,
    paths: Sequence[str],
    shas: Sequence[str],
    mode: Mode,
    base: str | None,
    message: str | None,
    draft: bool,
    labels: Sequence[str],
) -> RollbackResult:
    """Revert ``shas`` (or the last commit that changed ``paths``) on ``base``."""
    repo, remote = co.repo, co.remote
    refs = co.heads()
    if mode == "push":
        current = co.target or repo.current_branch()
        target = base or current
        if target is None:
            raise UserInputError("HEAD is detached; pass base (the branch to revert on)")
    else:
        target = base or co.target or default_branch(refs)
    tip = refs.get(f"refs/heads/{target}")
    if tip is None:
        raise NotFoundError(f"the branch {target} does not exist on the remote")
    base_ref = f"{co.private}/base"
    co.fetch([f"+refs/heads/{target}:{base_ref}"], unshallow=True)  # the clone cache is shallow; a revert needs history
    files = [str(check_relative(p, "path")) for p in paths]
    reverted = _to_revert(repo, tip, target, files, shas)
    subjects = [repo.subject(s) for s in reverted]
    msg = check_message(
        message or (f'Revert "{subjects[0]}"' if len(reverted) == 1 else f"Revert {len(reverted)} commits")
    )
    msg += "\n" + "\n".join(f"This reverts commit {s}." for s in reverted) + "\n"
    who = co.who
    for attempt in range(1, co.settings.push_attempts + 1):
        new = repo.revert_on(tip, reverted, sign(msg), who)
        if mode == "push":
            if co.push_new_commit(new, target, f"if {target} is protected, use mode=pull_request"):
                if co.target is None and repo.current_branch() == target and repo.rev("HEAD") == tip:
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
            if co.push_new_commit(
                new,
                head,
                "the remote refuses gitops-mcp/revert-* branches; allow them, or revert by hand",
            ):
                title, body = title_body(msg, files, "Reverts " + ", ".join(reverted))
                pr = co.propose(PullRequestSpec(remote.repo_path, head, target, title, body, draft, tuple(labels)))
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
        refs = co.heads()
        tip = refs.get(f"refs/heads/{target}", tip)
        co.fetch([f"+refs/heads/{target}:{base_ref}"])
    raise GitError(f"the revert push was still rejected after {co.settings.push_attempts} attempts")


def _to_revert(repo: GitRepo, tip: str, target: str, files: list[str], shas: Sequence[str]) -> list[str]:
    """The full SHAs of ``shas`` (each must be on ``target``), else the last commit that changed ``files``."""
    if not shas:
        reverted = repo.log_paths(tip, files, 1)
        if not reverted:
            raise NotFoundError(f"no commit on {target} changed {', '.join(files)}")
        return reverted
    out = []
    for s in shas:
        full = repo.rev(check_sha(s))
        if full is None:
            raise NotFoundError(f"commit {s} is not known in this repository")
        if repo.run_full("merge-base", "--is-ancestor", full, tip)[0] != 0:
            raise UserInputError(f"commit {s} is not on {target}; nothing to revert there")
        out.append(full)
    return out
