"""The flows beyond the first deploy, on the real Flux controllers (the testbed): a pull request
followed to live after its merge in the fake forge (and one closed unmerged), promote and rollback
by the repository's URL, scaffold_fleet's layout applied infrastructure before apps (dependsOn, as
kustomize-controller's own log shows), and find_owner on a HelmRelease that `register` applied."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from doubles.forge import FakeForge
from gitops_mcp.remediation import Refused, SetHelmValues

from . import test_flux
from .flow import FORGE_TOKEN, closed_then_merged, env_overlays, fleet_content, promote_then_roll_back, push, timed
from .world import RealWorld, bootstrap, unique

pytestmark = [pytest.mark.realcluster, pytest.mark.slow]
world = test_flux.world  # the fixture: podinfo on the authenticated remote, Flux objects deleted after


@pytest.fixture
def forge(world: RealWorld) -> Iterator[FakeForge]:
    with FakeForge(world.remote.root, FORGE_TOKEN) as f:
        yield f


def test_a_pull_request_is_followed_to_live_and_one_closed_unmerged_fails(world: RealWorld, forge: FakeForge) -> None:
    """remediate in pull_request mode (on the repository's URL, the owner chain's) returns the
    wait_for_sync call; the reviewer closes the first request (a clear failure, nothing live changes)
    and merges the second: live at its merge commit."""
    bootstrap(world)
    r, _name, ns = test_flux.first_deploy(world, "kustomize", register=False)
    assert r.live, r.message
    follow, res, merge = closed_then_merged(world, forge, ns, "flux")
    assert follow.kind == "Kustomization"
    assert res.status.revision == f"main@sha1:{merge}"


def test_promote_and_rollback_by_url_on_the_real_controllers(world: RealWorld) -> None:
    """Two environments (Kustomizations of apps/podinfo/dev and .../staging) registered from Git;
    promote dev -> staging by the repository's URL moves the image tag, kustomize-controller applies
    it; rollback by URL reverts it, and staging runs the old tag again."""
    prefix = unique("envs")
    dev, staging = f"{prefix}-dev", f"{prefix}-staging"
    for ns in (dev, staging):
        world.tb.namespace(ns)
    ks = [
        {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": n, "namespace": "flux-system"},
            "spec": {
                "interval": "10m",
                "path": f"./apps/podinfo/{n.rsplit('-', 1)[1]}",
                "prune": True,
                "sourceRef": {"kind": "GitRepository", "name": prefix},
            },
        }
        for n in (dev, staging)
    ]
    repo = {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": prefix, "namespace": "flux-system"},
        "spec": {"interval": "10m", "url": world.url, "ref": {"branch": "main"}},
    }
    rel = f"clusters/dev/{prefix}.yaml"
    sha = push(world, {**env_overlays(prefix), rel: "---\n".join(json.dumps(d) + "\n" for d in [repo, *ks])}, "envs")
    app = world.app()
    reg = app.registrar.register(str(world.work), rel)
    world.created += [f"kustomization/{dev}", f"kustomization/{staging}", f"gitrepository/{prefix}"]
    assert reg.ok and [o.kind for o in reg.applied] == ["GitRepository", "Kustomization", "Kustomization"], reg.message
    for n in (dev, staging):
        assert app.cluster.wait("Kustomization", n, "flux-system", sha, 60).outcome == "synced"
    promote_then_roll_back(app, world, "flux", "Kustomization", "flux-system", prefix)


def kustomize_log(world: RealWorld, name: str) -> list[tuple[str, str]]:
    """(time, message) of kustomize-controller's log lines about flux-system/<name>, in order."""
    from .flow import controller_log

    want = {"name": name, "namespace": "flux-system"}
    return [
        (e["ts"], e["msg"]) for e in controller_log(world.tb, "kustomize-controller") if e.get("Kustomization") == want
    ]


def test_scaffold_fleet_applies_infrastructure_before_apps(world: RealWorld) -> None:
    """scaffold_fleet's layout for one environment, what `flux bootstrap` applies (the flux-system
    GitRepository and Kustomization of ./clusters/dev), and a CRD, its objects and an app using them:
    kustomize-controller holds apps back until infra-configs, and infra-configs until
    infra-controllers, are ready (dependsOn), so nothing is refused on the way."""
    for kind in ("gitrepository", "kustomization"):
        taken = world.tb.kubectl("get", kind, "flux-system", "-n", "flux-system", "--ignore-not-found", "-o", "name")
        assert taken == "", "this test plays flux bootstrap: no other flux-system source may exist"
    ns = unique("fleet")
    app = world.app()
    fleet = app.fleet.scaffold(str(world.work), "flux", environments=["dev"], repo_url=world.url, delivery="write")
    assert {"clusters/dev/infrastructure.yaml", "clusters/dev/apps.yaml"} <= {f.path for f in fleet.files}
    sha = push(world, fleet_content(ns), "fleet layout and its first content")
    with timed("flux: scaffold_fleet reconciled, infrastructure before apps"):
        world.tb.plane.apply(
            f"""apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: flux-system, namespace: flux-system}}
spec: {{interval: 1m, url: "{world.url}", ref: {{branch: main}}}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: flux-system, namespace: flux-system}}
spec: {{interval: 10m, path: ./clusters/dev, prune: true, sourceRef: {{kind: GitRepository, name: flux-system}}}}
"""
        )
        world.created += ["kustomization/flux-system", "gitrepository/flux-system"]
        boot = app.cluster.wait("Kustomization", "flux-system", "flux-system", sha, 60)
        assert boot.outcome == "synced", boot.message  # it created the layers' Kustomizations
        said: list[str] = []
        res = app.cluster.wait("Kustomization", "apps", "flux-system", sha, 150, lambda _t, m: said.append(m))
    assert res.outcome == "synced", (res.message, said)
    for layer in ("infra-controllers", "infra-configs"):
        assert app.cluster.wait("Kustomization", layer, "flux-system", sha, 10).outcome == "synced"
    dep = world.tb.get("deployment", "web", ns)
    assert dep["status"].get("availableReplicas") == 1, dep["status"]
    assert world.tb.kubectl("get", f"widgets.{ns}.example.test", "-n", ns, "-o", "name").split() == [
        f"widget.{ns}.example.test/defaults",
        f"widget.{ns}.example.test/web",
    ]
    # the order, in kustomize-controller's own log: each layer finished before the next one started
    logs = {n: kustomize_log(world, n) for n in ("infra-controllers", "infra-configs", "apps")}
    finished = {n: next(t for t, m in lines if m.startswith("Reconciliation finished")) for n, lines in logs.items()}
    assert finished["infra-controllers"] < finished["infra-configs"] < finished["apps"], logs
    held = [t for t, m in logs["apps"] if m.startswith("Dependencies do not meet ready condition")]
    assert held and held[0] < finished["infra-configs"], logs["apps"]
    failed = [m for lines in logs.values() for _t, m in lines if "failed" in m.lower()]
    assert failed == [], failed


def test_find_owner_names_the_file_of_a_helm_release_register_applied(world: RealWorld) -> None:
    """The first deploy of a chart from Git with register: the real helm-controller labels what it
    renders with the HelmRelease, which no Kustomization applies. find_owner reads the real labels and
    inventory and finds the HelmRelease's file in the repository its chart comes from; a values
    change is refused before anything is written (it would never reach the cluster)."""
    r, name, ns = test_flux.first_deploy(world, "charts/podinfo")
    assert r.live and r.file is not None, r.message
    dep_name = json.loads(world.tb.kubectl("get", "deployments", "-n", ns, "-o", "json"))["items"][0]["metadata"][
        "name"
    ]
    hr = world.tb.get("helmrelease", name, "flux-system")
    assert not any(k.startswith("kustomize.toolkit.fluxcd.io/") for k in hr["metadata"].get("labels") or {})
    app = world.app()
    t0 = time.monotonic()
    owner = app.cluster.find_owner("apps/v1", "Deployment", dep_name, ns, repo_path=str(world.work))
    took = time.monotonic() - t0
    assert [(c.kind, c.name) for c in owner.chain][:1] == [("HelmRelease", name)], owner.message
    assert "inventory" in owner.chain[0].via  # helm-controller 1.6 keeps one in status.inventory
    assert owner.git is not None and owner.git.url == world.url and owner.git.defining_kind == "HelmRelease"
    assert owner.file is not None and owner.file.file == r.file, owner.message
    assert "no Kustomization applies it" in owner.message and took < 10
    head = world.head()
    values: Any = SetHelmValues(values={"replicaCount": 2})
    with pytest.raises(Refused, match="register it again"):
        app.remediation.remediate("apps/v1", "Deployment", dep_name, ns, values, mode="push")
    assert world.head() == head
