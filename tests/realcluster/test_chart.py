"""The Helm chart on a real API server (issue 21, item 1): ``helm install`` (the testbed's real helm 4)
puts every object of ``charts/gitops-mcp`` into a namespace that enforces the restricted Pod Security
profile, and the real kube-apiserver 1.37 (RBAC on) accepts them all and rolls them out (kwok runs the
pods). The server's pods cannot run here, so the server runs as a local process (``gitops-mcp serve``
over stdio, a real MCP client) with a kubeconfig holding a token the TokenRequest API minted for the
chart's ServiceAccount: what it needs works through the chart's RBAC (get_sync_status, find_owner,
wait_for_sync, reconcile; register_gitops_objects once rbac.registration is on), and what it must not
do is refused by the API server itself (403). The installed ClusterRoles are deploy/kubernetes'
(which the testbed applies for the other real-cluster tests), rule for rule. With rbac.dryRun the
wizard's live effect is the API server's dry run, not a comparison with the live objects."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from gitops_testbed import pki  # the realcluster conftest puts testbed/ on sys.path
from gitops_testbed.procs import wait_until
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from conftest import PROJECT, wizard_to_preview
from doubles.mcp_server import server_env

from . import test_flux
from .conftest import Testbed
from .world import TOKEN, RealWorld, unique

pytestmark = [pytest.mark.realcluster, pytest.mark.slow]
world = test_flux.world  # the fixture: podinfo on the authenticated remote, Flux objects deleted after
CHART = PROJECT / "charts" / "gitops-mcp"
BASE_ROLE = "gitops-mcp"  # deploy/kubernetes' ClusterRoles, applied by the testbed (gitops_testbed.identity)
RESTRICTED = {f"pod-security.kubernetes.io/{m}": "restricted" for m in ("enforce", "warn", "audit")}
READ_VERBS = {"get", "list", "watch"}
ROOT_GROUPS = {"source.toolkit.fluxcd.io", "kustomize.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io", "argoproj.io"}
SELF_REVIEWS = {"selfsubjectaccessreviews", "selfsubjectrulesreviews", "selfsubjectreviews"}  # every user's


@dataclass
class Release:
    tb: Testbed
    name: str  # the release, its namespace, its ServiceAccount and ClusterRole
    home: Path  # helm's config, cache and data
    registration: bool = False
    dry_run: bool = False

    def helm(self, *args: str, timeout: float = 180) -> str:
        env = {
            **os.environ,
            "KUBECONFIG": self.tb.plane.admin_kubeconfig,
            **{f"HELM_{d}_HOME": str(self.home / d.lower()) for d in ("CONFIG", "CACHE", "DATA")},
        }
        p = subprocess.run([self.tb.plane.bin("helm"), *args], capture_output=True, text=True, timeout=timeout, env=env)
        assert p.returncode == 0, f"helm {' '.join(args)}: {p.stderr}"
        return p.stdout

    def set_registration(self, on: bool) -> None:
        if on != self.registration:
            self._switch("registration", on, "kustomizations.kustomize.toolkit.fluxcd.io")
            self.registration = on

    def set_dry_run(self, on: bool) -> None:
        if on != self.dry_run:
            self._switch("dryRun", on, "deployments.apps")
            self.dry_run = on

    def _switch(self, value: str, on: bool, probe: str) -> None:
        """helm upgrade with rbac.<value> on or off (--wait), then wait until the authorizer agrees
        (create on ``probe``, which only that value grants)."""
        self.helm("upgrade", self.name, str(CHART), "-n", self.name, "--reuse-values", "--wait", "--timeout", "120s",
                  "--set", f"rbac.{value}={str(on).lower()}")  # fmt: skip
        kubeconfig = str(self.tb.plane.state / f"{self.name}.probe.kubeconfig")
        pki.kubeconfig(Path(kubeconfig), self.tb.plane.server, self.tb.plane.state / "pki" / "serving-ca.crt",
                       self.name, token=mint_token(self.tb, self.name, 600))  # fmt: skip
        want = "yes" if on else "no"
        wait_until(lambda: can_i(self.tb, kubeconfig, "create", probe) == want,
                   f"rbac.{value} to be {'granted' if on else 'revoked'}", 30)  # fmt: skip


def can_i(tb: Testbed, kubeconfig: str, verb: str, resource: str) -> str:
    cmd = [tb.plane.bin("kubectl"), f"--kubeconfig={kubeconfig}", "auth", "can-i", verb, resource, "-A"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()


def mint_token(tb: Testbed, name: str, seconds: int = 3600) -> str:
    """A token for the ServiceAccount ``name`` (in the namespace ``name``), from the TokenRequest API."""
    admin = k8s.CoreV1Api(k8s_config.new_client_from_config(config_file=tb.plane.admin_kubeconfig))
    spec = k8s.V1TokenRequestSpec(audiences=[], expiration_seconds=seconds)
    req = admin.create_namespaced_service_account_token(name, name, k8s.AuthenticationV1TokenRequest(spec=spec))
    return str(req.status.token)


@pytest.fixture(scope="module")
def release(testbed: Testbed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Release]:
    """The chart installed with its defaults (and its own Redis, on a PersistentVolume made for it, as
    the testbed has no StorageClass) into a namespace enforcing the restricted profile, --wait."""
    name = unique("gm-chart")
    labels = "".join(f"\n    {k}: {v}" for k, v in RESTRICTED.items())
    testbed.plane.apply(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n  labels:{labels}\n")
    testbed.plane.apply(
        f"""apiVersion: v1
kind: PersistentVolume
metadata: {{name: {name}-redis}}
spec:
  capacity: {{storage: 1Gi}}
  accessModes: [ReadWriteOnce]
  storageClassName: ""
  hostPath: {{path: /var/lib/{name}-redis}}
  claimRef: {{namespace: {name}, name: {name}-redis}}
"""
    )
    r = Release(testbed, name, tmp_path_factory.mktemp("helm"))
    try:
        r.helm("install", name, str(CHART), "-n", name, "--wait", "--timeout", "180s")
        yield r
    finally:
        r.helm("uninstall", name, "-n", name, "--wait", "--timeout", "120s")
        testbed.kubectl("delete", "--ignore-not-found", "--wait=false", f"namespace/{name}", f"pv/{name}-redis")


@pytest.fixture(scope="module")
def sa_kubeconfig(release: Release) -> Path:
    """A kubeconfig for the chart's ServiceAccount, with a token from the TokenRequest API."""
    tb = release.tb
    path = pki.kubeconfig(tb.plane.state / f"{release.name}.kubeconfig", tb.plane.server,
                          tb.plane.state / "pki" / "serving-ca.crt", release.name,
                          token=mint_token(tb, release.name))  # fmt: skip
    wait_until(lambda: can_i(tb, str(path), "list", "kustomizations.kustomize.toolkit.fluxcd.io") == "yes",
               "the chart's RBAC to take effect", 30)  # fmt: skip
    return path


def token_of(kubeconfig: Path) -> str:
    return str(json.loads(kubeconfig.read_text())["users"][0]["user"]["token"])


def test_every_object_of_the_chart_is_accepted_and_rolled_out(release: Release) -> None:
    status = json.loads(release.helm("status", release.name, "-n", release.name, "-o", "json"))
    assert status["info"]["status"] == "deployed"
    docs = [d for d in yaml.safe_load_all(release.helm("get", "manifest", release.name, "-n", release.name)) if d]
    kinds = sorted({d["kind"] for d in docs})
    assert kinds == [
        "ClusterRole", "ClusterRoleBinding", "Deployment", "NetworkPolicy", "PersistentVolumeClaim",
        "PodDisruptionBudget", "Service", "ServiceAccount",
    ]  # fmt: skip
    for d in docs:  # each one is there, as the API server stored it
        live = json.loads(release.tb.kubectl("get", d["kind"], d["metadata"]["name"], "-n", release.name, "-o", "json"))
        assert live["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm", d["kind"]
    for name, replicas in ((release.name, 2), (f"{release.name}-redis", 1)):
        dep = release.tb.get("deployment", name, release.name)
        assert dep["status"].get("availableReplicas") == replicas, dep["status"]
    # the pods were admitted under the restricted profile (nothing refused, nothing warned)
    events = json.loads(release.tb.kubectl("get", "events", "-n", release.name, "-o", "json"))["items"]
    assert not [e["message"] for e in events if e["reason"] in ("FailedCreate", "FailedScheduling")
                and "forbidden" in e["message"]]  # fmt: skip
    ns = release.tb.get("namespace", release.name, "")
    assert RESTRICTED.items() <= ns["metadata"]["labels"].items()


def rules(tb: Testbed, role: str) -> list[dict[str, Any]]:
    return list(json.loads(tb.kubectl("get", "clusterrole", role, "-o", "json"))["rules"])


def test_the_installed_rbac_is_the_kustomize_bases(release: Release) -> None:
    tb = release.tb
    assert rules(tb, release.name) == rules(tb, BASE_ROLE)
    binding = json.loads(tb.kubectl("get", "clusterrolebinding", release.name, "-o", "json"))
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": release.name, "namespace": release.name}]
    release.set_registration(True)
    assert rules(tb, f"{release.name}-registration") == rules(tb, f"{BASE_ROLE}-registration")
    release.set_registration(False)
    assert not tb.kubectl("get", "clusterrole", f"{release.name}-registration", "--ignore-not-found").strip()
    release.set_dry_run(True)
    try:
        base = next(yaml.safe_load_all((PROJECT / "deploy/kubernetes/dry-run/rbac.yaml").read_text(encoding="utf-8")))
        assert rules(tb, f"{release.name}-dry-run") == base["rules"]  # the testbed does not apply the base's
    finally:
        release.set_dry_run(False)
    assert not tb.kubectl("get", "clusterrole", f"{release.name}-dry-run", "--ignore-not-found").strip()


def forbidden(call: Callable[[], Any]) -> None:
    with pytest.raises(ApiException) as e:
        call()
    assert e.value.status == 403, e.value


@pytest.mark.parametrize("registration", [False, True], ids=["default", "registration"])
def test_what_the_server_must_not_do_is_forbidden(release: Release, sa_kubeconfig: Path, registration: bool) -> None:
    """Real requests with the chart's ServiceAccount: everything beyond its job is refused by the
    API server (403); the rules it holds are reads, patch on the reconcile kinds and, with
    registration, create on the root GitOps kinds and Namespaces: never delete, never Secrets,
    never a wildcard."""
    release.set_registration(registration)
    release.set_dry_run(False)
    api = k8s_config.new_client_from_config(config_file=str(sa_kubeconfig))
    core, apps, crd = k8s.CoreV1Api(api), k8s.AppsV1Api(api), k8s.CustomObjectsApi(api)
    rbac, ns = k8s.RbacAuthorizationV1Api(api), release.name
    ks = ("kustomize.toolkit.fluxcd.io", "v1", "flux-system", "kustomizations")
    new_ks = {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
              "metadata": {"name": unique("probe"), "namespace": "flux-system"},
              "spec": {"interval": "10m", "path": "./", "prune": True,
                       "sourceRef": {"kind": "GitRepository", "name": "none"}}}  # fmt: skip
    # what it needs: reads across the cluster, and the reconcile request's patch
    assert isinstance(crd.list_cluster_custom_object("kustomize.toolkit.fluxcd.io", "v1", "kustomizations"), dict)
    apps.list_deployment_for_all_namespaces(limit=1)
    core.list_event_for_all_namespaces(limit=1)
    # what it must not do
    forbidden(lambda: core.list_secret_for_all_namespaces(limit=1))
    forbidden(lambda: core.read_namespaced_secret(ns, ns))  # not even the Secret its own pods read
    forbidden(lambda: core.create_namespaced_config_map(ns, {"metadata": {"name": "x"}}))
    forbidden(lambda: apps.patch_namespaced_deployment(ns, ns, {"spec": {"replicas": 0}}))  # not itself, no workload
    forbidden(lambda: apps.delete_namespaced_deployment(ns, ns))
    forbidden(lambda: crd.delete_namespaced_custom_object(*ks, "flux-system"))
    forbidden(lambda: crd.replace_namespaced_custom_object(*ks, "flux-system", new_ks))
    forbidden(lambda: core.create_namespaced_service_account_token(ns, ns, k8s.AuthenticationV1TokenRequest(
        spec=k8s.V1TokenRequestSpec(audiences=[]))))  # fmt: skip
    forbidden(lambda: rbac.create_cluster_role_binding({"metadata": {"name": unique("escalate")},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": ns, "namespace": ns}]}))  # fmt: skip
    forbidden(lambda: core.patch_namespace(ns, {"metadata": {"labels": {"x": "y"}}}))
    forbidden(lambda: core.delete_namespace(ns))
    new_ns = {"metadata": {"name": unique("probe")}}
    if registration:  # allowed: a server-side dry run authorises the create without making it
        crd.create_namespaced_custom_object(*ks, new_ks, dry_run="All")
        core.create_namespace(new_ns, dry_run="All")
    else:
        forbidden(lambda: crd.create_namespaced_custom_object(*ks, new_ks, dry_run="All"))
        forbidden(lambda: core.create_namespace(new_ns, dry_run="All"))
    # every rule it holds
    review = k8s.AuthorizationV1Api(api).create_self_subject_rules_review(
        k8s.V1SelfSubjectRulesReview(spec=k8s.V1SelfSubjectRulesReviewSpec(namespace=ns))
    )
    held = [(r.api_groups or [], r.resources or [], set(r.verbs)) for r in review.status.resource_rules]
    for groups, resources, verbs in held:
        assert "*" not in groups + resources and "*" not in verbs, (groups, resources, verbs)
        assert "secrets" not in resources and "delete" not in verbs and "update" not in verbs
        if set(resources) <= SELF_REVIEWS:
            continue
        extra = verbs - READ_VERBS
        assert extra <= {"patch", "create"}, (groups, resources, verbs)
        if "patch" in extra:  # the reconcile request
            assert set(groups) <= ROOT_GROUPS, (groups, resources)
        if "create" in extra:  # registration: the root GitOps kinds, and a missing Namespace
            assert registration and (set(groups) <= ROOT_GROUPS or (groups, resources) == ([""], ["namespaces"]))
    creates = {res for g, resources, verbs in held if "create" in verbs for res in resources} - SELF_REVIEWS
    assert bool(creates) is registration, creates


def server_params(w: RealWorld, kubeconfig: Path) -> StdioServerParameters:
    """``gitops-mcp serve`` (stdio) as a local process: the cluster through ``kubeconfig`` only."""
    env = server_env(w.root, {
        "KUBECONFIG": str(kubeconfig),
        "GITOPS_MCP_KUBECONFIG": str(kubeconfig),
        "GITOPS_MCP_GIT_TOKEN": TOKEN,
        "GITOPS_MCP_ALLOWED_GIT_HOSTS": f"127.0.0.1:{w.remote.port}",
        "GITOPS_MCP_GIT_ALLOW_HTTP": "true",
        "GITOPS_MCP_POLICY__SECURE_GIT_URLS": "false",  # the remote is plain http on loopback
    })  # fmt: skip
    return StdioServerParameters(command=sys.executable, args=["-m", "gitops_mcp", "serve"], env=env,
                                 cwd=str(w.root))  # fmt: skip


async def call(c: Client, tool: str, args: dict[str, Any]) -> Any:
    r = await c.call_tool(tool, args)
    assert not r.is_error and r.structured_content is not None, f"{tool}: {r.content}"
    return r.structured_content


@pytest.mark.anyio
async def test_the_server_reaches_the_api_through_the_charts_service_account(
    release: Release, sa_kubeconfig: Path, world: RealWorld, tmp_path: Path
) -> None:
    release.set_registration(False)
    app = unique("podinfo")
    # the app's namespace does not exist: registration creates it (create on namespaces, nothing more)
    errlog = tmp_path / "server.stderr"
    try:
        with errlog.open("w") as err:
            async with Client(stdio_client(server_params(world, sa_kubeconfig), errlog=err)) as c:
                await deploy_and_check(c, world, release, app)
    finally:
        world.tb.kubectl("delete", "namespace", app, "--wait=false", "--ignore-not-found")
    logs = errlog.read_text(encoding="utf-8")
    for secret in (token_of(sa_kubeconfig), TOKEN):
        assert secret not in logs


async def deploy_and_check(c: Client, w: RealWorld, release: Release, app: str) -> None:
    """podinfo generated, pushed and registered (refused until rbac.registration is on; its missing
    namespace made by registration), synced at the pushed SHA, its status read, a reconcile
    requested, and its Deployment traced back to the file."""
    tb = w.tb
    gen = await call(c, "generate_manifests", {
        "provider": "flux", "repo_path": str(w.work), "package": "kustomize", "namespace": app,
        "app_name": app, "output_path": f"clusters/dev/{app}.yaml"})  # fmt: skip
    assert gen["validation"]["valid"], gen["validation"]
    (w.work / gen["output_path"]).write_text(gen["yaml"], encoding="utf-8")
    w.git("add", "-A")
    w.git("commit", "-qm", f"deploy {app}")
    w.git("push", "-q", "origin", "main")
    sha = w.git("rev-parse", "HEAD")
    file = {"repo_path": str(w.work), "file": gen["output_path"]}

    # registration off (the default): the API server refuses the create, nothing is made
    refused = await call(c, "register_gitops_objects", file)
    assert not refused["ok"] and not refused["applied"], refused
    assert "403" in refused["message"] and "cannot create resource" in refused["message"], refused
    assert not tb.kubectl("get", "kustomizations,gitrepositories", "-n", "flux-system",
                          "--field-selector", f"metadata.name={app}", "-o", "name").strip()  # fmt: skip

    release.set_registration(True)
    reg = await call(c, "register_gitops_objects", file)
    assert reg["ok"], reg
    made = {(o["kind"], o["name"], o["namespace"]) for o in reg["applied"]}
    w.created += [f"{k.lower()}/{n}" for k, n, ns in made if ns == "flux-system"]
    assert ("Kustomization", app, "flux-system") in made, made
    assert tb.get("namespace", app, "")["status"]["phase"] == "Active"

    ks = {"kind": "Kustomization", "name": app, "namespace": "flux-system"}
    waited = await call(c, "wait_for_sync", {**ks, "revision": sha, "timeout_s": 120})
    assert waited["outcome"] == "synced", waited
    status = await call(c, "get_sync_status", ks)
    assert status["state"] == "ready" and sha in (status["revision"] or ""), status
    asked = await call(c, "reconcile", ks)
    assert asked["handled"], asked  # the reconcile request's patch, confirmed by the controller
    owner = await call(c, "find_owner", {"api_version": "apps/v1", "kind": "Deployment", "name": "podinfo",
                                         "namespace": app, "repo_path": str(w.work)})  # fmt: skip
    assert owner["managed"], owner
    source = next(n for k, n, _ in made if k == "GitRepository")
    assert [(o["kind"], o["name"]) for o in owner["chain"]] == [("Kustomization", app), ("GitRepository", source)]
    assert owner["git"]["url"] == w.url and owner["file"]["file"] == "kustomize/deployment.yaml", owner


def test_with_rbac_dry_run_the_live_effect_is_the_api_servers_dry_run(
    release: Release, sa_kubeconfig: Path, world: RealWorld
) -> None:
    """The wizard's preview of a new app, as the chart's ServiceAccount: by default the API server
    refuses the dry runs (403: a dry run needs the write's rights) and the live effect compares the
    render with the live objects, and says so; with rbac.dryRun=true every object is dry-run."""
    app = unique("podinfo")
    world.tb.namespace(app)
    answers = {"package": "kustomize", "provider": "flux", "namespace": app, "app_name": app}
    compared = "may not dry-run"

    def effect() -> Any:
        v = wizard_to_preview(world.app(kubeconfig=sa_kubeconfig), world.work, answers)
        e = v.preview.live_effect
        assert e is not None and e.skipped is None and not e.refused, e
        assert ("Deployment", app, "podinfo") in {(c.kind, c.namespace, c.name) for c in e.created}, e
        return e

    try:
        release.set_dry_run(False)
        e = effect()
        assert any(compared in n and "Deployment" in n for n in e.notes), e.notes
        assert {c.note for c in e.created if c.kind == "Deployment"} == {"not dry-run (RBAC)"}, e
        release.set_dry_run(True)
        e = effect()
        assert not [n for n in e.notes if compared in n], e.notes
        assert not [c for c in e.created if c.note], e.created
    finally:
        release.set_dry_run(False)
        world.tb.kubectl("delete", "namespace", app, "--wait=false", "--ignore-not-found")
