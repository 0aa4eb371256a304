"""What sign-in with an identity provider costs a request: one server process over streamable
HTTP with both a static bearer token and OIDC (the tests' own issuer over HTTPS with a private
CA), three clients on it: the static token (the baseline), an RS256 and an ES256 access token.
Each call is ``list_sessions`` (an indexed SQLite read); the calls are interleaved round by round
over the clients, so drift on the shared machine falls on all of them alike. The keys are
fetched once, before the rounds. Target: OIDC p50 within 1.15x the static token's.

    .venv/bin/python bench/signin.py [--rounds 300]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from doubles.mcp_server import ServerProcess  # noqa: E402
from doubles.oidc import OidcIssuer, PrivateCA  # noqa: E402

STATIC = "bench-signin-token-0123456789abcdef"
TARGET = 1.15


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(p / 100 * (len(s) - 1)))]


async def connect(stack: AsyncExitStack, url: str, token: str) -> Any:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    http = await stack.enter_async_context(
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(60.0))
    )
    return await stack.enter_async_context(Client(streamable_http_client(url, http_client=http)))


async def call(c: Any) -> float:
    t0 = time.perf_counter()
    r = await c.call_tool("list_sessions", {})
    took = (time.perf_counter() - t0) * 1000
    assert not r.is_error, r.content
    return took


async def run(rounds: int) -> int:
    with tempfile.TemporaryDirectory() as tmp, OidcIssuer(PrivateCA(Path(tmp) / "pki")) as issuer:
        env = {
            "GITOPS_MCP_AUTH_TOKEN": STATIC,
            "GITOPS_MCP_OIDC_ISSUER": issuer.issuer,
            "GITOPS_MCP_OIDC_CA_FILE": str(issuer.ca_file),
        }
        with ServerProcess(Path(tmp), env=env) as srv:
            tokens = {
                "static token": STATIC,
                "OIDC RS256": issuer.token("alice", srv.url, alg="RS256", expires_in=3600),
                "OIDC ES256": issuer.token("bob", srv.url, alg="ES256", expires_in=3600),
            }
            async with AsyncExitStack() as stack:
                clients = {name: await connect(stack, srv.url, tok) for name, tok in tokens.items()}
                for c in clients.values():  # warm: models made, keys fetched
                    for _ in range(5):
                        await call(c)
                times: dict[str, list[float]] = {name: [] for name in clients}
                for _ in range(rounds):
                    for name, c in clients.items():
                        times[name].append(await call(c))
    base = statistics.median(times["static token"])
    worst = 0.0
    print(f"list_sessions over streamable HTTP, {rounds} calls each (ms)")
    for name, xs in times.items():
        ratio = statistics.median(xs) / base
        worst = max(worst, ratio)
        print(f"  {name:13s} p50 {statistics.median(xs):6.2f}  p95 {pct(xs, 95):6.2f}  ratio {ratio:.2f}x")
    print(f"target: OIDC p50 <= {TARGET}x the static token's: {'met' if worst <= TARGET else 'MISSED'}")
    print(f"key set fetches: {issuer.jwks_fetches()}")
    return 0 if worst <= TARGET else 1


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=300)
    return anyio.run(run, p.parse_args().rounds)


if __name__ == "__main__":
    sys.exit(main())
