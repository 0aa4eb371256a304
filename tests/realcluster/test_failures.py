"""Failures reported in the controller's own words within the caller's timeout, where
test_flux.py, test_argocd.py and test_flux_contract.py do not have them yet: Argo CD given a
kustomization that does not build. (Flux: all four are in test_flux_contract.py, on the testbed
and on the simulator; Argo CD: a missing namespace, a missing CRD and a rejected object are in
test_argocd.py.)"""

from __future__ import annotations

import pytest

from .test_argocd import application, register_app, world  # noqa: F401  (the fixture)
from .world import RealWorld, unique

pytestmark = [pytest.mark.realcluster, pytest.mark.slow]
BROKEN = "apiVersion: v1\nkind: ConfigMap\nmetadata: [x\n"
KUSTOMIZATION = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - cm.yaml\n"


def test_a_kustomization_that_does_not_build_fails_in_argocds_words(world: RealWorld) -> None:  # noqa: F811
    name = unique("nobuild")
    files = {f"apps/{name}/kustomization.yaml": KUSTOMIZATION, f"apps/{name}/cm.yaml": BROKEN}
    res, _sha = register_app(world, name, f"apps/{name}", files)  # waits at most 45 s
    assert res.outcome == "failed" and res.waited_s < 30, (res.outcome, res.message)
    status = application(world.tb, name)["status"]
    said = next(c["message"] for c in status["conditions"] if c["type"] == "ComparisonError")
    assert said == (  # the repo-server runs kustomize; the simulator says the same (test_argocd_contract.py)
        "Failed to load target state: failed to generate manifest for source 1 of 1: rpc error: code = Unknown "
        f"desc = `kustomize build <path to cached source>/apps/{name}` failed exit status 1: Error: accumulating "
        "resources: accumulating resources from 'cm.yaml': MalformedYAMLError: yaml: line 2: did not find expected "
        "',' or ']' in File: cm.yaml"
    )
    assert res.message == f"ComparisonError: {said}"
    assert status["sync"] == {**status["sync"], "status": "Unknown", "revision": "main"}  # no commit named
