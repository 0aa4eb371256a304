"""Many concurrent streamable HTTP clients on one server (bounded): every call answered, no
session crosses from one caller to another. The latency targets are measured in bench/load.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from doubles.mcp_server import ServerProcess
from loadgen import run_clients

pytestmark = pytest.mark.slow
TOKENS = {"alice": "tok-alice-0123456789abcdef", "bob": "tok-bob-0123456789abcdef01"}
CLIENTS = 50


def test_fifty_clients_two_principals(tmp_path: Path, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("podinfo")
    env = {"GITOPS_MCP_AUTH_TOKENS": json.dumps(TOKENS)}
    principal = {i: ("alice" if i % 2 else "bob") for i in range(CLIENTS)}
    started: dict[str, set[str]] = {"alice": set(), "bob": set()}

    def call(i: int, n: int) -> tuple[str, dict[str, Any]]:
        if n == 0:
            return "start_deployment", {"repo_path": str(repo), "provider": "flux"}
        return "list_sessions", {}

    def check(i: int, result: dict[str, Any]) -> str | None:
        if "session_id" in result:
            started[principal[i]].add(result["session_id"])
            return None
        seen = {s["session_id"] for s in result.get("sessions", [])}
        other = started["bob" if principal[i] == "alice" else "alice"]
        crossed = seen & other
        return f"sees {len(crossed)} session(s) of the other caller" if crossed else None

    with ServerProcess(tmp_path, env=env) as srv:
        result = anyio.run(
            lambda: run_clients(srv.url, CLIENTS, 3, call, lambda i: TOKENS[principal[i]], check, deadline_s=240)
        )
    assert not result.failures, result.failures[:5]
    assert len(result.latencies_ms) == CLIENTS * 3
    assert len(started["alice"]) == len(started["bob"]) == CLIENTS // 2
