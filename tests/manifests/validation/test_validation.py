"""validate_manifests: built-in rules, CRD schemas (GITOPS_MCP_CRD_DIR) and every policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import CRDS, FIXTURES, RULES, need_shared
from gitops_mcp.errors import UserInputError
from gitops_mcp.manifests.validation import load_crd_dir, validate_documents, validate_text
from gitops_mcp.manifests.yaml import load_documents
from gitops_mcp.services import Services
from gitops_mcp.settings import PolicySettings, Settings

KS = """apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  interval: 10m
  path: ./apps
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
"""
GITREPO = """apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: repo
  namespace: flux-system
spec:
  interval: 1m
  url: https://github.com/org/repo.git
  ref:
    branch: main
"""


def rules(text: str, **policy: object) -> set[str]:
    result = validate_text(text, PolicySettings(**policy), rules=RULES)  # type: ignore[arg-type]
    return {f"{i.rule}:{i.path}" for i in result.issues if i.severity == "error"}


def test_valid_documents() -> None:
    assert validate_text(KS + "---\n" + GITREPO, PolicySettings(), rules=RULES).valid


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("interval: 10m", "interval: 10 minutes", "builtin:spec.interval"),
        ("  prune: true\n", "", "builtin:spec.prune"),
        ("prune: true", "prune: 'yes'", "builtin:spec.prune"),
        ("kind: GitRepository\n    name", "kind: Git\n    name", "builtin:spec.sourceRef.kind"),
        ("name: apps", "name: Apps", "builtin:metadata.name"),
        ("namespace: flux-system", "namespace: Flux_System", "builtin:metadata.namespace"),
        ("kustomize.toolkit.fluxcd.io/v1", "kustomize.toolkit.fluxcd.io/v1beta1", "builtin:apiVersion"),
        ("prune: true", "prune: false", "policy:require_prune:spec.prune"),
        ("interval: 10m", "interval: 5s", "policy:intervals:spec.interval"),
        ("path: ./apps", "path: ../other", "policy:relative_paths:spec.path"),
        ("prune: true", "prune: true\n  suspend: true", "policy:forbid_suspend:spec.suspend"),
    ],
)
def test_kustomization_rules(old: str, new: str, expected: str) -> None:
    text = KS.replace(old, new, 1)
    assert text != KS
    assert expected in rules(text)


def test_policies_can_be_turned_off() -> None:
    text = KS.replace("prune: true", "prune: false")
    assert "policy:require_prune:spec.prune" not in rules(text, require_prune=False)
    http = GITREPO.replace("https://", "http://")
    assert "policy:secure_git_urls:spec.url" in rules(http)
    assert not rules(http, secure_git_urls=False)


def test_secret_refused_and_unknown_field_warned() -> None:
    secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n"
    assert "policy:refuse_secrets:kind" in rules(secret)
    result = validate_text(KS.replace("prune: true", "prune: true\n  prnue: true"), PolicySettings(), rules=RULES)
    assert result.valid and any(i.severity == "warning" and i.path == "spec.prnue" for i in result.issues)


def test_kustomization_without_source() -> None:
    text = KS.split("  sourceRef:")[0]
    found = rules(text)
    assert "builtin:spec.sourceRef" in found and "policy:require_source_ref:spec.sourceRef" in found


def test_argocd_application_rules() -> None:
    app = (
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: a\n  namespace: argocd\n"
        "spec:\n  source:\n    repoURL: git://example.com/r.git\n    path: /abs\n"
    )
    found = rules(app)
    assert {
        "builtin:spec.project",
        "builtin:spec.destination",
        "policy:secure_git_urls:spec.source.repoURL",
        "policy:relative_paths:spec.source.path",
    } <= found


def test_crd_dir_mode_uses_real_schemas(tmp_path: Path) -> None:
    crds = need_shared(CRDS / "flux")
    app = Services(Settings(allowed_roots=[tmp_path], state_dir=tmp_path / "s", crd_dir=crds))
    result = app.inspect.validate(yaml_text=KS)
    assert result.valid and result.schema_source == "crd_dir"
    bad = app.inspect.validate(yaml_text=KS.replace("prune: true", "prune: true\n  prnue: true"))
    assert not bad.valid and any("prnue" in i.message for i in bad.issues)
    old = app.inspect.validate(
        yaml_text=KS.replace("kustomize.toolkit.fluxcd.io/v1", "kustomize.toolkit.fluxcd.io/v1beta2")
    )
    assert not old.valid and "not served" in old.issues[0].message
    wrong_type = app.inspect.validate(yaml_text=KS.replace("interval: 10m", "interval: 600"))
    assert not wrong_type.valid


def test_validate_file_and_errors(app: Services, tmp_path: Path) -> None:
    f = tmp_path / "ks.yaml"
    f.write_text(KS, encoding="utf-8")
    assert app.inspect.validate(path=str(f)).valid
    broken = app.inspect.validate(yaml_text="a: [")
    assert not broken.valid and "not valid YAML" in broken.issues[0].message
    assert not app.inspect.validate(yaml_text="").valid


# -- image references and source URLs (checked whatever the schema source) --------------------------

DIGEST = "sha256:" + "0123456789abcdef" * 4
WORKLOAD_POD_SPECS = {
    ("v1", "Pod"): "spec",
    ("apps/v1", "Deployment"): "spec.template.spec",
    ("apps/v1", "StatefulSet"): "spec.template.spec",
    ("apps/v1", "DaemonSet"): "spec.template.spec",
    ("apps/v1", "ReplicaSet"): "spec.template.spec",
    ("batch/v1", "Job"): "spec.template.spec",
    ("batch/v1", "CronJob"): "spec.jobTemplate.spec.template.spec",
}


def workload(api: str, kind: str, image: object, list_name: str = "containers") -> dict[str, object]:
    pod: dict[str, object] = {list_name: [{"name": "c", "image": image}]}
    if list_name != "containers":
        pod["containers"] = [{"name": "main", "image": "nginx:1.27"}]
    where = WORKLOAD_POD_SPECS[(api, kind)].split(".")
    node: dict[str, object] = pod
    for key in reversed(where[1:]):
        node = {key: node}
    return {"apiVersion": api, "kind": kind, "metadata": {"name": "w", "namespace": "default"}, "spec": node}


def errors_of(*docs: object, crds: object = None) -> dict[str, str]:
    """The built-in errors by field path (policies are left out: they have their own tests)."""
    result = validate_documents(list(docs), PolicySettings(), crds, rules=RULES)  # type: ignore[arg-type]
    return {i.path: i.message for i in result.issues if i.severity == "error" and i.rule != "policy:secure_git_urls"}


@pytest.mark.parametrize(("api", "kind"), sorted(WORKLOAD_POD_SPECS))
@pytest.mark.parametrize("list_name", ["containers", "initContainers", "ephemeralContainers"])
def test_workload_images_follow_the_reference_grammar(api: str, kind: str, list_name: str) -> None:
    path = f"{WORKLOAD_POD_SPECS[(api, kind)]}.{list_name}[0].image"
    found = errors_of(workload(api, kind, "a/a/a/a/a/!", list_name))
    assert path in found, found
    assert "not an image reference" in found[path] and "'!'" in found[path] and "\n" not in found[path]
    assert errors_of(workload(api, kind, f"ghcr.io/org/app:1.2.3@{DIGEST}", list_name)) == {}
    assert "must be a string" in errors_of(workload(api, kind, 5, list_name))[path]


@pytest.mark.parametrize(
    "image",
    [
        "nginx",
        "nginx:latest",
        "library/nginx:1.27-alpine",
        "ghcr.io/stefanprodan/podinfo:6.14.1",
        "localhost:5000/app:v1",
        "[::1]:5000/app",
        "Registry.Example.COM/app",  # the domain may have capitals, the path may not
        "my--app__x/a.b_c-d",
        "app@" + DIGEST,
        "app:" + "t" * 128,
        "a" * 255,
        "ghcr.io/org/app@sha512:" + "a" * 128,
    ],
)
def test_valid_image_references(image: str) -> None:
    assert errors_of(workload("apps/v1", "Deployment", image)) == {}


@pytest.mark.parametrize(
    ("image", "why"),
    [
        ("a/a/a/a/a/!", "path component '!'"),
        ("", "empty"),
        ("org/App", "path component 'App'"),
        ("app:" + "t" * 129, "tag"),
        ("app:-x", "tag '-x'"),
        ("app:v1 ", "tag 'v1 '"),
        ("a" * 256, "256 characters long; at most 255"),
        ("app@sha256:" + "a" * 63, "64 lowercase hex digits"),
        ("app@sha256:" + "A" * 64, "64 lowercase hex digits"),
        ("app@md5:" + "a" * 32, "sha256, sha384 or sha512"),
        ("app@sha256", "digest"),
        ("a_-b", "path component 'a_-b'"),
        ("reg!stry.io:5000/app", "registry 'reg!stry.io:5000'"),
        ("https://ghcr.io/org/app", "not an image reference"),
    ],
)
def test_invalid_image_references(image: str, why: str) -> None:
    found = errors_of(workload("apps/v1", "Deployment", image))
    message = found["spec.template.spec.containers[0].image"]
    assert why in message and "\n" not in message


def test_kustomization_images_entries() -> None:
    def kustomization(entry: dict[str, object]) -> dict[str, object]:
        return {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "images": [entry]}

    good = {"name": "nginx", "newName": "ghcr.io/org/nginx", "newTag": "1.27.0", "digest": DIGEST}
    assert not {p for p in errors_of(kustomization(good)) if p.startswith("images")}
    for key, bad, why in [
        ("newName", "ghcr.io/org/nginx:1.2", "not an image name"),
        ("newName", "ghcr.io/Org/nginx", "path component 'Org'"),
        ("newTag", "1.2 beta", "not an image tag"),
        ("newTag", "." + "x" * 10, "not an image tag"),
        ("digest", "sha256:abc", "not a digest"),
        ("digest", 12, "must be a string"),
    ]:
        found = errors_of(kustomization({**good, key: bad}))
        assert why in found[f"images[0].{key}"], (key, bad, found)
    numeric = validate_documents([kustomization({**good, "newTag": 1.1})], PolicySettings(), rules=RULES)
    assert [(i.severity, i.path) for i in numeric.issues if i.path.startswith("images")] == [
        ("warning", "images[0].newTag")
    ]
    flux = yaml.safe_load(KS)
    flux["spec"]["images"] = [{"name": "podinfo", "newTag": "6.7.0"}, {"name": "x", "newName": "a/a/a/a/a/!"}]
    assert set(errors_of(flux)) == {"spec.images[1].newName"}


def flux_source(kind: str, url: str) -> dict[str, Any]:
    """GITREPO as a Flux source of ``kind`` with ``url``."""
    doc: dict[str, Any] = yaml.safe_load(GITREPO.replace("kind: GitRepository", f"kind: {kind}"))
    doc["spec"]["url"] = url
    if kind != "GitRepository":
        del doc["spec"]["ref"]
    return doc


@pytest.mark.parametrize(
    ("kind", "url", "why"),
    [
        ("GitRepository", "https://a.a.!", "the host 'a.a.!' is not a DNS name or an IP address"),
        ("GitRepository", "https://user:token@github.com/org/repo.git", "credentials"),
        ("GitRepository", "https://token@github.com/org/repo.git", "credentials"),
        ("GitRepository", "https://github.com:0/org/repo.git", "port"),
        ("GitRepository", "https://github.com:65536/org/repo.git", "port"),
        ("GitRepository", "https://github.com/org/my repo.git", "spaces or control characters"),
        ("GitRepository", "https://github.com/org/repo\x01.git", "spaces or control characters"),
        ("GitRepository", "ftp://github.com/org/repo.git", "ftp:// is not allowed"),
        ("GitRepository", "git@github.com:org/repo.git", "no scheme"),  # Flux wants ssh://
        ("GitRepository", "http://999.1.1.1/org/repo.git", "not a DNS name or an IP address"),
        ("GitRepository", "https:///org/repo.git", "not a DNS name"),
        ("HelmRepository", "ftp://charts.example.com", "ftp:// is not allowed"),
        ("HelmRepository", "https://charts.example_com", "not a DNS name"),
        ("OCIRepository", "https://ghcr.io/org/manifests", "https:// is not allowed"),
    ],
)
def test_source_urls_are_parsed(kind: str, url: str, why: str) -> None:
    message = errors_of(flux_source(kind, url))["spec.url"]
    assert why in message and "expected" in message and "\n" not in message


@pytest.mark.parametrize(
    ("kind", "url"),
    [
        ("GitRepository", "https://github.com/org/repo.git"),
        ("GitRepository", "ssh://git@github.com:2222/org/repo.git"),
        ("GitRepository", "http://gitea-http.gitea.svc:3000/org/repo.git"),  # policy decides http
        ("GitRepository", "https://[2001:db8::1]:8443/org/repo.git"),
        ("GitRepository", "https://10.0.0.1/org/repo.git"),
        ("HelmRepository", "https://stefanprodan.github.io/podinfo"),
        ("HelmRepository", "oci://ghcr.io/stefanprodan/charts"),
        ("OCIRepository", "oci://ghcr.io/stefanprodan/manifests/podinfo"),
    ],
)
def test_valid_source_urls(kind: str, url: str) -> None:
    doc = flux_source(kind, url)
    assert "spec.url" not in errors_of(doc)
    result = validate_documents([doc], PolicySettings(secure_git_urls=False), rules=RULES)
    assert not [i for i in result.issues if i.path == "spec.url"]


def test_helm_repository_of_type_oci_needs_oci_url() -> None:
    doc = flux_source("HelmRepository", "https://ghcr.io/org/charts")
    doc["spec"]["type"] = "oci"
    assert "https:// is not allowed" in errors_of(doc)["spec.url"]


def test_application_repo_urls() -> None:
    def app(*sources: dict[str, object]) -> dict[str, object]:
        spec: dict[str, object] = {"project": "default", "destination": {"namespace": "x"}}
        spec.update({"source": sources[0]} if len(sources) == 1 else {"sources": list(sources)})
        return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "a"}, "spec": spec}

    fine = [
        {"repoURL": "git@github.com:org/repo.git", "path": "."},  # scp form: Argo CD accepts it
        {"repoURL": "https://github.com/org/repo.git", "path": "."},
        {"repoURL": "ghcr.io/stefanprodan/charts", "chart": "podinfo", "targetRevision": "6.7.0"},  # OCI Helm
        {"repoURL": "https://stefanprodan.github.io/podinfo", "chart": "podinfo", "targetRevision": "6.7.0"},
    ]
    for src in fine:
        assert not [p for p in errors_of(app(src)) if p.endswith("repoURL")], src
    found = errors_of(app(fine[1], {"repoURL": "https://a.a.!", "chart": "x"}))
    assert "spec.sources[1].repoURL" in found and "Helm repository URL" in found["spec.sources[1].repoURL"]
    assert "not a Git URL" in errors_of(app({"repoURL": "git@a.a.!:org/repo.git", "path": "."}))["spec.source.repoURL"]


def test_references_are_checked_with_crd_schemas_too() -> None:
    crds = load_crd_dir(need_shared(CRDS / "flux"))
    assert "spec.url" in errors_of(flux_source("GitRepository", "https://a.a.!"), crds=crds)
    assert "spec.template.spec.containers[0].image" in errors_of(workload("apps/v1", "Deployment", "x/!"), crds=crds)


def _fixture_documents() -> list[tuple[str, dict[str, object]]]:
    out = []
    for f in sorted(need_shared(FIXTURES).rglob("*.y*ml")):
        if "templates" in f.parts:  # Helm templates are not YAML until rendered
            continue
        try:
            docs = load_documents(f.read_text(encoding="utf-8"), str(f))
        except (UserInputError, UnicodeDecodeError):
            continue
        out += [(str(f.relative_to(FIXTURES)), d) for d in docs if isinstance(d, dict)]
    return out


def test_fixture_references_still_validate() -> None:
    """The real repositories in shared/fixtures: no image or URL there is refused."""
    from gitops_mcp.manifests.validation.references import POD_SPECS, reference_issues
    from gitops_mcp.providers.flux.checks import SOURCE_URLS

    docs = _fixture_documents()
    checks = (reference_issues, *RULES.references)  # the images, and each engine's own sources
    refused = [(f, path, msg) for f, d in docs for check in checks for sev, path, msg in check(d) if sev == "error"]
    assert refused == []
    images = sum(1 for _, d in docs if (_group_kind(d)) in POD_SPECS)
    urls = sum(1 for _, d in docs if _group_kind(d) in SOURCE_URLS or d.get("kind") == "Application")
    assert images >= 20 and urls >= 3  # the check saw real workloads and sources


def _group_kind(doc: dict[str, object]) -> tuple[str, str]:
    api = str(doc.get("apiVersion", ""))
    return (api.rsplit("/", 1)[0] if "/" in api else "", str(doc.get("kind", "")))


def test_builtin_rules_are_json_schema() -> None:
    """Every provider's built-in rule is a valid JSON Schema (draft 2020-12), checked by jsonschema;
    a broken one fails when it is first used, not silently."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    from gitops_mcp.manifests.validation import KindRule

    assert len(RULES) >= 8
    for rule in RULES.values():
        Draft202012Validator.check_schema(rule.spec)
        assert rule.validator.is_valid({}) in (True, False)
    with pytest.raises(SchemaError):
        _ = KindRule({"type": "strng"}).validator
