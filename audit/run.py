"""Issue 17's audit, re-run from outside the project: ``gitops-mcp serve`` as real subprocesses,
driven only through the MCP SDK client (stdio and streamable HTTP) and raw stdio lines, against an
authenticated ``git http-backend`` remote, the fake API server and a fake GitHub API.

    .venv/bin/python -m audit.run                 # everything, ~6-9 min on 2 shared cores
    .venv/bin/python -m audit.run --only stdio    # one section (see SECTIONS)
    .venv/bin/python -m audit.run --fuzz 1000     # more fuzzed calls per transport (default 200)

Prints the findings table (property, probes, failures) and every failure; writes the probes as
JSON (``--json``); exits 1 when any probe failed. Nothing is left running; the work directory is
removed unless ``--keep``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from audit import builds, crash, fuzz, people, secrets, wire, writers
from audit.harness import CALLERS, Audit

SECTIONS = (
    "symlinks",
    "escapes",
    "cache",
    "pathspecs",
    "crash",
    "gitconfig",
    "builds",
    "stdio",
    "fuzz",
    "secrets",
    "people",
)


async def main(a: Audit, only: set[str], n_fuzz: int, seed: int) -> None:
    srv = a.http_server()
    timings: dict[str, float] = {}

    def timed(name: str) -> bool:
        timings[name] = time.monotonic()
        return not only or name in only

    async with a.http_client(srv, "alice") as c:
        if timed("symlinks"):
            await writers.hostile_symlinks(a, c, "http")
            async with a.stdio_client() as s:
                await writers.hostile_symlinks(a, s, "stdio", wheres=("local",))
        if timed("escapes"):
            await writers.path_escapes(a, c, "http")
        if timed("cache"):
            await writers.clone_cache(a, c, a.home / ".cache")
        if timed("pathspecs"):
            await secrets.pathspecs(a, c)
        if timed("crash"):
            await crash.kill_mid_push(a)
        if timed("gitconfig"):
            await secrets.repo_git_config(a, c)
            await secrets.rewrites(a, c, "http")
            async with a.stdio_client() as s:
                await secrets.rewrites(a, s, "stdio")
            await secrets.git_urls(a, c)
        if timed("builds"):
            await builds.bombs(a, c, srv.proc.pid if srv.proc else 0)
            await builds.no_outbound(a, c)
        if timed("stdio"):
            wire.framing(a)
            wire.http_framing(a, srv.url, CALLERS["alice"])
        if timed("fuzz"):
            await fuzz.fuzz(a, c, "http", n_fuzz, seed)
            async with a.stdio_client() as s:
                await fuzz.fuzz(a, s, "stdio", n_fuzz, seed + 1)
        if timed("people"):
            await people.principals(a, srv)
            await people.repository_text(a, c)
            async with a.stdio_client() as s:
                await people.repository_text(a, s, "stdio")
            await people.small_items(a, srv)
    timings["end"] = time.monotonic()
    if not only or "secrets" in only:
        srv.stop()  # flushes its logs and the audit log
        secrets.search(a)
    names = list(timings)
    for x, y in itertools.pairwise(names):
        if not only or x in only:
            print(f"  {x:<10} {timings[y] - timings[x]:6.1f} s", file=sys.stderr)


def table(a: Audit) -> str:
    probes, fails = Counter[str](), Counter[str]()
    for r in a.results:
        probes[r.prop] += 1
        fails[r.prop] += not r.ok
    width = max(len(p) for p in probes) if probes else 10
    lines = [f"{'property':<{width}}  probes  failures", "-" * (width + 18)]
    lines += [f"{p:<{width}}  {probes[p]:>6}  {fails[p]:>8}" for p in probes]
    lines.append(f"{'total':<{width}}  {sum(probes.values()):>6}  {sum(fails.values()):>8}")
    bad = [r for r in a.results if not r.ok]
    if bad:
        lines += ["", "failures:"] + [f"- [{r.prop}] {r.name}: {r.detail}" for r in bad]
    return "\n".join(lines)


def cli() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", choices=SECTIONS, default=[])
    ap.add_argument("--fuzz", type=int, default=500, help="fuzzed tool calls per transport (the first audit: 3,150)")
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--json", type=Path, help="write every probe here")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="gitops-mcp-audit-"))
    for k, v in {
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": "Auditor",
        "GIT_AUTHOR_EMAIL": "auditor@example.com",
        "GIT_COMMITTER_NAME": "Auditor",
        "GIT_COMMITTER_EMAIL": "auditor@example.com",
    }.items():
        os.environ[k] = v
    for k in ("KUBECONFIG", "GITHUB_TOKEN", "GITLAB_TOKEN"):
        os.environ.pop(k, None)
    started = time.monotonic()
    a = Audit(root)
    try:
        with a:
            anyio.run(main, a, set(args.only), args.fuzz, args.seed)
            bad = a.outside_untouched()
            a.record(writers.PROP, f"{len(a.victims)} victim directories after the whole run", not bad, str(bad))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    for k, lines in a.figures.items():
        print(f"{k}:", *lines, sep="\n  ")
    print(table(a))
    print(
        f"\n{len(a.results)} probes in {time.monotonic() - started:.0f} s; "
        f"work dir {root}{'' if args.keep else ' (removed)'}"
    )
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in a.results], indent=1), encoding="utf-8")
    return 1 if any(not r.ok for r in a.results) else 0


if __name__ == "__main__":
    sys.exit(cli())
