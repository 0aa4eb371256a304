"""Real transports: the SDK client over stdio, streamable HTTP and SSE against a server
subprocess, bearer-token auth, restart after a crash, and the MCP Inspector CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from conftest import PROJECT
from doubles.mcp_server import ServerProcess, server_env

pytestmark = pytest.mark.slow
TOKEN = "tok-3f1c9a7e5d2b4c6a8e0f1a2b3c4d5e6f"


async def wizard(c: Client, repo: Path, provider: str) -> dict[str, Any]:
    r = await c.call_tool("start_deployment", {"repo_path": str(repo), "provider": provider})
    assert not r.is_error, r.content
    v = r.structured_content
    assert v is not None
    answers = {"package": "kustomize", "output_path": f"deploy-{provider}.yaml"}
    for _ in range(8):
        if v["step"] == "preview":
            break
        r = await c.call_tool(
            "answer_questions", {"session_id": v["session_id"], "answers": answers, "accept_defaults": True}
        )
        assert not r.is_error, r.content
        v = r.structured_content
        answers = {}
    assert v["step"] == "preview" and v["preview"]["validation"]["valid"], v
    r = await c.call_tool("answer_questions", {"session_id": v["session_id"], "answers": {"delivery": "write"}})
    assert r.structured_content is not None
    return r.structured_content


def http_client(token: str | None) -> Any:
    import httpx2

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0, read=60.0))


@pytest.mark.anyio
async def test_stdio_subprocess_full_wizard(tmp_path: Path, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("podinfo")
    params = StdioServerParameters(command=sys.executable, args=["-m", "gitops_mcp", "serve"], env=server_env(tmp_path))
    async with Client(params) as c:
        done = await wizard(c, repo, "flux")
    assert done["status"] == "done"
    assert (repo / "deploy-flux.yaml").read_text(encoding="utf-8").startswith("apiVersion: source.toolkit")


@pytest.mark.anyio
async def test_streamable_http_with_bearer_token(tmp_path: Path, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("podinfo")
    with ServerProcess(tmp_path, env={"GITOPS_MCP_AUTH_TOKEN": TOKEN}) as srv:
        async with http_client(TOKEN) as http, Client(streamable_http_client(srv.url, http_client=http)) as c:
            done = await wizard(c, repo, "argocd")
        assert done["status"] == "done"
        # without or with a wrong token: 401, nothing served
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
            r = httpx.post(
                srv.url,
                headers={
                    **headers,
                    "Content-Type": "application/json",
                    "Accept": "application/json, text/event-stream",
                },
                json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                timeout=10,
            )
            assert r.status_code == 401, headers
        with pytest.raises(Exception):  # noqa: B017 - the SDK client fails to connect without the token
            async with http_client(None) as http, Client(streamable_http_client(srv.url, http_client=http)) as c:
                await c.list_tools()
        assert httpx.get(f"http://127.0.0.1:{srv.port}/healthz", timeout=5).text == "ok"
    logs = "".join(srv.stderr)
    assert TOKEN not in logs


@pytest.mark.anyio
async def test_streamable_http_without_token_on_loopback(tmp_path: Path, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("podinfo")
    with ServerProcess(tmp_path) as srv:
        async with Client(srv.url) as c:
            tools = {t.name for t in (await c.list_tools()).tools}
            assert "detect_packages" in tools
            r = await c.call_tool("detect_packages", {"repo_path": str(repo)})
            assert not r.is_error


@pytest.mark.anyio
async def test_two_tokens_two_principals(tmp_path: Path, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("podinfo")
    tokens = {"alice": "alice-token-0123456789", "bob": "bob-token-0123456789"}
    with ServerProcess(tmp_path, env={"GITOPS_MCP_AUTH_TOKENS": json.dumps(tokens)}) as srv:
        async with http_client(tokens["alice"]) as http, Client(streamable_http_client(srv.url, http_client=http)) as c:
            r = await c.call_tool("start_deployment", {"repo_path": str(repo)})
            sid = r.structured_content["session_id"]  # type: ignore[index]
        async with http_client(tokens["bob"]) as http, Client(streamable_http_client(srv.url, http_client=http)) as c:
            listed = await c.call_tool("list_sessions", {})
            assert listed.structured_content == {"sessions": [], "more": False}
            r = await c.call_tool("get_session", {"session_id": sid})
            assert r.is_error


@pytest.mark.anyio
async def test_sse_transport(tmp_path: Path, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("podinfo")
    with ServerProcess(tmp_path, transport="sse") as srv:
        async with Client(sse_client(srv.url), mode="legacy") as c:
            r = await c.call_tool("detect_packages", {"repo_path": str(repo)})
            assert not r.is_error


def test_refuses_non_loopback_without_token(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "gitops_mcp", "serve", "--transport", "http", "--host", "0.0.0.0"],
        env=server_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "GITOPS_MCP_AUTH_TOKEN" in proc.stderr


def test_bad_token_config_is_not_echoed(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "gitops_mcp", "serve", "--transport", "http"],
        env=server_env(tmp_path, {"GITOPS_MCP_AUTH_TOKENS": '{"a": ["sekrit-value-99"]}'}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "sekrit-value-99" not in proc.stderr + proc.stdout


@pytest.mark.anyio
async def test_session_survives_a_killed_server(tmp_path: Path, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("podinfo")
    srv = ServerProcess(tmp_path).start()
    try:
        async with Client(srv.url) as c:
            r = await c.call_tool("start_deployment", {"repo_path": str(repo), "provider": "flux"})
            sid = r.structured_content["session_id"]  # type: ignore[index]
            r = await c.call_tool("answer_questions", {"session_id": sid, "answers": {"package": "kustomize"}})
            assert r.structured_content["step"] == "common"  # type: ignore[index]
    finally:
        srv.kill()
    with ServerProcess(tmp_path, port=srv.port) as srv2:
        async with Client(srv2.url) as c:
            r = await c.call_tool("get_session", {"session_id": sid})
            v = r.structured_content
            assert v is not None and v["answers"] == {"package": "kustomize", "provider": "flux"}
            assert v["step"] == "common"
            for _ in range(6):
                if v["step"] == "preview":
                    break
                r = await c.call_tool("answer_questions", {"session_id": sid, "answers": {}, "accept_defaults": True})
                v = r.structured_content
                assert v is not None
            r = await c.call_tool("answer_questions", {"session_id": sid, "answers": {"delivery": "write"}})
            assert r.structured_content["status"] == "done"  # type: ignore[index]


# -- MCP Inspector CLI ------------------------------------------------------------------------------


def inspector() -> list[str]:
    local = PROJECT / ".tools/node_modules/.bin/mcp-inspector"
    if local.exists():
        return [str(local)]
    if os.environ.get("GITOPS_MCP_REQUIRE_INSPECTOR") == "1":
        pytest.fail("the MCP Inspector CLI is not installed in .tools/ (scripts/test installs it with npm)")
    pytest.skip("MCP Inspector CLI not installed (run scripts/test, which installs it into .tools/)")


def run_inspector(args: list[str], target: list[str], env: dict[str, str]) -> dict[str, Any]:
    """``mcp-inspector --cli ARGS -q --format json TARGET`` (a URL, or '--' and a server command)."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    proc = subprocess.run(
        [*inspector(), "--cli", *args, "-q", "--format", "json", *target],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = json.loads(proc.stdout)
    return out.get("result", out)  # type: ignore[no-any-return]


def test_inspector_cli_stdio(tmp_path: Path, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("podinfo")
    env = server_env(tmp_path)
    server = [
        "-e",
        f"GITOPS_MCP_ALLOWED_ROOTS={tmp_path}",
        "-e",
        f"GITOPS_MCP_STATE_DIR={tmp_path / 'state'}",
        "--",
        sys.executable,
        "-m",
        "gitops_mcp",
        "serve",
    ]
    listed = run_inspector(["--method", "tools/list"], server, env)
    names = {t["name"] for t in listed["tools"]}
    assert {"detect_packages", "start_deployment", "answer_questions"} <= names
    called = run_inspector(
        ["--method", "tools/call", "--tool-name", "detect_packages", "--tool-arg", f"repo_path={repo}"], server, env
    )
    paths = [p["path"] for p in called["structuredContent"]["packages"]]
    assert "charts/podinfo" in paths


def test_inspector_cli_http_with_token(tmp_path: Path, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("podinfo")
    with ServerProcess(tmp_path, env={"GITOPS_MCP_AUTH_TOKEN": TOKEN}) as srv:
        called = run_inspector(
            [
                "--header",
                f"Authorization: Bearer {TOKEN}",
                "--method",
                "tools/call",
                "--tool-name",
                "detect_packages",
                "--tool-arg",
                f"path={repo}",
            ],
            [srv.url],
            dict(os.environ),
        )
        assert any(p["type"] == "helm" for p in called["structuredContent"]["packages"])
