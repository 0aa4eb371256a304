"""find_owner and remediate for a HelmRelease that `register` applied once, so that no Kustomization
applies it (the wizard's first deploy of a chart from Git with register). On the real controllers
the chain ends HelmRelease -> GitRepository, with no Kustomization to name a path: the file is
looked for in the whole repository its chart comes from, and a change to it is refused, with the
way to make it, before anything is written (tests/realcluster/test_flow.py shows it on the real
helm-controller)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import test_cluster
from conftest import REGISTRY
from gitops_mcp.cluster.register import register_roots, split_roots
from gitops_mcp.remediation import Refused, SetHelmValues
from test_cluster import URL, Env, sh
from test_find_owner import _app

env = test_cluster.env  # the fixture: a fake API server, simulated controllers, a git remote
FILE = "gitops/flux/podinfo.yaml"
REGISTERED = f"""apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: podinfo-src
  namespace: flux-system
spec:
  interval: 5m
  url: {URL}
  ref:
    branch: main
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: podinfo
  namespace: flux-system
spec:
  interval: 5m
  targetNamespace: podinfo
  chart:
    spec:
      chart: ./charts/podinfo
      sourceRef:
        kind: GitRepository
        name: podinfo-src
  values:
    replicaCount: 1
"""
CHART = "apiVersion: v2\nname: podinfo\nversion: 6.14.1\n"


def test_a_registered_helm_release_is_found_and_a_change_to_it_refused(env: Env, tmp_path: Path) -> None:
    env.commit({FILE: REGISTERED, "charts/podinfo/Chart.yaml": CHART})
    app = _app(tmp_path / "kubeconfig", tmp_path)
    # what register applies (its repository check needs an http origin: the apply itself is this)
    roots, skipped = split_roots(list(yaml.safe_load_all(REGISTERED)), REGISTRY)
    reg = register_roots(env.client, roots, skipped)
    assert reg.ok and [o.kind for o in reg.applied] == ["GitRepository", "HelmRelease"], reg.message
    env.kube.ensure_namespace("podinfo")
    env.kube.put(  # what helm-controller renders, with its origin labels
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "podinfo",
                "namespace": "podinfo",
                "labels": {"helm.toolkit.fluxcd.io/name": "podinfo", "helm.toolkit.fluxcd.io/namespace": "flux-system"},
            },
            "spec": {},
        }
    )
    r = app.cluster.find_owner("apps/v1", "Deployment", "podinfo", "podinfo", repo_path=str(env.work))
    assert [(c.kind, c.name) for c in r.chain] == [("HelmRelease", "podinfo"), ("GitRepository", "podinfo-src")]
    assert r.git is not None and (r.git.url, r.git.path, r.git.ref) == (URL, "./", {"branch": "main"})
    assert (r.git.defining_kind, r.git.defining_name) == ("HelmRelease", "podinfo")
    assert r.file is not None and (r.file.file, r.file.document) == (FILE, 1), r.message
    assert "not from Git: no Kustomization applies it" in r.message
    # the HelmRelease itself: its own document
    hr = app.cluster.find_owner("helm.toolkit.fluxcd.io/v2", "HelmRelease", "podinfo", "flux-system", str(env.work))
    assert hr.file is not None and (hr.file.file, hr.file.document) == (FILE, 1), hr.message
    # a values change would never reach the cluster: refused before the repository is touched
    head = sh(env.work, "rev-parse", "HEAD")
    with pytest.raises(Refused, match=r"register it again \(register_gitops_objects\)"):
        app.remediation.remediate(
            "apps/v1", "Deployment", "podinfo", "podinfo", SetHelmValues(values={"replicaCount": 2}), mode="push",
            repo_path=str(env.work),
        )  # fmt: skip
    assert sh(env.work, "rev-parse", "HEAD") == head and sh(env.work, "status", "--porcelain") == ""
