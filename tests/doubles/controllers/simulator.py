"""The simulator: the Flux and Argo CD controllers run in one thread over the fake API server."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from doubles.controllers.argocd import ArgoCDController
from doubles.controllers.base import FLUX_KS, Obj, seconds
from doubles.controllers.flux import FluxControllers
from doubles.kube import FakeKube


class GitOpsSimulator(FluxControllers, ArgoCDController):
    def __init__(
        self, kube: FakeKube, repos: dict[str, Path], tick: float = 0.05, argo_interval: float = 180.0
    ) -> None:
        super().__init__(kube, repos)
        self.tick = tick
        self.argo_interval = argo_interval
        self.errors: list[BaseException] = []
        self._last: dict[tuple[str, str, str], float] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self.reconciles: list[tuple[str, str, float]] = []
        kube.hooks.append(lambda ev: self._wake.set())

    def __enter__(self) -> GitOpsSimulator:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(10)

    # -- loop -----------------------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.tick)
            self._wake.clear()
            try:
                self.step()
            except Exception as exc:
                self.errors.append(exc)

    def step(self) -> None:
        for kind, api, fn in (
            ("GitRepository", "source.toolkit.fluxcd.io/v1", self._gitrepo),
            ("OCIRepository", "source.toolkit.fluxcd.io/v1", self._ocirepo),
            ("Kustomization", f"{FLUX_KS}/v1", self._kustomization),
            ("HelmRelease", "helm.toolkit.fluxcd.io/v2", self._helmrelease),
            ("Application", "argoproj.io/v1alpha1", self._application),
        ):
            r = self.kube.resource_for(api, kind)
            for obj in self.kube.list(r, None):
                if self._due(kind, obj):
                    self._last[(kind, obj["metadata"]["namespace"], obj["metadata"]["name"])] = time.monotonic()
                    self.reconciles.append((kind, obj["metadata"]["name"], time.monotonic()))
                    fn(obj)

    def _source_moved(self, obj: Obj) -> bool:
        """kustomize-controller watches its source: a new artifact revision is reconciled at once."""
        ref = (obj.get("spec") or {}).get("sourceRef") or {}
        if ref.get("kind") not in ("GitRepository", "OCIRepository"):
            return False
        src = self.kube.find(
            "source.toolkit.fluxcd.io/v1",
            ref["kind"],
            ref.get("namespace") or obj["metadata"]["namespace"],
            ref["name"],
        )
        rev = (((src or {}).get("status") or {}).get("artifact") or {}).get("revision")
        return rev is not None and rev != (obj.get("status") or {}).get("lastAttemptedRevision")

    def _due(self, kind: str, obj: Obj) -> bool:
        meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
        if kind == "Application":
            ann = meta.get("annotations") or {}
            if "argocd.argoproj.io/refresh" in ann or obj.get("operation"):
                return True
            if status.get("observedGeneration") != meta.get("generation"):
                return True
            interval = self.argo_interval
        else:
            if spec.get("suspend"):
                return False
            requested = (meta.get("annotations") or {}).get("reconcile.fluxcd.io/requestedAt")
            if requested and requested != status.get("lastHandledReconcileAt"):
                return True
            if status.get("observedGeneration", -1) != meta.get("generation"):
                return True
            if kind == "Kustomization" and self._source_moved(obj):
                return True
            interval = seconds(spec.get("interval"), 60)
        key = (kind, meta["namespace"], meta["name"])
        if key in self._requeue and time.monotonic() >= self._requeue[key]:
            del self._requeue[key]
            return True
        last = self._last.get(key)
        return last is None or time.monotonic() - last >= interval
