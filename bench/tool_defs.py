"""What an assistant pays for our tool definitions every turn: the ``tools/list`` answer.

Bytes on the wire and a token estimate (bytes / 4) per tool and in total, for ``gitops-mcp
serve`` in full and read-only mode, read by a stdio client (initialize, then tools/list) from
the server's pipe. Baseline in the same run: argocd-mcp 0.9.0 (``npx -y argocd-mcp@0.9.0 stdio``,
full and ``MCP_READ_ONLY=true``), skipped with the reason when npx cannot fetch or start it.
Targets: total <= 30,000 bytes, no tool definition over 3,000 bytes.

A tool's bytes are its object in the answer, serialised compactly as the wire carries it (the
per-tool figures add up to the answer less its envelope). "Spaced JSON" is the same list dumped
with json.dumps' default separators, for comparison with figures measured that way.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Any

from startup import Stdio

TOTAL_MAX, TOOL_MAX = 30_000, 3_000
ARGOCD_MCP = "argocd-mcp@0.9.0"


def tools_list(cmd: list[str], env: dict[str, str]) -> tuple[int, list[dict[str, Any]]]:
    """The tools/list answer's size in bytes (all pages) and its tools."""
    s = Stdio(cmd, env)
    try:
        s.initialize()
        total, tools, cursor, i = 0, [], None, 100
        while True:
            s.send(
                {
                    "jsonrpc": "2.0",
                    "id": i,
                    "method": "tools/list",
                    **({"params": {"cursor": cursor}} if cursor else {}),
                }
            )
            reply = s.recv(i)
            total += s.last_bytes
            tools += reply["result"]["tools"]
            cursor = reply["result"].get("nextCursor")
            if not cursor:
                return total, tools
            i += 1
    finally:
        s.close()


def tool_bytes(tool: dict[str, Any]) -> int:
    return len(json.dumps(tool, separators=(",", ":"), ensure_ascii=False).encode())


def report(label: str, total: int, tools: list[dict[str, Any]]) -> bool:
    sizes = sorted(((tool_bytes(t), t["name"]) for t in tools), reverse=True)
    spaced = len(json.dumps(tools, ensure_ascii=False).encode())
    print(
        f"{label}: {len(tools)} tools, tools/list {total:,} bytes (~{total // 4:,} tokens; {spaced:,} as spaced JSON)"
    )
    for n, name in sizes:
        print(f"  {name:32} {n:7,} bytes  ~{n // 4:6,} tokens{'   OVER' if n > TOOL_MAX else ''}")
    return total <= TOTAL_MAX and all(n <= TOOL_MAX for n, _ in sizes)


def main() -> None:
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GITOPS_MCP_")}
        env.update(GITOPS_MCP_STATE_DIR=tmp, GITOPS_MCP_ALLOWED_ROOTS=tmp, GITOPS_MCP_CACHE_DIR=tmp)
        ours = [sys.executable, "-m", "gitops_mcp", "serve"]
        for label, args in (("gitops-mcp (full)", []), ("gitops-mcp (read-only)", ["--read-only"])):
            ok &= report(label, *tools_list(ours + args, env))
            print()
        print(f"targets: total <= {TOTAL_MAX:,} bytes, each tool <= {TOOL_MAX:,}: {'met' if ok else 'NOT met'}\n")
    baseline()
    sys.exit(0 if ok else 1)


def baseline() -> None:
    npx = shutil.which("npx")
    if not npx:
        print(f"baseline {ARGOCD_MCP}: skipped (no npx)")
        return
    env = dict(os.environ, ARGOCD_BASE_URL="https://argocd.invalid", ARGOCD_API_TOKEN="unused")
    env.pop("MCP_READ_ONLY", None)
    cmd = [npx, "-y", ARGOCD_MCP, "stdio"]
    for label, extra in (("full", {}), ("read-only", {"MCP_READ_ONLY": "true"})):
        try:
            report(f"baseline {ARGOCD_MCP} ({label})", *tools_list(cmd, {**env, **extra}))
        except (RuntimeError, OSError, KeyError, ValueError, subprocess.SubprocessError) as exc:
            print(f"baseline {ARGOCD_MCP}: skipped (npx could not fetch or start it: {exc})")
            return
        print()


if __name__ == "__main__":
    main()
