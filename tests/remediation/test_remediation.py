"""Remediation planning on the real fixture repositories: the right file, a minimal diff, refusals."""

from __future__ import annotations

import difflib
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from conftest import FIXTURES, KINDS, REGISTRY, need_shared
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


@pytest.fixture
def repo(tmp_path: Path) -> Callable[[str], Path]:
    def copy(name: str) -> Path:
        dest = tmp_path / name
        shutil.copytree(need_shared(FIXTURES / name), dest)
        for p in [dest, *dest.rglob("*")]:
            p.chmod(p.stat().st_mode | 0o200)
        return dest

    return copy


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


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    diff = list(difflib.ndiff(before.splitlines(), after.splitlines()))
    return [d[2:] for d in diff if d.startswith("- ")], [d[2:] for d in diff if d.startswith("+ ")]


def test_podinfo_production_replicas_go_to_the_overlay(repo: Callable[[str], Path]) -> None:
    root = repo("podinfo")
    o = owner(
        root,
        [("Kustomization", "prod", "flux-system"), ("GitRepository", "podinfo", "flux-system")],
        "./deploy/overlays/production",
        "deploy/bases/cache/deployment.yaml",
        0,
        ("Deployment", "cache"),
        ("apps/v1", "Deployment", "cache", "production"),
    )
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


def test_base_edit_names_the_other_environments(repo: Callable[[str], Path]) -> None:
    root = repo("podinfo")
    o = owner(
        root,
        [("Kustomization", "prod", "flux-system")],
        "./deploy/overlays/production",
        "deploy/bases/backend/deployment.yaml",
        0,
        ("Deployment", "backend"),
        ("apps/v1", "Deployment", "backend", "production"),
    )
    p = plan(root, o, SetEnv(name="PODINFO_UI_COLOR", value="#ff0000"), REGISTRY)
    assert [e.file for e in p.edits] == ["deploy/bases/backend/deployment.yaml"]
    assert p.affects == ["deploy/overlays/dev", "deploy/overlays/staging"]
    removed, added = changed_lines(p.edits[0].before, p.edits[0].after)
    assert len(removed) + len(added) <= 4


def test_argocd_guestbook_image_is_one_line(repo: Callable[[str], Path]) -> None:
    root = repo("argocd-example-apps")
    o = owner(
        root,
        [("Application", "guestbook", "argocd")],
        "guestbook",
        "guestbook/guestbook-ui-deployment.yaml",
        0,
        ("Deployment", "guestbook-ui"),
        ("apps/v1", "Deployment", "guestbook-ui", "default"),
        manager="argocd",
    )
    p = plan(root, o, SetImage(image="gcr.io/google-samples/gb-frontend:v6"), REGISTRY)
    removed, added = changed_lines(p.edits[0].before, p.edits[0].after)
    assert removed == ["        - image: gcr.io/google-samples/gb-frontend:v5"]
    assert added == ["        - image: gcr.io/google-samples/gb-frontend:v6"]


def test_argocd_helm_guestbook_value_goes_to_its_values_file(repo: Callable[[str], Path]) -> None:
    root = repo("argocd-example-apps")
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


def test_flux_staging_values_only(repo: Callable[[str], Path]) -> None:
    """The HelmRelease is defined in the base; the staging overlay patches it: the change goes there."""
    root = repo("flux2-kustomize-helm-example")
    o = owner(
        root,
        [("HelmRelease", "podinfo", "podinfo"), ("Kustomization", "apps", "flux-system")],
        "./apps/staging",
        "apps/base/podinfo/release.yaml",
        0,
        ("HelmRelease", "podinfo"),
        ("apps/v1", "Deployment", "podinfo", "podinfo"),
    )
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


def test_base_values_when_no_overlay_patch(repo: Callable[[str], Path]) -> None:
    root = repo("flux2-kustomize-helm-example")
    o = owner(
        root,
        [("HelmRelease", "podinfo", "podinfo"), ("Kustomization", "apps", "flux-system")],
        "./apps/base/podinfo",
        "apps/base/podinfo/release.yaml",
        0,
        ("HelmRelease", "podinfo"),
        ("apps/v1", "Deployment", "podinfo", "podinfo"),
    )
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
def test_refusals(repo: Callable[[str], Path], change: Any, match: str) -> None:
    root = repo("argocd-example-apps")
    o = owner(
        root,
        [("Application", "guestbook", "argocd")],
        "guestbook",
        "guestbook/guestbook-ui-deployment.yaml",
        0,
        ("Deployment", "guestbook-ui"),
        ("apps/v1", "Deployment", "guestbook-ui", "default"),
        manager="argocd",
    )
    with pytest.raises(Refused, match=match):
        plan(root, o, change, REGISTRY)


def test_refuse_unmanaged_appset_ambiguous_and_chart_templates(repo: Callable[[str], Path]) -> None:
    root = repo("argocd-example-apps")
    unmanaged = OwnerResult(
        object=ObjectRef(api_version="v1", kind="ConfigMap", name="x"),
        managed=False,
        message="ConfigMap x is not managed by Flux or Argo CD",
    )
    with pytest.raises(Refused, match=r"not managed.*nothing was changed"):
        plan(root, unmanaged, SetReplicas(replicas=1), REGISTRY)
    appset = owner(
        root,
        [("Application", "g", "argocd"), ("ApplicationSet", "all", "argocd")],
        "guestbook",
        "guestbook/guestbook-ui-deployment.yaml",
        0,
        ("Deployment", "guestbook-ui"),
        ("apps/v1", "Deployment", "guestbook-ui", "default"),
        manager="argocd",
    )
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
    multi = owner(
        root,
        [("Application", "guestbook", "argocd")],
        "guestbook",
        "guestbook/guestbook-ui-deployment.yaml",
        0,
        ("Deployment", "guestbook-ui"),
        ("apps/v1", "Deployment", "guestbook-ui", "default"),
        manager="argocd",
    )
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


def test_editor_keeps_everything_else(repo: Callable[[str], Path]) -> None:
    root = repo("argocd-example-apps")
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


def test_promote_flux_staging_to_production(repo: Callable[[str], Path]) -> None:
    from gitops_mcp.promotion import plan_promotion

    root = repo("flux2-kustomize-helm-example")
    p = plan_promotion(root, "podinfo", "staging", "production", KINDS, REGISTRY.chart_releases())
    assert (p.from_dir, p.to_dir) == ("apps/staging", "apps/production")
    assert [(m.field, m.previous, m.value) for m in p.moves] == [
        ("HelmRelease podinfo: spec.chart.spec.version", ">=1.0.0", ">=1.0.0-alpha")
    ]
    assert [k.field for k in p.kept] == ["spec.values.httpRoute.hostnames"]
    removed, added = changed_lines(p.edits[0].before, p.edits[0].after)
    assert removed == ['      version: ">=1.0.0"'] and added == ['      version: ">=1.0.0-alpha"']
    assert "What moves" in p.description and "environment-specific" in p.description


def test_promote_images_and_nothing_to_move(repo: Callable[[str], Path]) -> None:
    from gitops_mcp.errors import GitOpsError
    from gitops_mcp.promotion import plan_promotion

    root = repo("podinfo")
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
