"""Error types, grouped by what the caller can do about them.

GitOpsError
├── UserInputError         the caller passed something wrong; the message says what to pass instead
│   ├── PathNotAllowedError    a path outside the allowed roots or the repository
│   └── UnknownProviderError
├── NotFoundError          something named does not exist (session, file, package)
├── PolicyViolation        a manifest breaks a policy or schema rule; nothing was written
├── ReadOnlyError          a write was asked of a read-only server
├── GitError               a git operation failed (message scrubbed of credentials)
│   ├── GitAuthError           the remote refused the credentials (or none were configured)
│   ├── PushConflict           a rebase onto the remote hit a conflict; the commit is kept on a branch
│   ├── PushRefused            the remote refused the update itself (protected branch, hook); nothing pushed
│   └── ForgeError             the GitHub/GitLab API refused a pull/merge request
├── ClusterError           the Kubernetes API refused or failed a request (message says which and why)
│   └── ClusterUnavailable     no cluster configured or reachable
├── StoreUnavailable       the session store (SQLite file, Redis) cannot be reached; other tools still work
└── ConfigError            the server's own configuration is wrong (start-up)

The ``str()`` of every error is what an assistant reads, so messages say what was wrong
and what to do, and never contain a secret.
"""

from __future__ import annotations


class GitOpsError(Exception):
    """Base class of every error this package raises on purpose."""


class UserInputError(GitOpsError):
    """The caller passed a value that cannot be used."""


class PathNotAllowedError(UserInputError):
    """A path is outside the allowed roots, outside the repository, or inside ``.git``."""


class UnknownProviderError(UserInputError):
    """A provider name that is not registered."""


class NotFoundError(GitOpsError):
    """Something that was named does not exist (or is not visible to this caller)."""


class PolicyViolation(GitOpsError):
    """Manifests break schema or policy rules; nothing was written."""

    def __init__(self, message: str, issues: list[str] | None = None) -> None:
        super().__init__(message)
        self.issues = issues or []


class ReadOnlyError(GitOpsError):
    """The server runs read-only and the operation would change something."""


class GitError(GitOpsError):
    """A git command failed; the message has been scrubbed of credentials."""


class GitAuthError(GitError):
    """The remote refused the credentials, or none were configured."""


class PushConflict(GitError):
    """The push was rejected and rebasing onto the remote conflicted; the commit was kept."""

    def __init__(self, message: str, kept_branch: str, commit: str) -> None:
        super().__init__(message)
        self.kept_branch = kept_branch
        self.commit = commit


class PushRefused(GitError):
    """The remote refused the update for a reason of its own (a protected branch, a server hook).

    Unlike a non-fast-forward rejection, retrying will not help. ``reason`` is what the remote said.
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class ForgeError(GitError):
    """The forge API (GitHub, GitLab) refused a request."""


class ClusterError(GitOpsError):
    """The Kubernetes API refused or failed a request."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ClusterUnavailable(ClusterError):
    """No cluster is configured, or it cannot be reached."""


class StoreUnavailable(GitOpsError):
    """The session store cannot be reached or refused the request (the message says where and why)."""


class ConfigError(GitOpsError):
    """The server configuration is invalid."""
