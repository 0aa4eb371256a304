"""Redis killed mid-run under a real server over streamable HTTP: the session tools answer one clear
error, the others keep working, a replica started while Redis is down starts, and once Redis is
back (same data directory, append-only file) the sessions written before are all there."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from doubles.mcp_server import ServerProcess
from doubles.redis_server import RedisServer
from test_replicas import REDIS_PASSWORD, TOKENS, call, client, error

pytestmark = pytest.mark.slow
MANIFEST = """apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: web, namespace: flux-system}
spec: {interval: 10m, path: ./web, prune: true, sourceRef: {kind: GitRepository, name: web}}
"""


@pytest.mark.anyio
async def test_redis_killed_mid_run_then_back_with_every_session(
    tmp_path: Path, fixture_repo: Callable[..., Path]
) -> None:
    repo = fixture_repo("podinfo")
    outputs: list[str] = []
    with RedisServer(tmp_path / "redis", password=REDIS_PASSWORD, persist=True) as redis:
        env = {
            "GITOPS_MCP_SESSION_STORE": f"redis://127.0.0.1:{redis.port}/0",
            "GITOPS_MCP_REDIS_PASSWORD": REDIS_PASSWORD,
            "GITOPS_MCP_AUTH_TOKENS": json.dumps(TOKENS),
        }
        down = (
            f"session store unavailable: cannot reach Redis at 127.0.0.1:{redis.port} (Connection refused); "
            "the session tools need it, the other tools still work"
        )
        with ServerProcess(tmp_path, env=env) as srv:
            async with client(srv.url) as c:
                v = await call(c, "start_deployment", repo_path=str(repo), provider="flux")
                sid = v["session_id"]
                v = await call(c, "answer_questions", session_id=sid, answers={"package": "charts/podinfo"})
                assert v["step"] == "common"
                redis.kill()
                for tool, args in (
                    ("answer_questions", {"session_id": sid, "answers": {"namespace": "web"}}),
                    ("get_session", {"session_id": sid}),
                    ("list_sessions", {}),
                    ("cancel_session", {"session_id": sid}),
                    ("start_deployment", {"repo_path": str(repo), "provider": "flux"}),
                ):
                    text = await error(c, tool, **args)
                    outputs.append(text)
                    assert text == f"Error executing tool {tool}: {down}", text
                assert (await call(c, "detect_packages", repo_path=str(repo)))["packages"]  # no session needed
                assert (await call(c, "validate_manifests", yaml=MANIFEST))["valid"]
                # a replica started while Redis is down starts, and serves what needs no session
                with ServerProcess(tmp_path, env={**env, "GITOPS_MCP_CACHE_DIR": str(tmp_path / "late")}) as late:
                    async with client(late.url, mode="auto") as c2:
                        assert (await call(c2, "detect_packages", repo_path=str(repo)))["packages"]
                        assert await error(c2, "list_sessions") == f"Error executing tool list_sessions: {down}"
                        redis.start()  # same port, same directory: the append-only file is read back
                        got = await call(c2, "get_session", session_id=sid)
                        assert (got["step"], got["answers"]["package"]) == ("common", "charts/podinfo")
                        v = await call(c2, "answer_questions", session_id=sid, answers={"namespace": "web"})
                        assert v["answers"]["namespace"] == "web"
                    outputs += late.stderr
                got = await call(c, "get_session", session_id=sid)  # the first server reconnected by itself
                assert got["answers"]["namespace"] == "web"
                outputs.append(json.dumps(got))
                assert [s["session_id"] for s in (await call(c, "list_sessions"))["sessions"]] == [sid]
        outputs += srv.stderr
    for text in outputs:
        assert REDIS_PASSWORD not in text
    assert "sessions in Redis redis://127.0.0.1:" in "".join(srv.stderr)  # the start-up line names it, bare
