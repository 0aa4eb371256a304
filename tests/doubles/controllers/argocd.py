"""The simulated Argo CD application controller: Applications from Git, auto-sync or a pending operation."""

from __future__ import annotations

import copy

import yaml

from doubles.controllers.base import Controllers, Obj, failing, now
from doubles.controllers.build import build, files_at, git


class ArgoCDController(Controllers):
    def _application(self, obj: Obj) -> None:
        meta, spec = obj["metadata"], obj.get("spec") or {}
        name = meta["name"]
        status = copy.deepcopy(obj.get("status") or {})
        status["observedGeneration"] = meta["generation"]
        status["reconciledAt"] = now()
        operation = obj.get("operation")
        src = spec.get("source") or {}
        bare = self._bare(src.get("repoURL", ""))
        rev_name = src.get("targetRevision") or "HEAD"
        sha = ""
        if bare is not None:
            ref = rev_name if rev_name != "HEAD" else "HEAD"
            sha = (git(bare, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}") or "").strip()
        main_patch: Obj = {"metadata": {"annotations": {"argocd.argoproj.io/refresh": None}}}
        if not sha:
            status["conditions"] = [
                {
                    "type": "ComparisonError",
                    "message": f"Failed to load target state: unable to resolve '{rev_name}' in {src.get('repoURL')}",
                }
            ]
            status["sync"] = {"status": "Unknown"}
            self._report(obj, status, main_patch)
            return
        status.pop("conditions", None)
        automated = (spec.get("syncPolicy") or {}).get("automated") is not None
        applied_rev = (status.get("sync") or {}).get("revision")
        if automated or operation:
            dest_ns = (spec.get("destination") or {}).get("namespace")
            create_ns = "CreateNamespace=true" in ((spec.get("syncPolicy") or {}).get("syncOptions") or [])
            path = src.get("path", ".")
            files = files_at(bare, sha, path) or {}
            injected = self.failures.pop(("Application", name), None)
            error = injected
            applied: list[Obj] = []
            if not error:
                try:
                    docs = build(files, path, recurse=bool((src.get("directory") or {}).get("recurse")))
                    applied, error = self._apply(
                        docs,
                        dest_ns,
                        {"app.kubernetes.io/instance": name},
                        {},
                        create_ns,
                        tracking=lambda d: (
                            f"{name}:{d['apiVersion'].rsplit('/', 1)[0] if '/' in d['apiVersion'] else ''}"
                            f"/{d['kind']}:{d['metadata'].get('namespace', dest_ns)}/{d['metadata']['name']}"
                        ),
                    )
                except yaml.YAMLError as exc:
                    error = f"Failed to load target state: {str(exc).splitlines()[0]}"
            op = {
                "operation": operation or {"initiatedBy": {"automated": True}, "sync": {"revision": sha}},
                "startedAt": now(),
                "finishedAt": now(),
                "syncResult": {"revision": sha},
            }
            if error:
                status["operationState"] = {**op, "phase": "Failed", "message": error}
                status["sync"] = {"status": "OutOfSync", "revision": applied_rev or ""}
                self.record(
                    obj,
                    "Warning",
                    "OperationCompleted",
                    f"Sync operation to {sha} failed: {error}",
                    "argocd-application-controller",
                )
            else:
                status["operationState"] = {
                    **op,
                    "phase": "Succeeded",
                    "message": "successfully synced (all tasks run)",
                }
                status["sync"] = {"status": "Synced", "revision": sha}
                degraded = [o for o in applied if self._health(o).get("health", {}).get("status") == "Degraded"]
                status["health"] = self._health(degraded[0])["health"] if degraded else {"status": "Healthy"}
                self.record(
                    obj,
                    "Normal",
                    "OperationCompleted",
                    f"Sync operation to {sha} succeeded",
                    "argocd-application-controller",
                )
                status["resources"] = [
                    {
                        "group": o["apiVersion"].rsplit("/", 1)[0] if "/" in o["apiVersion"] else "",
                        "version": o["apiVersion"].rsplit("/", 1)[-1],
                        "kind": o["kind"],
                        "namespace": o["metadata"].get("namespace", ""),
                        "name": o["metadata"]["name"],
                        "status": "Synced",
                        **self._health(o),
                    }
                    for o in applied
                ]
            main_patch["operation"] = None
        else:
            status["sync"] = {
                "status": "Synced" if applied_rev == sha else "OutOfSync",
                "revision": applied_rev or sha if applied_rev == sha else applied_rev or "",
            }
            status.setdefault("health", {"status": "Missing"})
        self._report(obj, status, main_patch)

    @staticmethod
    def _health(o: Obj) -> Obj:
        """The health Argo CD assesses for a resource (none for kinds it has no check for)."""
        if o["kind"] not in ("Deployment", "StatefulSet", "Job", "Pod", "Service", "PersistentVolumeClaim"):
            return {}
        if failing(o):
            return {
                "health": {
                    "status": "Degraded",
                    "message": f'Deployment "{o["metadata"]["name"]}" exceeded its progress deadline'
                    if o["kind"] == "Deployment"
                    else "Job has reached the specified backoff limit",
                }
            }
        return {"health": {"status": "Healthy"}}

    def _report(self, obj: Obj, status: Obj, main_patch: Obj) -> None:
        """Write the status, then the Application's own changes (refresh annotation, finished operation)."""
        ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        self.kube.patch_status(obj["apiVersion"], "Application", ns, name, status)
        r = self.kube.resource_for(obj["apiVersion"], "Application")
        self.kube.patch(r, ns, name, main_patch, "application/merge-patch+json")
