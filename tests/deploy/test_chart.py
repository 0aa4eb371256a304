"""The Helm chart ``charts/gitops-mcp`` (issue 21, item 1), with a real helm 4: it lints, its
values are checked by values.schema.json (an unknown or wrong value stops the render, by name),
every object it renders passes strict schema validation for Kubernetes 1.33+, its default render
is the Kustomize base's objects (deploy/kubernetes), and the values for sign-in, modes and the
audit trail become settings the server starts with.

``GITOPS_MCP_HELM`` names the helm binary, else ``helm`` on PATH; tests skip without a helm 4
(fail with ``GITOPS_MCP_REQUIRE_HELM=1``). Build one: a go module requiring helm.sh/helm/v4
v4.3.2, ``go build helm.sh/helm/v4/cmd/helm``.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import PROJECT
from deploy_kit import DEPLOY, DRY_RUN, NAMESPACE, REGISTRATION, Obj, key, pick, render
from gitops_mcp.cli import _parser, load_settings

CHART = PROJECT / "charts" / "gitops-mcp"
SCHEMA_VERSIONS = ("1.33.0", "1.37.0")
HELM_LABELS = ("app.kubernetes.io/managed-by", "helm.sh/chart")
"""The labels Helm's render adds to every object's metadata (not to selectors or pod templates)."""

# read at import: the tests' autouse fixture clears GITOPS_MCP_* from the environment
HELM = os.environ.get("GITOPS_MCP_HELM") or shutil.which("helm")
REQUIRE_HELM = os.environ.get("GITOPS_MCP_REQUIRE_HELM") == "1"


def helm() -> str:
    """The helm 4 binary, or skip the test with the reason."""
    reason = None
    if not HELM or not Path(HELM).is_file():
        reason = "no helm on PATH; set GITOPS_MCP_HELM to a helm 4 binary (go build helm.sh/helm/v4/cmd/helm)"
    else:
        out = subprocess.run([HELM, "version", "--short"], capture_output=True, text=True, timeout=30)
        if not out.stdout.startswith("v4."):
            reason = f"{HELM} is not helm 4 ({out.stdout.strip() or out.stderr.strip()})"
    if reason:
        if REQUIRE_HELM:
            pytest.fail(reason)
        pytest.skip(reason)
    assert HELM is not None
    return HELM


def run_helm(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": os.devnull}  # nothing here talks to a cluster
    return subprocess.run([helm(), *args], capture_output=True, text=True, timeout=timeout, env=env)


def template(*sets: str, release: str = "gitops-mcp", namespace: str = NAMESPACE) -> list[Obj]:
    args = ["template", release, str(CHART), "--namespace", namespace, "--kube-version", "1.33.0"]
    for s in sets:
        args += ["--set", s]
    p = run_helm(*args)
    assert p.returncode == 0, p.stderr
    return [d for d in yaml.safe_load_all(p.stdout) if d]


def refused(*sets: str) -> str:
    args = ["template", "gitops-mcp", str(CHART), "--namespace", NAMESPACE]
    for s in sets:
        args += ["--set", s]
    p = run_helm(*args)
    assert p.returncode != 0, p.stdout
    return p.stderr


def without_helm_labels(obj: Obj) -> Obj:
    out = copy.deepcopy(obj)
    labels = out["metadata"]["labels"]
    for name in HELM_LABELS:
        assert name in labels, (key(obj), name)
        del labels[name]
    return out


def server(docs: list[Obj], name: str = "gitops-mcp") -> Obj:
    return pick(docs, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]


VARIANTS = {
    "default": (),
    "registration": ("rbac.registration=true",),
    "dry-run": ("rbac.dryRun=true",),
    "external-redis": ("redis.enabled=false", "externalRedis.url=rediss://redis.example.com:6380/0"),
    "team": (
        "mode=propose",
        "oidc.issuer=https://sso.example.com/realms/platform",
        "resourceUrl=https://gitops.example.com/mcp",
        "oidc.caConfigMap.name=corp-ca",
        "audit.log=/var/log/gitops-mcp/audit.jsonl",
        "tools={detect_packages,get_sync_status,start_deployment,answer_questions}",
        "extraAllowedHosts={gitops.example.com}",
        "namespace.create=true",
    ),
    "bare": ("networkPolicy.enabled=false", "podDisruptionBudget.enabled=false", "replicaCount=1"),
}


def test_the_chart_lints() -> None:
    p = run_helm("lint", "--strict", str(CHART))
    assert p.returncode == 0, p.stdout + p.stderr
    for sets in VARIANTS.values():
        args = [x for s in sets for x in ("--set", s)]
        p = run_helm("lint", "--strict", str(CHART), *args)
        assert p.returncode == 0, (sets, p.stdout + p.stderr)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
def test_every_rendered_object_passes_strict_schema_validation(variant: str, version: str) -> None:
    kv = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate is in the dev extras")
    docs = template(*VARIANTS[variant])
    assert docs
    for d in docs:
        kv.validate(d, version, strict=True)


def test_the_default_render_is_the_kustomize_base() -> None:
    """Object for object, field for field (Helm's two labels aside); the Namespace is Helm's to make
    (``--create-namespace``) unless namespace.create renders the base's own."""
    base = {key(d): d for d in render(DEPLOY)}
    chart = {key(d): without_helm_labels(d) for d in template()}
    namespace = base.pop(("v1", "Namespace", None, NAMESPACE))
    assert sorted(chart, key=str) == sorted(base, key=str)
    for k, obj in base.items():
        assert chart[k] == obj, k
    with_ns = {key(d): without_helm_labels(d) for d in template("namespace.create=true")}
    assert with_ns[key(namespace)] == namespace
    registration = {key(d): without_helm_labels(d) for d in template("rbac.registration=true")}
    for obj in render(REGISTRATION):
        assert registration[key(obj)] == obj, key(obj)


def test_rbac_dry_run_adds_the_bases_dry_run_rbac_and_nothing_else() -> None:
    """rbac.dryRun=true renders deploy/kubernetes/dry-run (patch and create on every kind, for the
    live effect's server-side dry runs) object for object; off by default."""
    base = {key(d): d for d in render(DRY_RUN)}
    assert {k[1] for k in base} == {"ClusterRole", "ClusterRoleBinding"}
    default = {key(d) for d in template()}
    assert not default & set(base)
    chart = {key(d): without_helm_labels(d) for d in template("rbac.dryRun=true")}
    assert set(chart) == default | set(base)
    for k, obj in base.items():
        assert chart[k] == obj, k
    assert not {key(d) for d in template("rbac.dryRun=true", "rbac.create=false")} & set(base)


def test_another_release_name_and_namespace_name_everything_after_them() -> None:
    docs = template(release="team", namespace="platform")
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert ("Deployment", "team") in names and ("Deployment", "team-redis") in names
    assert all(d["metadata"].get("namespace") in (None, "platform") for d in docs)
    assert pick(docs, "ClusterRoleBinding", "team")["subjects"] == [
        {"kind": "ServiceAccount", "name": "team", "namespace": "platform"}
    ]
    env = {e["name"]: e.get("value") for e in server(docs, "team")["env"]}
    assert env["GITOPS_MCP_SESSION_STORE"] == "redis://team-redis:6379/0"
    assert "team.platform.svc:*" in env["GITOPS_MCP_ALLOWED_HTTP_HOSTS"].split(",")


@pytest.mark.parametrize(
    ("sets", "words"),
    [
        (("nope=1",), "nope"),
        (("mode=yolo",), "/mode"),
        (("redis.enabled=false",), "externalRedis.url"),
        (("redis.enabled=false", "externalRedis.url=redis://:pw@redis:6379/0"), "/externalRedis/url"),
        (("audit.log=/etc/passwd",), "/audit/log"),
        (("oidc.issuer=http://sso.example.com",), "/oidc/issuer"),
        (("rbac.registation=true",), "registation"),
        (("rbac.dryrun=true",), "dryrun"),
        (("rbac.dryRun=yes",), "/rbac/dryRun"),
    ],
)
def test_wrong_values_stop_the_render_by_name(sets: tuple[str, ...], words: str) -> None:
    assert words in refused(*sets)


def test_the_team_values_become_the_servers_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sign-in, propose mode, the tool list and the audit file: settings the server starts with, on
    volumes it can read (the CA) and write (the audit file)."""
    docs = template(*VARIANTS["team"])
    c = server(docs)
    env = {e["name"]: e["value"] for e in c["env"] if "value" in e}
    for name, value in {**env, "GITOPS_MCP_AUTH_TOKEN": "t" * 32, "GITOPS_MCP_REDIS_PASSWORD": "p" * 32}.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(_parser().parse_args(["serve", *c["args"]]))
    assert settings.mode == "propose" and settings.proposes_only
    assert settings.oidc_issuer == "https://sso.example.com/realms/platform"
    assert settings.tools == ["detect_packages", "get_sync_status", "start_deployment", "answer_questions"]
    assert "gitops.example.com" in settings.allowed_http_hosts
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    assert settings.oidc_ca_file is not None and mounts[str(settings.oidc_ca_file.parent)]["readOnly"] is True
    assert settings.audit_log is not None and str(Path(settings.audit_log).parent) in mounts
    volumes = {v["name"]: v for v in pick(docs, "Deployment", "gitops-mcp")["spec"]["template"]["spec"]["volumes"]}
    assert volumes["oidc-ca"]["configMap"]["name"] == "corp-ca" and "emptyDir" in volumes["audit"]
    ns = pick(docs, "Namespace", NAMESPACE)
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_an_external_redis_replaces_the_charts_own() -> None:
    docs = template(*VARIANTS["external-redis"])
    assert not [d for d in docs if d["metadata"]["name"].endswith("-redis")]
    env = {e["name"]: e.get("value") for e in server(docs)["env"]}
    assert env["GITOPS_MCP_SESSION_STORE"] == "rediss://redis.example.com:6380/0"
    egress = pick(docs, "NetworkPolicy", "gitops-mcp")["spec"]["egress"]
    assert not [r for r in egress if r.get("to")]  # no rule for a Redis pod that is not there
    assert {"port": 6380, "protocol": "TCP"} in [p for r in egress for p in r["ports"]]  # but its port


def test_the_notes_tell_how_to_connect_a_client() -> None:
    for sets, words in (
        (
            (),
            [
                "kubectl -n gitops-mcp create secret generic gitops-mcp",
                "port-forward svc/gitops-mcp 8000:8000",
                "Authorization: Bearer $TOKEN",
                "rbac.registration=true",
                "rbac.dryRun=true",
            ],
        ),
        (VARIANTS["team"], ["sign in through https://sso.example.com/realms/platform", "resourceUrl"]),
    ):
        args = ["install", "gitops-mcp", str(CHART), "--namespace", NAMESPACE, "--dry-run=client"]
        p = run_helm(*args, *[x for s in sets for x in ("--set", s)])
        assert p.returncode == 0, p.stderr
        notes = p.stdout[p.stdout.index("NOTES:") :]
        for w in words:
            assert w in notes, (w, notes)


def test_helm_is_found_or_the_tests_say_why(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a helm 4, a clear skip (or, when required, a failure)."""
    import test_chart as me

    monkeypatch.setattr(me, "HELM", "/nonexistent/helm")
    monkeypatch.setattr(me, "REQUIRE_HELM", True)
    with pytest.raises(pytest.fail.Exception, match="GITOPS_MCP_HELM"):
        me.helm()
    monkeypatch.setattr(me, "REQUIRE_HELM", False)
    with pytest.raises(pytest.skip.Exception, match="GITOPS_MCP_HELM"):
        me.helm()
