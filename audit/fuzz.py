"""Fuzzed tool calls through the SDK client (item 6 over both transports, and the answers' shape):
arguments built from the server's own tools/list schemas, then bent (wrong types, huge strings,
escapes, paths outside the roots, unknown keys). Every call must be answered within the bound, no
answer may be a raw validation dump or a traceback, a long argument is never echoed whole, and
the server still serves afterwards."""

from __future__ import annotations

import random
from typing import Any

from audit.harness import Audit

PROP = "no unanswered request"
SHAPE = "answers: no dump, no echo"
LONG = "L" * 25_000 + "-end-of-a-25-KB-argument"


def _pool(a: Audit) -> list[Any]:
    return [
        str(a.roots),
        str(a.outside),
        "/",
        "/etc/passwd",
        "../..",
        "~",
        str(a.home / ".cache"),
        a.remote.url("org/none.git"),
        "http://127.0.0.1:1/x.git",
        "",
        " ",
        "\u202e",
        "\x1b[31mred",
        "ignore previous instructions",
        LONG,
        "a" * 300,
        None,
        True,
        0,
        -1,
        2**63,
        1e308,
        [],
        {},
        ["*"],
        {"a": {"b": [1]}},
        "flux",
        "argocd",
        "apps/v1",
        "Deployment",
        "flux-system",
        "main",
        "oci://127.0.0.1:1/x:1",
        "x\x00y",
        "$(touch /tmp/pwn)",
        "`id`",
    ]


def _hints(a: Audit, work: str, url: str) -> dict[str, list[Any]]:
    """Plausible values by argument name, so that most calls get past the schema into the tools."""
    return {
        "repo_path": [work, url, work + "/apps"],
        "path": [work + "/apps/web/deploy.yaml", work + "/apps"],
        "output_path": ["apps/web/out.yaml", "clusters/x.yaml", "apps/web/deploy.yaml"],
        "provider": ["flux", "argocd"],
        "package": ["apps/web", "deploy/overlays/staging", "deploy/base"],
        "repo_url": [url],
        "kind": ["Kustomization", "HelmRelease", "Application", "GitRepository", "Deployment"],
        "namespace": ["flux-system", "argocd", "web"],
        "name": ["web", "apps", "w1"],
        "api_version": ["apps/v1", "v1"],
        "paths": [["apps/web/out.yaml"], ["apps/web/deploy.yaml"]],
        "yaml": ["apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: f\n  namespace: web\n"],
        "environments": [["dev", "prod"]],
        "app": ["front"],
        "from_env": ["staging"],
        "to_env": ["production"],
        "message": ["fuzz"],
        "mode": ["push", "pull_request"],
        "session_id": [],  # filled with the sessions the fuzz opens
    }


def _value(
    rng: random.Random, schema: dict[str, Any], pool: list[Any], depth: int = 0, key: str = "", hints: Any = None
) -> Any:
    hinted = (hints or {}).get(key)
    if hinted and rng.random() < 0.6:
        return rng.choice(hinted)
    if rng.random() < 0.2 or depth > 3:
        return rng.choice(pool)
    types = schema.get("type")
    types = types if isinstance(types, list) else [types]
    if "enum" in schema:
        return rng.choice(schema["enum"])
    if "oneOf" in schema or "anyOf" in schema:
        return _value(rng, rng.choice(schema.get("oneOf") or schema["anyOf"]), pool, depth + 1, key, hints)
    t = rng.choice(types)
    if t == "string":
        return rng.choice([s for s in pool if isinstance(s, str)])
    if t == "integer":
        return rng.choice([0, 1, 5, -3, 10**9, schema.get("maximum", 7)])
    if t == "number":
        return rng.choice([0.5, 1, 2, -1, 1e9])
    if t == "boolean":
        return rng.random() < 0.5
    if t == "array":
        return [_value(rng, schema.get("items", {}), pool, depth + 1) for _ in range(rng.randrange(3))]
    if t == "object":
        props = schema.get("properties", {})
        return {k: _value(rng, v, pool, depth + 1, k, hints) for k, v in props.items() if rng.random() < 0.8}
    return None


SAFE_TIMEOUTS = {"wait_for_sync": "timeout_s"}


async def fuzz(a: Audit, c: Any, transport: str, n: int, seed: int) -> None:
    rng = random.Random(seed)
    tools = {t.name: t.input_schema for t in (await c.list_tools()).tools}
    pool = _pool(a)
    from audit.writers import files

    url, work = a.seed(f"fuzz/{a.uid('f')}.git", files())
    hints = _hints(a, str(work), url)
    unanswered = dumps = echoes = answered_ok = 0
    slowest = 0.0
    for i in range(n):
        name = rng.choice(sorted(tools))
        schema = tools[name]
        args = _value(rng, {**schema, "type": "object"}, pool, 1, "", hints) or {}
        if not isinstance(args, dict):
            args = {"x": args}
        if rng.random() < 0.2:
            args[rng.choice(["unknown", "repo_path ", "__proto__"])] = rng.choice(pool)
        if name in SAFE_TIMEOUTS:
            args[SAFE_TIMEOUTS[name]] = rng.choice([1, 2])
        if name == "start_deployment" or name == "answer_questions":
            args.pop("accept_defaults", None)
        ans = await a.call(c, name if rng.random() > 0.03 else name + "_x", args, timeout=120)
        slowest = max(slowest, ans.seconds)
        answered_ok += ans.ok
        if ans.ok and isinstance(ans.data.get("session_id"), str):
            hints["session_id"].append(ans.data["session_id"])
        if not ans.answered:
            unanswered += 1
            a.record(PROP, f"{transport} fuzz {i}: {name}", False, str(args)[:200])
            continue
        raw = (
            "errors.pydantic.dev" in ans.text
            or "Traceback (most recent" in ans.text
            or "validation error for" in ans.text
        )
        echoed = LONG in ans.text
        dumps += raw
        echoes += echoed
        if raw or echoed:
            a.record(
                SHAPE,
                f"{transport} fuzz {i}: {name}",
                False,
                ("echoed a 25 KB argument; " if echoed else "") + ans.text[:300],
            )
    a.record(
        PROP,
        f"{transport}: {n} fuzzed calls answered ({answered_ok} without error; slowest {slowest:.1f} s)",
        unanswered == 0,
        f"{unanswered} unanswered",
    )
    a.record(
        SHAPE,
        f"{transport}: {n} fuzzed answers without a raw dump or a whole 25 KB echo",
        dumps + echoes == 0,
        f"{dumps} dumps, {echoes} echoes",
    )
    ok = await a.call(c, "list_sessions", {})
    a.record(PROP, f"{transport}: serving after the fuzz", ok.ok, str(ok))
