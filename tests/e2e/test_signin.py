"""Sign-in with the team's identity provider, end to end: the server as a process over streamable
HTTP, the tests' own OpenID Connect issuer over HTTPS with a private CA, the authenticated git
remote, the fake forge and the simulated cluster (:mod:`doubles.remote_world`).

Valid tokens of two users; refused tokens (wrong audience, wrong issuer, expired, bad
signature); the read scope without write; the RFC 9728 document and the 401 header; key
rotation at the issuer; users kept apart (wizard sessions and MCP sessions); static tokens
still served; a pull request from the wizard that names the person (commit trailer, PR body)
while the commit stays the bot's; the audit line; and no token anywhere it should not be.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import FIXTURES, need_shared
from doubles.mcp_server import free_port
from doubles.oidc import OidcIssuer, PrivateCA, SigningKey
from doubles.remote_world import FLEET, RemoteWorld, git

pytestmark = [pytest.mark.slow, pytest.mark.anyio]
MCP_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
WRITE_TOOLS = {"commit_and_push", "remediate", "write_manifests", "reconcile", "rollback", "promote"}


@pytest.fixture
def rw(tmp_path: Path) -> Iterator[RemoteWorld]:
    with RemoteWorld(tmp_path) as w:
        w.fleet(need_shared(FIXTURES / "podinfo"))
        yield w


@pytest.fixture
def issuer(tmp_path: Path) -> Iterator[OidcIssuer]:
    with OidcIssuer(PrivateCA(tmp_path / "pki")) as i:
        yield i


def start(rw: RemoteWorld, issuer: OidcIssuer) -> Any:
    return rw.server(
        port=free_port(),  # before the start: the server names its own URL (the token audience) by it
        GITOPS_MCP_OIDC_ISSUER=issuer.issuer,
        GITOPS_MCP_OIDC_CA_FILE=str(issuer.ca_file),
        GITOPS_MCP_AUDIT_LOG=str(rw.root / "audit" / "trail.jsonl"),
        GITOPS_MCP_GIT_AUTHOR_NAME="gitops-bot",
        GITOPS_MCP_GIT_AUTHOR_EMAIL="gitops-bot@example.com",
    )


@contextlib.asynccontextmanager
async def client(srv: Any, token: str) -> AsyncIterator[Any]:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0, read=120.0)) as http,
        Client(streamable_http_client(srv.url, http_client=http)) as c,
    ):
        yield c


def post(srv: Any, token: str | None, body: dict[str, Any] = INIT, session: str | None = None) -> httpx.Response:
    headers = dict(MCP_HEADERS)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if session:
        headers["Mcp-Session-Id"] = session
        headers["Mcp-Protocol-Version"] = "2025-06-18"
    return httpx.post(srv.url, headers=headers, json=body, timeout=20)


async def test_tokens_scopes_metadata_rotation_and_users_apart(rw: RemoteWorld, issuer: OidcIssuer) -> None:
    srv = start(rw, issuer)
    aud = srv.url  # the default audience: this server's own MCP endpoint
    base = f"http://127.0.0.1:{srv.port}"
    alice = issuer.token("alice-sub", aud, name="Alice Example", email="alice@example.com")
    bob = issuer.token("bob-sub", aud, scope="gitops:read", alg="ES256", preferred_username="bob")

    # RFC 9728: the document, at the well-known path and at it plus the endpoint's
    for path in ("/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"):
        doc = httpx.get(base + path, timeout=10).json()
        assert doc["resource"] == aud, doc
        assert [s.rstrip("/") for s in doc["authorization_servers"]] == [issuer.issuer]
        assert doc["scopes_supported"] == ["gitops:read", "gitops:write"]
    # no token: 401 pointing at the document
    r = post(srv, None)
    assert r.status_code == 401
    challenge = r.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'resource_metadata="{base}/.well-known/oauth-protected-resource/mcp"' in challenge

    refused = {
        "wrong audience": issuer.token("alice-sub", "http://127.0.0.1:1/mcp"),
        "wrong issuer": issuer.token("alice-sub", aud, issuer="https://127.0.0.1:1"),
        "expired": issuer.token("alice-sub", aud, expires_in=-600),
        "bad signature": issuer.token(
            "alice-sub", aud, key=SigningKey(issuer.keys[0].kid, "RS256", SigningKey.new().private)
        ),
    }
    for case, token in refused.items():
        r = post(srv, token)
        assert r.status_code == 401, case
        assert "resource_metadata=" in r.headers["WWW-Authenticate"], case
    r = post(srv, issuer.token("carol-sub", aud, scope="openid profile"))
    assert r.status_code == 403 and 'error="insufficient_scope"' in r.headers["WWW-Authenticate"]

    # two users: alice may write, bob (read scope) sees and may call no write tool
    async with client(srv, alice) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        assert names >= WRITE_TOOLS and len(names) == 21
        v = await rw.call(c, "start_deployment", {"repo_path": rw.remote.url(FLEET), "provider": "flux"})
        alice_session = v["session_id"]
        mine = await rw.call(c, "list_sessions", {})
        assert [s["session_id"] for s in mine["sessions"]] == [alice_session]
    async with client(srv, bob) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        assert not names & WRITE_TOOLS and "start_deployment" in names and len(names) == 12
        text = await rw.call(
            c,
            "commit_and_push",
            {"repo_path": rw.remote.url(FLEET), "paths": ["a.yaml"], "message": "m", "mode": "pull_request"},
            ok=False,
        )
        assert "commit_and_push needs the gitops:write scope" in text
        assert (await rw.call(c, "list_sessions", {}))["sessions"] == []
        text = await rw.call(c, "get_session", {"session_id": alice_session}, ok=False)
        assert "no session" in text and "belongs to another caller" in text
        text = await rw.call(
            c, "answer_questions", {"session_id": alice_session, "answers": {"delivery": "pull_request"}}, ok=False
        )
        assert "delivery needs the gitops:write scope" in text
    # the static token named alice is another caller than alice of the identity provider
    async with rw.client(srv, "alice") as c:
        assert (await rw.call(c, "list_sessions", {}))["sessions"] == []
    # an MCP session answers only the credential that opened it
    opened = post(srv, alice)
    assert opened.status_code == 200
    sid = opened.headers["Mcp-Session-Id"]
    listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    assert post(srv, bob, listing, session=sid).status_code == 404
    assert post(srv, alice, listing, session=sid).status_code in (200, 202)

    # key rotation at the issuer: the new key id is fetched, once
    fetched = issuer.jwks_fetches()
    new_key = issuer.rotate("RS256")
    rotated = issuer.token("alice-sub", aud, name="Alice Example", email="alice@example.com", key=new_key)
    async with client(srv, rotated) as c:
        assert (await rw.call(c, "list_sessions", {}))["sessions"][0]["session_id"] == alice_session
    assert issuer.jwks_fetches() == fetched + 1
    assert post(srv, alice).status_code == 401  # the retired key signs nothing any more

    trail = [json.loads(x) for x in (rw.root / "audit" / "trail.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(x["principal"], x["tool"], x["outcome"]) for x in trail] == [
        ("bob-sub", "commit_and_push", "refused"),
        ("bob-sub", "answer_questions", "refused"),
    ]
    assert "needs the gitops:write scope" in trail[0]["error"]
    # the four refused above and the retired key, each with why (the server's stderr is read by a thread: wait for it)
    deadline = time.monotonic() + 20
    while "".join(srv.stderr).count("bearer token refused:") < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    logs = "".join(srv.stderr)
    assert logs.count("bearer token refused:") == 5
    for token in [alice, bob, rotated, *refused.values()]:
        assert token not in logs and token.split(".")[2] not in logs
    rw.assert_no_secrets()


async def test_a_pull_request_names_the_person_and_the_audit_trail_has_it(rw: RemoteWorld, issuer: OidcIssuer) -> None:
    srv = start(rw, issuer)
    alice = issuer.token("alice-sub", srv.url, name="Alice Example", email="alice@example.com")
    url = rw.remote.url(FLEET)
    intent = "deploy the podinfo overlay to the cluster for the demo"
    async with client(srv, alice) as c:
        v = await rw.call(
            c,
            "start_deployment",
            {
                "repo_path": url,
                "provider": "flux",
                "intent": intent,
                "answers": {
                    "package": "kustomize",
                    "namespace": "podinfo",
                    "app_name": "podinfo",
                    "output_path": "clusters/podinfo.yaml",
                },
                "accept_defaults": True,
            },
        )
        for _ in range(6):
            if v["step"] == "preview":
                break
            v = await rw.call(
                c, "answer_questions", {"session_id": v["session_id"], "answers": {}, "accept_defaults": True}
            )
        assert v["step"] == "preview", v
        v = await rw.call(
            c, "answer_questions", {"session_id": v["session_id"], "answers": {"delivery": "pull_request"}}
        )
    res = v["result"]
    assert v["status"] == "done" and res["pr_url"], v

    # the commit: the bot's identity, a trailer naming the person
    bare = rw.remote.root / FLEET
    log = git(bare, "log", "-1", "--format=%an <%ae>%n%cn <%ce>%n%B", res["branch"])
    author, committer, *message = log.splitlines()
    assert author == committer == "gitops-bot <gitops-bot@example.com>"
    assert message[-1] == "Requested-by: Alice Example <alice@example.com>"
    assert message[0].startswith("Deploy podinfo with flux")
    # the pull request: who asked, through which tool, and why
    (pr,) = rw.forge.store.pulls["org/fleet"]
    assert f"Requested by Alice Example <alice@example.com> through `answer_questions`: {intent}" in pr["body"]

    lines = [json.loads(x) for x in (rw.root / "audit" / "trail.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 1, lines
    (line,) = lines
    assert (line["principal"], line["tool"], line["outcome"]) == ("alice-sub", "answer_questions", "ok")
    assert (line["repository"], line["paths"]) == (url, ["clusters/podinfo.yaml"])
    assert (line["commit_sha"], line["pr_url"]) == (res["commit_sha"], res["pr_url"])
    text = (rw.root / "audit" / "trail.jsonl").read_text(encoding="utf-8")
    assert alice not in text and "kind: Kustomization" not in text
    rw.assert_no_secrets()
