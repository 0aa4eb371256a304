"""The parts every use case shares, built once per server: settings, the provider registry,
the session store, git delivery and the clone cache, and the cluster client factory.

Plain Python: nothing here (or anywhere in ``services``) knows about MCP.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from gitops_mcp.audit import AuditLog
from gitops_mcp.clock import SYSTEM, Clock
from gitops_mcp.detection import DetectionReport, detect_packages
from gitops_mcp.errors import ReadOnlyError, UserInputError
from gitops_mcp.git.delivery import GitDelivery
from gitops_mcp.git.info import RepoInfo, read_repo_info
from gitops_mcp.providers.registry import ProviderRegistry
from gitops_mcp.services.repository import Repository, Tree
from gitops_mcp.sessions.backends import open_store
from gitops_mcp.sessions.store import SessionStore
from gitops_mcp.settings import Settings

if TYPE_CHECKING:
    from gitops_mcp.manifests.validation import CrdSchemas

DETECTION_CACHE_SIZE = 16


class Shared:
    """What the use cases have in common. One instance per server."""

    def __init__(self, settings: Settings, registry: ProviderRegistry, clock: Clock = SYSTEM) -> None:
        self.settings = settings
        self.registry = registry
        self.clock = clock  # what every wait and retry reads (tests advance their own)
        self.delivery = GitDelivery(settings)
        self.audit = AuditLog(settings.audit_log)
        self._store: SessionStore | None = None
        self._store_lock = threading.Lock()
        self._detections: OrderedDict[tuple[str, str, str], DetectionReport] = OrderedDict()
        self.rules = self.registry.builtin_rules()  # built-in schema rules of every provider
        self.gitops_kinds = self.registry.gitops_kinds()  # what counts as GitOps structure in a repository

    @property
    def store(self) -> SessionStore:
        if self._store is None:
            with self._store_lock:
                if self._store is None:
                    self._store = open_store(self.settings)
        return self._store

    @property
    def store_local(self) -> bool:
        """Whether session reads are local file reads (SQLite), cheap enough for the event loop and
        the few compute threads; Redis is a network call, which may wait (Redis down: a timeout)."""
        return self.settings.redis_target is None

    def close(self) -> None:
        """Close the session store (opened again on next use)."""
        with self._store_lock:
            store, self._store = self._store, None
        if store is not None:
            store.close()

    def require_writable(self) -> None:
        if self.settings.read_only:
            raise ReadOnlyError("the server is read-only")

    # -- cluster ------------------------------------------------------------------------------------------
    def kube(self, context: str | None = None, timeout: float | None = None) -> Any:
        """A new client for the cluster of kubeconfig context ``context`` (default: the configured or
        current one), a context manager. Raises UserInputError for a context not in
        GITOPS_MCP_CLUSTERS, ClusterUnavailable."""
        from gitops_mcp.cluster.client import KubeClient
        from gitops_mcp.cluster.contexts import check_cluster

        context = check_cluster(self.settings, context)
        settings = self.settings
        if timeout is not None:
            settings = settings.model_copy(update={"kube_timeout_seconds": timeout})
        return KubeClient(settings, context, registry=self.registry, clock=self.clock)

    def cluster_name(self, context: str | None) -> str:
        """The context a call naming ``context`` (or none) uses, by name (for the audit trail)."""
        from gitops_mcp.cluster.contexts import cluster_name

        return cluster_name(self.settings, context)

    def cluster_configured(self) -> bool:
        s = self.settings
        return bool(
            s.kubeconfig
            or os.environ.get("KUBECONFIG")
            or (Path.home() / ".kube/config").exists()
            or os.environ.get("KUBERNETES_SERVICE_HOST")
        )

    def computes_only(self, path: str | Repository | None, asks_cluster: bool) -> bool:
        """Whether work on ``path`` only computes and reads local files: not a git URL (that clones)
        and, for work that would ask the cluster, no cluster configured. The MCP layer runs such
        work on a few threads (see ``server.common.run``)."""
        if path is not None and not Repository.of(path).computes_only():
            return False
        return not (asks_cluster and self.cluster_configured())

    # -- local directories and repositories ---------------------------------------------------------
    @property
    def roots(self) -> list[Path]:
        """Allowed roots plus the clone cache (clones of git URLs live there)."""
        return [*self.settings.allowed_roots, self.delivery.cache.root.resolve()]

    def local_dir(self, path: str | Repository) -> Path:
        """A local directory for ``path``; a git URL is cloned into (or refreshed in) the cache."""
        return Repository.of(path).local_dir(self)

    @property
    def private_dirs(self) -> list[Path]:
        """The server's own directories, never a caller's local path: the clone cache (its
        repositories, working trees and kept changes) and the state directory."""
        return [self.settings.cache_dir, self.settings.state_dir]

    def reading(self, path: str | Repository) -> contextlib.AbstractContextManager[Path]:
        """:meth:`local_dir`; a git URL's cached clone is in use (never evicted) while the block runs."""
        return Repository.of(path).reading(self)

    def working_tree(
        self, repo_path: str | Repository, principal: str = "local", branch: str | None = None
    ) -> contextlib.AbstractContextManager[Tree]:
        """The repository a write flow works in (see :meth:`Repository.working_tree`)."""
        return Repository.of(repo_path).working_tree(self, principal, branch)

    def repo(self, directory: Path) -> tuple[Path, str, RepoInfo | None]:
        """(repository root, prefix of ``directory`` in it, git facts)."""
        info = read_repo_info(directory)
        if info is None:
            return directory, ".", None
        root = info.root
        if not any(root == r or r in root.parents for r in self.roots):
            raise UserInputError(
                f"{directory} is inside the git repository {root}, which is outside the allowed roots; "
                "add the repository to GITOPS_MCP_ALLOWED_ROOTS"
            )
        prefix = directory.relative_to(root).as_posix() if directory != root else "."
        return root, prefix, info

    def scan(self, directory: Path, root: Path, prefix: str) -> DetectionReport:
        """Detection. A cached clone (sparse, no full checkout) is read from its git objects, and
        its result is remembered per tree SHA: the same commit tree gives the same report."""
        if not self.delivery.is_cached(root):
            return detect_packages(directory, prefix, gitops_kinds=self.gitops_kinds)
        from gitops_mcp.git.tree import GitTree

        key = (str(root), prefix, self.delivery.tree_sha(root))
        cached = self._detections.get(key)
        if cached is not None:
            self._detections.move_to_end(key)
            return cached.model_copy(deep=True)
        with GitTree(root, subdir="" if prefix == "." else prefix) as tree:
            report = detect_packages(directory, prefix, tree=tree, gitops_kinds=self.gitops_kinds)
        self._detections[key] = report
        while len(self._detections) > DETECTION_CACHE_SIZE:
            self._detections.popitem(last=False)
        return report.model_copy(deep=True)

    # -- schemas ------------------------------------------------------------------------------------
    def crds(self) -> CrdSchemas | None:
        from gitops_mcp.manifests.validation import load_crd_dir

        return load_crd_dir(self.settings.crd_dir) if self.settings.crd_dir else None

    def schemas(self) -> tuple[CrdSchemas | None, Literal["cluster", "crd_dir"]]:
        """The cluster's own CRD schemas when one is reachable, else GITOPS_MCP_CRD_DIR (else built-in)."""
        if self.cluster_configured():
            from gitops_mcp.cluster.ops import cluster_crd_documents
            from gitops_mcp.errors import ClusterError
            from gitops_mcp.manifests.validation import crd_schemas

            try:
                with self.kube(timeout=5.0) as kube:
                    schemas = crd_schemas(cluster_crd_documents(kube, registry=self.registry))
                if schemas.schemas:
                    return schemas, "cluster"
            except ClusterError:
                pass
        return self.crds(), "crd_dir"
