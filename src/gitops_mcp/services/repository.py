"""The repository a call works on, decided once from what the caller passed and handed down:
a local checkout (:class:`LocalRepository`, a directory under the allowed roots) or a git URL
(:class:`RemoteRepository`, read from the server's clone cache and changed in a working tree of
its own). What differs between the two is said here, once; the use cases ask the object.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from gitops_mcp.errors import PathNotAllowedError
from gitops_mcp.git.info import read_repo_info
from gitops_mcp.paths import PRIVATE_REFUSAL, is_private, resolve_allowed

if TYPE_CHECKING:
    from gitops_mcp.git.delivery import CommitResult, GitDelivery
    from gitops_mcp.settings import Settings

T = TypeVar("T")


class Shared(Protocol):
    """What a repository is worked on with (:class:`~gitops_mcp.services.shared.Shared` is it)."""

    @property
    def delivery(self) -> GitDelivery: ...

    @property
    def roots(self) -> list[Path]: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def private_dirs(self) -> list[Path]: ...


@dataclass(frozen=True)
class Tree:
    """Where a write flow works: a local repository, or a private working tree of the clone cache
    for a git URL (``url`` set, at commit ``tip`` of the remote ``branch``)."""

    root: Path
    url: str | None = None
    branch: str | None = None
    tip: str | None = None


class Repository(ABC):
    """A local checkout or a git URL (:meth:`of` tells which, once)."""

    url: str | None
    """The git URL (None: a local checkout)."""

    @staticmethod
    def of(given: str | Repository) -> Repository:
        """What a caller passed (a path or a git URL), as the repository it names."""
        if isinstance(given, Repository):
            return given
        if "://" in given or given.strip().startswith("git@"):
            return RemoteRepository(given.strip())
        return LocalRepository(given)

    @abstractmethod
    def computes_only(self) -> bool:
        """Whether reading it only reads local files (no clone or fetch)."""

    @abstractmethod
    def local_dir(self, shared: Shared) -> Path:
        """A local directory with its files (a git URL: its cached clone, made or refreshed)."""

    @abstractmethod
    def reading(self, shared: Shared) -> contextlib.AbstractContextManager[Path]:
        """:meth:`local_dir`, held in use while the block runs (a cached clone is never evicted then)."""

    @abstractmethod
    def working_tree(
        self, shared: Shared, principal: str, branch: str | None
    ) -> contextlib.AbstractContextManager[Tree]:
        """Where a write flow works: a local checkout's repository as it is; for a git URL, a fresh
        working tree of the clone cache at the remote's tip of ``branch`` (default: its default
        branch), private to this call and removed afterwards."""

    @abstractmethod
    def committed_file(self, shared: Shared, file: str) -> tuple[str | None, str, str]:
        """``file`` as committed and pushed: (text or None when absent, branch, commit SHA)."""

    @abstractmethod
    def deliver(self, shared: Shared, principal: str, paths: list[str], message: str, **how: Any) -> CommitResult:
        """Commit ``paths`` and push or propose them (``how``: branch, mode, base, draft, labels): a
        local checkout's working tree; for a git URL, the change kept for exactly those paths."""

    @abstractmethod
    def write(
        self, shared: Shared, principal: str, paths: Sequence[str], write: Callable[[Path], T]
    ) -> tuple[T, Tree, str | None]:
        """Write ``paths`` with ``write(root)``: into a local checkout's working tree; for a git URL,
        in a working tree of its own and kept on a branch for commit_and_push. (its result, the
        tree, where it was kept)."""

    def __str__(self) -> str:
        return self.url or str(getattr(self, "path", ""))


@dataclass(frozen=True)
class LocalRepository(Repository):
    path: str
    url: str | None = None

    def computes_only(self) -> bool:
        return True

    def local_dir(self, shared: Shared) -> Path:
        found = resolve_allowed(self.path, shared.settings.allowed_roots, private=shared.private_dirs)
        info = read_repo_info(found)  # a .git file may lead into the cache's repositories
        if info is not None and is_private(str(info.git_dir), shared.private_dirs):
            raise PathNotAllowedError(PRIVATE_REFUSAL)
        return found

    @contextlib.contextmanager
    def reading(self, shared: Shared) -> Iterator[Path]:
        yield self.local_dir(shared)

    @contextlib.contextmanager
    def working_tree(self, shared: Shared, principal: str, branch: str | None) -> Iterator[Tree]:
        directory = self.local_dir(shared)
        info = read_repo_info(directory)
        yield Tree(info.root if info else directory)

    def root(self, shared: Shared) -> Path:
        directory = self.local_dir(shared)
        info = read_repo_info(directory)
        return info.root if info else directory

    def committed_file(self, shared: Shared, file: str) -> tuple[str | None, str, str]:
        text, sha = shared.delivery.committed_file(self.root(shared), file)
        return text, "", sha

    def deliver(self, shared: Shared, principal: str, paths: list[str], message: str, **how: Any) -> CommitResult:
        return shared.delivery.commit_and_push(
            self.local_dir(shared),
            paths,
            message,
            how.get("branch"),
            how.get("mode", "push"),
            how.get("base"),
            how.get("draft", False),
            how.get("labels") or [],
        )

    def write(
        self, shared: Shared, principal: str, paths: Sequence[str], write: Callable[[Path], T]
    ) -> tuple[T, Tree, str | None]:
        root = self.local_dir(shared)
        shared.delivery.prepare_write(root, list(paths))
        return write(root), Tree(root), None


@dataclass(frozen=True)
class RemoteRepository(Repository):
    url: str

    def computes_only(self) -> bool:
        return False

    def local_dir(self, shared: Shared) -> Path:
        return shared.delivery.cached_clone(self.url).resolve()

    @contextlib.contextmanager
    def reading(self, shared: Shared) -> Iterator[Path]:
        with shared.delivery.cache.using(self.url) as dest:
            yield dest.resolve()

    @contextlib.contextmanager
    def working_tree(self, shared: Shared, principal: str, branch: str | None) -> Iterator[Tree]:
        with shared.delivery.workspace(self.url, branch, principal) as ws:
            yield Tree(ws.root, ws.remote.url, ws.branch, ws.tip)

    def committed_file(self, shared: Shared, file: str) -> tuple[str | None, str, str]:
        return shared.delivery.tip_file(self.url, None, file)

    def deliver(self, shared: Shared, principal: str, paths: list[str], message: str, **how: Any) -> CommitResult:
        return shared.delivery.deliver_kept(
            self.url,
            principal,
            paths,
            message,
            how.get("branch"),
            how.get("mode", "push"),
            how.get("base"),
            how.get("draft", False),
            how.get("labels") or [],
        )

    def write(
        self, shared: Shared, principal: str, paths: Sequence[str], write: Callable[[Path], T]
    ) -> tuple[T, Tree, str | None]:
        with self.working_tree(shared, principal, None) as tree:  # kept on a branch: no working tree to stay in
            result = write(tree.root)
            kept = shared.delivery.keep_written(tree.root, list(paths), f"Write {', '.join(paths)}")
        return result, tree, kept.sentence() if kept else f"{tree.branch} already has exactly this content"


__all__ = ["LocalRepository", "RemoteRepository", "Repository", "Tree"]
