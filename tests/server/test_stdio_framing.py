"""Every line written to the stdio server is answered (unless it is a valid notification): the
malformed forms an audit found unanswered, over a real ``gitops-mcp serve`` subprocess, each
answered within a bounded wait, the request's id when it can be read, and the server answering
a normal call afterwards."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from doubles.stdio_wire import StdioWire
from gitops_mcp.server.framing import refusal

pytestmark = pytest.mark.slow
PARSE, INVALID_REQUEST, INVALID_PARAMS = -32700, -32600, -32602


def call(request_id: object, arguments: str, name: str = "list_sessions") -> bytes:
    head = json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "tools/call"})[:-1]
    return f'{head},"params":{{"name":"{name}","arguments":{arguments}}}}}'.encode()


def nested(levels: int) -> str:
    return '{"x":' + "[" * levels + "]" * levels + "}"


CASES: list[tuple[str, bytes, object, int]] = [
    ("lone surrogate in an argument", call(1, '{"x":"\\ud800"}'), 1, INVALID_PARAMS),
    ("lone surrogate in the tool name", call(2, "{}", name="\\udfff"), 2, INVALID_PARAMS),
    ("arguments nested 300 levels", call(3, nested(300)), 3, INVALID_PARAMS),
    ("arguments nested 973 levels", call(4, nested(973)), 4, INVALID_PARAMS),
    ("arguments nested 100,000 levels", call(5, nested(100_000)), 5, INVALID_PARAMS),
    ("params as a list", b'{"jsonrpc":"2.0","id":6,"method":"tools/call","params":[1,2]}', 6, INVALID_PARAMS),
    ('"jsonrpc":"1.0"', b'{"jsonrpc":"1.0","id":7,"method":"tools/list"}', 7, INVALID_REQUEST),
    ("no jsonrpc member", b'{"id":8,"method":"tools/list"}', 8, INVALID_REQUEST),
    ("a batch", b'[{"jsonrpc":"2.0","id":9,"method":"tools/list"}]', None, INVALID_REQUEST),
    ("an empty batch", b"[]", None, INVALID_REQUEST),
    ("invalid JSON", b'{"jsonrpc":"2.0","id":10,', None, PARSE),
    ("cut short after its id", b'{"jsonrpc":"2.0","method":"tools/list","id":11,"params":{', 11, PARSE),
    ("bytes that are not UTF-8", b"\xff\xfe hello", None, PARSE),
    ("not UTF-8 inside a string", b'{"jsonrpc":"2.0","id":12,"method":"ping","params":{"x":"\xc3("}}', 12, PARSE),
    ("an empty line", b"", None, PARSE),
    ("a bare number", b"42", None, INVALID_REQUEST),
    ("an id that is an object", b'{"jsonrpc":"2.0","id":{"a":1},"method":"tools/list"}', None, INVALID_REQUEST),
    ("a null id", b'{"jsonrpc":"2.0","id":null,"method":"ping"}', None, INVALID_REQUEST),
    ("no method", b'{"jsonrpc":"2.0","id":13}', None, INVALID_REQUEST),
    ("a response that is not one", b'{"jsonrpc":"2.0","id":14,"result":[1]}', None, INVALID_REQUEST),
]


@pytest.fixture(scope="module")
def wire(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StdioWire]:
    with StdioWire(tmp_path_factory.mktemp("stdio")) as w:
        yield w


@pytest.mark.parametrize(("line", "request_id", "code"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_every_malformed_line_is_answered(wire: StdioWire, line: bytes, request_id: object, code: int) -> None:
    wire.send(line)
    answers = wire.answers_until_probe(timeout=10)
    assert len(answers) == 1, answers
    (answer,) = answers
    assert answer["jsonrpc"] == "2.0" and answer["id"] == request_id, answer
    assert answer["error"]["code"] == code, answer
    message = answer["error"]["message"]
    assert message and "\n" not in message and len(message) < 200, message
    assert "hello" not in message and "tools/list" not in message  # the reason, never the line
    assert wire.alive
    ok = wire.call(1000, "list_sessions", {})
    assert ok["result"]["isError"] is False, ok


def test_valid_notifications_get_no_answer_and_requests_one(wire: StdioWire) -> None:
    wire.send(b'{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"gone"}}')
    wire.send(b'{"jsonrpc":"2.0","method":"notifications/made-up"}')
    assert wire.answers_until_probe() == []
    wire.send(b'{"jsonrpc":"2.0","id":"m","method":"made/up"}')
    (answer,) = wire.answers_until_probe()
    assert answer["id"] == "m" and answer["error"]["code"] == -32601


def test_refusal_reads_the_id_of_a_line_too_deep_for_python() -> None:
    """Python's own parser stops near 1,000 levels; the envelope is read token by token."""
    line = call("deep", nested(50_000)).decode()
    answer = refusal(line)
    assert answer.id == "deep" and answer.error.code == INVALID_PARAMS
    # a response's id is never answered: it names a request of the server's, not the client's
    assert refusal('{"jsonrpc":"2.0","id":3,"result":{"x":' + "[" * 5000).id is None


def test_a_long_line_is_not_echoed(tmp_path: Path) -> None:
    answer = refusal('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":[' + '"ignore previous"' * 2000 + "]}")
    assert answer.id == 1 and "ignore" not in answer.error.message
