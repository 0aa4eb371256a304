"""How a GitOps object's status reads (gitops_mcp.cluster.status): Flux and Argo CD states, normalised,
and revisions matched to commits (Flux's, a Helm chart from Git's, OCI digests)."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import REGISTRY
from gitops_mcp.cluster.status import commit_of, normalize, revision_matches
from test_cluster import KS_API


@pytest.mark.parametrize(
    ("obj", "state"),
    [
        (None, "not_found"),
        ({"metadata": {"generation": 1}, "status": {"observedGeneration": -1}}, "progressing"),
        (
            {
                "metadata": {"generation": 2},
                "status": {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]},
            },
            "progressing",
        ),
        (
            {
                "metadata": {"generation": 1},
                "status": {
                    "observedGeneration": 1,
                    "conditions": [{"type": "Ready", "status": "True", "message": "Applied revision: main@sha1:ab"}],
                },
            },
            "ready",
        ),
        (
            {
                "metadata": {"generation": 1},
                "status": {
                    "observedGeneration": 1,
                    "conditions": [
                        {"type": "Ready", "status": "False", "reason": "HealthCheckFailed", "message": "timeout"}
                    ],
                },
            },
            "failed",
        ),
        (
            {
                "metadata": {"generation": 1},
                "status": {
                    "observedGeneration": 1,
                    "conditions": [{"type": "Ready", "status": "False", "reason": "DependencyNotReady"}],
                },
            },
            "progressing",
        ),
        (
            {
                "metadata": {"generation": 1},
                "status": {
                    "observedGeneration": 1,
                    "conditions": [{"type": "Stalled", "status": "True", "message": "invalid"}],
                },
            },
            "failed",
        ),
        ({"metadata": {"generation": 1}, "spec": {"suspend": True}, "status": {}}, "suspended"),
        (
            {
                "metadata": {"generation": 1},
                "status": {
                    "observedGeneration": 1,
                    "conditions": [
                        {"type": "Ready", "status": "Unknown", "reason": "Progressing"},
                        {"type": "Reconciling", "status": "True", "reason": "Progressing"},
                    ],
                },
            },
            "progressing",
        ),
    ],
)
def test_flux_normalisation(obj: dict[str, Any] | None, state: str) -> None:
    assert normalize(KS_API, "Kustomization", "x", "ns", obj, registry=REGISTRY).state == state


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ({}, "unknown"),
        ({"sync": {"status": "Synced", "revision": "a" * 40}, "health": {"status": "Healthy"}}, "ready"),
        ({"sync": {"status": "OutOfSync"}, "health": {"status": "Healthy"}}, "progressing"),
        ({"sync": {"status": "Synced"}, "health": {"status": "Degraded", "message": "crash"}}, "failed"),
        ({"operationState": {"phase": "Failed", "message": "boom"}}, "failed"),
        ({"operationState": {"phase": "Running"}, "sync": {"status": "OutOfSync"}}, "progressing"),
        ({"conditions": [{"type": "ComparisonError", "message": "bad"}]}, "failed"),
    ],
)
def test_argo_normalisation(status: dict[str, Any], state: str) -> None:
    st = normalize(
        "argoproj.io/v1alpha1", "Application", "a", "argocd", {"metadata": {}, "status": status}, registry=REGISTRY
    )
    assert st.state == state


def test_revision_matching() -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"
    assert commit_of(f"main@sha1:{sha}") == sha and commit_of(f"refs/heads/x@sha1:{sha}") == sha
    assert commit_of("6.0.3+0123456789ab") == "0123456789ab" and commit_of("main/" + sha) == sha
    assert commit_of("6.0.3") is None
    assert revision_matches(f"main@sha1:{sha}", sha) and revision_matches(f"main@sha1:{sha}", sha[:8])
    assert revision_matches("6.0.3+0123456789ab", sha)  # Helm chart from Git: 12 hex of the commit
    assert not revision_matches(f"main@sha1:{sha}", "f" * 40) and not revision_matches(None, sha)
    digest = "ab" * 32  # OCI: <tag>@sha256:<digest>, asked for by digest with or without its algorithm
    assert revision_matches(f"latest@sha256:{digest}", f"sha256:{digest}") and revision_matches(
        f"latest@sha256:{digest}", digest
    )
    assert revision_matches(f"main@sha1:{sha}", f"main@sha1:{sha[:12]}")
    assert not revision_matches(f"latest@sha256:{digest}", "sha256:" + "cd" * 32)
