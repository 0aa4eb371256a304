"""The simulated Flux controllers: source-controller (GitRepository, OCIRepository), kustomize-controller
(Kustomization) and helm-controller (HelmRelease, charts from a GitRepository).

The contract suite (tests/realcluster/test_flux_contract.py) runs the same scenarios here and on the
real controllers (Flux 2.9.3 on the testbed); what it checks, this says as they do: revisions, Ready
and Reconciling (reason and words: "Building manifests|Detecting drift for revision R with a timeout
of 9m30s"), observedGeneration -1 until a success, apply errors naming <Kind>/<ns>/<name> and ending
in a newline, kustomize's MalformedYAMLError words, a missing repository (FetchFailed, "repository
not found: "), a Kustomization waiting for its source (Ready only), inventories, HelmRelease install
and upgrade (Ready and Released, history, release name <targetNamespace>-<name>).
Known differences, none of which the server reads or the contract asserts: the simulator reads the
remote's repositories from disk and never authenticates (the private-repository case stays on the
testbed); it renders no chart (no HelmChart object, no HelmRelease inventory, nothing applied); YAML
errors other than an unclosed flow sequence or mapping keep PyYAML's words; real statuses carry more
(Kustomization history, Healthy; HelmRelease digests and durations).
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import posixpath
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

from doubles.controllers.base import FLUX_KS, Controllers, Obj, cond, failing, now, seconds
from doubles.controllers.build import BuildError, build, files_at, git, set_images
from doubles.kube import ApiError


def retry(obj: Obj, status: Obj, gen: int, reason: str, message: str, doing: str | None, *extra: Obj) -> Obj:
    """A failed reconcile as the real controllers report it (seen on the testbed): Ready=False with
    the reason, Reconciling=True/ProgressingWithRetry saying what it was ``doing`` (none while a
    Kustomization waits for its source), and status.observedGeneration left as it was (-1 until a
    reconcile succeeds); the conditions carry the generation judged."""
    status["observedGeneration"] = (obj.get("status") or {}).get("observedGeneration", -1)
    reconciling = [cond("Reconciling", "True", "ProgressingWithRetry", doing, gen)] if doing else []
    status["conditions"] = [*reconciling, cond("Ready", "False", reason, message, gen), *extra]
    return status


def go_duration(seconds: float) -> str:
    """A whole number of seconds as Go's time.Duration prints it (9m30s, 2m0s, 1h0m0s, 30s)."""
    h, rest = divmod(int(seconds), 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m}m{s}s" if h else f"{m}m{s}s" if m else f"{s}s"


def ks_timeout(spec: Obj) -> str:
    """kustomize-controller's GetTimeout: spec.timeout, else the interval less 30 s; at least 30 s."""
    t = seconds(spec.get("timeout"), 0) or seconds(spec.get("interval"), 600) - 30
    return go_duration(max(t, 30))


class FluxControllers(Controllers):
    def _gitrepo(self, obj: Obj) -> None:
        gen, spec = obj["metadata"]["generation"], obj["spec"]
        status = copy.deepcopy(obj.get("status") or {})
        status["observedGeneration"] = gen
        bare = self._bare(spec.get("url", ""))
        ref = spec.get("ref") or {"branch": "master"}
        if bare is None:
            # go-git's error for a 404 from the smart HTTP endpoint ends with ": " (seen on the testbed)
            url = spec.get("url")
            message = f"failed to checkout and determine revision: unable to clone '{url}': repository not found: "
            fetch = cond("FetchFailed", "True", "GitOperationFailed", message, gen)
            self._status(obj, retry(obj, status, gen, "GitOperationFailed", message, "building artifact", fetch))
            return
        if "commit" in ref:
            name, target = "", ref["commit"]
        elif "tag" in ref:
            name, target = ref["tag"], f"refs/tags/{ref['tag']}"
        elif "name" in ref:
            name, target = ref["name"], ref["name"]
        else:
            name, target = ref["branch"], f"refs/heads/{ref['branch']}"
        sha = (git(bare, "rev-parse", "--verify", "--quiet", f"{target}^{{commit}}") or "").strip()
        if not sha:
            message = f"failed to checkout and determine revision: reference not found: {target}"
            fetch = cond("FetchFailed", "True", "GitOperationFailed", message, gen)
            self._status(obj, retry(obj, status, gen, "GitOperationFailed", message, "building artifact", fetch))
            return
        revision = f"{name}@sha1:{sha}" if name else f"sha1:{sha}"
        status["artifact"] = {
            "revision": revision,
            "digest": "sha256:" + sha[:16].ljust(64, "0"),
            "path": "x",
            "url": "http://source-controller/x",
            "lastUpdateTime": now(),
            "size": 1,
        }
        status["conditions"] = [
            cond("Ready", "True", "Succeeded", f"stored artifact for revision '{revision}'", gen),
            cond("ArtifactInStorage", "True", "Succeeded", f"stored artifact for '{revision}'", gen),
        ]
        self._status(obj, status)

    def _ocirepo(self, obj: Obj) -> None:
        """source-controller for OCI artifacts: pull the manifest and the first layer over the registry's
        HTTP API (plain http only with ``insecure: true``), extract it, report ``<tag>@<digest>``."""
        gen, spec = obj["metadata"]["generation"], obj["spec"]
        status = copy.deepcopy(obj.get("status") or {})
        status["observedGeneration"] = gen

        def fail(message: str) -> None:
            status["conditions"] = [cond("Ready", "False", "OCIArtifactPullFailed", message, gen)]
            self._status(obj, status)

        url = str(spec.get("url", ""))
        ref = spec.get("ref") or {"tag": "latest"}
        host, _, repo = url.removeprefix("oci://").partition("/")
        if not spec.get("insecure"):
            fail(f"failed to pull artifact from '{url}': http: server gave HTTP response to HTTPS client")
            return
        want = ref.get("digest") or ref.get("tag", "latest")
        accept = {"Accept": "application/vnd.oci.image.manifest.v1+json"}
        try:
            with urllib.request.urlopen(
                urllib.request.Request(f"http://{host}/v2/{repo}/manifests/{want}", headers=accept), timeout=10
            ) as r:
                body = r.read()
                digest = r.headers.get("Docker-Content-Digest")
            manifest = json.loads(body)
            layer = manifest["layers"][0]["digest"]
            with urllib.request.urlopen(f"http://{host}/v2/{repo}/blobs/{layer}", timeout=10) as r:
                blob = r.read()
        except (urllib.error.URLError, OSError, KeyError, IndexError, ValueError) as exc:
            fail(f"failed to pull artifact from '{url}': {exc}")
            return
        if "sha256:" + hashlib.sha256(blob).hexdigest() != layer:
            fail(f"failed to verify artifact from '{url}': layer digest mismatch")
            return
        files: dict[str, str] = {}
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
            for member in tar.getmembers():
                if member.isfile() and member.name.endswith((".yaml", ".yml")):
                    fh = tar.extractfile(member)
                    files[member.name] = fh.read().decode("utf-8") if fh else ""
        tag = ref.get("tag", "latest") if not ref.get("digest") else ""
        revision = f"{tag}@{digest}" if tag else str(digest)
        self._oci_artifacts[revision] = files
        status["artifact"] = {
            "revision": revision,
            "digest": digest,
            "path": "x",
            "url": "http://source-controller/x",
            "lastUpdateTime": now(),
            "size": len(blob),
            "metadata": manifest.get("annotations") or {},
        }
        status["conditions"] = [
            cond("Ready", "True", "Succeeded", f"stored artifact for digest '{revision}'", gen),
            cond("ArtifactInStorage", "True", "Succeeded", f"stored artifact for digest '{revision}'", gen),
        ]
        self._status(obj, status)

    def _oci_source(self, ns: str, ref: Obj) -> tuple[str, dict[str, str], str | None] | None:
        src = self.kube.find("source.toolkit.fluxcd.io/v1", "OCIRepository", ref.get("namespace") or ns, ref["name"])
        artifact = ((src or {}).get("status") or {}).get("artifact") or {}
        rev = artifact.get("revision")
        if not rev or rev not in self._oci_artifacts:
            return None
        origin = (artifact.get("metadata") or {}).get("org.opencontainers.image.revision")
        return rev, self._oci_artifacts[rev], origin

    def _source_revision(self, ns: str, ref: Obj) -> tuple[str, Path] | None:
        src = self.kube.find(
            "source.toolkit.fluxcd.io/v1", ref.get("kind", "GitRepository"), ref.get("namespace") or ns, ref["name"]
        )
        if src is None:
            return None
        rev = ((src.get("status") or {}).get("artifact") or {}).get("revision")
        bare = self._bare((src.get("spec") or {}).get("url", ""))
        return (rev, bare) if rev and bare else None

    def _kustomization(self, obj: Obj) -> None:
        meta, spec, gen = obj["metadata"], obj["spec"], obj["metadata"]["generation"]
        status = copy.deepcopy(obj.get("status") or {})
        status["observedGeneration"] = gen

        def fail(reason: str, message: str, doing: str | None = "Building manifests") -> None:
            """``doing``: the stage as the real controller names it in Reconciling (None: no such condition)."""
            rev = status.get("lastAttemptedRevision")
            if doing and rev:
                doing = f"{doing} for revision {rev} with a timeout of {ks_timeout(spec)}"
            self._status(obj, retry(obj, status, gen, reason, message, doing))
            if reason != "DependencyNotReady":
                self.record(obj, "Warning", reason, message, "kustomize-controller")

        for dep in spec.get("dependsOn") or []:  # like kustomize-controller: wait, requeue, no apply
            dep_ns = dep.get("namespace") or meta["namespace"]
            other = self.kube.find(obj["apiVersion"], "Kustomization", dep_ns, dep["name"])
            if not self._ready(other):
                self._requeue[("Kustomization", meta["namespace"], meta["name"])] = time.monotonic() + self.requeue
                fail("DependencyNotReady", f"dependency '{dep_ns}/{dep['name']}' is not ready")
                return
        ref = spec.get("sourceRef") or {}
        no_artifact = f"Source artifact not found, retrying in {spec.get('retryInterval', '30s')}"
        origin: str | None = None
        files: dict[str, str] | None
        if ref.get("kind") == "OCIRepository":
            oci = self._oci_source(meta["namespace"], ref)
            if oci is None:
                fail("ArtifactFailed", no_artifact, None)
                return
            revision, everything, origin = oci
            status["lastAttemptedRevision"] = revision
            prefix = spec.get("path", "./").strip("./")
            files = everything if not prefix or any(f.startswith(prefix + "/") for f in everything) else None
        else:
            source = self._source_revision(meta["namespace"], ref)
            if source is None:
                fail("ArtifactFailed", no_artifact, None)
                return
            revision, bare = source
            status["lastAttemptedRevision"] = revision
            sha = revision.rsplit(":", 1)[-1]
            files = files_at(bare, sha, spec.get("path", "./"))
            if files is not None:
                files = files_at(bare, sha, ".") or files  # overlays reach outside their path (../base)
        injected = self.failures.pop(("Kustomization", meta["name"]), None)
        if injected:
            fail("ReconciliationFailed", injected)
            return
        if files is None:
            fail(
                "ArtifactFailed",
                f"kustomization path not found: stat /tmp/kustomization/{spec.get('path')}: no such file or directory",
            )
            return
        try:
            docs = build(files, spec.get("path", "./"))
            set_images(docs, spec.get("images") or [])
        except BuildError as exc:
            fail("BuildFailed", f"kustomize build failed: {exc}")
            return
        applied, error = self._apply(
            docs,
            spec.get("targetNamespace"),
            {f"{FLUX_KS}/name": meta["name"], f"{FLUX_KS}/namespace": meta["namespace"]},
            {},
            flux_messages=True,
        )
        if error:
            fail("ReconciliationFailed", error, "Detecting drift")  # the server-side dry-run refused it
            return
        new_ids = {self._inv_id(o) for o in applied}
        if spec.get("prune"):
            for entry in (status.get("inventory") or {}).get("entries") or []:
                if entry["id"] not in new_ids:
                    self._delete_inv(entry)
        status["inventory"] = {
            "entries": [{"id": self._inv_id(o), "v": o["apiVersion"].rsplit("/", 1)[-1]} for o in applied]
        }
        unhealthy = [o for o in applied if o["kind"] in ("Deployment", "Job") and failing(o)]
        if spec.get("wait") and unhealthy:
            fail(
                "HealthCheckFailed",
                f"health check failed after 5m0s: timeout waiting for: [{unhealthy[0]['kind']}/"
                f"{unhealthy[0]['metadata'].get('namespace')}/{unhealthy[0]['metadata']['name']} status: 'Failed']",
                "Running health checks",
            )
            return
        status["lastAppliedRevision"] = revision
        if origin:
            status["lastAppliedOriginRevision"] = origin
        status["conditions"] = [cond("Ready", "True", "ReconciliationSucceeded", f"Applied revision: {revision}", gen)]
        self._status(obj, status)
        self.record(
            obj,
            "Normal",
            "ReconciliationSucceeded",
            f"Reconciliation finished, next run in {spec.get('interval')}",
            "kustomize-controller",
        )

    def _finalize_kustomization(self, obj: Obj) -> None:
        """kustomize-controller's finalizer: garbage-collect the inventory by spec.deletionPolicy
        (MirrorPrune, the default: as spec.prune says; Delete; Orphan), never when suspended."""
        spec = obj.get("spec") or {}
        policy = spec.get("deletionPolicy") or "MirrorPrune"
        if spec.get("suspend") or policy == "Orphan" or (policy == "MirrorPrune" and not spec.get("prune")):
            return
        for entry in ((obj.get("status") or {}).get("inventory") or {}).get("entries") or []:
            self._delete_inv(entry)

    @staticmethod
    def _ready(obj: Obj | None) -> bool:
        if obj is None:
            return False
        status = obj.get("status") or {}
        if status.get("observedGeneration") != obj["metadata"].get("generation"):
            return False
        return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])

    def _inv_id(self, o: Obj) -> str:
        group = o["apiVersion"].rsplit("/", 1)[0] if "/" in o["apiVersion"] else ""
        return f"{o['metadata'].get('namespace', '')}_{o['metadata']['name']}_{group}_{o['kind']}"

    def _delete_inv(self, entry: Obj) -> None:
        ns, rest = entry["id"].split("_", 1)
        rest, kind = rest.rsplit("_", 1)
        name, group = rest.rsplit("_", 1)
        api = f"{group}/{entry['v']}" if group else entry["v"]
        try:
            r = self.kube.resource_for(api, kind)
            self.kube.delete(r, ns or None, name)
        except ApiError:
            pass

    def _helmrelease(self, obj: Obj) -> None:
        meta, spec, gen = obj["metadata"], obj["spec"], obj["metadata"]["generation"]
        status = copy.deepcopy(obj.get("status") or {})
        status["observedGeneration"] = gen
        chart = (spec.get("chart") or {}).get("spec") or {}
        version = chart.get("version") or "1.0.0"
        chart_name, app_version = str(chart.get("chart", "chart")), None
        ref = chart.get("sourceRef") or {}
        if ref.get("kind") == "GitRepository":
            source = self._source_revision(meta["namespace"], ref)
            if source is None:
                status["conditions"] = [cond("Ready", "False", "ArtifactFailed", "chart source not ready", gen)]
                self._status(obj, status)
                return
            revision, bare = source
            sha = revision.rsplit(":", 1)[-1]
            chart_yaml = git(bare, "show", f"{sha}:{posixpath.join(chart.get('chart', '.').strip('./'), 'Chart.yaml')}")
            if chart_yaml is None:
                status["conditions"] = [
                    cond("Ready", "False", "ArtifactFailed", f"chart path not found: {chart.get('chart')}", gen)
                ]
                self._status(obj, status)
                return
            about = yaml.safe_load(chart_yaml) or {}
            version = str(about.get("version", "0.0.0"))
            if chart.get("reconcileStrategy") == "Revision":
                version += "+" + sha[:12]
            chart_name, app_version = str(about.get("name", chart_name)), about.get("appVersion")
        self._release(obj, status, chart_name, version, app_version)

    def _release(self, obj: Obj, status: Obj, chart_name: str, version: str, app_version: object) -> None:
        """helm-controller's install or upgrade as it reports it (seen on the testbed): a new Helm
        release only when the chart version or the values changed; history newest first, the previous
        release superseded; Ready and Released with the same words."""
        meta, spec, gen = obj["metadata"], obj["spec"], obj["metadata"]["generation"]
        target = spec.get("targetNamespace") or meta["namespace"]
        release = spec.get("releaseName") or (
            f"{target}-{meta['name']}" if spec.get("targetNamespace") else meta["name"]
        )
        config = "sha256:" + hashlib.sha256(json.dumps(spec.get("values") or {}, sort_keys=True).encode()).hexdigest()
        history = [dict(h) for h in status.get("history") or []]
        last = history[0] if history else None
        status["lastAttemptedRevision"] = version
        if last is None or (last["chartVersion"], last["configDigest"]) != (version, config):
            action, n = ("upgrade", last["version"] + 1) if last else ("install", 1)
            if last is not None:
                last["status"] = "superseded"
                last.pop("action", None)
            entry = {
                "action": action,
                "apiVersion": "v2",
                "chartName": chart_name,
                "chartVersion": version,
                "configDigest": config,
                "digest": "sha256:" + hashlib.sha256(f"{release}.v{n}".encode()).hexdigest(),
                "firstDeployed": last["firstDeployed"] if last else now(),
                "lastDeployed": now(),
                "name": release,
                "namespace": target,
                "status": "deployed",
                "version": n,
                **({"appVersion": str(app_version)} if app_version else {}),
            }
            history = [entry, *history[:4]]
            said = (
                f"Helm {action} succeeded for release {target}/{release}.v{n} with chart {chart_name}@{version}",
                "InstallSucceeded" if action == "install" else "UpgradeSucceeded",
            )
            status["conditions"] = [
                cond("Ready", "True", said[1], said[0], gen),
                cond("Released", "True", said[1], said[0], gen),
            ]
            status |= {"lastAttemptedReleaseAction": action, "lastAttemptedConfigDigest": config}
        status |= {"history": history, "lastAttemptedGeneration": gen, "storageNamespace": meta["namespace"]}
        for c in status.get("conditions") or []:
            c["observedGeneration"] = gen
        self._status(obj, status)
