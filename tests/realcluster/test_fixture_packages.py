"""Issue 20 on the real controllers: for each package a shared fixture deploys itself (its clusters/
Kustomizations, its app-of-apps chart, its README), the wizard's default output with both engines
is pushed to the test remote and applied through the real Flux or Argo CD, and must be Ready at the
pushed revision, or the preview said why not. Where the reason is the testbed's (a chart or source
fetched from outside its loopback-only network, a controller it does not run), the test says so and
the deployment counts as not checkable, never as working. A table of verdicts is printed.

Flux: a bootstrapped fixture gets what `flux bootstrap` leaves (its GitRepository flux-system,
without the committed Flux install, and a Kustomization applying its cluster directory), one fixture
at a time (the names are the fixtures' own); the others are applied with the wizard's `register`.
Argo CD: each deployment is registered (nothing in the cluster applies the output directory), the
fixtures one after another, then all of them are waited for at once."""

from __future__ import annotations

import json
import posixpath
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import FIXTURES, make_repo, need_shared
from doubles.git_remote import GitHttpServer

from .conftest import Testbed
from .verdicts import Observed, observe_app, observe_flux
from .world import TOKEN, USER, RealWorld, unique

pytestmark = [pytest.mark.realcluster, pytest.mark.slow]

# fixture: (the cluster directory its bootstrap applies, the packages the repository deploys itself)
DEPLOYS: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "podinfo": (None, ("kustomize", "charts/podinfo")),  # its README's two ways
    "argocd-example-apps": (
        None,
        (  # the apps chart's Applications, and that chart
            "apps",
            "blue-green",
            "guestbook",
            "helm-dependency",
            "helm-guestbook",
            "helm-hooks",
            "jsonnet-guestbook",
            "jsonnet-guestbook-tla",
            "kustomize-guestbook",
            "plugins/kasane",
            "plugins/kustomized-helm",
            "pre-post-sync",
            "sock-shop",
            "sync-waves",
        ),
    ),
    "flux2-kustomize-helm-example": (
        "clusters/production",
        (
            "infrastructure/controllers",
            "infrastructure/configs",
            "apps/production",
        ),
    ),
    "flux2-multi-tenancy": (
        "clusters/production",
        (
            "infrastructure/kyverno",
            "infrastructure/kyverno-policies",
            "tenants/production",
        ),
    ),
    "flux2-monitoring-example": (
        "clusters/test",
        (
            "monitoring/controllers/kube-prometheus-stack",
            "monitoring/controllers/loki-stack",
            "monitoring/configs",
        ),
    ),
    "gitops-istio": ("clusters/my-cluster", ("istio/system", "istio/gateway", "apps")),
}
ROOTS = {"flux": ("Kustomization", "HelmRelease"), "argocd": ("Application",)}
WAIT_S = 120.0


@dataclass
class Deployment:
    fixture: str
    package: str
    engine: str
    notes: list[str] = field(default_factory=list)
    targets: list[tuple[str, str, str]] = field(default_factory=list)  # kind, name, namespace
    stopped: str | None = None  # the preview asked instead of delivering, and why
    seen: Observed | None = None
    via: Deployment | None = None  # the deployment it depends on, which failed first

    @property
    def verdict(self) -> str:
        if self.stopped:
            return "said"
        assert self.seen is not None
        if self.via is not None and not self.seen.ready:
            return {"works": "silent"}.get(self.via.verdict, self.via.verdict)
        if self.seen.ready:
            return "works"
        if self.seen.blocked:
            return "testbed"
        return "said" if said_in(self.notes, self.seen.message) else "silent"


def named(message: str) -> list[str]:
    """What a controller's failure names (a kind from a CRD, an API version, a namespace, a host):
    the preview said why when one of its notes names it too."""
    found = re.findall(r'in version "([^"]+)"', message)
    found += [k for k in re.findall(r'kind "([^"]+)"', message) if k not in GENERIC]
    found += re.findall(r'namespaces? "([^"]+)" not found', message)
    found += re.findall(r"(?:https?|oci)://([^/\s\"']+)", message)
    found += re.findall(r"Missing argument: (\w+)", message)  # a Jsonnet top-level argument
    found += re.findall(r'(\w+)\.[\w.]+ "" not found', message)  # Argo CD: Rollout.argoproj.io "" not found
    found += [f"{g}/{v}" for g, v in re.findall(GROUP_VERSION, message)]  # a version its CRDs do not serve
    return found


GROUP_VERSION = r"group version ([\w.-]+)/(\w+): the server could not find"


def said_in(notes: list[str], message: str) -> bool:
    """The preview named what the controller stumbled on (for a group the cluster lacks: among the
    kinds it says are missing)."""
    if any(w in " ".join(notes) for w in named(message)):
        return True
    missing = " ".join(n for n in notes if n.startswith("Missing in the cluster"))
    return any(f"{g}/" in missing for g, _ in re.findall(GROUP_VERSION, message))


GENERIC = {"Kustomization", "HelmRelease", "GitRepository", "HelmRepository", "OCIRepository", "Namespace"}
TERMINAL = ("dry-run failed", "no matches for kind", "install failed", "build failed", "upgrade failed")


def fixture_world(tb: Testbed, root: Path, remote: GitHttpServer, fixture: str) -> RealWorld:
    repo = f"org/{unique(fixture)}.git"
    url = remote.url(repo)
    remote.create_repo(repo)
    seed = make_repo(root / "seed", need_shared(FIXTURES / fixture))
    w = RealWorld(tb, remote, root, root / "work", url, repo, [])
    w.git("push", "-q", url, "main", cwd=seed)
    w.git("clone", "-q", url, str(w.work), cwd=root)
    return w


def flux_bootstrap(w: RealWorld, directory: str) -> None:
    """What `flux bootstrap` leaves in a cluster that already runs Flux: the controllers' service
    accounts (the multi-tenancy lockdown impersonates them) and flux-system syncing ``directory``;
    the committed Flux install (flux-system/) is left out of the artifact, the testbed runs its own."""
    w.tb.plane.apply(f"""apiVersion: v1
kind: ServiceAccount
metadata: {{name: kustomize-controller, namespace: flux-system}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: helm-controller, namespace: flux-system}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: cluster-reconciler-flux-system}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}}
subjects:
- {{kind: ServiceAccount, name: kustomize-controller, namespace: flux-system}}
- {{kind: ServiceAccount, name: helm-controller, namespace: flux-system}}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: flux-system, namespace: flux-system}}
spec: {{interval: 1m, url: "{w.url}", ref: {{branch: main}}, ignore: "/{directory}/flux-system/\\n"}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: flux-system, namespace: flux-system}}
spec: {{interval: 10m, path: ./{directory}, prune: true, sourceRef: {{kind: GitRepository, name: flux-system}}}}
""")
    w.created += ["kustomization/flux-system", "gitrepository/flux-system"]
    w.tb.kubectl("wait", "--for=condition=Ready", "--timeout=60s", "-n", "flux-system", "gitrepository/flux-system",
                 timeout=70)  # fmt: skip


def covers(path: Any, package: str) -> bool:
    p = posixpath.normpath(str(path or ".")).removeprefix("./")
    return p in (".", package) or package.startswith(p + "/")


def roots_of(text: str, engine: str, package: str) -> list[tuple[str, str, str]]:
    out = []
    for d in yaml.safe_load_all(text):
        if not isinstance(d, dict) or d.get("kind") not in ROOTS[engine]:
            continue
        spec, meta = d.get("spec") or {}, d.get("metadata") or {}
        path = spec.get("path") or ((spec.get("chart") or {}).get("spec") or {}).get("chart")
        path = (spec.get("source") or {}).get("path", path) if engine == "argocd" else path
        if covers(path, package):
            out.append((d["kind"], meta["name"], meta.get("namespace", "flux-system")))
    return out


def deploy(w: RealWorld, app: Any, fixture: str, package: str, engine: str) -> Deployment:
    """The wizard with default answers, then push (and register when it asks)."""
    dep = Deployment(fixture, package, engine)
    v = app.wizard.start("local", str(w.work), provider=engine, answers={"package": package}, accept_defaults=True)
    for _ in range(6):
        if v.step == "preview" or v.status != "open":
            break
        v = app.wizard.answer("local", v.session_id, {}, accept_defaults=True)
    if v.preview is None:
        dep.stopped = f"stopped at {v.step}: " + "; ".join(f"{q.id}: {q.prompt}" for q in v.questions)
        app.wizard.cancel("local", v.session_id)
        return dep
    dep.notes = list(v.preview.notes)
    asked = {q.id for q in v.questions}
    if not v.preview.validation.valid or "deliver_anyway" in asked:
        dep.stopped = v.preview.validation.describe() if not v.preview.validation.valid else "package does not build"
        app.wizard.cancel("local", v.session_id)
        return dep
    dep.targets = roots_of(v.preview.yaml, engine, package)
    for note in dep.notes:  # an update of the object that deploys it (whatever its path says, e.g. an artifact's)
        if m := re.match(r"Updates (\w+) ([\w.-]+)/([\w.-]+) in ", note):
            dep.targets = dep.targets or [(m.group(1), m.group(3), m.group(2))]
    answers: dict[str, Any] = {"delivery": "push", "wait": False} | ({"register": True} if "register" in asked else {})
    done = app.wizard.answer("local", v.session_id, answers)
    assert done.status == "done" and done.result is not None, (fixture, package, engine, done.errors)
    reg = done.result.registered
    if reg is not None:
        assert reg.ok, (fixture, package, reg.message)
        w.created += [f"{o.kind.lower()}/{o.name}" for o in reg.applied if o.namespace == "flux-system"]
    assert dep.targets, (fixture, package, engine, v.preview.yaml)
    return dep


def settle(waiting: list[tuple[RealWorld, list[Deployment]]], engine: str, boot: str | None) -> None:
    """Ask the controllers to fetch each world's last push now, then wait (bounded) until every
    deployment is Ready at it, or failed for good: in words that do not change (a refused apply, a
    failed build or install), for a reason of the testbed's, or behind another deployment of its
    world that failed so. Several worlds are waited for together (Argo CD: every fixture's
    Applications at once, each against its own repository's head)."""
    tb = waiting[0][0].tb
    heads: dict[int, str] = {}
    for w, deps in waiting:
        head = w.head()
        assert head is not None
        heads.update({id(d): head for d in deps})
    if engine == "flux":
        tb.kubectl("annotate", "--overwrite", "-n", "flux-system", "gitrepositories", "--all",
                   f"reconcile.fluxcd.io/requestedAt={time.time()}")  # fmt: skip
    world_of = {id(d): deps for _, deps in waiting for d in deps}
    pending = [d for _, deps in waiting for d in deps if d.targets]
    deadline = time.monotonic() + WAIT_S
    while pending:
        late = time.monotonic() > deadline
        for d in list(pending):
            head = heads[id(d)]
            seen = [
                observe_flux(tb, k, n, ns, head) if engine == "flux" else observe_app(tb, n, head)
                for k, n, ns in d.targets
            ]
            d.seen = next((s for s in seen if not s.ready), Observed(True, ""))
            msg = d.seen.message
            if boot and "is not in the cluster" in msg:  # what the bootstrap's directory would apply
                parent = observe_flux(tb, "Kustomization", "flux-system", "flux-system", head)
                if not parent.ready and (parent.blocked or any(t in parent.message for t in TERMINAL)):
                    d.seen = Observed(False, f"{msg}: the bootstrap's {parent.message}", parent.blocked)
            after = re.search(r"dependency '[^/']+/([^']+)' is not ready", msg)
            d.via = next(
                (o for o in world_of[id(d)] if after and o is not d and after.group(1) in [t[1] for t in o.targets]),
                None,
            )
            settled = d.via is not None and d.via not in pending and not (d.via.seen and d.via.seen.ready)
            if d.seen.ready or d.seen.blocked or settled or late or any(t in d.seen.message for t in TERMINAL):
                pending.remove(d)
        if pending:
            if engine == "argocd":  # one refresh request for all of them
                names = [n for d in pending for _, n, _ in d.targets]
                tb.kubectl("annotate", "--overwrite", "-n", "argocd", "application", *names,
                           "argocd.argoproj.io/refresh=normal")  # fmt: skip
            time.sleep(3)  # polling several controllers' objects; each read is bounded


def teardown_flux(w: RealWorld) -> None:
    """Delete what the world applied (Kustomizations prune what they applied) and wait for it."""
    if not w.created:
        return
    w.tb.kubectl("delete", "--ignore-not-found", "--wait=false", "-n", "flux-system", *w.created)
    try:
        w.tb.kubectl("wait", "--for=delete", "--timeout=90s", "-n", "flux-system", *w.created, timeout=100)
    except Exception:  # a finalizer the testbed cannot honour: let the next fixture's names through
        for obj in w.created:
            w.tb.kubectl("patch", "-n", "flux-system", obj, "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    w.created.clear()


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[GitHttpServer]:
    with GitHttpServer(tmp_path / "srv", users={USER: TOKEN}, anonymous_read=True) as r:
        yield r


TABLE: list[Deployment] = []


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_the_fixtures_own_packages_reach_ready_or_the_preview_says_why(
    engine: str, remote: GitHttpServer, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    tb: Testbed = request.getfixturevalue("testbed" if engine == "flux" else "argocd")
    if engine == "argocd":
        from gitops_testbed.argocd import NAMESPACE, repository_secret

        creds = unique("creds")
        tb.plane.apply(repository_secret(creds, f"{remote.base}/", USER, TOKEN, prefix=True))
        request.addfinalizer(lambda: tb.kubectl("delete", "secret", creds, "-n", NAMESPACE, "--ignore-not-found"))
    results: list[Deployment] = []
    waiting: list[tuple[RealWorld, list[Deployment]]] = []
    for fixture, (boot, packages) in DEPLOYS.items():
        w = fixture_world(tb, tmp_path / fixture, remote, fixture)
        try:
            if engine == "flux" and boot:
                flux_bootstrap(w, boot)
            app = w.app()
            deps = [deploy(w, app, fixture, p, engine) for p in packages if supported(engine, p, w)]
            app.close()
            results += deps
            if engine == "flux":  # one fixture at a time: a bootstrap's objects are the fixture's own names
                settle([(w, deps)], engine, boot)
            else:  # nothing is torn down: the next fixture is deployed while this one syncs
                waiting.append((w, deps))
        finally:
            if engine == "flux":
                teardown_flux(w)
    if waiting:
        settle(waiting, engine, None)
    TABLE.extend(results)
    print(table(results))
    silent = [d for d in results if d.verdict == "silent"]
    assert not silent, "\n".join(
        f"{d.fixture}/{d.package}: {d.seen.message if d.seen else ''}\n  preview notes: {d.notes}" for d in silent
    )


def supported(engine: str, package: str, w: RealWorld) -> bool:
    from gitops_mcp.detection import detect_packages
    from gitops_mcp.providers import default_registry

    reg = default_registry()
    pkgs = {p.path: p for p in detect_packages(w.work, gitops_kinds=reg.gitops_kinds()).packages}
    assert package in pkgs, f"{package} is not a package of {w.work.name}: {sorted(pkgs)}"
    return reg.get(engine).unsupported_reason(pkgs[package].type, "git") is None


def table(deps: list[Deployment]) -> str:
    lines = ["| fixture / package | engine | verdict | why |", "|---|---|---|---|"]
    for d in deps:
        why = d.stopped or (d.seen.blocked or d.seen.message if d.seen else "")
        why = f"after {d.via.package}: {why}" if d.via is not None and d.seen and not d.seen.ready else why
        lines.append(f"| {d.fixture}/{d.package} | {d.engine} | {d.verdict} | {why[:160]} |")
    counts = {v: sum(d.verdict == v for d in deps) for v in ("works", "said", "testbed", "silent")}
    lines.append("totals: " + json.dumps(counts))
    return "\n".join(lines)
