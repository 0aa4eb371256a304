"""No unanswered request over stdio (item 6): raw lines written to ``gitops-mcp serve`` (what the
SDK client would never send), each answered exactly once (a valid notification: never) before a
ping sent after it, within a bounded wait, and the server still up and serving afterwards."""

from __future__ import annotations

import json
import random
import time

from audit.harness import Audit
from doubles.stdio_wire import StdioWire

PROP = "no unanswered request"


def call(request_id: object, arguments: str, name: str = "list_sessions") -> bytes:
    head = json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "tools/call"})[:-1]
    return f'{head},"params":{{"name":"{name}","arguments":{arguments}}}}}'.encode()


def nested(levels: int) -> str:
    return '{"x":' + "[" * levels + "]" * levels + "}"


LINES: dict[str, bytes] = {
    "lone surrogate in an argument": call(1, '{"x":"\\ud800"}'),
    "lone low surrogate in an argument": call(2, '{"x":"a\\udfffb"}'),
    "lone surrogate in the tool name": call(3, "{}", name="\\udfff"),
    "lone surrogate in a key": call(4, '{"\\ud800":1}'),
    "lone surrogate in the method": b'{"jsonrpc":"2.0","id":5,"method":"tools/\\ud800"}',
    "lone surrogate in the id": b'{"jsonrpc":"2.0","id":"\\ud800","method":"ping"}',
    "reversed surrogate pair": call(6, '{"x":"\\udc00\\ud800"}'),
    "arguments nested 973 levels": call(7, nested(973)),
    "arguments nested 100,000 levels": call(8, nested(100_000)),
    "params as a list": b'{"jsonrpc":"2.0","id":9,"method":"tools/call","params":[1,2]}',
    "params as a string": b'{"jsonrpc":"2.0","id":10,"method":"tools/call","params":"x"}',
    '"jsonrpc":"1.0"': b'{"jsonrpc":"1.0","id":11,"method":"tools/list"}',
    "no jsonrpc member": b'{"id":12,"method":"tools/list"}',
    "a batch": b'[{"jsonrpc":"2.0","id":13,"method":"tools/list"}]',
    "an empty batch": b"[]",
    "invalid JSON": b'{"jsonrpc":"2.0","id":14,',
    "two objects on one line": b'{"jsonrpc":"2.0","id":15,"method":"ping"}{"jsonrpc":"2.0","id":16,"method":"ping"}',
    "bytes that are not UTF-8": b"\xff\xfe hello",
    "not UTF-8 inside a string": b'{"jsonrpc":"2.0","id":17,"method":"ping","params":{"x":"\xc3("}}',
    "a UTF-8 BOM first": b'\xef\xbb\xbf{"jsonrpc":"2.0","id":18,"method":"ping"}',
    "a NUL byte": b'{"jsonrpc":"2.0","id":19,"method":"ping"}\x00',
    "a carriage return inside": b'{"jsonrpc":"2.0",\r"id":20,"method":"ping"}',
    "an empty line": b"",
    "only spaces": b"   ",
    "a bare number": b"42",
    "a bare string": b'"hello"',
    "null": b"null",
    "an id that is an object": b'{"jsonrpc":"2.0","id":{"a":1},"method":"tools/list"}',
    "an id that is a float": b'{"jsonrpc":"2.0","id":1.5,"method":"ping"}',
    "a null id": b'{"jsonrpc":"2.0","id":null,"method":"ping"}',
    "no method": b'{"jsonrpc":"2.0","id":21}',
    "a method that is a number": b'{"jsonrpc":"2.0","id":22,"method":7}',
    "a response that is not one": b'{"jsonrpc":"2.0","id":23,"result":[1]}',
    "an unknown method": b'{"jsonrpc":"2.0","id":24,"method":"made/up"}',
    "initialize again": b'{"jsonrpc":"2.0","id":25,"method":"initialize","params":{}}',
    "a 1 MB string argument": call(26, json.dumps({"x": "a" * (1 << 20)})),
    "an 8 MB string argument": call(27, json.dumps({"x": "b" * (8 << 20)})),
    "an 8 MB line of brackets": b"[" * (8 << 20),
    "an 8 MB line of garbage": b"z" * (8 << 20),
    "a 100,000-key object": call(28, "{" + ",".join(f'"k{i}":{i}' for i in range(100_000)) + "}"),
    "huge number": call(29, '{"x":' + "9" * 100_000 + "}"),
    "duplicate keys": b'{"jsonrpc":"2.0","id":30,"id":31,"method":"ping"}',
    "escaped NUL in the method": b'{"jsonrpc":"2.0","id":32,"method":"ping\\u0000"}',
}
NOTIFICATIONS = {
    "a cancel of nothing": b'{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"gone"}}',
    "a made-up notification": b'{"jsonrpc":"2.0","method":"notifications/made-up"}',
}


def _random_line(rng: random.Random) -> bytes:
    good = rng.choice(list(LINES.values())[:20])
    how = rng.randrange(5)
    if how == 0 and good:  # cut short
        return good[: rng.randrange(len(good))]
    if how == 1 and good:  # one byte changed
        i = rng.randrange(len(good))
        return good[:i] + bytes([rng.choice(b'{}[]":,\\u\xff\x00 ')]) + good[i + 1 :]
    if how == 2:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))).replace(b"\n", b" ")
    if how == 3:
        return (
            json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": rng.randrange(10**6),
                    "method": "tools/call",
                    "params": {
                        "name": rng.choice(["list_sessions", "detect_packages", "x"]),
                        "arguments": {"repo_path": "\\ud800" * rng.randrange(3)},
                    },
                }
            )
            .encode()
            .replace(b"\\\\ud800", b"\\ud800")
        )
    return (
        b'{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"get_session","arguments":{"session_id":"%s"}}}'
        % (rng.randrange(10**6), bytes(rng.choice(b'ab\\"\xc3') for _ in range(8)))
    )


def _expected(line: bytes) -> int:
    """1 answer for every line but a notification (an object with a method and no id): 0 or 1 (-1)."""
    try:
        msg = json.loads(line)
    except (ValueError, RecursionError):
        return 1
    return -1 if isinstance(msg, dict) and "method" in msg and "id" not in msg else 1


def framing(a: Audit, n_random: int = 150, seed: int = 17) -> None:
    home = a.root / "wire"
    home.mkdir()
    rng = random.Random(seed)
    cases = [(k, v, 1) for k, v in LINES.items()] + [(k, v, 0) for k, v in NOTIFICATIONS.items()]
    cases += [
        (f"random line {i}", line, _expected(line)) for i, line in enumerate(_random_line(rng) for _ in range(n_random))
    ]
    with StdioWire(home) as w:
        slow = 0.0
        for name, line, want in cases:
            started = time.monotonic()
            try:
                w.send(line)
                got = w.answers_until_probe(timeout=30)
                while len(got) < want and time.monotonic() - started < 30:  # a tool call may end after the ping
                    late = w.answer(timeout=max(0.1, 30 - (time.monotonic() - started)))
                    if late is None:
                        break
                    got.append(late)
            except (AssertionError, OSError, ValueError) as e:
                a.record(PROP, f"stdio: {name}", False, f"{type(e).__name__}: {str(e)[:200]}")
                if not w.alive:
                    a.record(PROP, "stdio: the server survived", False, f"died after {name}")
                    return
                continue
            slow = max(slow, time.monotonic() - started)
            count_ok = len(got) == want if want >= 0 else len(got) <= 1
            shapes_ok = all(g.get("jsonrpc") == "2.0" and ("error" in g or "result" in g) for g in got)
            short = all(len(json.dumps(g)) < 4000 for g in got)
            a.record(PROP, f"stdio: {name}", count_ok and shapes_ok and short and w.alive, json.dumps(got)[:200])
        ok = w.call(10**6, "list_sessions", {})
        a.record(
            PROP,
            f"stdio: serving after {len(cases)} raw lines (slowest answer {slow:.1f} s)",
            ok.get("result", {}).get("isError") is False,
            str(ok)[:200],
        )
    log = (home / "stdio-server.log").read_text(errors="replace")
    a.stdio_logs.append(home / "stdio-server.log")
    a.record(PROP, "stdio: no traceback in the server's log", "Traceback" not in log, log[-300:])


def http_framing(a: Audit, url: str, token: str) -> None:
    """The same raw bodies POSTed to the streamable HTTP endpoint in an initialized MCP session:
    each gets an HTTP answer within the bound (a JSON-RPC error for a request), and the server
    still serves afterwards."""
    import httpx

    base = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    base["Authorization"] = f"Bearer {token}"
    init = b'{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-06-18",'
    init += b'"capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}'
    with httpx.Client(timeout=30) as h:
        r = h.post(url, content=init, headers=base)
        headers = {**base, "mcp-session-id": r.headers.get("mcp-session-id", ""), "mcp-protocol-version": "2025-06-18"}
        h.post(url, content=b'{"jsonrpc":"2.0","method":"notifications/initialized"}', headers=headers)
        for name, line in LINES.items():
            try:
                r = h.post(url, content=line, headers=headers)
                text = r.text
                answered = "error" in text or "result" in text or r.status_code == 413
                ok = r.status_code < 500 and answered and "pydantic" not in text and "input_value" not in text
                a.record(PROP, f"http: {name}", ok, f"{r.status_code} {text[:160]}")
            except httpx.HTTPError as e:
                a.record(PROP, f"http: {name}", False, f"{type(e).__name__}: {e}")
        ping = h.post(url, content=b'{"jsonrpc":"2.0","id":"p","method":"ping"}', headers=headers)
        a.record(
            PROP, "http: serving after the raw bodies", ping.status_code == 200 and '"p"' in ping.text, ping.text[:160]
        )
