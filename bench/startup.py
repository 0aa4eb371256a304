"""Start-up (spawn -> initialize answered) and trivial tool round trip over stdio.

gitops-mcp against a bare MCPServer with one tool, measured in the same run, interleaved.
Targets: start-up <= 1.15x the bare server, round trip <= 1.3x.

Both sides run from bytecode, as installed packages do: the ``mcp`` package in site-packages is
compiled at install time, so the editable source of gitops-mcp is compiled here first (this
matters where PYTHONDONTWRITEBYTECODE is set, as on our machines).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}},
}


class Stdio:
    def __init__(self, cmd: list[str], env: dict[str, str]) -> None:
        self.t0 = time.perf_counter()
        self.p = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True, bufsize=1
        )
        self.next_id = 2
        self.last_bytes = 0  # size of the last answer read, as it came over the pipe

    def send(self, msg: dict[str, Any]) -> None:
        assert self.p.stdin is not None
        self.p.stdin.write(json.dumps(msg) + "\n")
        self.p.stdin.flush()

    def recv(self, want_id: int) -> dict[str, Any]:
        assert self.p.stdout is not None
        while True:
            line = self.p.stdout.readline()
            if not line:
                raise RuntimeError("server exited")
            msg = json.loads(line)
            self.last_bytes = len(line.rstrip("\n").encode())
            if msg.get("id") == want_id:
                return msg  # type: ignore[no-any-return]

    def initialize(self) -> float:
        self.send(INIT)
        self.recv(1)
        elapsed = time.perf_counter() - self.t0
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return elapsed

    def call(self, tool: str, args: dict[str, Any]) -> float:
        i = self.next_id
        self.next_id += 1
        t = time.perf_counter()
        self.send({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": tool, "arguments": args}})
        reply = self.recv(i)
        assert "error" not in reply and not reply["result"].get("isError"), reply
        return time.perf_counter() - t

    def close(self) -> None:
        assert self.p.stdin is not None
        self.p.stdin.close()
        self.p.wait(timeout=10)


def main() -> None:
    import compileall

    import gitops_mcp

    compileall.compile_dir(str(Path(gitops_mcp.__file__).parent), quiet=1)
    compileall.compile_file(str(HERE / "bare_server.py"), quiet=1)
    runs, calls = int(os.environ.get("BENCH_RUNS", "15")), int(os.environ.get("BENCH_CALLS", "300"))
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, GITOPS_MCP_STATE_DIR=tmp, GITOPS_MCP_ALLOWED_ROOTS=tmp)
        ours = [sys.executable, "-m", "gitops_mcp", "serve"]
        bare = [sys.executable, str(HERE / "bare_server.py")]
        start: dict[str, list[float]] = {"bare": [], "gitops-mcp": []}
        trip: dict[str, list[float]] = {"bare": [], "gitops-mcp": []}
        first: dict[str, list[float]] = {"bare": [], "gitops-mcp": []}
        for i in range(runs):
            for name, cmd, tool in (("bare", bare, "ping"), ("gitops-mcp", ours, "list_sessions")):
                s = Stdio(cmd, env)
                start[name].append(s.initialize())
                first[name].append(s.call(tool, {}))  # ours: imports the use case, makes the models
                if i < 3:
                    for _ in range(20):  # warm up
                        s.call(tool, {})
                    trip[name].extend(s.call(tool, {}) for _ in range(calls // 3))
                s.close()
    sb, so = statistics.median(start["bare"]), statistics.median(start["gitops-mcp"])
    tb, to = statistics.median(trip["bare"]), statistics.median(trip["gitops-mcp"])
    print(f"start-up (spawn -> initialize answered), median of {runs}:")
    print(f"  bare MCPServer   {sb * 1000:8.1f} ms")
    print(f"  gitops-mcp       {so * 1000:8.1f} ms   ratio {so / sb:.2f}x (target <= 1.15x)")
    fb, fo = statistics.median(first["bare"]), statistics.median(first["gitops-mcp"])
    print(f"first call after start-up, median of {runs}:")
    print(f"  bare ping        {fb * 1000:8.1f} ms")
    print(f"  list_sessions    {fo * 1000:8.1f} ms   (imports and models made on first use)")
    print(f"trivial tool round trip, median of {len(trip['bare'])} calls:")
    print(f"  bare ping        {tb * 1000:8.3f} ms")
    print(f"  list_sessions    {to * 1000:8.3f} ms   ratio {to / tb:.2f}x (target <= 1.3x)")


if __name__ == "__main__":
    main()
