"""Remote-first over streamable HTTP, the operations side: two callers remediating the same
repository at once (both land, neither sees the other's working tree), a kill -9 in the middle
of an operation (nothing left that breaks the next call), and the clone cache's size bound
(least recently used out, never one in use). Operations are caught mid-way at their push by a
gate in the git remote."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from conftest import FIXTURES, need_shared
from doubles.remote_world import FLEET, RemoteWorld, git

pytestmark = [pytest.mark.slow, pytest.mark.anyio]
IMAGE = "ghcr.io/stefanprodan/podinfo"
FRONTEND = {"api_version": "apps/v1", "kind": "Deployment", "name": "frontend", "namespace": "production"}
HELM = {"api_version": "apps/v1", "kind": "Deployment", "name": "podinfo", "namespace": "podinfo"}


@pytest.fixture
def rw(tmp_path: Path) -> Iterator[RemoteWorld]:
    with RemoteWorld(tmp_path) as w:
        yield w


def trees(rw: RemoteWorld) -> list[Path]:
    work = rw.cache / "work"
    return sorted(p for p in work.iterdir() if p.is_dir() and not p.name.endswith(".tmp"))


def changed(tree: Path) -> list[str]:
    """Files the working tree's own commit (HEAD, at the moment it pushes) changes."""
    return git(tree, "show", "--name-only", "--format=", "HEAD").splitlines()


async def test_two_callers_remediate_the_same_repository_at_once(rw: RemoteWorld) -> None:
    rw.fleet(need_shared(FIXTURES / "podinfo"))
    srv = rw.server()
    gate = rw.remote.hold(FLEET, 2)  # both pushes wait until both operations are there
    results: dict[str, Any] = {}

    async def alice() -> None:
        async with rw.client(srv, "alice") as c:
            change = {"type": "set_image", "image": f"{IMAGE}:6.14.4"}
            results["alice"] = await rw.call(c, "remediate", {**FRONTEND, "mode": "push", "change": change})

    async def bob() -> None:
        async with rw.client(srv, "bob") as c:
            change = {"type": "set_helm_values", "values": {"ui.message": "from bob"}}
            results["bob"] = await rw.call(c, "remediate", {**HELM, "mode": "push", "change": change})

    async with rw.client(srv) as c:  # both sources applied first
        for ks in ("production", "helm-apps"):
            w = await rw.call(c, "wait_for_sync", {"kind": "Kustomization", "name": ks, "namespace": "flux-system"})
            assert w["outcome"] == "synced"
    async with anyio.create_task_group() as tg:
        tg.start_soon(alice)
        tg.start_soon(bob)
        await anyio.to_thread.run_sync(gate.wait_held, 2)
        # two working trees at once, each with its own change only
        both = trees(rw)
        assert len(both) == 2
        assert sorted(f for t in both for f in changed(t)) == [
            "apps/helm/release.yaml",
            "deploy/overlays/production/kustomization.yaml",
        ]
        for t in both:
            mine = changed(t)[0]
            other = next(
                f for f in ("apps/helm/release.yaml", "deploy/overlays/production/kustomization.yaml") if f != mine
            )
            assert git(t, "status", "--porcelain") == "" and git(t, "diff", "--name-only", "HEAD~1", "--", other) == ""
        gate.release()
    a, b = results["alice"], results["bob"]
    assert a["commit"]["status"] == b["commit"]["status"] == "pushed"
    assert a["live_ok"] is True and b["live_ok"] is True, (a["message"], b["message"])
    assert sorted([a["commit"]["attempts"], b["commit"]["attempts"]]) == [1, 2]  # one rebased onto the other
    assert "newTag: 6.14.4" in rw.remote.show(FLEET, "main", "deploy/overlays/production/kustomization.yaml")
    assert "from bob" in rw.remote.show(FLEET, "main", "apps/helm/release.yaml")
    assert rw.work_left() == []
    rw.assert_no_secrets()


async def test_kill_9_mid_operation_leaves_nothing_that_breaks_the_next_call(rw: RemoteWorld) -> None:
    rw.fleet(need_shared(FIXTURES / "podinfo"))
    head = rw.remote.head(FLEET)
    srv = rw.server()
    gate = rw.remote.hold(FLEET, 1)
    change = {"type": "set_image", "image": f"{IMAGE}:6.14.6"}

    failed: list[str] = []

    async def doomed() -> None:
        with anyio.move_on_after(60):
            try:
                async with rw.client(srv) as c:
                    await c.call_tool("remediate", {**FRONTEND, "mode": "push", "change": change})
            except Exception as exc:  # the connection dies with the server
                failed.append(type(exc).__name__)

    async with anyio.create_task_group() as tg:
        tg.start_soon(doomed)
        await anyio.to_thread.run_sync(gate.wait_held, 1)
        assert len(trees(rw)) == 1 and changed(trees(rw)[0])  # caught mid-operation: its tree, its commit
        srv.kill_group()  # the server and its git children, as a container killed
        gate.release(refuse=True)
    assert failed, "the call did not fail with its server"
    assert rw.remote.head(FLEET) == head  # nothing landed
    assert rw.work_left() != []  # the dead operation's tree and marker are still there
    cached = rw.cached_repos()[0]
    for lock in ("shallow.lock", "refs/remotes/origin/main.lock"):  # what a kill during a fetch leaves
        (cached / ".git" / lock).write_text("", encoding="utf-8")
        past = time.time() - 5
        os.utime(cached / ".git" / lock, (past, past))
    srv = rw.server()  # start-up removes what the dead process left
    assert rw.work_left() == []
    assert git(cached, "worktree", "list", "--porcelain").count("worktree ") == 1
    async with rw.client(srv) as c:
        r = await rw.call(c, "remediate", {**FRONTEND, "mode": "push", "change": change})
    assert r["commit"]["status"] == "pushed" and r["live_ok"] is True, r["message"]
    assert not (cached / ".git/shallow.lock").exists()
    assert rw.work_left() == []
    rw.assert_no_secrets()


BLOB = 600 * 1024  # incompressible: each repository is over half the bound


def seed_big(rw: RemoteWorld, name: str) -> str:
    url = rw.seed(name, {"data/blob.bin": os.urandom(BLOB), "cm.yaml": "a: 1\n"})
    rw.commit(name, {"cm.yaml": "a: 2\n"}, "a is 2")
    return url


async def test_cache_bound_evicts_the_least_recently_used_never_one_in_use(rw: RemoteWorld) -> None:
    a, b = seed_big(rw, "org/a.git"), seed_big(rw, "org/b.git")
    srv = rw.server(GITOPS_MCP_CACHE_MAX_MB="1")

    def cached() -> list[str]:
        return [git(p, "config", "--get", "remote.origin.url") for p in rw.cached_repos()]

    async def rollback(url: str, caller: str = "alice") -> Any:
        async with rw.client(srv, caller) as c:
            return await rw.call(c, "rollback", {"repo_path": url, "paths": ["cm.yaml"], "mode": "push"})

    assert (await rollback(a))["status"] == "pushed"
    assert cached() == [a]
    assert (await rollback(b))["status"] == "pushed"
    assert cached() == [b]  # a was the least recently used: evicted after b's operation
    gate = rw.remote.hold("org/a.git", 1)
    done: dict[str, Any] = {}

    async def held() -> None:
        done["a"] = await rollback(a)

    async with anyio.create_task_group() as tg:
        tg.start_soon(held)  # a again (cloned anew), held at its push: in use
        await anyio.to_thread.run_sync(gate.wait_held, 1)
        assert (await rollback(b, "bob"))["status"] == "pushed"
        assert a in cached()  # over the bound, a the least recently used, but in use: kept
        gate.release()
    assert done["a"]["status"] == "pushed" and rw.remote.show("org/a.git", "main", "cm.yaml") == "a: 2\n"
    sizes = [int(p.with_name(p.name + ".size").read_text()) for p in rw.cached_repos()]
    assert sum(sizes) <= 1024 * 1024 and cached() == [a]
    assert rw.work_left() == []
    rw.assert_no_secrets()
