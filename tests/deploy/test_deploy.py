"""The deploy base ``deploy/kubernetes`` (issue 12): ``kubectl kustomize`` renders it, every object
passes strict schema validation (the Kubernetes schemas of kubernetes-validate), the pods meet the
restricted Pod Security profile, the server's settings in the Deployment are ones it accepts, the
parts refer to each other consistently, and ``kubectl apply`` of it to the fake API server succeeds."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from deploy_kit import DEPLOY, NAMESPACE, REGISTRATION, Obj, key, pick, render, run_kubectl
from doubles.kube import FakeKube
from gitops_mcp.cli import _parser, load_settings
from gitops_mcp.settings import Settings

# The oldest Kubernetes minor still in common support, and the newest kubernetes-validate knows.
SCHEMA_VERSIONS = ("1.29.0", "1.37.0")
RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


# Settings of the Redis session store (issue 12's other half, merged separately): names agreed on.
@pytest.fixture(scope="module")
def docs() -> list[Obj]:
    return render(DEPLOY)


@pytest.fixture(scope="module")
def registration() -> list[Obj]:
    return render(REGISTRATION)


def server(docs: list[Obj]) -> Obj:
    return pick(docs, "Deployment", "gitops-mcp")


def container(deployment: Obj) -> Obj:
    (c,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(c)


def test_the_base_renders_the_whole_service(docs: list[Obj], registration: list[Obj]) -> None:
    assert {(k, n) for _, k, _, n in map(key, docs)} == {
        ("Namespace", NAMESPACE),
        ("ServiceAccount", "gitops-mcp"),
        ("ServiceAccount", "gitops-mcp-redis"),
        ("ClusterRole", "gitops-mcp"),
        ("ClusterRoleBinding", "gitops-mcp"),
        ("Deployment", "gitops-mcp"),
        ("Service", "gitops-mcp"),
        ("PodDisruptionBudget", "gitops-mcp"),
        ("NetworkPolicy", "gitops-mcp"),
        ("PersistentVolumeClaim", "gitops-mcp-redis"),
        ("Deployment", "gitops-mcp-redis"),
        ("Service", "gitops-mcp-redis"),
        ("NetworkPolicy", "gitops-mcp-redis"),
    }
    cluster_scoped = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
    for d in docs + registration:
        assert d["metadata"].get("namespace") == (None if d["kind"] in cluster_scoped else NAMESPACE), key(d)
        assert d["metadata"]["labels"]["app.kubernetes.io/part-of"] == "gitops-mcp", key(d)
    dep = server(docs)
    assert dep["spec"]["replicas"] == 2
    assert container(dep)["image"] == "gitops-mcp:0.1.0"  # the kustomization's images entry, to override
    assert {(k, n) for _, k, _, n in map(key, registration)} == {
        ("ClusterRole", "gitops-mcp-registration"),
        ("ClusterRoleBinding", "gitops-mcp-registration"),
    }
    for binding in (pick(docs, "ClusterRoleBinding", "gitops-mcp"), registration[1]):
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "gitops-mcp", "namespace": NAMESPACE}]


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
def test_every_object_passes_strict_schema_validation(docs: list[Obj], registration: list[Obj], version: str) -> None:
    kv = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate is in the dev extras")
    for d in docs + registration:
        kv.validate(d, version, strict=True)
    wrong = copy.deepcopy(server(docs))
    wrong["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}  # a typo the API server drops
    with pytest.raises(kv.ValidationError):
        kv.validate(wrong, version, strict=True)


def pods(docs: list[Obj]) -> list[tuple[str, Obj]]:
    return [(d["metadata"]["name"], d["spec"]["template"]["spec"]) for d in docs if d["kind"] == "Deployment"]


def test_every_pod_meets_the_restricted_pod_security_profile(docs: list[Obj]) -> None:
    ns = pick(docs, "Namespace", NAMESPACE)
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    # it holds the user's Secret: neither controller prunes it
    assert ns["metadata"]["annotations"] == {
        "kustomize.toolkit.fluxcd.io/prune": "disabled",
        "argocd.argoproj.io/sync-options": "Prune=false",
    }
    assert len(pods(docs)) == 2
    for name, pod in pods(docs):
        psc = pod.get("securityContext") or {}
        assert psc.get("seccompProfile") == {"type": "RuntimeDefault"}, name
        assert not any(pod.get(h) for h in ("hostNetwork", "hostPID", "hostIPC")), name
        volumes = {v["name"]: v for v in pod.get("volumes") or []}
        for v in volumes.values():
            assert set(v) - {"name"} <= RESTRICTED_VOLUMES, (name, v)
        for c in pod["containers"] + (pod.get("initContainers") or []):
            sc = c.get("securityContext") or {}
            assert sc.get("allowPrivilegeEscalation") is False, name
            assert sc.get("readOnlyRootFilesystem") is True, name
            assert not sc.get("privileged"), name
            assert "ALL" in sc["capabilities"]["drop"] and not sc["capabilities"].get("add"), name
            assert (sc.get("runAsNonRoot", psc.get("runAsNonRoot"))) is True, name
            assert sc.get("runAsUser", psc.get("runAsUser")) not in (None, 0), name
            assert not any(p.get("hostPort") for p in c.get("ports") or []), name
            for m in c.get("volumeMounts") or []:
                assert m["name"] in volumes, (name, m)


def test_the_server_accepts_the_deployments_settings(
    docs: list[Obj], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The env and args the Deployment gives are settings the server knows and starts with (with the
    Secret's keys filled in), and everything it writes is on a writable volume."""
    c = container(server(docs))
    env = {e["name"]: e["value"] for e in c["env"] if "value" in e}
    assert [s["secretRef"]["name"] for s in c["envFrom"]] == ["gitops-mcp"]
    known = {n.upper() for n in Settings.model_fields}
    for name in env:
        assert name in ("HOME", "TMPDIR") or name.removeprefix("GITOPS_MCP_") in known, name
    for name, value in {**env, "GITOPS_MCP_AUTH_TOKEN": "t" * 32, "GITOPS_MCP_REDIS_PASSWORD": "p" * 32}.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(_parser().parse_args(["serve", *c["args"]]))  # as the image's entrypoint runs it
    assert (settings.transport, settings.host, settings.port) == ("http", "0.0.0.0", 8000)
    assert not settings.read_only and settings.bearer_tokens() == {"default": "t" * 32}
    assert "gitops-mcp.gitops-mcp.svc:*" in settings.allowed_http_hosts
    mounts = [Path(m["mountPath"]) for m in c["volumeMounts"]]
    for path in (settings.state_dir, settings.cache_dir, *settings.allowed_roots, Path(env["TMPDIR"])):
        assert any(path == m or m in path.parents for m in mounts), f"{path} is not on a volume"


def test_probes_ports_and_services_line_up(docs: list[Obj]) -> None:
    dep, c = server(docs), container(server(docs))
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"http": 8000} and c["args"][c["args"].index("--port") + 1] == "8000"
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"] == {"path": "/healthz", "port": "http"}, probe
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    svc = pick(docs, "Service", "gitops-mcp")
    assert svc["spec"]["selector"].items() <= pod_labels.items() and svc["spec"]["ports"][0]["targetPort"] == "http"
    pdb = pick(docs, "PodDisruptionBudget", "gitops-mcp")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert pdb["spec"]["minAvailable"] < dep["spec"]["replicas"]
    # the session store is the Redis Service, whose port leads to the Redis container
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["GITOPS_MCP_SESSION_STORE"] == "redis://gitops-mcp-redis:6379/0"
    redis_svc, redis = pick(docs, "Service", "gitops-mcp-redis"), pick(docs, "Deployment", "gitops-mcp-redis")
    (rc,) = redis["spec"]["template"]["spec"]["containers"]
    assert redis_svc["spec"]["ports"][0]["port"] == 6379 and redis_svc["spec"]["ports"][0]["targetPort"] == "redis"
    assert {p["name"]: p["containerPort"] for p in rc["ports"]} == {"redis": 6379}
    assert redis_svc["spec"]["selector"].items() <= redis["spec"]["template"]["metadata"]["labels"].items()
    # Redis's password: the key of the Secret the server reads its GITOPS_MCP_REDIS_PASSWORD from
    (ref,) = [e["valueFrom"]["secretKeyRef"] for e in rc["env"] if e["name"] == "GITOPS_MCP_REDIS_PASSWORD"]
    assert ref == {"name": "gitops-mcp", "key": "GITOPS_MCP_REDIS_PASSWORD"}
    assert "$(GITOPS_MCP_REDIS_PASSWORD)" in rc["args"] and redis["spec"]["strategy"]["type"] == "Recreate"
    assert redis["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def test_network_policies_let_only_the_server_reach_redis(docs: list[Obj]) -> None:
    server_labels = server(docs)["spec"]["template"]["metadata"]["labels"]
    redis_labels = pick(docs, "Deployment", "gitops-mcp-redis")["spec"]["template"]["metadata"]["labels"]
    mine, theirs = pick(docs, "NetworkPolicy", "gitops-mcp"), pick(docs, "NetworkPolicy", "gitops-mcp-redis")
    assert mine["spec"]["podSelector"]["matchLabels"].items() <= server_labels.items()
    assert theirs["spec"]["podSelector"]["matchLabels"].items() <= redis_labels.items()
    assert theirs["spec"]["policyTypes"] == ["Ingress", "Egress"] and theirs["spec"]["egress"] == []
    (rule,) = theirs["spec"]["ingress"]
    assert [f["podSelector"]["matchLabels"] for f in rule["from"]] == [{"app.kubernetes.io/name": "gitops-mcp"}]
    assert rule["ports"] == [{"port": 6379, "protocol": "TCP"}]
    assert not redis_labels.items() >= {"app.kubernetes.io/name": "gitops-mcp"}.items()
    to_redis = [r for r in mine["spec"]["egress"] if r.get("to")]
    assert [t["podSelector"]["matchLabels"] for r in to_redis for t in r["to"]] == [
        {"app.kubernetes.io/name": "gitops-mcp-redis"}
    ]
    assert {"app.kubernetes.io/name": "gitops-mcp-redis"}.items() <= redis_labels.items()
    assert mine["spec"]["ingress"] == [{"ports": [{"port": 8000, "protocol": "TCP"}]}]


def live_fields(obj: Obj) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def test_kubectl_applies_the_base_to_the_api_server(tmp_path: Path) -> None:
    """``kubectl apply --server-side`` of the base and of registration/. ``--validate=false`` turns off
    kubectl's own client-side schema check, which downloads the API server's OpenAPI document (v3
    JSON for kubectl 1.37), more than the fake serves; the objects pass the
    stricter check against the real schemas above."""
    with FakeKube() as kube:
        cfg = kube.kubeconfig(tmp_path / "kubeconfig")
        for directory in (DEPLOY, REGISTRATION):
            p = run_kubectl("apply", "--server-side", "--validate=false", "-k", str(directory), kubeconfig=cfg)
            assert p.returncode == 0, p.stderr
            assert "serverside-applied" in p.stdout
        for obj in render(DEPLOY) + render(REGISTRATION):
            api_version, kind, ns, name = key(obj)
            live = kube.find(api_version, kind, ns, name)
            assert live is not None, key(obj)
            assert live_fields(live) == live_fields(obj), key(obj)
            assert live["metadata"]["labels"] == obj["metadata"]["labels"]
            assert [m["manager"] for m in live["metadata"]["managedFields"]] == ["kubectl"]
        again = run_kubectl("apply", "--server-side", "--validate=false", "-k", str(DEPLOY), kubeconfig=cfg)
        assert again.returncode == 0, again.stderr
        # the fake still refuses a client's mistake: an object in a namespace that does not exist
        stray = pick(render(DEPLOY), "Service", "gitops-mcp")
        stray["metadata"]["namespace"] = "nowhere"
        (tmp_path / "stray.json").write_text(json.dumps(stray), encoding="utf-8")
        p = run_kubectl(
            "apply", "--server-side", "--validate=false", "-f", str(tmp_path / "stray.json"), kubeconfig=cfg
        )
        assert p.returncode != 0 and 'namespaces "nowhere" not found' in p.stderr
