"""Bring a whole testbed up or down: build what is missing, start the plane, then the add-ons."""

from __future__ import annotations

import importlib
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from . import build
from .plane import Plane, start_plane
from .procs import Procs, TestbedError, rss_mb, tail

STATE = Path(os.environ.get("GITOPS_TESTBED_STATE", build.CACHE / "run"))

# Add-ons started after the plane, in this order: name -> "module:function". The function takes the
# Plane, starts its processes through plane.procs (so `down` stops them), records versions in
# plane.info and appends its name to plane.layers. build.LAYERS[name] lists the components it needs.
ADDONS: dict[str, str] = {
    "flux": "gitops_testbed.flux:start_flux",
    "argocd": "gitops_testbed.argocd:start_argocd",
}


def addon(name: str) -> Callable[[Plane], None]:
    mod, fn = ADDONS[name].split(":")
    try:
        return getattr(importlib.import_module(mod), fn)  # type: ignore[no-any-return]
    except ImportError as e:
        raise TestbedError(f"the {name} add-on is not available in this checkout ({e})") from e


def components(addons: list[str]) -> list[str]:
    names = [*build.LAYERS["plane"], *build.LAYERS["tools"]]
    for a in addons:
        names += [c for c in build.LAYERS.get(a, ()) if c not in names]
    return names


def up(addons: list[str], state: Path = STATE, log: Callable[[str], None] = print) -> Plane:
    """Start a testbed in state (stopping whatever an earlier one left there); return when ready.

    On failure everything started is stopped again and TestbedError carries the logs' last lines.
    """
    unknown = [a for a in addons if a not in ADDONS]
    if unknown:
        raise TestbedError(f"unknown add-on(s): {', '.join(unknown)}; known: {', '.join(ADDONS)}")
    starters = [addon(a) for a in addons]
    bins = build.build(components(addons), log=log)
    down(state)
    state.mkdir(parents=True, exist_ok=True)
    for stale in ("etcd", "flux-storage", "plane.json"):
        p = state / stale
        if p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink(missing_ok=True)
    t0 = time.monotonic()
    try:
        plane = start_plane(state, bins)
        log(f"plane ready in {time.monotonic() - t0:.1f} s: Kubernetes {plane.info['kubernetes']} at {plane.server}")
        for name, start in zip(addons, starters, strict=True):
            start(plane)
            log(f"{name} ready at {time.monotonic() - t0:.1f} s")
    except TestbedError as e:
        report = diagnostics(state)
        down(state)
        raise TestbedError(f"{e}\n{report}") from e
    except BaseException:
        down(state)
        raise
    plane.info["start_s"] = f"{time.monotonic() - t0:.1f}"
    plane.save()
    return plane


def down(state: Path = STATE) -> list[str]:
    return Procs(state).stop_all()


def status(state: Path = STATE) -> str:
    plane = Plane.load(state)
    procs = Procs(state).load()
    if plane is None or not procs:
        return f"no testbed in {state}"
    lines = [f"testbed in {state}: layers {', '.join(plane.layers)}; API server {plane.server} "
             f"({'ready' if plane.ready() else 'NOT ready'})"]  # fmt: skip
    lines += [
        f"  {p.name:<24} pid {p.pid:<8} {'running' if p.alive() else 'EXITED ':<8} {rss_mb(p.pid):6.0f} MiB  {p.log}"
        for p in procs
    ]
    lines.append(f"  total resident memory: {sum(rss_mb(p.pid) for p in procs if p.alive()):.0f} MiB")
    lines += [f"  {k}: {v}" for k, v in sorted(plane.info.items())]
    lines.append(f"admin kubeconfig: {plane.admin_kubeconfig}")
    return "\n".join(lines)


def diagnostics(state: Path = STATE, lines: int = 20) -> str:
    """The last log lines of every process, for a failure report."""
    return "\n".join(
        f"--- {p.name} ({'running' if p.alive() else 'exited'}), {p.log}:\n{tail(p.log, lines)}"
        for p in Procs(state).load()
    )
