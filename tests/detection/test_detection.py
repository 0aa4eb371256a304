"""detect_packages on the real fixture repositories and on synthetic trees."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import KINDS
from gitops_mcp.detection import DetectionReport, detect_packages


def by_path(report: DetectionReport) -> dict[str, tuple[str, str, str]]:
    return {p.path: (p.type, p.name, p.confidence) for p in report.packages}


def test_podinfo(fixture_repo: Callable[..., Path]) -> None:
    r = detect_packages(fixture_repo("podinfo"), gitops_kinds=KINDS)
    pk = by_path(r)
    assert pk["charts/podinfo"] == ("helm", "podinfo", "high")
    for env in ("dev", "staging", "production"):
        assert pk[f"deploy/overlays/{env}"] == ("kustomize", env, "high")
    assert pk["kustomize"] == ("kustomize", "kustomize", "high")
    for part in ("backend", "frontend", "common"):
        assert pk[f"deploy/webapp/{part}"][0] == "manifests"
        assert pk[f"deploy/secure/{part}"][0] == "manifests"
    # the chart's templates/ are part of the chart, not packages
    assert not any(p.startswith("charts/podinfo/") for p in pk)
    chart = next(p for p in r.packages if p.path == "charts/podinfo")
    assert chart.values_files == ["values.yaml", "values-prod.yaml"]
    assert chart.chart_version
    prod = next(p for p in r.packages if p.path == "deploy/overlays/production")
    assert prod.namespace == "production"
    backend = next(p for p in r.packages if p.path == "deploy/bases/backend")
    assert backend.used_by == ["deploy/overlays/dev", "deploy/overlays/production", "deploy/overlays/staging"]
    assert [p.path for p in r.packages] == sorted(p.path for p in r.packages)
    assert r.gitops.bootstraps == [] and r.gitops.objects == []


def test_argocd_example_apps(fixture_repo: Callable[..., Path]) -> None:
    r = detect_packages(fixture_repo("argocd-example-apps"), gitops_kinds=KINDS)
    pk = by_path(r)
    assert pk["guestbook"] == ("manifests", "guestbook", "high")
    assert pk["helm-guestbook"] == ("helm", "helm-guestbook", "high")
    assert pk["kustomize-guestbook"] == ("kustomize", "kustomize-guestbook", "high")
    assert pk["jsonnet-guestbook"][0] == "jsonnet"
    assert pk["helm-dependency"][:2] == ("helm", "wordpress")
    assert pk["sock-shop"][0] == "kustomize"
    assert "sock-shop/base" not in pk  # files used by sock-shop/kustomization.yaml
    # Chart.yaml + kustomization.yaml: Kustomize, as Argo CD decides, with lower confidence
    assert pk["plugins/kustomized-helm"] == ("kustomize", "kustomized-helm", "medium")
    assert "plugins/kustomized-helm/overlays" not in pk  # a patch of that kustomization
    assert "apps" in r.gitops.app_of_apps_charts
    assert "." not in pk  # README and .gitignore make no package
    hg = next(p for p in r.packages if p.path == "helm-guestbook")
    assert hg.values_files == ["values.yaml", "values-production.yaml"]


def test_flux2_kustomize_helm_example(fixture_repo: Callable[..., Path]) -> None:
    r = detect_packages(fixture_repo("flux2-kustomize-helm-example"), gitops_kinds=KINDS)
    pk = by_path(r)
    assert set(pk) == {
        "apps/base/podinfo",
        "apps/production",
        "apps/staging",
        "infrastructure/configs",
        "infrastructure/controllers",
    }
    assert all(t == "kustomize" for t, _, _ in pk.values())
    assert [(b.cluster, b.path) for b in r.gitops.bootstraps] == [
        ("production", "clusters/production"),
        ("staging", "clusters/staging"),
    ]
    assert r.gitops.directories == ["clusters/production", "clusters/staging"]
    kinds = {(o.kind, o.name, o.file) for o in r.gitops.objects}
    assert ("HelmRepository", "podinfo", "apps/base/podinfo/repository.yaml") in kinds
    assert ("Kustomization", "apps", "clusters/staging/apps.yaml") in kinds
    patches = [o for o in r.gitops.objects if o.patch]
    assert {o.file for o in patches} == {"apps/staging/podinfo-values.yaml", "apps/production/podinfo-values.yaml"}
    repo = next(o for o in r.gitops.objects if o.kind == "HelmRepository")
    assert repo.url == "https://stefanprodan.github.io/podinfo"
    infra = next(o for o in r.gitops.objects if o.name == "infra-configs" and o.file.startswith("clusters/staging"))
    assert infra.document == 1 and infra.path == "./configs"


def write(root: Path, rel: str, text: str | bytes) -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return p


DEPLOY = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec: {}\n"
CHART = "apiVersion: v2\nname: {name}\nversion: 1.0.0\n"


def test_synthetic_tree(tmp_path: Path) -> None:
    root = tmp_path / "mono"
    write(root, "charts/outer/Chart.yaml", CHART.format(name="outer"))
    write(root, "charts/outer/templates/deploy.yaml", "{{ .Values.x }}\n")
    write(root, "charts/outer/charts/inner/Chart.yaml", CHART.format(name="inner"))  # a subchart
    write(root, "charts/outer/values-staging.yaml", "a: 1\n")
    write(root, "charts/lib/Chart.yaml", "apiVersion: v2\nname: lib\ntype: library\nversion: 1.0.0\n")
    write(root, "apps/a/kustomization.yml", "resources:\n  - deploy.yaml\n")
    write(root, "apps/a/deploy.yaml", DEPLOY)
    write(root, "apps/b/Kustomization", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n")
    write(root, "both/Chart.yaml", CHART.format(name="both"))
    write(root, "both/kustomization.yaml", "resources: []\n")
    write(root, "raw/web.yaml", DEPLOY + "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n")
    write(root, "mixed/web.yml", DEPLOY)
    write(root, "mixed/notes.yaml", "title: not kubernetes\n")
    write(root, ".github/workflows/ci.yaml", "on: push\njobs:\n  build: {}\n")
    write(root, "ci/.gitlab-ci.yml", "stages: [build]\n")
    write(root, "ci/pipeline.yaml", "stages: [build]\nbuild:\n  script: make\n")
    write(root, "compose/docker-compose.yaml", "services:\n  web:\n    image: nginx\n")
    write(root, "values/values.yaml", "replicaCount: 1\n")
    write(root, "node_modules/pkg/deploy.yaml", DEPLOY)
    write(root, "vendor/x/deploy.yaml", DEPLOY)
    write(root, "kubeconfig/config.yaml", "apiVersion: v1\nkind: Config\nclusters: []\n")
    write(root, "kind/cluster.yaml", "apiVersion: kind.x-k8s.io/v1alpha4\nkind: Cluster\n")
    write(root, "bin/blob.yaml", b"apiVersion: v1\x00\x01\x02")
    write(root, "latin/x.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: caf\xe9\n".encode("latin-1"))
    write(root, "jsonnet/app.jsonnet", "{}\n")
    write(root, "onlylib/lib.libsonnet", "{}\n")
    (root / "loop").mkdir()
    os.symlink(root, root / "loop" / "back")  # a symlink loop
    os.symlink(tmp_path, root / "outside")  # leaves the repository
    os.symlink(root / "missing", root / "raw" / "dangling.yaml")
    os.mkfifo(root / "raw" / "fifo.yaml")  # must never be opened

    r = detect_packages(root, gitops_kinds=KINDS)
    pk = by_path(r)
    assert pk == {
        "apps/a": ("kustomize", "a", "high"),
        "apps/b": ("kustomize", "b", "high"),
        "both": ("kustomize", "both", "medium"),
        "charts/outer": ("helm", "outer", "high"),
        "jsonnet": ("jsonnet", "jsonnet", "medium"),
        "mixed": ("manifests", "mixed", "medium"),
        "raw": ("manifests", "raw", "high"),
    }
    outer = next(p for p in r.packages if p.path == "charts/outer")
    assert outer.values_files == ["values-staging.yaml"]
    raw = next(p for p in r.packages if p.path == "raw")
    assert raw.kinds == ["Deployment", "Service"] and raw.namespace == "shop"
    reasons = {s.path: s.reason for s in r.skipped}
    assert "binary" in reasons["bin/blob.yaml"]
    assert "UTF-8" in reasons["latin/x.yaml"]
    assert "not followed" in reasons["loop/back"]
    assert "outside" in reasons["outside"]
    assert "dangling" in reasons["raw/dangling.yaml"]
    assert "regular file" in reasons["raw/fifo.yaml"]
    assert "library" in reasons["charts/lib"]
    # deterministic
    assert detect_packages(root, gitops_kinds=KINDS).model_dump() == r.model_dump()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    p = write(tmp_path, "raw/secret.yaml", DEPLOY)
    p.chmod(0)
    try:
        r = detect_packages(tmp_path, gitops_kinds=KINDS)
    finally:
        p.chmod(0o644)
    assert any(s.path == "raw/secret.yaml" and "not readable" in s.reason for s in r.skipped)


def test_prefix_makes_paths_repo_relative(tmp_path: Path) -> None:
    write(tmp_path, "apps/web/deploy.yaml", DEPLOY)
    r = detect_packages(tmp_path / "apps", prefix="apps", gitops_kinds=KINDS)
    assert [p.path for p in r.packages] == ["apps/web"]


def test_large_file_skipped(tmp_path: Path) -> None:
    write(tmp_path, "big/huge.yaml", DEPLOY + "#" * (2 << 20))
    r = detect_packages(tmp_path, gitops_kinds=KINDS)
    assert r.packages == [] and "1 MiB" in r.skipped[0].reason


def test_a_changed_file_is_read_anew(tmp_path: Path) -> None:
    """Parsed documents are shared between scans of the same text, never across a change."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "kustomization.yaml").write_text("resources: []\nnamespace: one\n", encoding="utf-8")
    first = detect_packages(tmp_path, gitops_kinds=KINDS)
    assert [p.namespace for p in first.packages] == ["one"]
    (app / "kustomization.yaml").write_text("resources: []\nnamespace: two\n", encoding="utf-8")
    assert [p.namespace for p in detect_packages(tmp_path, gitops_kinds=KINDS).packages] == ["two"]
    (app / "kustomization.yaml").write_text("resources: [\n", encoding="utf-8")
    broken = detect_packages(tmp_path, gitops_kinds=KINDS)
    assert broken.packages[0].confidence == "low"
