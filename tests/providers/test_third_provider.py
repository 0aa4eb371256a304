"""A third provider, registered from a test-only sub-package (tests/third_provider), works
through the MCP tools with no change to any module of gitops_mcp: it is listed with its
questions, the wizard runs to a preview of its kind, validation uses its rule, and its status is
read from the fake cluster through its normaliser. With its simulated controller it runs through
reconcile-and-wait, a repair (owner, file, push, reconcile, live check) and the fleet layout."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import start_blocking_portal
from mcp import Client

from doubles.kube import DEFAULT_RESOURCES, FakeKube, Resource
from gitops_mcp.errors import UserInputError
from gitops_mcp.manifests.yaml import dump_documents, load_documents
from gitops_mcp.providers import Provider, ProviderRegistry, default_registry
from gitops_mcp.server import build_server
from gitops_mcp.services import Services
from gitops_mcp.settings import Settings
from third_provider import API, GROUP, OWNER_LABEL, KappController, KappProvider

APP = Resource(GROUP, "v1", "apps", "App")


@pytest.fixture
def call(tmp_path: Path) -> Iterator[tuple[Callable[[str, dict[str, Any]], Any], FakeKube]]:
    with FakeKube(resources=[*DEFAULT_RESOURCES, APP]) as kube:
        kube.ensure_namespace("kapp")
        settings = Settings(
            kubeconfig=kube.kubeconfig(tmp_path / "kubeconfig"),
            allowed_roots=[tmp_path],
            state_dir=tmp_path / "state",
            cache_dir=tmp_path / "cache",
            allowed_git_hosts=[],
        )
        services = Services(settings, ProviderRegistry([*default_registry(), KappProvider()]))
        with (
            start_blocking_portal() as portal,
            portal.wrap_async_context_manager(Client(build_server(settings, services))) as client,
        ):

            def tool(name: str, args: dict[str, Any]) -> Any:
                return portal.call(client.call_tool, name, args)

            yield tool, kube
        services.close()


def ok(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return dict(result.structured_content)


def test_a_third_provider_through_the_tools(call: Any, fixture_repo: Callable[..., Path]) -> None:
    tool, kube = call
    providers = ok(tool("list_providers", {}))["providers"]
    kapp = next(p for p in providers if p["name"] == "kapp")
    assert [q["id"] for q in kapp["questions"]] == ["kapp_namespace", "kapp_mode"]

    repo = fixture_repo("podinfo", origin="https://github.com/example/podinfo.git")
    view = ok(
        tool("start_deployment", {"repo_path": str(repo), "provider": "kapp", "intent": "deploy kustomize/ with kapp"})
    )
    answers = {"package": "kustomize", "namespace": "web", "kapp_mode": "warp"}
    view = ok(tool("answer_questions", {"session_id": view["session_id"], "answers": answers, "accept_defaults": True}))
    for _ in range(6):
        if "kapp_mode" in view["errors"] or view["step"] == "preview":
            break
        view = ok(tool("answer_questions", {"session_id": view["session_id"], "answers": {}, "accept_defaults": True}))
    assert "kapp_mode" in view["errors"]  # its own parser refused the answer: asked again with the reason
    view = ok(
        tool(
            "answer_questions",
            {"session_id": view["session_id"], "answers": {"kapp_mode": "dry-run"}, "accept_defaults": True},
        )
    )
    for _ in range(6):
        if view["step"] == "preview":
            break
        view = ok(tool("answer_questions", {"session_id": view["session_id"], "answers": {}, "accept_defaults": True}))
    preview = view["preview"]
    assert preview["provider"] == "kapp" and preview["validation"]["valid"], preview
    (app,) = load_documents(preview["yaml"])
    assert (app["apiVersion"], app["kind"], app["spec"]["mode"], app["spec"]["git"]["path"]) == (
        API,
        "App",
        "dry-run",
        "kustomize",
    )

    # its built-in rule is the one that judges its kind
    bad = preview["yaml"].replace("mode: dry-run", "mode: warp")
    verdict = ok(tool("validate_manifests", {"yaml": bad}))
    assert not verdict["valid"] and any("mode" in i["path"] for i in verdict["issues"])
    assert ok(tool("validate_manifests", {"yaml": preview["yaml"]}))["valid"]

    # its status normaliser reads the live object
    name, ns = app["metadata"]["name"], app["metadata"]["namespace"]
    missing = ok(tool("get_sync_status", {"kind": "App", "name": name, "namespace": ns}))
    assert missing["state"] == "not_found"
    kube.put(app)
    kube.patch_status(API, "App", ns, name, {"phase": "Reconciled", "deployedRevision": "main@sha1:" + "a" * 40})
    live = ok(tool("get_sync_status", {"kind": "App", "name": name, "namespace": ns}))
    assert (live["state"], live["api_version"], live["revision"]) == ("ready", API, "main@sha1:" + "a" * 40)
    wrong = tool("get_sync_status", {"kind": "Gadget", "name": name, "namespace": ns})
    assert wrong.is_error and "App" in wrong.content[0].text  # the valid kinds include the new one


DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:1.27
"""


def test_a_third_provider_through_reconcile_repair_and_fleet(tmp_path: Path) -> None:
    import time

    from doubles.world import World
    from gitops_mcp.cluster.ops import reconcile_and_wait
    from gitops_mcp.providers.live import ObjectRef
    from gitops_mcp.remediation import Remove, SetReplicas

    assert isinstance(KappProvider(), Provider)
    registry = ProviderRegistry([*default_registry(), KappProvider()])
    work = tmp_path / "work"
    with World(tmp_path) as w:
        w.kube.resources.append(APP)
        cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  a: '1'\n"
        url = w.seed("org/kapp.git", work, {"apps/web/deploy.yaml": DEPLOY, "apps/web/cm.yaml": cm})
        for ns in ("kapp", "web"):
            w.kube.ensure_namespace(ns)
        spec = {"git": {"url": url, "ref": "main", "path": "./apps/web"}, "targetNamespace": "web", "mode": "deploy"}
        w.kube.put({"apiVersion": API, "kind": "App", "metadata": {"name": "web", "namespace": "kapp"}, "spec": spec})
        services = Services(w.settings(wizard_wait_seconds=30), registry)
        try:
            with KappController(w.kube, w.repos) as controller:
                # reconcile-and-wait, the one way a commit is made live: the App applies the branch tip
                head = w.git(work, "rev-parse", "HEAD")
                ref = ObjectRef(api_version=API, kind="App", name="web", namespace="kapp")
                with services.shared.kube() as kube:
                    done = reconcile_and_wait(kube, ref, head, time.monotonic() + 30, registry=registry, sync=True)
                assert done.outcome == "synced", done.message
                live = w.kube.find("apps/v1", "Deployment", "web", "web")
                assert live is not None and live["metadata"]["labels"][OWNER_LABEL] == "kapp.web"

                # a repair: its owner marker, its Git location, the push, its applier reconciled, the live check
                r = services.remediation.remediate(
                    "apps/v1", "Deployment", "web", "web", SetReplicas(replicas=3), mode="push", repo_path=str(work)
                )
                assert r.owner.manager == "kapp" and [c.kind for c in r.owner.chain] == ["App"], r.owner
                assert r.plan is not None and [e.file for e in r.plan.edits] == ["apps/web/deploy.yaml"]
                assert r.verification is not None and r.verification.outcome == "synced", r.message
                assert r.live_ok and "replicas = 3" in r.live_detail, r.message
                assert controller.reconciled.count("web") >= 2

                # a removal: the document's file and its kustomization entry go, the App prunes it
                gone = services.remediation.remediate(
                    "apps/v1", "Deployment", "web", "web", Remove(), mode="push", repo_path=str(work)
                )
                assert gone.live_ok is True and "gone from the cluster" in gone.live_detail, gone.message
                assert w.kube.find("apps/v1", "Deployment", "web", "web") is None
                assert w.kube.find("v1", "ConfigMap", "web", "web-config") is not None
            assert controller.errors == []

            # its fleet layout, with its own option (refused by name when unknown)
            fleet = services.fleet.scaffold(str(work), "kapp", environments=["dev", "prod"], kapp_mode="dry-run")
            assert sorted(f.path for f in fleet.files if f.path.startswith("clusters/")) == [
                "clusters/dev/app.yaml",
                "clusters/prod/app.yaml",
            ]
            (dev,) = load_documents((work / "clusters/dev/app.yaml").read_text(encoding="utf-8"))
            assert (dev["kind"], dev["spec"]["mode"], dev["spec"]["git"]["path"]) == ("App", "dry-run", "apps/dev")
            assert fleet.validated == 2 and fleet.notes == ["kapp applies 2 environment(s)"]
            with pytest.raises(UserInputError, match="kapp_mode must be one of"):
                services.fleet.scaffold(str(work), "kapp", kapp_mode="warp")
            with pytest.raises(UserInputError, match="unknown option"):
                services.fleet.scaffold(str(work), "kapp", kapp_speed="fast")
        finally:
            services.close()


def test_the_third_providers_own_checks_and_repository_facts(tmp_path: Path) -> None:
    """Its reference and policy checks run whatever the schema source; detection and the session
    context see its objects; its OCI format is what push_artifact would use."""
    from gitops_mcp.detection import detect_packages
    from gitops_mcp.manifests.validation import validate_documents
    from gitops_mcp.settings import PolicySettings

    registry = ProviderRegistry([*default_registry(), KappProvider()])
    app = {
        "apiVersion": API,
        "kind": "App",
        "metadata": {"name": "a", "namespace": "kapp"},
        "spec": {"git": {"url": "not a url", "path": "../x"}, "mode": "deploy"},
    }
    result = validate_documents([app], PolicySettings(), rules=registry.builtin_rules())
    assert {(i.rule, i.path) for i in result.errors()} == {
        ("builtin", "spec.git.url"),
        ("policy:relative_paths", "spec.git.path"),
    }
    (tmp_path / "deploy").mkdir()
    app["spec"]["git"] = {"url": "https://example.com/r.git", "path": "apps"}
    (tmp_path / "deploy" / "app.yaml").write_text(dump_documents([app]), encoding="utf-8")
    found = detect_packages(tmp_path, gitops_kinds=registry.gitops_kinds())
    assert [(o.kind, o.url, o.path) for o in found.gitops.objects] == [("App", "https://example.com/r.git", "apps")]
    assert KappProvider().output_dirs(found.gitops) == ["deploy"]
    oci = KappProvider().oci
    assert oci is not None and oci.objects("a", "kapp", "oci://r/x", "v1", "5m", None, False)[0]["kind"] == "App"
