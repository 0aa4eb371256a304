"""What the wizard's steps are computed with (the registry, policy and the repository's callbacks)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gitops_mcp.detection.facts import PackageFacts
from gitops_mcp.manifests.preflight import PackageCheck
from gitops_mcp.providers.registry import ProviderRegistry
from gitops_mcp.settings import PolicySettings

MAX_SELECT_OPTIONS = 60
PREVIEW_QUESTION_IDS = ("delivery", "cluster", "wait", "register", "deliver_anyway")
"""Every question the preview step can ask: the user answers them after seeing the preview (some
are asked only for some answers, e.g. register only when nothing in the cluster applies the file)."""


@dataclass
class CallMemo:
    """What one call learned that its later steps reuse: each package check (a build) and the
    CRD versions the cluster serves (``group/Kind`` -> versions). Held by the call's own
    :class:`FlowEnv`, never by a shared service: concurrent calls neither see nor clear another's."""

    package_checks: dict[tuple[str, str, str, tuple[str, ...]], PackageCheck | None] = field(default_factory=dict)
    served: dict[str, set[str]] | None = None


@dataclass(frozen=True)
class FlowEnv:
    registry: ProviderRegistry
    policy: PolicySettings = field(default_factory=PolicySettings)
    exists: Callable[[str], bool] | None = None  # does a repo-relative directory exist?
    package_problem: Callable[[Mapping[str, Any]], str | None] | None = None
    """Why the chosen package does not build (kustomize build / helm template), or None."""
    package_facts: Callable[[Mapping[str, Any]], PackageFacts | None] | None = None
    """What the chosen package's own files say (its namespaces, ...), or None when not readable here."""
    questions: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)
    """The question lists of this call by (step, answers): one env per call, its questions built once."""
    memo: CallMemo = field(default_factory=CallMemo, compare=False, repr=False)
    """This call's package checks and CRDs (a new env, a new call: the files may have changed)."""
