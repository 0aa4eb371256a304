"""The flows beyond the first deploy, on the real Argo CD application controller and repo-server (the
testbed): a pull request followed to live after its merge in the fake forge (and one closed
unmerged), promote and rollback by the repository's URL, and scaffold_fleet's app of apps syncing
infrastructure before apps (sync waves, with the Application health check its notes ask for)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from doubles.forge import FakeForge

from . import test_argocd
from .conftest import Testbed
from .flow import FORGE_TOKEN, closed_then_merged, env_overlays, fleet_content, promote_then_roll_back, push, timed
from .world import RealWorld, unique

pytestmark = [pytest.mark.realcluster, pytest.mark.slow]
world = test_argocd.world  # the fixture: podinfo (no HPA) on the remote, Argo CD's credential for it


@pytest.fixture
def forge(world: RealWorld) -> Iterator[FakeForge]:
    with FakeForge(world.remote.root, FORGE_TOKEN) as f:
        yield f


def test_a_pull_request_is_followed_to_live_and_one_closed_unmerged_fails(world: RealWorld, forge: FakeForge) -> None:
    r, name, ns = test_argocd.first_deploy(world)
    assert r.live, r.message
    follow, res, merge = closed_then_merged(world, forge, ns, "argocd")
    assert (follow.kind, follow.name) == ("Application", name)
    assert res.status.revision == merge


def test_promote_and_rollback_by_url_on_the_real_controller(world: RealWorld) -> None:
    """Two automated Applications (apps/podinfo/dev and .../staging) registered from Git; promote
    dev -> staging by the repository's URL, refreshed, is synced live; rollback by URL likewise."""
    prefix = unique("envs")
    dev, staging = f"{prefix}-dev", f"{prefix}-staging"
    apps = [
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": n, "namespace": "argocd"},
            "spec": {
                "project": "default",
                "source": {"repoURL": world.url, "targetRevision": "main", "path": f"apps/podinfo/{env}"},
                "destination": {"server": "https://kubernetes.default.svc", "namespace": n},
                "syncPolicy": {"automated": {}, "syncOptions": ["CreateNamespace=true"]},
            },
        }
        for n, env in ((dev, "dev"), (staging, "staging"))
    ]
    rel = f"clusters/dev/{prefix}.yaml"
    sha = push(world, {**env_overlays(prefix), rel: "---\n".join(json.dumps(d) + "\n" for d in apps)}, "envs")
    app = world.app()
    reg = app.registrar.register(str(world.work), rel)
    assert reg.ok and [o.name for o in reg.applied] == [dev, staging], reg.message
    try:
        for n in (dev, staging):
            w = app.cluster.wait("Application", n, "argocd", sha, 90)
            assert w.outcome == "synced", w.message
        promote_then_roll_back(app, world, "argocd", "Application", "argocd", prefix)
    finally:
        world.tb.kubectl("delete", "application", dev, staging, "-n", "argocd", "--ignore-not-found", "--wait=false")


HEALTH_KEY = "resource.customizations.health.argoproj.io_Application"
APPLICATION_HEALTH = """hs = {}
hs.status = "Progressing"
hs.message = ""
if obj.status ~= nil and obj.status.health ~= nil then
  hs.status = obj.status.health.status
  if obj.status.health.message ~= nil then
    hs.message = obj.status.health.message
  end
end
return hs
"""


def states(tb: Testbed, names: tuple[str, ...]) -> dict[str, object]:
    """Each Application's sync, health and operation, as the failure's explanation."""
    out: dict[str, object] = {}
    for n in names:
        st = (
            (test_argocd.application(tb, n).get("status") or {})
            if tb.kubectl("get", "application", n, "-n", "argocd", "--ignore-not-found", "-o", "name")
            else {}
        )
        op = st.get("operationState") or {}
        out[n] = (
            st.get("sync", {}).get("status"),
            st.get("health"),
            op.get("phase"),
            op.get("message"),
            [(r.get("kind"), r.get("name"), r.get("status"), r.get("health")) for r in st.get("resources") or []],
        )
    return out


@pytest.fixture
def application_health(argocd: Testbed) -> Iterator[None]:
    """The Application health check in argocd-cm, as scaffold_fleet's notes ask (Argo CD's docs give
    this Lua): without it Argo CD 1.8+ does not assess child Applications, and waves do not wait."""

    def patch(value: str | None) -> None:
        body = json.dumps({"data": {HEALTH_KEY: value}})
        argocd.kubectl("patch", "configmap", "argocd-cm", "-n", "argocd", "--type=merge", "-p", body)

    patch(APPLICATION_HEALTH)
    try:
        yield
    finally:
        patch(None)


def test_scaffold_fleet_syncs_infrastructure_before_apps(world: RealWorld, application_health: None) -> None:
    """scaffold_fleet's app of apps for one environment, registered (its root Application), with a
    CRD, its objects and an app using them: the root creates each layer's Application in its sync
    wave only once the one before is healthy, so the app's first sync succeeds."""
    names = ("dev-root", "dev-infra-controllers", "dev-infra-configs", "dev-apps")
    for n in names:
        taken = world.tb.kubectl("get", "application", n, "-n", "argocd", "--ignore-not-found", "-o", "name")
        assert taken == "", f"Application {n} exists already: the fleet's names are fixed"
    ns = unique("fleet")
    app = world.app()
    fleet = app.fleet.scaffold(str(world.work), "argocd", environments=["dev"], repo_url=world.url, delivery="write")
    assert any("health" in n for n in fleet.notes), fleet.notes
    sha = push(world, fleet_content(ns), "fleet layout and its first content")
    try:
        with timed("argocd: scaffold_fleet synced, infrastructure before apps"):
            reg = app.registrar.register(str(world.work), "clusters/dev/root.yaml")
            assert reg.ok and [o.name for o in reg.applied] == ["dev-root"], reg.message
            # each wave waits for the previous layer's health, which Argo CD sometimes sees only at its
            # periodic refresh (2 min here), seen on the testbed: a bound for three waves
            root = app.cluster.wait("Application", "dev-root", "argocd", sha, 420)
            assert root.outcome == "synced", (root.message, states(world.tb, names))
            res = app.cluster.wait("Application", "dev-apps", "argocd", sha, 60)
        assert res.outcome == "synced", res.message
        dep = world.tb.get("deployment", "web", ns)
        assert dep["status"].get("availableReplicas") == 1, dep["status"]
        layers = {n: test_argocd.application(world.tb, n) for n in names[1:]}
        created = [layers[n]["metadata"]["creationTimestamp"] for n in names[1:]]
        assert all("operationState" in a["status"] for a in layers.values()), states(world.tb, names)
        done = [layers[n]["status"]["operationState"]["finishedAt"] for n in names[1:]]
        print(json.dumps({n: (c, d) for n, c, d in zip(names[1:], created, done, strict=True)}))
        # each layer's Application was created after the one before had synced (second resolution)
        assert done[0] <= created[1] and done[1] <= created[2], (created, done)
        for n, a in layers.items():
            op = a["status"]["operationState"]
            assert op["phase"] == "Succeeded" and not op.get("retryCount"), (n, op)  # never refused
    finally:
        world.tb.kubectl("delete", "application", *names, "-n", "argocd", "--ignore-not-found", "--wait=false")
        world.tb.kubectl("delete", "crd", f"widgets.{ns}.example.test", "--ignore-not-found", "--wait=false")


def test_a_helm_value_remediation_is_pushed_and_verified_live(world: RealWorld) -> None:
    """An Application rendering the podinfo chart from Git (Argo CD's repo-server runs helm 4): find_owner
    reads Argo CD's tracking and finds the chart's values file; replicaCount set there is pushed,
    synced, and live."""
    from gitops_mcp.remediation import SetHelmValues

    name = unique("chart")
    res, _sha = test_argocd.register_app(world, name, "charts/podinfo", {})
    try:
        assert res.outcome == "synced", res.message
        [dep] = json.loads(world.tb.kubectl("get", "deployments", "-n", name, "-o", "json"))["items"]
        dep_name = dep["metadata"]["name"]
        app = world.app()
        owner = app.cluster.find_owner("apps/v1", "Deployment", dep_name, name, repo_path=str(world.work))
        assert [(c.kind, c.name) for c in owner.chain] == [("Application", name)], owner.message
        assert owner.git is not None and owner.git.path == "charts/podinfo", owner.git
        with timed("argocd: Helm value remediation pushed and live"):
            fix = app.remediation.remediate(
                "apps/v1", "Deployment", dep_name, name, SetHelmValues(values={"replicaCount": 2}), mode="push",
                repo_path=str(world.work),
            )  # fmt: skip
        assert fix.plan is not None and [e.file for e in fix.plan.edits] == ["charts/podinfo/values.yaml"], fix.plan
        assert fix.verification is not None and fix.verification.outcome == "synced", fix.message
        live = world.tb.get("deployment", dep_name, name)
        assert live["spec"]["replicas"] == 2, live["spec"]
        assert fix.live_ok is True, fix.message
    finally:
        world.tb.kubectl("delete", "application", name, "-n", "argocd", "--ignore-not-found", "--wait=false")
