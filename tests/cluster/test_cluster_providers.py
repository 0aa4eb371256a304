"""The cluster layer asks the registry: a provider it has never heard of works through the fake API server.

The provider below exists only here: one kind (``Widget``), its own status normaliser, reconcile
request (an annotation its controller answers in ``status.pokedAt``), ownership label and Git
location. A tiny controller thread plays its part on :class:`fakekube.FakeKube`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from doubles.clock import virtual_time
from doubles.kube import DEFAULT_RESOURCES, FakeKube, Resource
from gitops_mcp.cluster.client import KubeClient
from gitops_mcp.cluster.ops import (
    cluster_crd_documents,
    get_status,
    installed_controllers,
    reconcile,
    wait_for_sync,
)
from gitops_mcp.cluster.owner import OwnerFinder
from gitops_mcp.errors import UserInputError
from gitops_mcp.providers import ProviderRegistry, default_registry
from gitops_mcp.providers.base import DeploymentSpec, Generated, PackageType, QuestionContext, SourceKind
from gitops_mcp.providers.live import (
    ClusterReader,
    GitLocation,
    KindInfo,
    Obj,
    ObjectRef,
    OwnerLink,
    OwnerStage,
    OwnerStep,
    ReconcilePlan,
    ReconcileStep,
    SyncStatus,
)
from gitops_mcp.questions import QuestionDef
from gitops_mcp.settings import Settings

GROUP = "widgets.example.test"
API = f"{GROUP}/v1"
POKE = f"{GROUP}/poke"
OWNER_LABEL = f"{GROUP}/owner"
WIDGET = Resource(GROUP, "v1", "widgets", "Widget")


class WidgetProvider:
    name = "widgets"
    title = "Widgets"
    description = "A provider only the tests know"
    kinds = (KindInfo("Widget", API, "widgets", owner_root=True),)

    def unsupported_reason(self, package_type: PackageType, source_kind: SourceKind) -> str | None:
        return None

    def questions(self, ctx: QuestionContext) -> list[QuestionDef]:
        return []

    def generate(self, spec: DeploymentSpec, options: Mapping[str, Any]) -> Generated:
        w = {"apiVersion": API, "kind": "Widget", "metadata": {"name": spec.app_name}, "spec": {"repo": spec.repo_url}}
        return Generated(objects=[w], summary=[])

    def manages_api_group(self, group: str) -> bool:
        return group == GROUP

    def normalize_status(self, ref: ObjectRef, obj: Obj) -> SyncStatus:
        status = obj.get("status") or {}
        phase = status.get("phase")
        state = {"Done": "ready", "Broken": "failed"}.get(str(phase), "progressing")
        return SyncStatus(
            **ref.model_dump(),
            state=state,  # type: ignore[arg-type]
            message=status.get("message") or f"phase {phase or 'none yet'}",
            revision=status.get("revision"),
            attempted_revision=status.get("attempted"),
        )

    def reconcile_plan(self, ref: ObjectRef, obj: Obj, token: str, *, with_source: bool, sync: bool) -> ReconcilePlan:
        return ReconcilePlan(
            steps=(
                ReconcileStep(
                    target=ref,
                    patch={"metadata": {"annotations": {POKE: token}}},
                    handled=lambda o: (o.get("status") or {}).get("pokedAt") == token,
                ),
            ),
            done_message="poked",
            controller="the widget controller",
        )

    def owner_of(self, cluster: ClusterReader, obj: Obj, stage: OwnerStage) -> OwnerStep | None:
        meta = obj.get("metadata") or {}
        name = (meta.get("labels") or {}).get(OWNER_LABEL)
        if stage != "markers" or not name or obj.get("kind") == "Widget":
            return None
        widget = cluster.get(API, "Widget", name, meta.get("namespace"))
        if widget is None:
            return None
        link = OwnerLink(api_version=API, kind="Widget", name=name, namespace=meta.get("namespace"), via="label")
        return link, widget

    def git_location(self, cluster: ClusterReader, obj: Obj, chain: Sequence[OwnerLink]) -> GitLocation | None:
        widget = cluster.get(API, "Widget", chain[0].name, chain[0].namespace) or {}
        spec = widget.get("spec") or {}
        return GitLocation(
            url=spec["repo"], path=spec["path"], defining_kind=str(obj["kind"]), defining_name=obj["metadata"]["name"]
        )


class WidgetController:
    """Answers a poke: the spec's revision becomes the applied one (``bad`` breaks it)."""

    def __init__(self, kube: FakeKube) -> None:
        self.kube = kube
        self.wake, self.stop = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.passes, self.passed = 0, threading.Condition()
        kube.hooks.append(lambda ev: self.wake.set())

    def settle(self, passes: int = 2) -> None:
        """Return once the loop made ``passes`` more passes over the widgets (each one a chance to act)."""
        with self.passed:
            target = self.passes + passes
            self.wake.set()
            assert self.passed.wait_for(lambda: self.passes >= target, 10), "the widget controller made no pass"

    def loop(self) -> None:
        while not self.stop.is_set():
            self.wake.wait(0.2)
            self.wake.clear()
            self.act()
            with self.passed:
                self.passes += 1
                self.passed.notify_all()

    def act(self) -> None:
        for w in self.kube.list(WIDGET, None):
            token = (w["metadata"].get("annotations") or {}).get(POKE)
            status = w.get("status") or {}
            if token and status.get("pokedAt") != token:
                rev = w["spec"]["revision"]
                broken = rev == "bad"
                self.kube.patch_status(
                    API,
                    "Widget",
                    w["metadata"]["namespace"],
                    w["metadata"]["name"],
                    {
                        "pokedAt": token,
                        "phase": "Broken" if broken else "Done",
                        "attempted": rev,
                        "revision": status.get("revision") if broken else rev,
                        **({"message": "the widget fell apart"} if broken else {}),
                    },
                )


@dataclass
class Env:
    kube: FakeKube
    client: KubeClient
    registry: ProviderRegistry
    controller: WidgetController


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    registry = ProviderRegistry([WidgetProvider()])
    with FakeKube(resources=[*DEFAULT_RESOURCES, WIDGET]) as kube:
        kube.ensure_namespace("apps")
        controller = WidgetController(kube)
        controller.thread.start()
        settings = Settings(kubeconfig=kube.kubeconfig(tmp_path / "kubeconfig"), allowed_roots=[tmp_path])
        try:
            with KubeClient(settings, registry=registry) as client:
                yield Env(kube, client, registry, controller)
        finally:
            controller.stop.set()
            controller.thread.join(5)


def put_widget(kube: FakeKube, revision: str) -> None:
    kube.put(
        {
            "apiVersion": API,
            "kind": "Widget",
            "metadata": {"name": "w1", "namespace": "apps"},
            "spec": {"revision": revision, "repo": "https://git.example/org/widgets.git", "path": "widgets/w1"},
        }
    )


def test_status_reconcile_and_wait_through_an_unknown_provider(env: Env) -> None:
    kube, client, registry = env.kube, env.client, env.registry
    assert get_status(client, "Widget", "w1", "apps", registry=registry).state == "not_found"
    put_widget(kube, "a" * 40)
    st = get_status(client, "Widget", "w1", "apps", registry=registry)
    assert (st.state, st.api_version, st.message) == ("progressing", API, "phase none yet")
    # nothing happens until the controller is asked: it had its passes, and the wait times out on the test's clock
    env.controller.settle()
    with virtual_time(client, kube):
        early = wait_for_sync(client, "Widget", "w1", "apps", "a" * 40, 1, registry=registry)
    assert early.outcome == "timeout"
    rec = reconcile(client, "Widget", "w1", "apps", registry=registry)
    assert rec.handled and rec.message == "poked" and rec.requested == ["Widget/apps/w1"]
    assert rec.status.state == "ready" and rec.status.revision == "a" * 40
    done = wait_for_sync(client, "Widget", "w1", "apps", "a" * 12, 10, registry=registry)
    assert done.outcome == "synced" and done.status.revision == "a" * 40
    # a failing revision: the provider's own words
    put_widget(kube, "bad")
    reconcile(client, "Widget", "w1", "apps", registry=registry)
    failed = wait_for_sync(client, "Widget", "w1", "apps", "bad", 10, registry=registry)
    assert failed.outcome == "failed" and failed.message == "the widget fell apart"
    # only the registry's kinds are offered
    with pytest.raises(UserInputError, match="kind must be one of Widget"):
        get_status(client, "Kustomization", "w1", "apps", registry=registry)


def test_unconfirmed_reconcile_names_the_providers_controller(env: Env) -> None:
    env.controller.stop.set()
    env.controller.thread.join(5)
    put_widget(env.kube, "b" * 40)
    with virtual_time(env.client, tick=1.0):  # the confirmation's timeout passes on the test's clock
        rec = reconcile(env.client, "Widget", "w1", "apps", confirm_timeout_s=1, registry=env.registry)
    assert not rec.handled and rec.message == "requested; not confirmed within 1 s (is the widget controller running?)"
    live = env.kube.find(API, "Widget", "apps", "w1")
    assert live is not None and live["metadata"]["annotations"][POKE] == rec.token


def test_owner_and_installed_controllers_with_the_default_providers(env: Env) -> None:
    kube, client = env.kube, env.client
    registry = ProviderRegistry([*default_registry(), WidgetProvider()])
    put_widget(kube, "c" * 40)
    kube.put(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cm", "namespace": "apps", "labels": {OWNER_LABEL: "w1"}},
        }
    )
    r = OwnerFinder(client, registry).find("v1", "ConfigMap", "cm", "apps")
    assert r.managed and r.manager == "widgets" and [(c.kind, c.name) for c in r.chain] == [("Widget", "w1")]
    assert r.git is not None and (r.git.url, r.git.path) == ("https://git.example/org/widgets.git", "widgets/w1")
    assert r.api_calls == 3  # the ConfigMap, the Widget, and the Widget again for its Git location
    kube.put({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "loose", "namespace": "apps"}})
    loose = OwnerFinder(client, registry).find("v1", "ConfigMap", "loose", "apps")
    assert not loose.managed and "not managed by Argo CD or Flux or Widgets" in loose.message
    kube.put(
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": f"widgets.{GROUP}"},
            "spec": {
                "group": GROUP,
                "names": {"kind": "Widget", "plural": "widgets"},
                "scope": "Namespaced",
                "versions": [{"name": "v1", "served": True, "storage": True}],
            },
        }
    )
    infos = {c.provider: c for c in installed_controllers(client, registry=registry)}
    assert list(infos) == ["argocd", "flux", "widgets"]
    assert infos["widgets"].installed and [c.kind for c in infos["widgets"].crds] == ["Widget"]
    assert not infos["flux"].installed
    assert [c["metadata"]["name"] for c in cluster_crd_documents(client, registry=registry)] == [f"widgets.{GROUP}"]


def test_a_client_without_the_registry_discovers_the_kind(env: Env, tmp_path: Path) -> None:
    put_widget(env.kube, "d" * 40)
    assert get_status(env.client, "Widget", "w1", "apps", registry=env.registry).state == "progressing"
    assert not any(q.path == f"/apis/{API}" for q in env.kube.requests)  # the registry told the client
    with KubeClient(Settings(kubeconfig=tmp_path / "kubeconfig")) as plain:
        assert get_status(plain, "Widget", "w1", "apps", registry=env.registry).state == "progressing"
    assert any(q.path == f"/apis/{API}" for q in env.kube.requests)  # discovery, the only way it could know
