"""Remediation changes the place that governs the field (issue 20, item 11): a Kustomize images or
replicas transformer, an overlay's patch over the base; replicas under an autoscaler are refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import REGISTRY
from gitops_mcp.manifests.yaml import load_documents
from gitops_mcp.remediation import MergePatch, Refused, SetEnv, SetImage, SetReplicas, SetResources, plan
from test_remediation import changed_lines, owner, podinfo_production


def istio_frontend(root: Path) -> object:
    """gitops-istio's frontend: Flux applies ./apps, whose apps/frontend kustomization sets the image
    (images transformer), patches the Deployment (JSON 6902) and has an HPA over it."""
    return owner(
        root,
        [("Kustomization", "apps", "flux-system"), ("GitRepository", "flux-system", "flux-system")],
        "./apps",
        "apps/frontend/deployment.yaml",
        0,
        ("Deployment", "frontend"),
        ("apps/v1", "Deployment", "frontend", "prod"),
    )


def test_an_image_set_by_the_images_transformer_is_changed_there(fixture_repo: Callable[..., Path]) -> None:
    root = fixture_repo("gitops-istio")
    p = plan(root, istio_frontend(root), SetImage(image="ghcr.io/stefanprodan/podinfo:6.2.0"), REGISTRY)
    assert [(e.file, e.role) for e in p.edits] == [("apps/frontend/kustomization.yaml", "kustomization")]
    removed, added = changed_lines(p.edits[0].before, p.edits[0].after)
    assert removed == ["    newTag: 6.1.0"] and added == ["    newTag: 6.2.0"]
    assert "images transformer" in p.edits[0].reason
    # a new repository name is set there too (the transformer matches the base's image name)
    p = plan(root, istio_frontend(root), SetImage(image="ghcr.io/example/podinfo:7.0.0"), REGISTRY)
    k = load_documents(p.edits[0].after)[0]
    assert k["images"] == [
        {"name": "ghcr.io/stefanprodan/podinfo", "newName": "ghcr.io/example/podinfo", "newTag": "7.0.0"}
    ]


def test_a_field_the_patch_sets_is_changed_in_the_patch(fixture_repo: Callable[..., Path]) -> None:
    root = fixture_repo("gitops-istio")
    p = plan(root, istio_frontend(root), SetResources(limits={"cpu": "3"}), REGISTRY)
    assert [(e.file, e.role) for e in p.edits] == [("apps/frontend/deployment.patch.yaml", "patch")]
    ops = load_documents(p.edits[0].after)[0]
    cpu = [op for op in ops if op["path"] == "/spec/template/spec/containers/0/resources/limits/cpu"]
    assert cpu == [{"op": "replace", "path": "/spec/template/spec/containers/0/resources/limits/cpu", "value": "3"}]
    assert changed_lines(p.edits[0].before, p.edits[0].after) == (['  value: "2"'], ['  value: "3"'])
    # a field no patch sets stays the object's own; both in one change: each where it is decided
    p = plan(root, istio_frontend(root), SetResources(limits={"cpu": "3", "memory": "1Gi"}), REGISTRY)
    assert sorted(e.file for e in p.edits) == ["apps/frontend/deployment.patch.yaml", "apps/frontend/deployment.yaml"]
    deploy = next(e for e in p.edits if e.file.endswith("deployment.yaml"))
    assert changed_lines(deploy.before, deploy.after) == (["            memory: 512Mi"], ["            memory: 1Gi"])


def test_an_overlay_patch_over_the_base_is_where_the_change_goes(fixture_repo: Callable[..., Path]) -> None:
    root = fixture_repo("flux2-multi-tenancy")
    o = owner(
        root,
        [("Kustomization", "tenants", "flux-system"), ("GitRepository", "flux-system", "flux-system")],
        "./tenants/production",
        "tenants/base/dev-team/sync.yaml",
        1,
        ("Kustomization", "dev-team"),
        ("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "dev-team", "apps"),
    )
    p = plan(root, o, MergePatch(patch={"spec": {"path": "./production-v2"}}), REGISTRY)
    assert [(e.file, e.role) for e in p.edits] == [("tenants/production/dev-team-patch.yaml", "patch")]
    assert changed_lines(p.edits[0].before, p.edits[0].after) == (["  path: ./production"], ["  path: ./production-v2"])
    assert "tenants/production/kustomization.yaml" in p.edits[0].reason
    # what the patch does not set is the base's (every environment's), as before
    p = plan(root, o, MergePatch(patch={"spec": {"interval": "10m"}}), REGISTRY)
    assert [e.file for e in p.edits] == ["tenants/base/dev-team/sync.yaml"]


def test_a_replicas_transformer_decides_the_count(fixture_repo: Callable[..., Path]) -> None:
    root = fixture_repo("argocd-example-apps")
    k = root / "kustomize-guestbook/kustomization.yaml"
    k.write_text(k.read_text(encoding="utf-8") + "replicas:\n- name: guestbook-ui\n  count: 2\n", encoding="utf-8")
    o = owner(
        root,
        [("Application", "guestbook", "argocd")],
        "kustomize-guestbook",
        "kustomize-guestbook/guestbook-ui-deployment.yaml",
        0,
        ("Deployment", "guestbook-ui"),
        ("apps/v1", "Deployment", "kustomize-guestbook-ui", "default"),
        manager="argocd",
    )
    p = plan(root, o, SetReplicas(replicas=3), REGISTRY)
    assert [e.file for e in p.edits] == ["kustomize-guestbook/kustomization.yaml"]
    assert changed_lines(p.edits[0].before, p.edits[0].after) == (["  count: 2"], ["  count: 3"])


@pytest.mark.parametrize(
    ("fixture", "path", "file", "name", "namespace", "hpa"),
    [
        ("gitops-istio", "./apps", "apps/frontend/deployment.yaml", "frontend", "prod", "apps/frontend/hpa.yaml"),
        (
            "podinfo",
            "./deploy/overlays/production",
            "deploy/bases/frontend/deployment.yaml",
            "frontend",
            "production",
            "deploy/bases/frontend/hpa.yaml",
        ),
        ("podinfo", "./kustomize", "kustomize/deployment.yaml", "podinfo", "podinfo", "kustomize/hpa.yaml"),
    ],
)
def test_replicas_under_an_autoscaler_are_refused_with_the_reason(
    fixture_repo: Callable[..., Path], fixture: str, path: str, file: str, name: str, namespace: str, hpa: str
) -> None:
    root = fixture_repo(fixture)
    before = {p: p.read_text(encoding="utf-8") for p in root.rglob("*.yaml")}
    o = owner(
        root,
        [("Kustomization", "apps", "flux-system"), ("GitRepository", "flux-system", "flux-system")],
        path,
        file,
        0,
        ("Deployment", name),
        ("apps/v1", "Deployment", name, namespace),
    )
    for change in (SetReplicas(replicas=5), MergePatch(patch={"spec": {"replicas": 5}})):
        with pytest.raises(Refused, match=rf"HorizontalPodAutoscaler \S+ \({hpa}\) scales Deployment {name} between"):
            plan(root, o, change, REGISTRY)
    with pytest.raises(Refused, match="minReplicas/maxReplicas"):
        plan(root, o, SetReplicas(replicas=5), REGISTRY)
    assert {p: p.read_text(encoding="utf-8") for p in root.rglob("*.yaml")} == before


def test_an_env_var_an_overlay_patch_sets_is_changed_in_that_patch(fixture_repo: Callable[..., Path]) -> None:
    root = fixture_repo("podinfo")
    patch = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: frontend\nspec:\n  template:\n    spec:\n"
        "      containers:\n        - name: frontend\n          env:\n            - name: PODINFO_UI_COLOR\n"
        "              value: '#ff0000'\n"
    )
    (root / "deploy/overlays/production/color.yaml").write_text(patch, encoding="utf-8")
    k = root / "deploy/overlays/production/kustomization.yaml"
    k.write_text(k.read_text(encoding="utf-8") + "patches:\n  - path: color.yaml\n", encoding="utf-8")
    o = podinfo_production(root, "frontend")
    p = plan(root, o, SetEnv(name="PODINFO_UI_COLOR", value="#00ff00"), REGISTRY)
    assert [(e.file, e.role) for e in p.edits] == [("deploy/overlays/production/color.yaml", "patch")]
    assert changed_lines(p.edits[0].before, p.edits[0].after) == (
        ["              value: '#ff0000'"],
        ["              value: '#00ff00'"],
    )
    # a variable no patch sets is the base's (every environment's), as before
    p = plan(root, o, SetEnv(name="PODINFO_UI_MESSAGE", value="hi"), REGISTRY)
    assert [e.file for e in p.edits] == ["deploy/bases/frontend/deployment.yaml"]
