"""Remediation planning on the real fixture repositories: the right file, a minimal diff, refusals."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from conftest import FIXTURES, KINDS, REGISTRY
from gitops_mcp.cluster.owner import GitLocation, ObjectRef, OwnerLink, OwnerResult, SourceFile
from gitops_mcp.manifests.edit import EditError, YamlEditor
from gitops_mcp.manifests.yaml import load_documents
from gitops_mcp.remediation import (
    MergePatch,
    Refused,
    SetEnv,
    SetHelmValues,
    SetImage,
    SetReplicas,
    SetResources,
    plan,
)


def owner(
    root: Path,
    chain: list[tuple[str, str, str]],
    path: str,
    file: str | None,
    document: int,
    defining: tuple[str, str],
    obj: tuple[str, str, str, str],
    value_files: list[str] | None = None,
    manager: str = "flux",
) -> OwnerResult:
    api = {
        "Kustomization": "kustomize.toolkit.fluxcd.io/v1",
        "HelmRelease": "helm.toolkit.fluxcd.io/v2",
        "GitRepository": "source.toolkit.fluxcd.io/v1",
        "Application": "argoproj.io/v1alpha1",
        "ApplicationSet": "argoproj.io/v1alpha1",
    }
    return OwnerResult(
        object=ObjectRef(api_version=obj[0], kind=obj[1], name=obj[2], namespace=obj[3]),
        managed=True,
        manager=manager,  # type: ignore[arg-type]
        chain=[OwnerLink(api_version=api[k], kind=k, name=n, namespace=ns, via="test") for k, n, ns in chain],
        git=GitLocation(
            url="https://github.com/x/y",
            path=path,
            defining_kind=defining[0],
            defining_name=defining[1],
            value_files=value_files or [],
        ),
        file=SourceFile(repo_root=str(root), file=file, document=document, kind=defining[0], name=defining[1])
        if file
        else None,
        repo_root=str(root),
        message="test",
    )


PROD = [("Kustomization", "prod", "flux-system"), ("GitRepository", "podinfo", "flux-system")]


def podinfo_production(root: Path, name: str, chain: list[tuple[str, str, str]] = PROD) -> OwnerResult:
    """The podinfo fixture's Deployment ``name`` (deploy/bases/<name>), applied by the Kustomization
    prod from ./deploy/overlays/production."""
    file = f"deploy/bases/{name}/deployment.yaml"
    target = ("apps/v1", "Deployment", name, "production")
    return owner(root, chain, "./deploy/overlays/production", file, 0, ("Deployment", name), target)


def podinfo_release(root: Path, path: str) -> OwnerResult:
    """flux2-kustomize-helm-example's podinfo Deployment, rendered by the HelmRelease defined in
    apps/base/podinfo/release.yaml, which the Kustomization apps applies from ``path``."""
    chain = [("HelmRelease", "podinfo", "podinfo"), ("Kustomization", "apps", "flux-system")]
    release, target = ("HelmRelease", "podinfo"), ("apps/v1", "Deployment", "podinfo", "podinfo")
    return owner(root, chain, path, "apps/base/podinfo/release.yaml", 0, release, target)


def guestbook(root: Path, chain: list[tuple[str, str, str]] | None = None) -> OwnerResult:
    """argocd-example-apps' guestbook-ui Deployment, synced by the Application guestbook (or ``chain``)."""
    chain = chain or [("Application", "guestbook", "argocd")]
    target = ("apps/v1", "Deployment", "guestbook-ui", "default")
    file = "guestbook/guestbook-ui-deployment.yaml"
    return owner(root, chain, "guestbook", file, 0, ("Deployment", "guestbook-ui"), target, manager="argocd")


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    diff = list(difflib.ndiff(before.splitlines(), after.splitlines()))
    return [d[2:] for d in diff if d.startswith("- ")], [d[2:] for d in diff if d.startswith("+ ")]


def test_podinfo_production_replicas_go_to_the_overlay(fixture_repo: Callable[..., Path]) -> None:
    root = fixture_repo("podinfo")
    o = podinfo_production(root, "cache")
    p = plan(root, o, SetReplicas(replicas=3), REGISTRY)
    assert [e.file for e in p.edits] == ["deploy/overlays/production/kustomization.yaml"]
    removed, added = changed_lines(p.edits[0].before, p.edits[0].after)
    assert removed == [] and added == ["replicas:", "  - name: cache", "    count: 3"]
    assert "production" in p.edits[0].reason and p.affects == []
    doc = load_documents(p.edits[0].after)[0]
    assert doc["replicas"] == [{"name": "cache", "count": 3}]
    # the base is untouched, so dev and staging keep their replicas
    assert (root / "deploy/bases/cache/deployment.yaml").read_text() == (
        FIXTURES / "podinfo/deploy/bases/cache/deployment.yaml"
    ).read_text()


def test_base_edit_names_the_other_environments(fixture_repo: Callable[..., Path]) -> None:
    root = fixture_repo("podinfo")
    o = podinfo_production(root, "backend", PROD[:1])
    p = plan(root, o, SetEnv(name="PODINFO_UI_COLOR", value="#ff0000"), REGISTRY)
    assert [e.file for e in p.edits] == ["deploy/bases/backend/deployment.yaml"]
    assert p.affects == ["deploy/overlays/dev", "deploy/overlays/staging"]
    removed, added = changed_lines(p.edits[0].before, p.edits[0].after)
    assert len(removed) + len(added) <= 4


def test_argocd_guestbook_image_is_one_line(fixture_repo: Callable[..., Path]) -> None:
    root = fixture_repo("argocd-example-apps")
    o = guestbook(root)
    p = plan(root, o, SetImage(image="gcr.io/google-samples/gb-frontend:v6"), REGISTRY)
    removed, added = changed_lines(p.edits[0].before, p.edits[0].after)
    assert removed == ["        - image: gcr.io/google-samples/gb-frontend:v5"]
    assert added == ["        - image: gcr.io/google-samples/gb-frontend:v6"]


def test_argocd_helm_guestbook_value_goes_to_its_values_file(fixture_repo: Callable[..., Path]) -> None:
    root = fixture_repo("argocd-example-apps")
    o = owner(
        root,
        [("Application", "helm-guestbook", "argocd")],
        "helm-guestbook",
        None,
        0,
        ("Deployment", "helm-guestbook"),
        ("apps/v1", "Deployment", "helm-guestbook", "default"),
        value_files=["values-production.yaml"],
        manager="argocd",
    )
    p = plan(root, o, SetHelmValues(values={"replicaCount": 3}), REGISTRY)
    assert [e.file for e in p.edits] == ["helm-guestbook/values-production.yaml"]
    assert load_documents(p.edits[0].after)[0]["replicaCount"] == 3


def test_flux_staging_values_only(fixture_repo: Callable[..., Path]) -> None:
    """The HelmRelease is defined in the base; the staging overlay patches it: the change goes there."""
    root = fixture_repo("flux2-kustomize-helm-example")
    o = podinfo_release(root, "./apps/staging")
    p = plan(root, o, SetHelmValues(values={"replicaCount": 2, "resources.limits.memory": "256Mi"}), REGISTRY)
    assert [e.file for e in p.edits] == ["apps/staging/podinfo-values.yaml"]
    removed, added = changed_lines(p.edits[0].before, p.edits[0].after)
    assert removed == [] and added == [
        "    replicaCount: 2",
        "    resources:",
        "      limits:",
        "        memory: 256Mi",
    ]
    doc = load_documents(p.edits[0].after)[0]
    assert doc["spec"]["values"]["httpRoute"] == {"hostnames": ["podinfo.staging"]}  # untouched
    assert p.edits[0].role == "patch"
    # an image change of a Helm-rendered object becomes values too
    p2 = plan(root, o, SetImage(image="ghcr.io/stefanprodan/podinfo:6.7.1"), REGISTRY)
    assert load_documents(p2.edits[0].after)[0]["spec"]["values"]["image"] == {
        "repository": "ghcr.io/stefanprodan/podinfo",
        "tag": "6.7.1",
    }
    # split by the reference grammar: a registry port is not a tag, a digest is not part of the tag
    for image, values in {
        "localhost:5000/podinfo": {"repository": "localhost:5000/podinfo"},
        "localhost:5000/podinfo:6.7.1@sha256:" + "0" * 64: {"repository": "localhost:5000/podinfo", "tag": "6.7.1"},
    }.items():
        p3 = plan(root, o, SetImage(image=image), REGISTRY)
        assert load_documents(p3.edits[0].after)[0]["spec"]["values"]["image"] == values


def test_base_values_when_no_overlay_patch(fixture_repo: Callable[..., Path]) -> None:
    root = fixture_repo("flux2-kustomize-helm-example")
    o = podinfo_release(root, "./apps/base/podinfo")
    p = plan(root, o, SetHelmValues(values={"redis.tag": "8.6.3"}), REGISTRY)
    removed, added = changed_lines(p.edits[0].before, p.edits[0].after)
    assert removed == ["      tag: 8.6.2"] and added == ["      tag: 8.6.3"]
    assert "# Default values" in p.edits[0].after  # comments kept


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (SetHelmValues(values={"a": 1}), "Helm values apply"),
        (MergePatch(patch={"metadata": {"labels": None}}), "not supported"),
    ],
)
def test_refusals(fixture_repo: Callable[..., Path], change: Any, match: str) -> None:
    root = fixture_repo("argocd-example-apps")
    o = guestbook(root)
    with pytest.raises(Refused, match=match):
        plan(root, o, change, REGISTRY)


def test_refuse_unmanaged_appset_ambiguous_and_chart_templates(fixture_repo: Callable[..., Path]) -> None:
    root = fixture_repo("argocd-example-apps")
    unmanaged = OwnerResult(
        object=ObjectRef(api_version="v1", kind="ConfigMap", name="x"),
        managed=False,
        message="ConfigMap x is not managed by Flux or Argo CD",
    )
    with pytest.raises(Refused, match=r"not managed.*nothing was changed"):
        plan(root, unmanaged, SetReplicas(replicas=1), REGISTRY)
    appset = guestbook(root, [("Application", "g", "argocd"), ("ApplicationSet", "all", "argocd")])
    with pytest.raises(Refused, match="ApplicationSet argocd/all"):
        plan(root, appset, SetReplicas(replicas=1), REGISTRY)
    (root / "guestbook/guestbook-ui-deployment.yaml").write_text(
        (root / "guestbook/guestbook-ui-deployment.yaml")
        .read_text()
        .replace(
            "          name: guestbook-ui\n",
            "          name: guestbook-ui\n        - image: busybox\n          name: sidecar\n",
            1,
        )
    )
    multi = guestbook(root)
    with pytest.raises(Refused, match="several containers"):
        plan(root, multi, SetImage(image="x:1"), REGISTRY)
    assert plan(root, multi, SetImage(image="busybox:2", container="sidecar"), REGISTRY).edits
    helm = owner(
        root,
        [("HelmRelease", "p", "ns"), ("Kustomization", "apps", "flux-system")],
        "./apps/base",
        None,
        0,
        ("HelmRelease", "p"),
        ("apps/v1", "Deployment", "p", "ns"),
    )
    with pytest.raises(Refused, match="no document"):
        plan(root, helm, SetResources(limits={"cpu": "1"}), REGISTRY)


def test_editor_keeps_everything_else(fixture_repo: Callable[..., Path]) -> None:
    root = fixture_repo("argocd-example-apps")
    for rel in ("sock-shop/base/carts-dep.yaml", "sock-shop/base/front-end-dep.yaml"):
        text = (root / rel).read_text()
        ed = YamlEditor(text)
        ed.append(
            0, ["spec", "template", "spec", "containers", 0, "env"], {"name": "X", "value": "1"}
        ) if load_documents(text)[0]["spec"]["template"]["spec"]["containers"][0].get("env") else ed.set(
            0, ["spec", "replicas"], 5
        )
        removed, added = changed_lines(text, ed.text)
        assert len(removed) <= 1 and 1 <= len(added) <= 2
    with pytest.raises(EditError):
        YamlEditor("a: {b: 1}\n").set(0, ["a", "c"], 2)  # flow style: refused rather than reformatted


# -- promotion ------------------------------------------------------------------------------------------------


def test_promote_flux_staging_to_production(fixture_repo: Callable[..., Path]) -> None:
    from gitops_mcp.promotion import plan_promotion

    root = fixture_repo("flux2-kustomize-helm-example")
    p = plan_promotion(root, "podinfo", "staging", "production", KINDS, REGISTRY.chart_releases())
    assert (p.from_dir, p.to_dir) == ("apps/staging", "apps/production")
    assert [(m.field, m.previous, m.value) for m in p.moves] == [
        ("HelmRelease podinfo: spec.chart.spec.version", ">=1.0.0", ">=1.0.0-alpha")
    ]
    assert [k.field for k in p.kept] == ["spec.values.httpRoute.hostnames"]
    removed, added = changed_lines(p.edits[0].before, p.edits[0].after)
    assert removed == ['      version: ">=1.0.0"'] and added == ['      version: ">=1.0.0-alpha"']
    assert "What moves" in p.description and "environment-specific" in p.description


def test_promote_images_and_nothing_to_move(fixture_repo: Callable[..., Path]) -> None:
    from gitops_mcp.errors import GitOpsError
    from gitops_mcp.promotion import plan_promotion

    root = fixture_repo("podinfo")
    p = plan_promotion(root, "frontend", "staging", "production", KINDS, REGISTRY.chart_releases())
    assert p.moves == [] and p.edits == [] and "Nothing to move" in p.description
    (root / "deploy/overlays/staging/kustomization.yaml").write_text(
        (root / "deploy/overlays/staging/kustomization.yaml").read_text()
        + "images:\n  - name: ghcr.io/stefanprodan/podinfo\n    newTag: 6.7.1\n"
    )
    p = plan_promotion(root, "frontend", "staging", "production", KINDS, REGISTRY.chart_releases())
    assert [m.field for m in p.moves] == ["images[ghcr.io/stefanprodan/podinfo]"]
    assert load_documents(p.edits[0].after)[0]["images"] == [
        {"name": "ghcr.io/stefanprodan/podinfo", "newTag": "6.7.1"}
    ]
    with pytest.raises(GitOpsError, match="no Kustomize overlay"):
        plan_promotion(root, "frontend", "staging", "qa", KINDS, REGISTRY.chart_releases())


def test_set_image_takes_only_image_references() -> None:
    """set_image is refused unless the image follows the distribution/reference grammar (as validation)."""
    for bad in ("a/a/a/a/a/!", "org/App:1", "app:-x", "app@sha256:abc", "x" * 256):
        with pytest.raises(ValidationError, match="image"):
            SetImage(image=bad)
    for good in ("localhost:5000/app:v1", "ghcr.io/org/app:1.2.3@sha256:" + "0" * 64):
        assert SetImage(image=good).image == good
