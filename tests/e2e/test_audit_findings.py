"""Regressions for what the outside re-run of issue 17's audit (audit/run.py) found.

- Over stdio, a request whose id held a lone surrogate (``"id":"\\ud800"``) was read by the SDK,
  answered with that id, and the answer could not be encoded: the SDK's writer stopped, and no
  request after it was ever answered.
- One wizard request built the same package three times (the preview and the view each started
  a fresh environment): a package that runs to the build's time limit held the call for three
  times the limit.
- A repository holding a file name that is not UTF-8 failed start_deployment with a raw
  serialization error: the session could not be stored.
- A Go build (helm template) stopped by the memory limit while making a thread was not seen as
  the memory limit: the preview's reason was the last line of its register dump ('gs 0x0').
- Over streamable HTTP, a message the SDK refused was answered with pydantic's whole report (the
  caller's input and links in it), and a request whose id was null, a float or an object was
  taken for a notification: 202, never answered.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from doubles.stdio_wire import StdioWire
from gitops_mcp.services import Services, prepare

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}\n  namespace: web\ndata:\n  a: b\n"


@pytest.mark.slow
@pytest.mark.parametrize(
    "line",
    [
        b'{"jsonrpc":"2.0","id":"\\ud800","method":"ping"}',
        b'{"jsonrpc":"2.0","id":"a\\udfffb","method":"tools/list"}',
        b'{"jsonrpc":"2.0","id":"\\udc00\\ud800","method":"tools/call","params":{"name":"list_sessions","arguments":{}}}',
    ],
)
def test_a_lone_surrogate_in_the_id_is_refused_and_the_server_keeps_answering(tmp_path: Path, line: bytes) -> None:
    with StdioWire(tmp_path) as wire:
        wire.send(line)
        answer = wire.answer(timeout=10)
        assert answer is not None, "no answer"
        assert answer["id"] is None and answer["error"]["code"] == -32600, answer
        assert "valid Unicode" in answer["error"]["message"]
        assert wire.answers_until_probe(timeout=10) == []
        ok = wire.call(7, "list_sessions", {})
        assert ok["result"]["isError"] is False, ok


def test_one_request_builds_a_package_once(
    app: Services, fixture_repo: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    builds: list[str] = []
    real = prepare.check_kustomize

    def counted(root: Path, path: str, *args: Any, **kwargs: Any) -> Any:
        builds.append(path)
        return real(root, path, *args, **kwargs)

    monkeypatch.setattr(prepare, "check_kustomize", counted)
    repo = fixture_repo("podinfo")
    answers = {"package": "kustomize", "provider": "flux", "namespace": "podinfo", "app_name": "podinfo"}
    v = app.wizard.start("local", str(repo), provider="flux", answers=answers, accept_defaults=True)
    assert v.step == "preview" and v.preview is not None and v.preview.package_check is not None, v
    assert builds == ["kustomize"], builds
    v = app.wizard.answer("local", v.session_id, {"wait": False})
    assert len(builds) <= 2, builds  # a new request may build again (the files may have changed), once


def test_a_file_name_that_is_not_utf8_does_not_fail_the_session(app: Services, tmp_path: Path) -> None:
    repo = tmp_path / "repos" / "raw"
    (repo / "apps").mkdir(parents=True)
    (repo / "apps/cm.yaml").write_text(CM.format("a"), encoding="utf-8")
    with open(bytes(repo / "apps") + b"/\xff\xfe-b.yaml", "w", encoding="utf-8") as fh:
        fh.write(CM.format("b"))
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "raw names"]):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)
    v = app.wizard.start("local", str(repo), provider="flux")
    assert v.status == "open", v
    again = app.wizard.get("local", v.session_id)
    assert again.session_id == v.session_id and again.status == "open"


GO_THREAD_CRASH = (
    "runtime/cgo: pthread_create failed: Resource temporarily unavailable\nSIGABRT: abort\n"
    "PC=0x7f248a1e7eec m=6 sigcode=18446744073709551610\n\ngoroutine 0 gp=0x2c94fd0dd680 m=6 [idle]:\n"
    + "".join(f"r{i}     0x0\n" for i in range(8, 16))
    + "rip    0x7f248a1e7eec\nrflags 0x246\ncs     0x33\nfs     0x0\ngs     0x0\n"
)


@pytest.mark.parametrize(
    "stderr",
    [
        GO_THREAD_CRASH,
        "runtime: failed to create new OS thread (have 7 already; errno=12)\nfatal error: newosproc\n",
    ],
    ids=["cgo-thread", "runtime-thread"],
)
def test_a_go_build_that_cannot_start_a_thread_under_the_memory_limit_says_memory(tmp_path: Path, stderr: str) -> None:
    """helm template under the 256 MB limit (the audit's string-doubling chart, on a loaded machine)
    sometimes dies making a thread rather than in the allocator: the preview said only its last
    register line, 'gs 0x0'. It is the memory limit, and the preview says so."""
    from gitops_mcp.sandbox import Limits, run_build, which

    python = which("python3")
    assert python is not None
    script = f"import sys\nsys.stderr.write({stderr!r})\nsys.exit(2)\n"
    limits = Limits(memory_mb=256)
    run = run_build([python, "-c", script], tmp_path, limits)
    assert run.returncode == 2 and run.limit == "memory", (run.returncode, run.limit, run.stderr[-200:])
    assert "256 MB of memory (GITOPS_MCP_BUILD_MEMORY_MB)" in (run.problem(limits) or "")


HTTP_CASES = [
    (b'{"jsonrpc":"2.0","id":9,"method":"tools/call","params":[1,2]}', 9, -32602),
    (b'{"jsonrpc":"2.0","id":{"a":1},"method":"tools/list"}', None, -32600),
    (b'{"jsonrpc":"2.0","id":1.5,"method":"ping"}', None, -32600),
    (b'{"jsonrpc":"2.0","id":null,"method":"ping"}', None, -32600),
    (b'{"jsonrpc":"1.0","id":7,"method":"tools/list"}', 7, -32600),
    (b'[{"jsonrpc":"2.0","id":1,"method":"ping"}]', None, -32600),
    (b'{"jsonrpc":"2.0","id":14,"result":[1]}', None, -32600),
]


@pytest.mark.slow
def test_over_http_a_refused_message_is_answered_in_one_line(tmp_path: Path) -> None:
    """Over streamable HTTP the SDK answered these with pydantic's whole report (the caller's
    input and links in it), or took a request with an unusable id for a notification (202, never
    answered). Now each gets what stdio gets; a caller without a token still gets 401 first."""
    import httpx

    from doubles.mcp_server import ServerProcess

    token = "tok-audit-findings-0123456789abcdef"
    base = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    with ServerProcess(tmp_path, env={"GITOPS_MCP_AUTH_TOKEN": token}) as srv, httpx.Client(timeout=30) as h:
        init = b'{"jsonrpc":"2.0","id":"i","method":"initialize","params":{"protocolVersion":"2025-06-18",'
        init += b'"capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}'
        auth = {**base, "Authorization": f"Bearer {token}"}
        r = h.post(srv.url, content=init, headers=auth)
        headers = {**auth, "mcp-session-id": r.headers["mcp-session-id"], "mcp-protocol-version": "2025-06-18"}
        for body, request_id, code in HTTP_CASES:
            r = h.post(srv.url, content=body, headers=headers)
            assert r.status_code == 400, (body, r.status_code, r.text)
            answer = r.json()
            assert answer["id"] == request_id and answer["error"]["code"] == code, (body, answer)
            message = answer["error"]["message"]
            assert "\n" not in message and "pydantic" not in message and "input_value" not in message, message
            assert h.post(srv.url, content=body, headers=base).status_code == 401  # no token: refused first
        r = h.post(srv.url, content=b'{"jsonrpc":"2.0","id":"p","method":"ping"}', headers=headers)
        assert r.status_code == 200 and '"id":"p"' in r.text, r.text
