"""A third provider, registered from a test-only sub-package (tests/third_provider), works
through the MCP tools with no change to any module of gitops_mcp: it is listed with its
questions, the wizard runs to a preview of its kind, validation uses its rule, and its status is
read from the fake cluster through its normaliser."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import start_blocking_portal
from mcp import Client

from doubles.kube import DEFAULT_RESOURCES, FakeKube, Resource
from gitops_mcp.manifests.yaml import load_documents
from gitops_mcp.providers import ProviderRegistry, default_registry
from gitops_mcp.server import build_server
from gitops_mcp.services import Services
from gitops_mcp.settings import Settings
from third_provider import API, GROUP, KappProvider

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
