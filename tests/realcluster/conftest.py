"""The real-cluster suite: one testbed (real etcd, kube-apiserver, controller-manager, scheduler, kwok
and the real Flux controllers, see testbed/gitops_testbed) for the whole session.

- GITOPS_MCP_REQUIRE_TESTBED=1 (CI): build what is missing; a testbed that cannot start FAILS the tests.
- Otherwise: start it when its binaries are built (scripts/testbed build), else skip with the reason.
- GITOPS_MCP_TESTBED_STATE=<dir>: use the testbed `scripts/testbed up --flux --state <dir>` left
  running there (quicker while developing) instead of starting one.
The server under test uses a ServiceAccount token bound to deploy/kubernetes' ClusterRoles.
A failed test's report carries the controllers' last log lines and the Flux objects' status.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import SUMMARY

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "testbed"))

from gitops_testbed import build, stack  # noqa: E402
from gitops_testbed.identity import server_kubeconfig  # noqa: E402
from gitops_testbed.plane import Plane  # noqa: E402
from gitops_testbed.procs import TestbedError  # noqa: E402

REQUIRED = os.environ.get("GITOPS_MCP_REQUIRE_TESTBED") == "1"
REUSE = os.environ.get("GITOPS_MCP_TESTBED_STATE")
ADDONS = ["flux"]


@dataclass
class Testbed:
    __test__ = False  # not a test class

    plane: Plane
    server_kubeconfig: Path  # the gitops-mcp ServiceAccount's token

    def kubectl(self, *args: str, timeout: float = 60) -> str:
        return self.plane.kubectl(*args, timeout=timeout)

    def namespace(self, name: str) -> None:
        self.plane.apply(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n")

    def get(self, kind: str, name: str, namespace: str) -> dict[str, Any]:
        import json

        out = self.kubectl("get", kind, name, "-n", namespace, "-o", "json", "--show-managed-fields")
        return json.loads(out)  # type: ignore[no-any-return]


@contextmanager
def build_lock() -> Iterator[None]:
    """One build at a time when pytest-xdist workers each start a testbed: the others wait for it and
    then find the binaries built (each `go build` is bounded by build.py's timeout)."""
    build.CACHE.mkdir(parents=True, exist_ok=True)
    with open(build.CACHE / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"the testbed is required (GITOPS_MCP_REQUIRE_TESTBED=1) but {reason}", pytrace=False)
    pytest.skip(f"real-cluster testbed: {reason}")


# The longest files (each mostly waits on the controllers), started first when pytest-xdist hands out
# whole files (scripts/test: --dist loadfile), so that none of them is left to run at the end alone.
LONGEST = ("test_fixture_packages.py", "test_flow_argocd.py", "test_flux.py", "test_flow.py", "test_live_effect.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return  # one process: the order does not matter

    def rank(item: pytest.Item) -> int:
        path = item.path
        if path.parent.name != "realcluster" or path.parent.parent != ROOT / "tests":
            return len(LONGEST) + 1
        return LONGEST.index(path.name) if path.name in LONGEST else len(LONGEST)

    items.sort(key=rank)  # stable: each file's tests keep their order


@pytest.fixture(scope="session")
def testbed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Testbed]:
    started = False
    try:
        if REUSE:
            plane = Plane.load(Path(REUSE))
            if plane is None or not plane.ready() or not set(ADDONS) <= set(plane.layers):
                _unavailable(f"no ready testbed with {', '.join(ADDONS)} in GITOPS_MCP_TESTBED_STATE={REUSE}")
            assert plane is not None
        else:
            names = stack.components(ADDONS)
            if not REQUIRED and build.missing(names):
                _unavailable(f"not built ({', '.join(build.missing(names))}): run scripts/testbed build")
            with build_lock():
                build.build(names, log=lambda m: None)
            state = tmp_path_factory.mktemp("testbed")
            started = True
            plane = stack.up(ADDONS, state, log=lambda m: None)
        sa = server_kubeconfig(plane)
    except (TestbedError, build.BuildError, OSError, subprocess.SubprocessError) as e:
        _unavailable(f"it could not start: {e}")
    versions = ", ".join(f"{k} {v}" for k, v in plane.info.items() if k.endswith(("controller", "kubernetes", "flux")))
    line = f"real-cluster testbed: {versions}; started in {plane.info.get('start_s', '?')} s at {plane.server}"
    SUMMARY.append(line)  # repeated at the end of the run
    tr = request.config.pluginmanager.get_plugin("terminalreporter")
    capman = request.config.pluginmanager.get_plugin("capturemanager")
    if tr is not None and capman is not None:
        with capman.global_and_fixture_disabled():
            tr.write_line(line)
    try:
        yield Testbed(plane, sa)
    finally:
        if started:
            stack.down(plane.state)


@pytest.fixture(autouse=True)
def testbed_tools_on_path(testbed: Testbed, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's preflight runs the testbed's kustomize 5 and helm 4 (it takes them from PATH)."""
    tools = {Path(testbed.plane.bin(b)).parent for b in ("kustomize", "helm", "kubectl")}
    monkeypatch.setenv("PATH", os.pathsep.join([*sorted(map(str, tools)), os.environ["PATH"]]))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and "testbed" in getattr(item, "fixturenames", ()):
        tb = item.funcargs.get("testbed") if hasattr(item, "funcargs") else None
        if isinstance(tb, Testbed):
            rep.sections.append(("testbed: controllers' last log lines", stack.diagnostics(tb.plane.state, 15)))
            try:
                status = tb.kubectl(
                    "get", "gitrepositories,kustomizations,helmreleases,helmcharts", "-A", "-o",
                    "custom-columns=KIND:.kind,NS:.metadata.namespace,NAME:.metadata.name,"
                    "READY:.status.conditions[?(@.type=='Ready')].status,"
                    "REVISION:.status.lastAppliedRevision,MESSAGE:.status.conditions[?(@.type=='Ready')].message",
                )  # fmt: skip
            except TestbedError as e:
                status = str(e)
            rep.sections.append(("testbed: Flux objects' status", status))
            if "argocd" in tb.plane.layers:
                try:
                    apps = tb.kubectl(
                        "get", "applications", "-A", "-o",
                        "custom-columns=NS:.metadata.namespace,NAME:.metadata.name,SYNC:.status.sync.status,"
                        "HEALTH:.status.health.status,REVISION:.status.sync.revision,"
                        "OPERATION:.status.operationState.phase,MESSAGE:.status.operationState.message,"
                        "CONDITIONS:.status.conditions[*].message",
                    )  # fmt: skip
                except TestbedError as e:
                    apps = str(e)
                rep.sections.append(("testbed: Argo CD Applications' status", apps))


@pytest.fixture(scope="session")
def argocd(testbed: Testbed, request: pytest.FixtureRequest) -> Testbed:
    """The session's testbed with Argo CD (application-controller, repo-server, redis) added to it,
    built first if it is missing (and the testbed is required), else the tests skip."""
    from gitops_testbed import argocd as argo

    plane = testbed.plane
    if "argocd" not in plane.layers:
        try:
            if not REQUIRED and build.missing(list(build.LAYERS["argocd"])):
                _unavailable("Argo CD is not built: run scripts/testbed build argocd")
            with build_lock():
                built = build.build(list(build.LAYERS["argocd"]), log=lambda m: None)
            plane.bins.update({k: str(v) for k, v in built.items()})
            argo.start_argocd(plane)
        except (TestbedError, build.BuildError, OSError, subprocess.SubprocessError) as e:
            _unavailable(f"Argo CD could not start: {e}")
    line = (f"real-cluster testbed: Argo CD {plane.info['argocd']} (application-controller, repo-server), "
            f"started in {plane.info.get('argocd_start_s', '?')} s")  # fmt: skip
    if line not in SUMMARY:
        SUMMARY.append(line)
    tr = request.config.pluginmanager.get_plugin("terminalreporter")
    if tr is not None:
        tr.write_line(line)
    print(line)
    return testbed
