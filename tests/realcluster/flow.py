"""Helpers of the real-cluster flows (test_flow*.py): a pull request followed to live through the fake
forge, environment overlays for promote and rollback, the controllers' own logs, and timings."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from conftest import SUMMARY
from doubles.forge import FakeForge
from gitops_mcp.cluster.ops import Follow, WaitResult
from gitops_mcp.remediation import SetImage
from gitops_mcp.services import Services

from .conftest import Testbed
from .world import IMAGE, RealWorld

FORGE_TOKEN = "ghp_" + "R" * 36


@contextmanager
def timed(scenario: str) -> Iterator[None]:
    t0 = time.monotonic()
    yield
    line = f"{scenario}: {time.monotonic() - t0:.1f} s"
    SUMMARY.append(line)  # "<scenario>: <seconds>", printed at the end of the run
    print(line)


def forge_app(w: RealWorld, forge: FakeForge) -> Services:
    """The server with the fake forge as its GitHub API (pull requests go there)."""
    return w.app(**forge.settings())


def follow_pr(
    app: Services, w: RealWorld, forge: FakeForge, f: Follow, *, merge: bool
) -> tuple[WaitResult, str | None]:
    """wait_for_sync with the pull request while a reviewer merges (or closes) it on the forge. After
    the merge the test does what the forge's push webhook makes the controller do (Flux's Receiver,
    Argo CD's webhook handler; neither is on the testbed): a reconcile request.
    (The result, the merge commit.)"""
    assert f.pull_request is not None
    repo, number = w.repo.removesuffix(".git"), int(f.pull_request.rsplit("/", 1)[-1])
    merged: list[str] = []

    def progress(elapsed: float, message: str) -> None:
        if "to be merged (open)" in message and not merged:
            merged.append(forge.merge(repo, number) if merge else "")
            if not merge:
                forge.close(repo, number)
        elif " merged as " in message:
            app.cluster.reconcile(f.kind, f.name, f.namespace, with_source=True)

    res = app.cluster.wait(f.kind, f.name, f.namespace, None, 90, progress, pull_request=f.pull_request)
    return res, (merged[0] or None) if merged else None


def closed_then_merged(w: RealWorld, forge: FakeForge, ns: str, engine: str) -> tuple[Follow, WaitResult, str | None]:
    """remediate in pull_request mode on the Deployment podinfo in ``ns`` (at 6.14.1), twice, each
    returning the wait_for_sync call: the reviewer closes the first request (a clear failure, nothing
    live changes) and merges the second (nothing live before the merge). (The second's follow, its
    result, the merge commit.)"""
    app = forge_app(w, forge)
    with timed(f"{engine}: pull request closed unmerged, then one merged and live"):
        closed = app.remediation.remediate("apps/v1", "Deployment", "podinfo", ns, SetImage(image=f"{IMAGE}:6.14.3"))
        assert closed.follow is not None and closed.commit is not None and closed.commit.pr_url, closed.message
        res, _ = follow_pr(app, w, forge, closed.follow, merge=False)
        label = f"{w.repo.removesuffix('.git')}#1"
        assert res.outcome == "failed" and res.message == f"{label} was closed without merging: none of it will go live"
        assert image(w.tb, "podinfo", ns) == f"{IMAGE}:6.14.1"
        fix = app.remediation.remediate("apps/v1", "Deployment", "podinfo", ns, SetImage(image=f"{IMAGE}:6.14.2"))
        assert fix.follow is not None, fix.message
        assert image(w.tb, "podinfo", ns) == f"{IMAGE}:6.14.1"  # nothing live before the merge
        res, merge = follow_pr(app, w, forge, fix.follow, merge=True)
    assert res.outcome == "synced", res.message
    assert merge and res.revision == merge == w.head()  # the merge commit, not the branch's head
    assert image(w.tb, "podinfo", ns) == f"{IMAGE}:6.14.2"
    return fix.follow, res, merge


def promote_then_roll_back(app: Services, w: RealWorld, engine: str, kind: str, namespace: str, prefix: str) -> None:
    """With env_overlays(prefix) live (the ``kind`` objects <prefix>-dev and <prefix>-staging in
    ``namespace`` deploy into namespaces of their own names): promote dev -> staging by the
    repository's URL moves the image tag and, reconciled, it is live; rollback by URL reverts it and
    staging runs the old tag again; dev is never touched."""
    dev, staging = f"{prefix}-dev", f"{prefix}-staging"
    assert (image(w.tb, "podinfo", dev), image(w.tb, "podinfo", staging)) == (f"{IMAGE}:6.14.2", f"{IMAGE}:6.14.1")
    with timed(f"{engine}: promote by URL, live"):
        p = app.promotion.promote(w.url, "podinfo", "dev", "staging", mode="push")
        assert p.commit is not None and p.commit.commit_sha == w.head(), p.message
        assert [(m.file, m.value, m.previous) for m in p.plan.moves] == [
            ("apps/podinfo/staging/kustomization.yaml", "6.14.2", "6.14.1")
        ], p.plan
        app.cluster.reconcile(kind, staging, namespace, with_source=True)
        res = app.cluster.wait(kind, staging, namespace, p.commit.commit_sha, 60)
    assert res.outcome == "synced", res.message
    assert image(w.tb, "podinfo", staging) == f"{IMAGE}:6.14.2"
    with timed(f"{engine}: rollback by URL, live"):
        rb = app.git.rollback(w.url, paths=["apps/podinfo/staging/kustomization.yaml"], mode="push")
        assert rb.reverted == [p.commit.commit_sha] and rb.commit_sha == w.head(), rb.message
        app.cluster.reconcile(kind, staging, namespace, with_source=True)
        res = app.cluster.wait(kind, staging, namespace, rb.commit_sha, 60)
    assert res.outcome == "synced", res.message
    assert image(w.tb, "podinfo", staging) == f"{IMAGE}:6.14.1"
    assert image(w.tb, "podinfo", dev) == f"{IMAGE}:6.14.2"  # dev was never touched


OVERLAY = """apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: {ns}
resources:
  - ../../../kustomize
images:
  - name: {image}
    newTag: {tag}
"""


def env_overlays(prefix: str) -> dict[str, str]:
    """apps/podinfo/dev (6.14.2, ahead) and apps/podinfo/staging (6.14.1) over the kustomize package,
    deploying into <prefix>-dev and <prefix>-staging."""
    return {
        f"apps/podinfo/{env}/kustomization.yaml": OVERLAY.format(ns=f"{prefix}-{env}", image=IMAGE, tag=tag)
        for env, tag in (("dev", "6.14.2"), ("staging", "6.14.1"))
    }


def push(w: RealWorld, files: dict[str, str], message: str) -> str:
    """Write ``files`` in the work clone (pulled first), commit and push them; the new SHA."""
    w.git("pull", "-q", "--rebase", "--autostash", "origin", "main")
    for rel, text in files.items():
        (w.work / rel).parent.mkdir(parents=True, exist_ok=True)
        (w.work / rel).write_text(text, encoding="utf-8")
    return w.commit_and_push(message)


def image(tb: Testbed, name: str, ns: str) -> str:
    return str(tb.get("deployment", name, ns)["spec"]["template"]["spec"]["containers"][0]["image"])


def controller_log(tb: Testbed, proc: str) -> list[dict[str, Any]]:
    """The JSON lines of a controller's log on the testbed."""
    out = []
    for line in (Path(tb.plane.state) / "logs" / f"{proc}.log").read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            out.append(entry)
    return out


WIDGET_CRD = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.{group}
spec:
  group: {group}
  names: {{kind: Widget, plural: widgets, singular: widget}}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}
"""


def fleet_content(ns: str) -> dict[str, str]:
    """What a team adds to the scaffolded layout: a CRD (infrastructure/controllers), the namespace and
    a Widget (infrastructure/configs), and an app that needs both: a Widget and a Deployment
    (apps/base). Applied in any other order, the Widgets are refused (no such kind yet). The CRD's
    group is ``<ns>.example.test``."""
    group = f"{ns}.example.test"  # the CRD is cluster-wide: one of its own per test
    widget = f"apiVersion: {group}/v1\nkind: Widget\nmetadata:\n  name: {{n}}\n  namespace: {ns}\n"
    deploy = (
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: {ns}\nspec:\n"
        "  replicas: 1\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n"
        "      labels: {app: web}\n    spec:\n      containers:\n        - name: web\n"
        f"          image: {IMAGE}:6.14.1\n"
    )
    head = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
    return {
        "infrastructure/controllers/widgets-crd.yaml": WIDGET_CRD.format(group=group),
        "infrastructure/controllers/kustomization.yaml": head + "  - widgets-crd.yaml\n",
        "infrastructure/configs/namespace.yaml": f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n",
        "infrastructure/configs/defaults.yaml": widget.format(n="defaults"),
        "infrastructure/configs/kustomization.yaml": head + "  - namespace.yaml\n  - defaults.yaml\n",
        "apps/base/widget.yaml": widget.format(n="web"),
        "apps/base/deploy.yaml": deploy,
        "apps/base/kustomization.yaml": head + "  - widget.yaml\n  - deploy.yaml\n",
    }
