"""A file exactly as it is committed and pushed: what may be applied to a cluster from Git."""

from __future__ import annotations

from gitops_mcp.errors import UserInputError
from gitops_mcp.git.publish import Checkout
from gitops_mcp.paths import check_relative


def committed_file(co: Checkout, file: str) -> tuple[str, str]:
    """(the text of ``file`` at HEAD, the HEAD commit), when the working tree has no change to it and
    the remote branch has the same version of it (what its controller will fetch).

    Raises:
        UserInputError: uncommitted changes, not committed, detached HEAD, or not pushed.
    """
    repo = co.repo
    rel = str(check_relative(file, "file"))
    if repo.changed([rel]):
        raise UserInputError(f"{rel} has uncommitted changes; commit and push it first (commit_and_push)")
    head = repo.rev("HEAD")
    blob = repo.run_full("rev-parse", "--verify", "--quiet", "--end-of-options", f"HEAD:{rel}")[1].strip()
    if head is None or not blob:
        raise UserInputError(f"{rel} is not committed; commit and push it first (commit_and_push)")
    branch = co.target or repo.current_branch()
    if branch is None:
        raise UserInputError("HEAD is detached; check out the branch the file is pushed to")
    ref = f"refs/heads/{branch}"
    remote_head = repo.ls_remote(co.remote.url, co.env, ref).get(ref)
    if remote_head is None:
        raise UserInputError(f"the branch {branch} is not on the remote; push it first (commit_and_push)")
    if repo.rev(remote_head) is None:
        co.fetch([f"+{ref}:{co.private}/remote/{branch}"])
    pushed = repo.run_full("rev-parse", "--verify", "--quiet", "--end-of-options", f"{remote_head}:{rel}")[1].strip()
    if pushed != blob:
        state = "is not pushed" if not pushed else "differs on the remote"
        raise UserInputError(
            f"{rel} {state} ({branch} is at {remote_head[:12]} there); push it (or pull) first, so that the "
            "cluster gets what its controller fetches"
        )
    return repo.run("show", f"{head}:{rel}"), head
