"""The MCP surface through the SDK's in-memory client (both protocol eras)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.types import ElicitRequestParams, ElicitResult

from gitops_mcp.manifests.yaml import load_documents
from gitops_mcp.server import build_server
from gitops_mcp.settings import Settings

MODES = ["auto", "legacy"]
WRITE_TOOLS = {
    "write_manifests",
    "commit_and_push",
    "rollback",
    "reconcile",
    "remediate",
    "promote",
    "scaffold_fleet",
    "push_artifact",
    "register_gitops_objects",
}


async def call(c: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    r = await c.call_tool(tool, args)
    assert not r.is_error, r.content
    assert r.structured_content is not None
    return r.structured_content


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_tools_are_described_and_annotated(settings: Settings, mode: str) -> None:
    async with Client(build_server(settings), mode=mode) as c:  # type: ignore[arg-type]
        tools = {t.name: t for t in (await c.list_tools()).tools}
    assert set(tools) == {
        "detect_packages",
        "list_providers",
        "generate_manifests",
        "validate_manifests",
        "get_session",
        "list_sessions",
        "start_deployment",
        "answer_questions",
        "cancel_session",
        "write_manifests",
        "commit_and_push",
        "rollback",
        "reconcile",
        "get_sync_status",
        "wait_for_sync",
        "find_owner",
        "remediate",
        "promote",
        "scaffold_fleet",
        "push_artifact",
        "register_gitops_objects",
    }
    for t in tools.values():
        assert t.description and len(t.description) > 40, t.name
        ann = t.annotations
        assert ann is not None, t.name
        if not ann.read_only_hint:  # left to the spec's default (false); whether destructive is said
            assert ann.read_only_hint is None and ann.destructive_hint is not None, t.name
        assert t.output_schema, t.name
        for name, prop in t.input_schema.get("properties", {}).items():
            assert "description" in prop, (t.name, name)
    assert tools["detect_packages"].annotations.read_only_hint is True
    assert not any(tools[name].annotations.read_only_hint for name in WRITE_TOOLS)
    assert tools["write_manifests"].annotations.destructive_hint is True
    assert tools["answer_questions"].annotations.destructive_hint is True
    assert tools["register_gitops_objects"].annotations.destructive_hint is True


@pytest.mark.anyio
async def test_read_only_registers_no_write_tool(tmp_path: Path) -> None:
    s = Settings(allowed_roots=[tmp_path], state_dir=tmp_path / "s", read_only=True)
    async with Client(build_server(s)) as c:
        tools = (await c.list_tools()).tools
    names = {t.name for t in tools}
    assert not names & WRITE_TOOLS
    assert all(t.annotations is not None and not t.annotations.destructive_hint for t in tools)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_wizard_through_tools(settings: Settings, fixture_repo: Callable[..., Path], mode: str) -> None:
    repo = fixture_repo("podinfo")
    async with Client(build_server(settings), mode=mode) as c:  # type: ignore[arg-type]
        det = await call(c, "detect_packages", {"repo_path": str(repo)})
        assert any(p["path"] == "charts/podinfo" and p["type"] == "helm" for p in det["packages"])
        v = await call(
            c,
            "start_deployment",
            {"repo_path": str(repo), "intent": "deploy charts/podinfo with Flux", "provider": "flux"},
        )
        sid = v["session_id"]
        assert v["step"] == "package"
        for _ in range(8):
            if v["step"] == "preview":
                break
            v = await call(c, "answer_questions", {"session_id": sid, "answers": {}, "accept_defaults": True})
        assert v["step"] == "preview" and v["preview"]["validation"]["valid"]
        v = await call(c, "answer_questions", {"session_id": sid, "answers": {"delivery": "write"}})
        assert v["status"] == "done"
        written = repo / v["result"]["file"]
        kinds = [d["kind"] for d in load_documents(written.read_text(encoding="utf-8"))]
        assert kinds == ["GitRepository", "HelmRelease"]
        listed = await call(c, "list_sessions", {})
        assert [s["session_id"] for s in listed["sessions"]] == [sid]
        got = await call(c, "get_session", {"session_id": sid})
        assert got["status"] == "done"


@pytest.mark.anyio
async def test_errors_are_tool_errors_the_model_can_read(settings: Settings) -> None:
    async with Client(build_server(settings)) as c:
        r = await c.call_tool("get_session", {"session_id": "s_nope"})
        assert r.is_error and "start_deployment" in r.content[0].text  # type: ignore[union-attr]
        r = await c.call_tool("detect_packages", {"repo_path": "/etc"})
        assert r.is_error and "GITOPS_MCP_ALLOWED_ROOTS" in r.content[0].text  # type: ignore[union-attr]
        r = await c.call_tool(
            "generate_manifests",
            {
                "provider": "flux",
                "app_name": "Bad Name",
                "namespace": "x",
                "package": "k",
                "package_type": "kustomize",
                "repo_url": "https://github.com/x/y.git",
            },
        )
        assert r.is_error and "app_name" in r.content[0].text  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_generate_and_validate_tools(settings: Settings) -> None:
    async with Client(build_server(settings)) as c:
        g = await call(
            c,
            "generate_manifests",
            {
                "provider": "argocd",
                "app_name": "podinfo",
                "namespace": "podinfo",
                "package": "charts/podinfo",
                "package_type": "helm",
                "repo_url": "https://github.com/stefanprodan/podinfo.git",
                "revision": "main",
                "options": {"sync_policy": "auto-prune", "values": {"replicaCount": 2}},
            },
        )
        assert g["validation"]["valid"] and "valuesObject" in g["yaml"]
        v = await call(c, "validate_manifests", {"yaml": g["yaml"]})
        assert v["valid"]
        bad = g["yaml"].replace("project: default", "project: 7").replace("repoURL: https://", "repoURL: http://")
        v = await call(c, "validate_manifests", {"yaml": bad})
        assert not v["valid"] and any(i["rule"] == "policy:secure_git_urls" for i in v["issues"])


@pytest.mark.anyio
async def test_resources_and_prompt(settings: Settings, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("podinfo")
    async with Client(build_server(settings)) as c:
        v = await call(c, "start_deployment", {"repo_path": str(repo)})
        uris = {str(r.uri) for r in (await c.list_resources()).resources}
        assert {"gitops://providers", "gitops://sessions"} <= uris
        templates = {t.uri_template for t in (await c.list_resource_templates()).resource_templates}
        assert "gitops://sessions/{session_id}" in templates
        body = (await c.read_resource(f"gitops://sessions/{v['session_id']}")).contents[0]
        assert v["session_id"] in body.text  # type: ignore[union-attr]
        providers = (await c.read_resource("gitops://providers")).contents[0]
        assert "sync_policy" in providers.text  # type: ignore[union-attr]
        p = await c.get_prompt("deploy_with_gitops", {"path": str(repo), "intent": "deploy podinfo"})
        text = p.messages[0].content.text  # type: ignore[union-attr]
        assert "detect_packages" in text and str(repo) in text


@pytest.mark.anyio
async def test_elicitation_drives_the_wizard_inline(settings: Settings, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("podinfo")
    asked: list[list[str]] = []

    async def on_elicit(context: Any, params: ElicitRequestParams) -> ElicitResult:
        props = params.requested_schema["properties"]  # type: ignore[union-attr]
        asked.append(sorted(props))
        content: dict[str, Any] = {}
        for key, prop in props.items():
            if key == "delivery":
                content[key] = "write"
            elif "default" in prop:
                content[key] = prop["default"]
        if "package" in props:
            content["package"] = "kustomize"
        return ElicitResult(action="accept", content=content)

    async with Client(build_server(settings), mode="legacy", elicitation_callback=on_elicit) as c:
        v = await call(c, "start_deployment", {"repo_path": str(repo), "provider": "argocd"})
    assert v["status"] == "done", v
    assert asked[0] == ["package"] and ["delivery"] in asked
    assert (repo / v["result"]["file"]).exists()


@pytest.mark.anyio
async def test_declined_elicitation_falls_back_to_questions(
    settings: Settings, fixture_repo: Callable[..., Path]
) -> None:
    async def decline(context: Any, params: ElicitRequestParams) -> ElicitResult:
        return ElicitResult(action="decline")

    repo = fixture_repo("podinfo")
    async with Client(build_server(settings), mode="legacy", elicitation_callback=decline) as c:
        v = await call(c, "start_deployment", {"repo_path": str(repo)})
    assert v["status"] == "open" and v["questions"][0]["id"] == "package"


@pytest.mark.anyio
async def test_sessions_of_one_caller_are_invisible_to_another(
    settings: Settings, fixture_repo: Callable[..., Path]
) -> None:
    from gitops_mcp.services import Services

    app = Services(settings)
    view = app.wizard.start("token:alice", str(fixture_repo("podinfo")))
    assert [s.session_id for s in app.wizard.list_sessions("token:alice")] == [view.session_id]
    assert app.wizard.list_sessions("token:bob") == []
    from gitops_mcp.errors import NotFoundError

    for op in (
        lambda: app.wizard.get("token:bob", view.session_id),
        lambda: app.wizard.answer("token:bob", view.session_id, {"package": "kustomize"}),
        lambda: app.wizard.cancel("token:bob", view.session_id),
    ):
        with pytest.raises(NotFoundError):
            op()
    assert app.wizard.get("token:alice", view.session_id).answers == {}


@pytest.mark.anyio
async def test_elicitation_without_back_channel_falls_back(
    settings: Settings, fixture_repo: Callable[..., Path]
) -> None:
    """2026-07-28 connections have no server->client requests: the questions come back instead."""

    async def accept(context: Any, params: ElicitRequestParams) -> ElicitResult:
        return ElicitResult(action="accept", content={"package": "kustomize"})

    repo = fixture_repo("podinfo")
    async with Client(build_server(settings), mode="auto", elicitation_callback=accept) as c:
        v = await call(c, "start_deployment", {"repo_path": str(repo)})
    assert v["status"] == "open" and v["questions"]


@pytest.mark.anyio
async def test_pre_answered_deploy_is_two_calls_and_shows_the_preview_first(
    settings: Settings, fixture_repo: Callable[..., Path]
) -> None:
    """Answers given ahead and accept_defaults carry through every step: start_deployment reaches
    the preview, nothing is written yet, and one answer_questions (delivery) finishes."""
    repo = fixture_repo("podinfo")
    async with Client(build_server(settings)) as c:
        answers = {"package": "charts/podinfo", "interval": "10m", "output_path": "clusters/dev/podinfo.yaml"}
        v = await call(
            c,
            "start_deployment",
            {"repo_path": str(repo), "provider": "flux", "answers": answers, "accept_defaults": True},
        )
        assert v["step"] == "preview" and v["preview"]["validation"]["valid"], v
        assert [q["id"] for q in v["questions"]] == ["delivery"]
        assert not (repo / "clusters/dev/podinfo.yaml").exists()
        done = await call(c, "answer_questions", {"session_id": v["session_id"], "answers": {"delivery": "write"}})
        assert done["status"] == "done"
        hr = load_documents((repo / "clusters/dev/podinfo.yaml").read_text(encoding="utf-8"))[1]
        assert hr["kind"] == "HelmRelease" and hr["spec"]["interval"] == "10m"
        early = await c.call_tool(
            "start_deployment", {"repo_path": str(repo), "provider": "flux", "answers": {"delivery": "write"}}
        )
        assert early.is_error and "after the preview" in early.content[0].text
        unknown = await c.call_tool("start_deployment", {"repo_path": str(repo), "answers": {"intervall": "1m"}})
        assert unknown.is_error and "intervall" in unknown.content[0].text


@pytest.mark.anyio
async def test_repo_path_everywhere_and_the_old_name_still_understood(
    settings: Settings, fixture_repo: Callable[..., Path]
) -> None:
    repo = fixture_repo("podinfo")
    async with Client(build_server(settings)) as c:
        tools = {t.name: t for t in (await c.list_tools()).tools}
        for name, tool in tools.items():
            props = tool.input_schema.get("properties", {})
            if name not in ("validate_manifests", "push_artifact"):  # a file / a directory to pack
                assert "path" not in props, name
        old = await call(c, "detect_packages", {"path": str(repo)})
        new = await call(c, "detect_packages", {"repo_path": str(repo)})
        assert old == new and new["packages"]
        v = await call(c, "start_deployment", {"path": str(repo), "provider": "flux"})
        assert v["session_id"]
        both = await c.call_tool("detect_packages", {"path": str(repo), "repo_path": str(repo)})
        assert both.is_error and "give 'repo_path' only" in both.content[0].text


@pytest.mark.anyio
async def test_generate_defaults_like_the_wizard_from_repo_path(
    settings: Settings, fixture_repo: Callable[..., Path]
) -> None:
    repo = fixture_repo("podinfo", origin="https://github.com/stefanprodan/podinfo.git")
    async with Client(build_server(settings)) as c:
        r = await call(
            c, "generate_manifests", {"provider": "flux", "package": "kustomize", "repo_path": str(repo), "options": {}}
        )
        source, ns, ks = load_documents(r["yaml"])
        assert ns["kind"] == "Namespace" and ns["metadata"]["name"] == ks["spec"]["targetNamespace"]  # none exists
        assert source["spec"]["url"] == "https://github.com/stefanprodan/podinfo.git"  # origin
        assert source["spec"]["ref"] == {"branch": "main"}  # the checked-out branch
        assert ks["metadata"]["name"] == ks["spec"]["targetNamespace"]  # app name and namespace defaulted
        assert r["output_path"] and r["validation"]["valid"]
        no_repo = await c.call_tool(
            "generate_manifests", {"provider": "flux", "package": "x", "package_type": "kustomize"}
        )
        assert no_repo.is_error and "repo_url" in no_repo.content[0].text  # said by name, not a crash


@pytest.mark.anyio
async def test_list_sessions_pages_newest_first(settings: Settings, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("podinfo")
    async with Client(build_server(settings)) as c:
        ids = [(await call(c, "start_deployment", {"repo_path": str(repo)}))["session_id"] for _ in range(3)]
        two = await call(c, "list_sessions", {"limit": 2})
        assert [s["session_id"] for s in two["sessions"]] == ids[::-1][:2] and two["more"] is True
        every = await call(c, "list_sessions", {})
        assert len(every["sessions"]) == 3 and every["more"] is False
        bad = await c.call_tool("list_sessions", {"limit": 0})
        assert bad.is_error and "limit" in bad.content[0].text


@pytest.mark.anyio
async def test_generate_refuses_options_it_does_not_understand(
    settings: Settings, fixture_repo: Callable[..., Path]
) -> None:
    repo = fixture_repo("podinfo")
    base = {"provider": "flux", "package": "charts/podinfo", "repo_path": str(repo)}
    async with Client(build_server(settings)) as c:
        typo = await c.call_tool("generate_manifests", {**base, "options": {"intervall": "10m"}})
        assert typo.is_error and "unknown option(s): intervall; valid question ids:" in typo.content[0].text
        other = await c.call_tool("generate_manifests", {**base, "options": {"project": "default"}})
        assert other.is_error and "not asked for this deployment: project" in other.content[0].text
        ok = await call(c, "generate_manifests", {**base, "options": {"interval": "10m"}})
        assert "interval: 10m" in ok["yaml"]
