"""Delivery from a private working tree of the clone cache (see :mod:`.workspace`).

The modes of :mod:`.push_mode`, :mod:`.pr_mode` and :mod:`.rollback` run there as anywhere else.
What differs: a refused push (or any failed delivery) keeps the change on a named branch of the
cached repository and says where and for how long (:mod:`.kept`); a delivery of the same files
with the same contents by the same caller drops what was kept; and ``commit_and_push`` with a
git URL delivers a kept change, cherry-picked onto the remote's current tip.
"""

from __future__ import annotations

from collections.abc import Sequence

from gitops_mcp.errors import ForgeError, GitAuthError, GitError, NotFoundError, PushConflict, PushRefused
from gitops_mcp.git.kept import Kept, Reason
from gitops_mcp.git.pr_mode import pr_mode
from gitops_mcp.git.publish import Checkout, checked_paths
from gitops_mcp.git.push_mode import push_mode
from gitops_mcp.git.repo import GitRepo
from gitops_mcp.git.results import CommitResult, Mode, RollbackResult
from gitops_mcp.git.rollback import revert
from gitops_mcp.git.workspace import Workspace, Workspaces
from gitops_mcp.paths import check_relative
from gitops_mcp.scrub import scrub


def commit_in(
    wss: Workspaces,
    ws: Workspace,
    paths: Sequence[str],
    message: str,
    branch: str | None,
    mode: Mode,
    base: str | None,
    draft: bool,
    labels: Sequence[str],
) -> CommitResult:
    """Commit ``paths`` of the working tree and push them to its branch, or propose them (base:
    its branch); nothing is lost if that fails."""
    with ws.repo() as repo:
        files = checked_paths(repo, paths, wss.settings)
        co = ws.checkout(repo, wss.cache)
        try:
            if mode == "push":
                result = push_mode(co, files, message, branch)
            else:
                result = pr_mode(co, files, message, branch, base or ws.branch, draft, labels)
        except GitError as exc:
            kept = _keep(wss, ws, repo, co, files, message, "refused", base if mode == "pull_request" else None)
            if kept is None:
                raise
            raise _with_kept(exc, kept) from None
        with wss.cache.locked(ws.dest):
            wss.kept.drop_delivered(repo, ws.dest, ws.owner, files)
        return result


def rollback_in(
    wss: Workspaces,
    ws: Workspace,
    paths: Sequence[str],
    shas: Sequence[str],
    mode: Mode,
    base: str | None,
    message: str | None,
    draft: bool,
    labels: Sequence[str],
) -> RollbackResult:
    """The revert, built on the remote tip as from a local clone (a refused push is simply retried:
    the revert is computed again, nothing to keep)."""
    with ws.repo() as repo:
        return revert(ws.checkout(repo, wss.cache), paths, shas, mode, base, message, draft, labels)


def keep_written(wss: Workspaces, ws: Workspace, paths: Sequence[str], message: str) -> Kept | None:
    """Keep files written into the working tree (there is no working tree of the caller's own to
    leave them in); None when the remote tip already has them."""
    with ws.repo() as repo:
        files = checked_paths(repo, paths, wss.settings)
        return _keep(wss, ws, repo, ws.checkout(repo, wss.cache), files, message, "written", None)


def deliver_kept(
    wss: Workspaces,
    url: str,
    owner: str,
    paths: Sequence[str],
    message: str,
    branch: str | None,
    mode: Mode,
    base: str | None,
    draft: bool,
    labels: Sequence[str],
) -> CommitResult:
    """``commit_and_push`` given a git URL: the change ``owner`` kept for exactly ``paths``,
    cherry-picked onto the remote's current tip of its branch (or ``branch`` to push to / ``base``
    to propose to), then pushed or proposed; dropped once delivered."""
    rels = [str(check_relative(p, "path")) for p in paths]
    dest = wss.cache.destination(wss.cache.remote(url))
    kept = wss.kept.find(dest, owner, rels)
    if kept is None:
        mine = wss.kept.listed(dest, owner)
        listing = "; ".join(f"{k.files} on {k.branch}" for k in mine) if mine else "none is kept for you"
        raise NotFoundError(
            f"nothing to commit for {rels} in {url}: with a git URL, commit_and_push delivers the change kept for "
            "exactly these paths in the server's clone cache (by write_manifests, the wizard's delivery=write, or "
            f"a refused push); kept: {listing}"
        )
    target = (branch if mode == "push" else base) or kept.target
    with wss.open(url, target, owner) as ws:
        with ws.repo() as repo:
            code, out, err = repo.run_full("cherry-pick", "--no-commit", kept.sha)
            if code != 0:
                raise GitError(
                    f"the change kept on {kept.branch} conflicts with {ws.branch} at {ws.tip[:12]} "
                    f"({scrub(err or out).strip()[-300:]}); it stays kept. Make it again on the current "
                    "branch (e.g. remediate or write_manifests once more)"
                )
        return commit_in(wss, ws, rels, message, None, mode, ws.branch, draft, labels)


def _keep(
    wss: Workspaces,
    ws: Workspace,
    repo: GitRepo,
    co: Checkout,
    files: Sequence[str],
    message: str,
    reason: Reason,
    target: str | None,
) -> Kept | None:
    contents: dict[str, bytes | None] = {}
    for rel in files:
        p = repo.root / rel
        contents[rel] = p.read_bytes() if p.is_file() else None
    with wss.cache.locked(ws.dest):
        return wss.kept.keep(
            repo,
            ws.dest,
            url=ws.remote.url,
            target=target or ws.branch,
            base=ws.tip,
            contents=contents,
            message=message,
            who=co.who,
            owner=ws.owner,
            reason=reason,
        )


def _with_kept(exc: GitError, kept: Kept) -> GitError:
    """``exc`` saying that nothing is lost: where the change is kept, and how to deliver it."""
    text = f"{str(exc).rstrip('. ')}. Nothing is lost: {kept.sentence()}"
    if isinstance(exc, PushConflict):
        return PushConflict(text, kept.branch, kept.sha)
    if isinstance(exc, PushRefused):
        return PushRefused(text, exc.reason)
    if isinstance(exc, GitAuthError | ForgeError):
        return type(exc)(text)
    return GitError(text)
