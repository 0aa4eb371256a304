"""A simulated kapp controller over :class:`doubles.kube.FakeKube`: an App is reconciled when it is
new or changed, or when its reconcile request (the annotation) is not handled yet: the branch is
resolved in the bare repository, the path's objects applied with the owner label, and the status
says the revision and the handled request."""

from __future__ import annotations

import threading
from pathlib import Path

from doubles.controllers.base import Controllers
from doubles.controllers.build import build, files_at, git
from doubles.kube import FakeKube
from doubles.kube.resources import Obj
from third_provider.provider import API, OWNER_LABEL, REQUESTED_AT


class KappController(Controllers):
    def __init__(self, kube: FakeKube, repos: dict[str, Path], tick: float = 0.05) -> None:
        super().__init__(kube, repos)
        self.tick = tick
        self.errors: list[BaseException] = []
        self.reconciled: list[str] = []
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        kube.hooks.append(lambda ev: self._wake.set())

    def __enter__(self) -> KappController:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.tick)
            self._wake.clear()
            try:
                for app in self.kube.list(self.kube.resource_for(API, "App"), None):
                    self._reconcile(app)
            except Exception as exc:
                self.errors.append(exc)

    def _reconcile(self, app: Obj) -> None:
        meta, spec, status = app["metadata"], app.get("spec") or {}, app.get("status") or {}
        requested = (meta.get("annotations") or {}).get(REQUESTED_AT)
        if spec.get("paused"):
            return
        if status.get("observedGeneration") == meta.get("generation") and requested == status.get("handledAt"):
            return
        self.reconciled.append(meta["name"])
        src = spec.get("git") or {}
        bare = self._bare(str(src.get("url", "")))
        ref = str(src.get("ref") or "main")
        sha = (git(bare, "rev-parse", f"refs/heads/{ref}") or "").strip() if bare else ""
        files = files_at(bare, sha, str(src.get("path", "."))) if bare and sha else None
        new: Obj = {"observedGeneration": meta.get("generation"), "handledAt": requested}
        if files is None:
            new |= {"phase": "Failed", "message": f"{src.get('url')} has no {src.get('path')} at {ref}"}
        else:
            owner = {OWNER_LABEL: f"{meta['namespace']}.{meta['name']}"}
            applied, error = self._apply(build(files, str(src.get("path"))), spec.get("targetNamespace"), owner, {})
            if not error and spec.get("prune") is not False:  # what it applied before and not now is deleted
                self._prune(owner[OWNER_LABEL], {(o["kind"], o["metadata"]["name"]) for o in applied})
            new |= {"phase": "Failed", "message": error} if error else {"phase": "Reconciled", "message": "applied"}
            new["deployedRevision"] = f"{ref}@sha1:{sha}"
        self.kube.patch_status(API, "App", meta["namespace"], meta["name"], new)

    def _prune(self, owner: str, keep: set[tuple[str, str]]) -> None:
        for r in self.kube.resources:
            if r.kind in ("App", "Namespace"):
                continue
            for o in self.kube.list(r, None, labels=f"{OWNER_LABEL}={owner}"):
                if (o["kind"], o["metadata"]["name"]) not in keep:
                    self.kube.delete(r, o["metadata"].get("namespace"), o["metadata"]["name"])
