"""Read-only facts about a local repository, used for the wizard's defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gitops_mcp.git.urls import normalize_git_url


@dataclass(frozen=True)
class RepoInfo:
    root: Path
    origin_url: str | None = None
    branch: str | None = None
    default_branch: str | None = None
    head_sha: str | None = None
    tags: frozenset[str] = field(default_factory=frozenset)
    git_dir: Path | None = None  # the repository's (common) .git directory


def read_repo_info(path: Path) -> RepoInfo | None:
    """Facts about the git repository containing ``path``; None when it is not in one."""
    import git  # GitPython: imported here so that start-up stays light

    try:
        repo = git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    try:
        if repo.bare or repo.working_tree_dir is None:
            return None
        root = Path(repo.working_tree_dir).resolve()
        origin: str | None = None
        default_branch: str | None = None
        raw = repo.config_reader("repository").get_value('remote "origin"', "url", default="")
        if raw:  # credentials, if any, are stripped below
            try:
                origin = normalize_git_url(str(raw))
            except ValueError:
                origin = None
            try:  # refs/remotes/origin/HEAD -> refs/remotes/origin/<default>, read from the refs alone
                target = git.SymbolicReference(repo, "refs/remotes/origin/HEAD").reference.path
                default_branch = target.removeprefix("refs/remotes/origin/") or None
            except (IndexError, AttributeError, TypeError, ValueError, OSError):
                default_branch = None
        branch: str | None
        try:
            branch = repo.active_branch.name
        except TypeError:  # detached HEAD
            branch = None
        try:  # the SHA from the refs alone: no object lookup (GitPython would start `git cat-file`)
            head = git.SymbolicReference.dereference_recursive(repo, "HEAD")
        except ValueError:  # no commits yet
            head = None
        tags = frozenset(t.name for t in repo.tags)
        return RepoInfo(
            root=root,
            origin_url=origin,
            branch=branch,
            default_branch=default_branch,
            head_sha=head,
            tags=tags,
            git_dir=Path(repo.common_dir).resolve(),
        )
    finally:
        repo.close()
