"""Push mode: commit on the checked-out branch and push it, rebasing and retrying when rejected.

A conflicting rebase is aborted and the commit kept on a named local branch; a push the remote
refuses outright takes the commit off the branch again. In a private working tree of the clone
cache (``Checkout.target``) there is nothing to undo: the caller keeps the change (see
:mod:`gitops_mcp.git.workspace`).
"""

from __future__ import annotations

from gitops_mcp.caller import sign
from gitops_mcp.errors import GitError, PushConflict, PushRefused, UserInputError
from gitops_mcp.git.publish import Checkout
from gitops_mcp.git.repo import GitRepo
from gitops_mcp.git.results import CommitResult

PROPOSE = "propose the change instead: mode=pull_request (in the wizard: delivery=pull_request)"


def _target(co: Checkout, branch: str | None) -> str:
    if co.target is not None:  # a private working tree, detached at the tip of co.target
        if branch is not None and branch != co.target:
            raise UserInputError(
                f"mode=push commits on {co.target}, the branch this working tree follows, not {branch}"
            )
        return co.target
    current = co.repo.current_branch()
    if current is None:
        raise UserInputError("HEAD is detached; check out a branch, or use mode=pull_request")
    target = branch or current
    if target != current:
        raise UserInputError(
            f"mode=push commits on the checked-out branch ({current}), not {target}; check out {target} "
            "or use mode=pull_request"
        )
    return target


def push_mode(co: Checkout, files: list[str], message: str, branch: str | None) -> CommitResult:
    """Commit ``files`` on the checked-out branch and push it; a rejected push is rebased and retried."""
    repo, remote, env = co.repo, co.remote, co.env
    target = _target(co, branch)
    if co.target is None:  # a private working tree was just fetched with them
        repo.ls_remote(remote.url, env, f"refs/heads/{target}")  # credentials checked before any change
    sha = repo.commit_paths(files, sign(message), co.who)
    if sha is None:
        return CommitResult(
            status="no_changes",
            branch=target,
            remote=remote.url,
            files=files,
            message=f"no changes in {', '.join(files)}; nothing committed",
        )
    fetched = f"{co.private}/remote/{target}"
    for attempt in range(1, co.settings.push_attempts + 1):
        try:
            pushed = repo.push(remote.url, f"HEAD:refs/heads/{target}", env)
        except PushRefused as exc:
            if co.target is not None:
                raise PushRefused(
                    f"the remote refused the push to {target}: {exc.reason}. Nothing was pushed. If {target} is "
                    f"protected, {PROPOSE}",
                    exc.reason,
                ) from None
            raise _undo_refused(repo, target, files, exc) from None
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
        co.fetch([f"+refs/heads/{target}:{fetched}"])
        before = repo.rev("HEAD") or sha
        if not repo.rebase(fetched):
            said = f"the remote branch {target} changed the same lines; rebasing conflicted and was aborted"
            if co.target is not None:
                raise PushConflict(f"{said}. Nothing was pushed", "", before)
            keep = f"gitops-mcp/unpushed-{before[:8]}"
            repo.create_branch(keep, before)
            raise PushConflict(
                f"{said}. Your commit {before[:12]} is still on {target} and also kept on the local branch {keep}. "
                "Resolve it by hand (git pull --rebase) and push again",
                keep,
                before,
            )
    raise GitError(
        f"the push to {target} was still rejected after {co.settings.push_attempts} rebase rounds; "
        "the remote changes too fast, try again"
    )


def _undo_refused(repo: GitRepo, target: str, files: list[str], exc: PushRefused) -> PushRefused:
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
        f"the remote refused the push to {target}: {exc.reason}. {where}. If {target} is protected, {PROPOSE}",
        exc.reason,
    )
