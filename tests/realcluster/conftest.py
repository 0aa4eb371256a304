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

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "testbed"))

from gitops_testbed import build, stack  # noqa: E402
from gitops_testbed.identity import server_kubeconfig  # noqa: E402
from gitops_testbed.plane import Plane  # noqa: E402
from gitops_testbed.procs import TestbedError  # noqa: E402

REQUIRED = os.environ.get("GITOPS_MCP_REQUIRE_TESTBED") == "1"
REUSE = os.environ.get("GITOPS_MCP_TESTBED_STATE")
ADDONS = ["flux"]
RAN_AGAINST: list[str] = []  # the versions line, repeated in the run's summary


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


def _unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"the testbed is required (GITOPS_MCP_REQUIRE_TESTBED=1) but {reason}", pytrace=False)
    pytest.skip(f"real-cluster testbed: {reason}")


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
            state = tmp_path_factory.mktemp("testbed")
            started = True
            plane = stack.up(ADDONS, state, log=lambda m: None)
        sa = server_kubeconfig(plane)
    except (TestbedError, build.BuildError, OSError, subprocess.SubprocessError) as e:
        _unavailable(f"it could not start: {e}")
    versions = ", ".join(f"{k} {v}" for k, v in plane.info.items() if k.endswith(("controller", "kubernetes", "flux")))
    line = f"real-cluster testbed: {versions}; started in {plane.info.get('start_s', '?')} s at {plane.server}"
    RAN_AGAINST.append(line)
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


def pytest_terminal_summary(terminalreporter: Any) -> None:
    from .flow import TIMINGS  # the flows' scenarios, timed

    for line in RAN_AGAINST + TIMINGS:
        terminalreporter.write_line(line)


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
            plane.bins.update(
                {k: str(v) for k, v in build.build(list(build.LAYERS["argocd"]), log=lambda m: None).items()}
            )
            argo.start_argocd(plane)
        except (TestbedError, build.BuildError, OSError, subprocess.SubprocessError) as e:
            _unavailable(f"Argo CD could not start: {e}")
    line = (f"real-cluster testbed: Argo CD {plane.info['argocd']} (application-controller, repo-server), "
            f"started in {plane.info.get('argocd_start_s', '?')} s")  # fmt: skip
    tr = request.config.pluginmanager.get_plugin("terminalreporter")
    if tr is not None:
        tr.write_line(line)
    print(line)
    return testbed
