"""Simulated Flux and Argo CD controllers over :class:`doubles.kube.FakeKube`, reading real git repositories.

They run in a thread, wake on every API change (or a short tick for intervals), and for each
object that is due (spec changed, reconcile requested, or its interval elapsed) do what the
controllers do, the way they report it:
- GitRepository: resolve ``spec.ref`` in the bare repository -> ``status.artifact.revision``
  ``<branch>@sha1:<sha>``, ``Ready``.
- Kustomization: read ``spec.path`` at that commit (kustomization.yaml ``resources`` or every YAML
  file), apply with the ``kustomize.toolkit.fluxcd.io/name|namespace`` labels, prune, write
  ``inventory``, ``lastAppliedRevision``/``lastAttemptedRevision``, ``Ready``; bad YAML, a missing
  path, an unknown kind, a missing namespace or an object the API server refuses give ``Ready=False``
  with the controller's reason and words (tests/realcluster/test_flux_contract.py checks them).
  ``dependsOn``: not ready -> ``Ready=False`` ``DependencyNotReady``, requeued shortly.
- OCIRepository: pull the manifest and first layer from the registry's HTTP API (needs
  ``insecure: true`` for plain http), ``status.artifact.revision`` ``<tag>@sha256:<digest>``, the
  manifest annotations as ``artifact.metadata``; Kustomizations on it also report
  ``lastAppliedOriginRevision``.
- HelmRelease (charts from a GitRepository): version from Chart.yaml (``+<12 hex>`` with
  ``reconcileStrategy: Revision``); a Helm release only when the chart or the values changed, with
  helm-controller's install/upgrade words in ``Ready`` and ``Released`` and its history entries.
- Application: resolve ``targetRevision``, apply on auto-sync or a pending ``operation`` with the
  tracking annotation (no instance label), ``sync``/``health``/``operationState`` as Argo CD 3.6
  words them (a failed automated sync waits to retry; a source it cannot render is a ComparisonError;
  ``status.resources`` without health); refresh
  annotation handled and removed.
Exceptions are collected in ``errors`` (tests assert it stays empty).
"""

from doubles.controllers.simulator import GitOpsSimulator

__all__ = ["GitOpsSimulator"]
