"""A CRD's structural schema made strict (unknown fields refused, as ``kubectl --validate=strict``):
each property is converted once, so the work grows with the schema's size, not 2^depth (Argo CD's
CRDs, read from the real cluster, took 50 s to convert before; see tests/realcluster/test_flow.py)."""

from __future__ import annotations

from typing import Any

import pytest

from gitops_mcp.manifests.validation import crd


def test_properties_are_fields_not_keywords() -> None:
    schema = {
        "type": "object",
        "properties": {
            "nullable": {"type": "string", "nullable": True},  # a field named like a keyword
            "type": {"type": "object", "properties": {"a": {"type": "integer"}}},
            "port": {"x-kubernetes-int-or-string": True},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {"b": {}}},
        },
    }
    assert crd._strict(schema) == {
        "type": "object",
        "properties": {
            "nullable": {"type": ["string", "null"]},
            "type": {"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": False},
            "port": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
            "free": {"type": "object", "properties": {"b": {}}},
        },
        "additionalProperties": False,
    }


def test_each_level_is_converted_once(monkeypatch: pytest.MonkeyPatch) -> None:
    depth = 16
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(depth):
        schema = {"type": "object", "properties": {"spec": schema, "n": {"type": "integer"}}}
    calls = []
    real = crd._strict

    def counting(s: Any) -> Any:
        calls.append(1)
        return real(s)

    monkeypatch.setattr(crd, "_strict", counting)
    out = crd._strict(schema)
    assert len(calls) <= 4 * depth + 4, len(calls)  # linear: 4 per level (it was over 2^depth)
    node = out
    for _ in range(depth):
        assert node["additionalProperties"] is False
        node = node["properties"]["spec"]
    assert node == {"type": "string"}
