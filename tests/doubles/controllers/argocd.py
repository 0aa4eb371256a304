"""The simulated Argo CD application controller: Applications from Git, auto-sync or a pending operation."""

from __future__ import annotations

import contextlib
import copy
import re
import time

from doubles.controllers.base import Controllers, Obj, failing, now
from doubles.controllers.build import BuildError, build, files_at, git
from doubles.kube import ApiError


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
        if bare is None or not sha:
            why = f"code = Unknown desc = unable to resolve '{rev_name}' to a commit SHA"
            return self._comparison_error(obj, status, main_patch, why)
        auto = (spec.get("syncPolicy") or {}).get("automated")
        automated = isinstance(auto, dict) and auto.get("enabled") is not False  # Argo CD 3: enabled: false is off
        # what left the path is deleted only by a sync with prune: automated.prune, or the operation's own
        prune = (
            bool(((operation or {}).get("sync") or {}).get("prune")) if operation else bool((auto or {}).get("prune"))
        )
        before = status.get("resources") or []
        last_op = status.get("operationState") or {}
        synced_rev = (last_op.get("syncResult") or {}).get("revision") if last_op.get("phase") == "Succeeded" else None
        path = src.get("path", ".")
        files = files_at(bare, sha, path)
        if files is None:
            return self._comparison_error(
                obj, status, main_patch, f"code = Unknown desc = {path}: app path does not exist", rev_name
            )
        try:
            docs = build(files, path, recurse=bool((src.get("directory") or {}).get("recurse")))
        except BuildError as exc:  # the repo-server's words (seen on the testbed)
            base = path.strip("/").removeprefix("./")
            if any(f"{base}/{k}" in files for k in ("kustomization.yaml", "kustomization.yml")):  # kustomize's
                why = f"code = Unknown desc = `kustomize build <path to cached source>/{base}` failed exit status 1: "
                why += f"Error: {exc}"
            else:  # a plain directory: the YAML parser's own words (exc.__cause__)
                bad = next((f for f in files if f.endswith((".yaml", ".yml"))), path).rsplit("/", 1)[-1]
                why = f"error converting YAML to JSON: {str(exc.__cause__ or exc).splitlines()[0]}"
                why = (
                    f'code = FailedPrecondition desc = Failed to unmarshal "{bad}": failed to unmarshal manifest: {why}'
                )
            return self._comparison_error(obj, status, main_patch, why, rev_name)
        status.pop("conditions", None)
        if automated or operation:
            dest_ns = (spec.get("destination") or {}).get("namespace")
            create_ns = "CreateNamespace=true" in ((spec.get("syncPolicy") or {}).get("syncOptions") or [])
            error = self.failures.pop(("Application", name), None)
            if not docs and before and not operation and not (auto or {}).get("allowEmpty"):
                error = f"Skipping sync attempt to {sha}: auto-sync will wipe out all resources"
            applied: list[Obj] = []
            if not error:
                applied, error = self._apply(
                    docs,
                    dest_ns,
                    {},
                    {},
                    create_ns,
                    tracking=lambda d: (
                        f"{name}:{d['apiVersion'].rsplit('/', 1)[0] if '/' in d['apiVersion'] else ''}"
                        f"/{d['kind']}:{d['metadata'].get('namespace', dest_ns)}/{d['metadata']['name']}"
                    ),
                )
                if error:
                    error = _sync_failure(error)
            # an automated sync retries (limit 5) unless spec.syncPolicy.retry says otherwise; ours do not
            retry = (spec.get("syncPolicy") or {}).get("retry") or ({} if operation else {"limit": 5})
            op = {
                "operation": operation
                or {"initiatedBy": {"automated": True}, "retry": retry, "sync": {"revision": sha}},
                "startedAt": now(),
                "finishedAt": now(),
                "syncResult": {"revision": sha},
            }
            if error and int(retry.get("limit") or 0) > 0:
                at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 5))
                msg = f"{error}. Retrying attempt #1 at {at}."
                status["operationState"] = {**op, "phase": "Running", "retryCount": 1, "message": msg}
            elif error:
                status["operationState"] = {**op, "phase": "Failed", "message": error}
            if error:
                status["sync"] = {"status": "OutOfSync", "revision": sha}
                status.setdefault("health", {"status": "Missing"})
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
                kept = self._prune(before, applied, prune)
                status["sync"] = {"status": "OutOfSync" if kept else "Synced", "revision": sha}
                degraded = [o for o in applied if self._health(o).get("health", {}).get("status") == "Degraded"]
                status["health"] = self._health(degraded[0])["health"] if degraded else {"status": "Healthy"}
                self.record(
                    obj,
                    "Normal",
                    "OperationCompleted",
                    f"Sync operation to {sha} succeeded",
                    "argocd-application-controller",
                )
                # no resource health (persist-resource-health is off by default since 3.0); no group for core
                status["resources"] = kept + [
                    {
                        **({"group": o["apiVersion"].rsplit("/", 1)[0]} if "/" in o["apiVersion"] else {}),
                        "version": o["apiVersion"].rsplit("/", 1)[-1],
                        "kind": o["kind"],
                        "namespace": o["metadata"].get("namespace", ""),
                        "name": o["metadata"]["name"],
                        "status": "Synced",
                    }
                    for o in applied
                ]
            main_patch["operation"] = None
        else:
            status["sync"] = {
                "status": "Synced" if synced_rev == sha else "OutOfSync",
                "revision": sha,
            }
            status.setdefault("health", {"status": "Missing"})
        self._report(obj, status, main_patch)

    def _prune(self, before: list[Obj], applied: list[Obj], prune: bool) -> list[Obj]:
        """Delete (``prune``) or keep, marked ``requiresPruning``, what the last sync applied and this one did not."""
        now_ids = {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in applied}
        gone = [r for r in before if (r["kind"], r.get("namespace", ""), r["name"]) not in now_ids]
        if prune:
            for r in gone:
                self._delete_resource(r)
            return []
        return [{**r, "status": "OutOfSync", "requiresPruning": True} for r in gone]

    def _delete_resource(self, r: Obj) -> None:
        api = f"{r['group']}/{r['version']}" if r.get("group") else r["version"]
        with contextlib.suppress(ApiError):  # already gone
            self.kube.delete(self.kube.resource_for(api, r["kind"]), r.get("namespace") or None, r["name"])

    def _finalize_application(self, app: Obj) -> None:
        """A deleted Application deletes what it deployed only with the resources finalizer."""
        finalizers = [str(f).split("/")[0] for f in app["metadata"].get("finalizers") or []]
        if "resources-finalizer.argocd.argoproj.io" in finalizers:
            for r in (app.get("status") or {}).get("resources") or []:
                self._delete_resource(r)

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

    def _comparison_error(self, obj: Obj, status: Obj, main_patch: Obj, why: str, rev_name: str = "") -> None:
        """What Argo CD reports when the repo-server cannot render the target: a ComparisonError, sync
        Unknown at the unresolved targetRevision, no operation."""
        message = f"Failed to load target state: failed to generate manifest for source 1 of 1: rpc error: {why}"
        status["conditions"] = [{"type": "ComparisonError", "message": message, "lastTransitionTime": now()}]
        status["sync"] = {"status": "Unknown", **({"revision": rev_name} if rev_name else {})}
        status.setdefault("health", {"status": "Healthy"})
        self._report(obj, status, main_patch)

    def _report(self, obj: Obj, status: Obj, main_patch: Obj) -> None:
        """Write the status, then the Application's own changes (refresh annotation, finished operation)."""
        ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        self.kube.patch_status(obj["apiVersion"], "Application", ns, name, status)
        r = self.kube.resource_for(obj["apiVersion"], "Application")
        self.kube.patch(r, ns, name, main_patch, "application/merge-patch+json")


def _sync_failure(error: str) -> str:
    """The operation message Argo CD gives for what the API server refused (as the real one words it)."""
    unknown = re.search(r'no matches for kind "[^"]*" in version "([^"]*)"', error)
    if unknown:  # Argo CD's dry run asks discovery for the group version first
        return (
            "one or more synchronization tasks are not valid: failed to discover server resources for group version"
            f" {unknown.group(1)}: the server could not find the requested resource"
        )
    if error.startswith("error when "):  # kubectl's words for an object the API server refused
        return f"one or more synchronization tasks completed unsuccessfully, reason: {error}"
    return f"one or more objects failed to apply, reason: {error}"
