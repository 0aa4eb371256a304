"""Kinds from CRDs (issue 20, item 9): the preview names the package's kinds that need a
CustomResourceDefinition, and with a cluster to ask, which of them it lacks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import wizard_to_preview
from doubles.kube import FakeKube
from doubles.world import crd
from gitops_mcp.services import Services
from gitops_mcp.settings import Settings

URL = "https://github.com/example/repo.git"

CASES = [  # (fixture, package, provider, its kinds from CRDs)
    ("gitops-istio", "apps/frontend", "flux", ["flagger.app/Canary"]),
    ("gitops-istio", "istio/gateway", "argocd", ["flagger.app/MetricTemplate", "networking.istio.io/Gateway"]),
    ("flux2-monitoring-example", "monitoring/configs", "flux", ["monitoring.coreos.com/PodMonitor"]),
    (
        "flux2-kustomize-helm-example",
        "infrastructure/configs",
        "argocd",
        [
            "cert-manager.io/ClusterIssuer",
            "gateway.networking.k8s.io/Gateway",
            "gateway.networking.k8s.io/GatewayClass",
        ],
    ),
    ("podinfo", "deploy/secure/frontend", "flux", ["cert-manager.io/Certificate"]),
    # Flux's own kinds need no note when Flux deploys them; with Argo CD they need Flux's CRDs
    (
        "flux2-multi-tenancy",
        "infrastructure/kyverno",
        "argocd",
        ["kustomize.toolkit.fluxcd.io/Kustomization", "source.toolkit.fluxcd.io/OCIRepository"],
    ),
    ("flux2-multi-tenancy", "infrastructure/kyverno", "flux", []),
    ("argocd-example-apps", "guestbook", "argocd", []),
]


@pytest.fixture
def app(settings: Settings) -> Iterator[Services]:
    a = Services(settings)
    yield a
    a.close()


def crd_note(notes: list[str]) -> str | None:
    return next((n for n in notes if "kinds from CRDs" in n), None)


@pytest.mark.parametrize(
    ("fixture", "package", "provider", "kinds"), CASES, ids=[f"{c[0]}:{c[1]}:{c[2]}" for c in CASES]
)
def test_the_preview_names_kinds_from_crds(
    app: Services, fixture_repo: Callable[..., Path], fixture: str, package: str, provider: str, kinds: list[str]
) -> None:
    v = wizard_to_preview(app, fixture_repo(fixture), {"package": package, "provider": provider, "repo_url": URL})
    note = crd_note(v.preview.notes)
    if not kinds:
        assert note is None, v.preview.notes
        return
    assert note is not None and f"kinds from CRDs: {', '.join(kinds)};" in note, v.preview.notes
    assert not any("Missing in the cluster" in n for n in v.preview.notes)  # no cluster to ask


def test_with_a_cluster_the_preview_says_which_are_missing(tmp_path: Path, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("gitops-istio")
    with FakeKube() as kube:
        kube.put(crd("flagger.app", "MetricTemplate"))
        settings = Settings(
            allowed_roots=[tmp_path],
            state_dir=tmp_path / "state",
            cache_dir=tmp_path / "cache",
            kubeconfig=kube.kubeconfig(tmp_path / "kubeconfig"),
        )
        app = Services(settings)
        try:
            v = wizard_to_preview(app, repo, {"package": "istio/gateway", "provider": "argocd", "repo_url": URL})
            missing = [n for n in v.preview.notes if n.startswith("Missing in the cluster")]
            assert missing and missing[0].startswith("Missing in the cluster: networking.istio.io/Gateway:"), v.preview
            kube.put(crd("networking.istio.io", "Gateway"))  # serving only v1: the package writes v1beta1
            again = app.wizard.answer("local", v.session_id, {"app_name": "gw"}, accept_defaults=True)
            stale = [n for n in again.preview.notes if n.startswith("The cluster does not serve")]
            assert stale and "Gateway networking.istio.io/v1beta1 (istio/gateway/" in stale[0], again.preview.notes
            kube.put(crd("networking.istio.io", "Gateway", ("v1beta1", "v1")))
            kube.put(crd("flagger.app", "MetricTemplate", ("v1alpha1", "v1beta1")))
            again = app.wizard.answer("local", v.session_id, {"app_name": "gw2"}, accept_defaults=True)
            assert "The cluster has all of them." in again.preview.notes, again.preview.notes
        finally:
            app.close()
