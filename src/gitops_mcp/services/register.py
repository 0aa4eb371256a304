"""Register a committed file's root GitOps objects with the cluster, once, so the controller takes
over (what ``flux create source git`` + ``flux create kustomization`` or ``argocd app create`` do):
the wizard after a push (answer ``register``), and the register_gitops_objects tool."""

from __future__ import annotations

from pathlib import Path

from gitops_mcp.cluster.register import RegisterResult, register_roots, split_roots
from gitops_mcp.errors import ClusterError, UserInputError
from gitops_mcp.manifests.yaml import load_documents
from gitops_mcp.services.repository import Repository
from gitops_mcp.services.shared import Shared


class RegistrationService:
    def __init__(self, shared: Shared) -> None:
        self.shared = shared

    def _apply(self, text: str, file: str, sha: str, provider: str | None, context: str | None) -> RegisterResult:
        roots, skipped = split_roots(load_documents(text, file), self.shared.registry, provider)
        try:
            with self.shared.kube(context) as kube:
                return register_roots(kube, roots, skipped, sha)
        except ClusterError as exc:
            return RegisterResult(ok=False, skipped=skipped, commit_sha=sha, message=f"nothing applied: {exc}")

    def register(self, repo_path: str | Repository, file: str, context: str | None = None) -> RegisterResult:
        """Apply the root GitOps objects of ``file`` as committed and pushed (refused otherwise)."""
        self.shared.require_writable()
        repo = Repository.of(repo_path)  # a git URL: pushed by definition, as on the remote's default branch now
        found, branch, sha = repo.committed_file(self.shared, file)
        if found is None:
            raise UserInputError(f"{file} is not on {branch} of {repo}; commit and push it first")
        return self._apply(found, file, sha, None, context)

    def after_push(
        self, repo_root: Path, file: str, provider: str, sha: str | None, context: str | None = None
    ) -> RegisterResult:
        """The wizard's register step: the roots of ``provider`` in ``file`` as committed in ``sha``,
        the commit just pushed (None: nothing was committed, so the file must already be pushed)."""
        if sha is None:
            try:
                text, sha = self.shared.delivery.committed_file(repo_root, file)
            except UserInputError as exc:
                return RegisterResult(ok=False, message=f"nothing applied: {exc}")
        else:
            text = self.shared.delivery.show(repo_root, sha, file)
        return self._apply(text, file, sha, provider, context)
