"""kill -9 mid-push: a second server (a replica on the same state and clone cache) is killed with
its git children while the remote holds its push; the remote lets the push through or refuses it;
a server started afterwards must find the remote holding exactly the named file or nothing, and
delivering the kept change again must end in the named file on main, once, nothing else."""

from __future__ import annotations

from typing import Any

import anyio

from audit.harness import Audit
from audit.secrets import BASE, CM, COMMIT


def _leaves(e: BaseException) -> list[BaseException]:
    if isinstance(e, BaseExceptionGroup):
        return [x for sub in e.exceptions for x in _leaves(sub)]
    return [e]


async def kill_mid_push(a: Audit) -> None:
    for refuse in (False, True):
        name = f"kill/{a.uid('k')}.git"
        url, _ = a.seed(name, BASE)
        before = a.remote_files(name)
        srv = a.http_server()
        gate = a.remote.hold(name, 1)
        try:  # the client's own exit fails: its server is gone
            async with a.http_client(srv, "alice") as c:
                w = await a.call(
                    c, "write_manifests", {"repo_path": url, "output_path": "apps/k.yaml", "yaml": CM.format("k")}
                )
                a.record(COMMIT, f"kill -9: kept change (set-up, refuse={refuse})", w.ok, str(w))

                async def push(c: Any = c, url: str = url) -> None:
                    await a.call(c, "commit_and_push", {"repo_path": url, "paths": ["apps/k.yaml"], "message": "k"}, 60)

                async with anyio.create_task_group() as tg:
                    tg.start_soon(push)
                    await anyio.to_thread.run_sync(gate.wait_held, 1, 60.0)
                    srv.kill_group()
                    gate.release(refuse=refuse)
                    tg.cancel_scope.cancel()
        except Exception as e:
            if not any("disconnected" in str(x) or "Connect" in type(x).__name__ for x in _leaves(e)):
                raise
        gained = a.remote_files(name) - before
        a.record(
            COMMIT,
            f"kill -9 mid-push (remote {'refused' if refuse else 'took'} it): only the named file or nothing",
            gained <= {"apps/k.yaml"},
            str(gained),
        )
        again = a.http_server()
        async with a.http_client(again, "alice") as c:
            ans = await a.call(c, "commit_and_push", {"repo_path": url, "paths": ["apps/k.yaml"], "message": "k again"})
        again.stop()
        gained = a.remote_files(name) - before
        log = a.remote_refs(name)
        a.record(
            COMMIT,
            f"kill -9 mid-push (remote {'refused' if refuse else 'took'} it): delivered again after a restart",
            gained == {"apps/k.yaml"} and (ans.ok or "nothing to commit" in ans.text),
            f"{sorted(gained)}; refs {sorted(log)}; {ans}",
        )
