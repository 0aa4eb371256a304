"""Session state (what is stored) and the view a client gets back."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, Field, field_validator

from gitops_mcp.cluster.ops import Follow, WaitResult
from gitops_mcp.cluster.register import RegisterResult
from gitops_mcp.detection.models import Package
from gitops_mcp.errors import UserInputError
from gitops_mcp.manifests.preflight import PackageCheck
from gitops_mcp.manifests.validation import ValidationResult
from gitops_mcp.model import Model
from gitops_mcp.providers.base import ExistingOwner, ExistingSource, ObjectSummary
from gitops_mcp.providers.effects import LiveEffect
from gitops_mcp.providers.live import Applier, ObjectRef
from gitops_mcp.questions import AnswerError, Question, as_text
from gitops_mcp.syntax import MAX_FREE_TEXT

Step = Literal["package", "provider", "common", "provider_options", "output", "preview", "done"]
STEPS: tuple[Step, ...] = ("package", "provider", "common", "provider_options", "output", "preview", "done")
Status = Literal["open", "done", "cancelled"]


class ClusterApplier(Model):
    """An object in the cluster that applies a directory of a Git repository (see :class:`Applier`)."""

    ref: ObjectRef
    repo_url: str
    path: str = Field(description="Repository-relative directory, '' for the root")

    def applier(self) -> Applier:
        return Applier(ref=self.ref, repo_url=self.repo_url, path=self.path)

    def describe(self) -> str:
        return f"{self.ref.kind} {self.ref.namespace}/{self.ref.name} (applies ./{self.path})"


class SessionContext(Model):
    """What the session knows about the repository (captured when it starts)."""

    repo_root: str | None = Field(None, description="Absolute path of the local repository, if any")
    source_url: str | None = Field(
        None,
        description="The git URL the session started from (each server reads its own clone; delivery: a worktree)",
    )
    scan_path: str | None = None
    origin_url: str | None = None
    branch: str | None = None
    default_branch: str | None = None
    tags: list[str] = Field(default_factory=list)
    packages: list[Package] = Field(default_factory=list)
    existing_sources: list[ExistingSource] = Field(default_factory=list)
    output_dirs: dict[str, list[str]] = Field(
        default_factory=dict, description="Per provider: directories already holding its manifests, best first"
    )
    repo_appliers: dict[str, list[ExistingOwner]] = Field(
        default_factory=dict, description="Per provider: its committed objects applying a directory of this repository"
    )
    applied_dirs: dict[str, list[str]] = Field(
        default_factory=dict, description="Per provider: directories of this repository its committed objects apply"
    )
    intent: str | None = None
    provider_hint: str | None = None
    delivery_options: list[str] = Field(default_factory=list, description="What delivery can do here")
    can_wait: bool = False
    clusters: list[str] = Field(default_factory=list, description="Contexts to choose among (several configured)")
    cluster_appliers: list[ClusterApplier] | None = Field(
        None, description="What in the cluster applies a directory of a Git repository (None: not known)"
    )
    cluster_namespaces: list[str] | None = Field(None, description="Namespaces the cluster has (None: not known)")

    @field_validator("intent")
    @classmethod
    def _intent(cls, v: str | None) -> str | None:
        """Free text of at most MAX_FREE_TEXT characters (a UserInputError, not a ValidationError)."""
        if v is None:
            return None
        try:
            as_text(v, MAX_FREE_TEXT, "the intent")
        except AnswerError as exc:
            raise UserInputError(str(exc)) from None
        return v


class Preview(Model):
    provider: str
    output_path: str
    yaml: str
    objects: list[ObjectSummary]
    notes: list[str] = Field(default_factory=list)
    diff: str = Field(description="Diff against the existing file ('' when identical, or new: all of yaml)")
    file_exists: bool
    validation: ValidationResult
    package_check: PackageCheck | None = Field(
        None, description="Whether the package itself builds (kustomize build / helm template); None: not checked"
    )
    live_effect: LiveEffect | None = Field(None, description="What applying it would do (server-side dry run)")

    def digest(self) -> str:
        """What the user reviews: the target, the YAML and the change to the file."""
        import hashlib

        return hashlib.sha256("\0".join((self.output_path, self.yaml, self.diff)).encode()).hexdigest()


class DeliveryResult(Model):
    action: Literal["write", "push", "pull_request"]
    file: str
    changed: bool
    diff: str = Field(description="What was written beyond the preview ('' when it is the preview)")
    message: str
    commit_sha: str | None = None
    branch: str | None = None
    pr_url: str | None = None
    live: bool | None = Field(None, description="The controller applied the commit and the workload is healthy")
    verification: list[WaitResult] = Field(default_factory=list, description="The waits behind 'live'")
    registered: RegisterResult | None = Field(None, description="register: the root objects applied after the push")
    follow: Follow | None = Field(None, description="pull_request: the wait_for_sync call to follow it to live")


class SessionState(Model):
    """Everything persisted for one session; JSON-serialisable."""

    id: str
    principal: str = Field(validation_alias=AliasChoices("principal", "owner"))
    """Who opened it (the authenticated caller); stored sessions of older versions say ``owner``."""
    created_at: float
    updated_at: float
    expires_at: float
    status: Status = "open"
    step: Step = "package"
    context: SessionContext
    answers: dict[str, Any] = Field(default_factory=dict)
    pending: dict[str, Any] = Field(default_factory=dict, description="Answers given ahead of their step")
    defaulted: list[str] = Field(default_factory=list, description="Answers that were taken from defaults")
    preview: Preview | None = None
    shown: str | None = Field(None, description="Digest of the preview last returned to the caller")
    preview_of: str | None = Field(None, description="The answers the preview was built from (see preview_key)")
    result: DeliveryResult | None = None
    version: int = 0


class SessionView(Model):
    """What ``start_deployment`` / ``answer_questions`` / ``get_session`` return."""

    session_id: str
    status: Status
    step: Step
    questions: list[Question] = Field(description="Open questions of the current step; answer by id")
    answers: dict[str, Any] = Field(description="Answers accepted so far")
    errors: dict[str, str] = Field(default_factory=dict, description="Answers refused in this call, by id")
    ignored: list[str] = Field(default_factory=list, description="Answers that no question of this flow uses")
    preview: Preview | None = None
    result: DeliveryResult | None = None
    packages: list[Package] | None = Field(None, description="Detected packages (first response only)")
    next: str = Field(description="What to do next")
    expires_at: float


class SessionSummary(Model):
    session_id: str
    status: Status
    step: Step
    app_name: str | None
    provider: str | None
    package: str | None
    updated_at: float
    expires_at: float


class SessionList(Model):
    sessions: list[SessionSummary]
    more: bool = False  # older sessions exist beyond the limit
