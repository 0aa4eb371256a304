"""Simulated Flux and Argo CD controllers over :class:`fakekube.FakeKube`, reading real git repositories.

They run in a thread, wake on every API change (or a short tick for intervals), and for each
object that is due (spec changed, reconcile requested, or its interval elapsed) do what the
controllers do, the way they report it:
- GitRepository: resolve ``spec.ref`` in the bare repository -> ``status.artifact.revision``
  ``<branch>@sha1:<sha>``, ``Ready``.
- Kustomization: read ``spec.path`` at that commit (kustomization.yaml ``resources`` or every YAML
  file), apply with the ``kustomize.toolkit.fluxcd.io/name|namespace`` labels, prune, write
  ``inventory``, ``lastAppliedRevision``/``lastAttemptedRevision``, ``Ready``; bad YAML, a missing
  path, an unknown kind or a missing namespace give ``Ready=False`` with the controller's reason.
  ``dependsOn``: not ready -> ``Ready=False`` ``DependencyNotReady``, requeued shortly.
- OCIRepository: pull the manifest and first layer from the registry's HTTP API (needs
  ``insecure: true`` for plain http), ``status.artifact.revision`` ``<tag>@sha256:<digest>``, the
  manifest annotations as ``artifact.metadata``; Kustomizations on it also report
  ``lastAppliedOriginRevision``.
- HelmRelease (charts from a GitRepository): version from Chart.yaml ``+<12 hex>``; ``Ready``.
- Application: resolve ``targetRevision``, apply on auto-sync or a pending ``operation`` with the
  tracking annotation and instance label, ``sync``/``health``/``operationState``; refresh
  annotation handled and removed.
Exceptions are collected in ``errors`` (tests assert it stays empty).
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import posixpath
import re
import subprocess
import tarfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from fakekube import ApiError, FakeKube

Obj = dict[str, Any]
FLUX_KS = "kustomize.toolkit.fluxcd.io"
_DUR = re.compile(r"([0-9.]+)(ms|s|m|h)")


def seconds(duration: str | None, default: float) -> float:
    if not duration:
        return default
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * units[u] for n, u in _DUR.findall(duration)) or default


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def cond(ctype: str, status: str, reason: str, message: str, gen: int) -> Obj:
    return {
        "type": ctype,
        "status": status,
        "reason": reason,
        "message": message,
        "observedGeneration": gen,
        "lastTransitionTime": now(),
    }


class GitOpsSimulator:
    def __init__(
        self, kube: FakeKube, repos: dict[str, Path], tick: float = 0.05, argo_interval: float = 180.0
    ) -> None:
        self.kube = kube
        self.repos = repos
        self.tick = tick
        self.argo_interval = argo_interval
        self.errors: list[BaseException] = []
        self.failures: dict[tuple[str, str], str] = {}  # (kind, name) -> injected failure message
        self._last: dict[tuple[str, str, str], float] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self.reconciles: list[tuple[str, str, float]] = []
        # dependency-requeue-interval (30s in the real controller), scaled down like everything here
        self.requeue = 0.2
        self._requeue: dict[tuple[str, str, str], float] = {}
        self._oci_artifacts: dict[str, dict[str, str]] = {}  # revision -> files (source-controller's storage)
        kube.hooks.append(lambda ev: self._wake.set())

    def __enter__(self) -> GitOpsSimulator:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(10)

    def fail_next(self, kind: str, name: str, message: str) -> None:
        self.failures[(kind, name)] = message

    # -- git ----------------------------------------------------------------------------------------------
    def _bare(self, url: str) -> Path | None:
        norm = url.rstrip("/").removesuffix(".git")
        for u, p in self.repos.items():
            if u.rstrip("/").removesuffix(".git") == norm:
                return p
        return None

    @staticmethod
    def _git(bare: Path, *args: str) -> str | None:
        p = subprocess.run(["git", "-C", str(bare), *args], capture_output=True, text=True)
        return p.stdout if p.returncode == 0 else None

    def _files(self, bare: Path, sha: str, path: str) -> dict[str, str] | None:
        """Files under ``path`` at ``sha`` (None when the path does not exist)."""
        prefix = path.strip("./") if path not in ("", ".", "./") else ""
        listing = self._git(bare, "ls-tree", "-r", "--name-only", sha, "--", prefix or ".")
        if listing is None:
            return None
        names = [n for n in listing.splitlines() if n]
        if not names:
            return None
        out = {}
        for n in names:
            if n.endswith((".yaml", ".yml")) or n.rsplit("/", 1)[-1] == "Kustomization":
                out[n] = self._git(bare, "show", f"{sha}:{n}") or ""
        return out

    def _build(self, files: dict[str, str], path: str, recurse: bool = True) -> list[Obj]:
        """Objects of a directory: its kustomization's resources, else every YAML file."""
        base = path.strip("./") if path not in ("", ".", "./") else ""
        kfile = next(
            (f for f in (posixpath.join(base, k) for k in ("kustomization.yaml", "kustomization.yml")) if f in files),
            None,
        )
        docs: list[Obj] = []
        if kfile is not None:
            k = yaml.safe_load(files[kfile]) or {}
            for res in k.get("resources") or []:
                target = posixpath.normpath(posixpath.join(base, res))
                if target in files:
                    docs += [d for d in yaml.safe_load_all(files[target]) if d]
                else:
                    docs += self._build(files, target)
            if k.get("namespace"):
                for d in docs:
                    d.setdefault("metadata", {})["namespace"] = k["namespace"]
            for r in k.get("replicas") or []:  # the replicas and images transformers
                for d in docs:
                    if (d.get("metadata") or {}).get("name") == r.get("name") and "spec" in d:
                        d["spec"]["replicas"] = r.get("count")
            for img in k.get("images") or []:
                for d in docs:
                    pod = ((d.get("spec") or {}).get("template") or {}).get("spec") or {}
                    for c in pod.get("containers") or []:
                        repo, _, tag = str(c.get("image", "")).partition(":")
                        if repo == img.get("name"):
                            c["image"] = f"{img.get('newName', repo)}:{img.get('newTag', tag)}"
            return docs
        kust_dirs = sorted(
            {
                posixpath.dirname(f)
                for f in files
                if posixpath.basename(f) in ("kustomization.yaml", "kustomization.yml")
            }
        )
        taken: list[str] = []
        for d in kust_dirs:  # subdirectories with their own kustomization are built through it
            below = d.startswith(base + "/") if base else d not in ("", ".")
            if below and not any(d == t or d.startswith(t + "/") for t in taken):
                taken.append(d)
                docs += self._build(files, d)
        for name, text in sorted(files.items()):
            if base and not name.startswith(base + "/"):
                continue
            rel = name[len(base) + 1 :] if base else name
            if not recurse and "/" in rel:
                continue
            if any(name.startswith(t + "/") for t in taken):
                continue
            docs += [d for d in yaml.safe_load_all(text) if d]
        return docs

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
            interval = seconds(spec.get("interval"), 60)
        key = (kind, meta["namespace"], meta["name"])
        if key in self._requeue and time.monotonic() >= self._requeue[key]:
            del self._requeue[key]
            return True
        last = self._last.get(key)
        return last is None or time.monotonic() - last >= interval

    def _status(self, obj: Obj, status: Obj) -> None:
        meta = obj["metadata"]
        requested = (meta.get("annotations") or {}).get("reconcile.fluxcd.io/requestedAt")
        if requested:
            status["lastHandledReconcileAt"] = requested
        self.kube.patch_status(obj["apiVersion"], obj["kind"], meta["namespace"], meta["name"], status)

    # -- Flux ------------------------------------------------------------------------------------------------
    def _gitrepo(self, obj: Obj) -> None:
        gen, spec = obj["metadata"]["generation"], obj["spec"]
        status = copy.deepcopy(obj.get("status") or {})
        status["observedGeneration"] = gen
        bare = self._bare(spec.get("url", ""))
        ref = spec.get("ref") or {"branch": "master"}
        if bare is None:
            status["conditions"] = [
                cond(
                    "Ready",
                    "False",
                    "GitOperationFailed",
                    f"failed to checkout and determine revision: unable to clone "
                    f"'{spec.get('url')}': repository not found",
                    gen,
                )
            ]
            self._status(obj, status)
            return
        if "commit" in ref:
            name, target = "", ref["commit"]
        elif "tag" in ref:
            name, target = ref["tag"], f"refs/tags/{ref['tag']}"
        elif "name" in ref:
            name, target = ref["name"], ref["name"]
        else:
            name, target = ref["branch"], f"refs/heads/{ref['branch']}"
        sha = (self._git(bare, "rev-parse", "--verify", "--quiet", f"{target}^{{commit}}") or "").strip()
        if not sha:
            status["conditions"] = [
                cond(
                    "Ready",
                    "False",
                    "GitOperationFailed",
                    f"failed to checkout and determine revision: reference not found: {target}",
                    gen,
                )
            ]
            self._status(obj, status)
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

        def fail(reason: str, message: str) -> None:
            status["conditions"] = [cond("Ready", "False", reason, message, gen)]
            self._status(obj, status)

        for dep in spec.get("dependsOn") or []:  # like kustomize-controller: wait, requeue, no apply
            dep_ns = dep.get("namespace") or meta["namespace"]
            other = self.kube.find(obj["apiVersion"], "Kustomization", dep_ns, dep["name"])
            if not self._ready(other):
                self._requeue[("Kustomization", meta["namespace"], meta["name"])] = time.monotonic() + self.requeue
                fail("DependencyNotReady", f"dependency '{dep_ns}/{dep['name']}' is not ready")
                return
        ref = spec.get("sourceRef") or {}
        origin: str | None = None
        files: dict[str, str] | None
        if ref.get("kind") == "OCIRepository":
            oci = self._oci_source(meta["namespace"], ref)
            if oci is None:
                fail("ArtifactFailed", f"Source artifact not found, retrying in {spec.get('retryInterval', '30s')}")
                return
            revision, everything, origin = oci
            status["lastAttemptedRevision"] = revision
            prefix = spec.get("path", "./").strip("./")
            files = everything if not prefix or any(f.startswith(prefix + "/") for f in everything) else None
        else:
            source = self._source_revision(meta["namespace"], ref)
            if source is None:
                fail("ArtifactFailed", f"Source artifact not found, retrying in {spec.get('retryInterval', '30s')}")
                return
            revision, bare = source
            status["lastAttemptedRevision"] = revision
            sha = revision.rsplit(":", 1)[-1]
            files = self._files(bare, sha, spec.get("path", "./"))
            if files is not None:
                files = self._files(bare, sha, ".") or files  # overlays reach outside their path (../base)
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
            docs = self._build(files, spec.get("path", "./"))
        except yaml.YAMLError as exc:
            fail("BuildFailed", f"kustomize build failed: {str(exc).splitlines()[0]}")
            return
        applied, error = self._apply(
            docs,
            spec.get("targetNamespace"),
            {f"{FLUX_KS}/name": meta["name"], f"{FLUX_KS}/namespace": meta["namespace"]},
            {},
        )
        if error:
            fail("ReconciliationFailed", error)
            return
        new_ids = {self._inv_id(o) for o in applied}
        if spec.get("prune"):
            for entry in (status.get("inventory") or {}).get("entries") or []:
                if entry["id"] not in new_ids:
                    self._delete_inv(entry)
        status["inventory"] = {
            "entries": [{"id": self._inv_id(o), "v": o["apiVersion"].rsplit("/", 1)[-1]} for o in applied]
        }
        unhealthy = [o for o in applied if o["kind"] == "Deployment" and "fail" in str(o.get("spec"))]
        if spec.get("wait") and unhealthy:
            fail(
                "HealthCheckFailed",
                f"health check failed after 5m0s: timeout waiting for: [Deployment/"
                f"{unhealthy[0]['metadata'].get('namespace')}/{unhealthy[0]['metadata']['name']} status: 'Failed']",
            )
            return
        status["lastAppliedRevision"] = revision
        if origin:
            status["lastAppliedOriginRevision"] = origin
        status["conditions"] = [cond("Ready", "True", "ReconciliationSucceeded", f"Applied revision: {revision}", gen)]
        self._status(obj, status)

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

    def _apply(
        self,
        docs: list[Obj],
        namespace: str | None,
        labels: dict[str, str],
        annotations: dict[str, str],
        create_ns: bool = False,
        tracking: Callable[[Obj], str] | None = None,
    ) -> tuple[list[Obj], str | None]:
        out = []
        for d in docs:
            d = copy.deepcopy(d)
            try:
                r = self.kube.resource_for(str(d.get("apiVersion")), str(d.get("kind")))
            except ApiError:
                return out, (
                    f"{d.get('kind')}/{(d.get('metadata') or {}).get('name')} dry-run failed: no matches for "
                    f'kind "{d.get("kind")}" in version "{d.get("apiVersion")}"'
                )
            meta = d.setdefault("metadata", {})
            if r.namespaced:
                meta["namespace"] = namespace or meta.get("namespace") or "default"
                in_build = any(
                    x.get("kind") == "Namespace" and x["metadata"]["name"] == meta["namespace"] for x in docs
                )
                if in_build or create_ns:
                    self.kube.ensure_namespace(meta["namespace"])
                if self.kube.find("v1", "Namespace", None, meta["namespace"]) is None:
                    return out, f'namespaces "{meta["namespace"]}" not found'
            meta.setdefault("labels", {}).update(labels)
            if annotations or tracking:
                meta.setdefault("annotations", {}).update(annotations)
                if tracking:
                    meta["annotations"]["argocd.argoproj.io/tracking-id"] = tracking(d)
            live = self.kube.find(d["apiVersion"], d["kind"], meta.get("namespace"), meta["name"])
            if live is not None:  # like server-side apply: fields of other managers (annotations, labels) stay
                for field in ("annotations", "labels"):
                    merged = {**((live.get("metadata") or {}).get(field) or {}), **(meta.get(field) or {})}
                    if merged:
                        meta[field] = merged
            stored = self.kube.put(d)
            if d["kind"] in ("Deployment", "StatefulSet") and "fail" not in str(d.get("spec")):
                replicas = (d.get("spec") or {}).get("replicas", 1)
                self.kube.patch_status(
                    d["apiVersion"],
                    d["kind"],
                    meta.get("namespace"),
                    meta["name"],
                    {
                        "observedGeneration": stored["metadata"]["generation"],
                        "replicas": replicas,
                        "readyReplicas": replicas,
                        "updatedReplicas": replicas,
                        "availableReplicas": replicas,
                    },
                )
            out.append(stored)
        return out, None

    def _helmrelease(self, obj: Obj) -> None:
        meta, spec, gen = obj["metadata"], obj["spec"], obj["metadata"]["generation"]
        status = copy.deepcopy(obj.get("status") or {})
        status["observedGeneration"] = gen
        chart = (spec.get("chart") or {}).get("spec") or {}
        version = chart.get("version") or "1.0.0"
        ref = chart.get("sourceRef") or {}
        if ref.get("kind") == "GitRepository":
            source = self._source_revision(meta["namespace"], ref)
            if source is None:
                status["conditions"] = [cond("Ready", "False", "ArtifactFailed", "chart source not ready", gen)]
                self._status(obj, status)
                return
            revision, bare = source
            sha = revision.rsplit(":", 1)[-1]
            chart_yaml = self._git(
                bare, "show", f"{sha}:{posixpath.join(chart.get('chart', '.').strip('./'), 'Chart.yaml')}"
            )
            if chart_yaml is None:
                status["conditions"] = [
                    cond("Ready", "False", "ArtifactFailed", f"chart path not found: {chart.get('chart')}", gen)
                ]
                self._status(obj, status)
                return
            version = str((yaml.safe_load(chart_yaml) or {}).get("version", "0.0.0")) + "+" + sha[:12]
        status["lastAttemptedRevision"] = version
        status["history"] = [
            {
                "name": spec.get("releaseName", meta["name"]),
                "namespace": spec.get("targetNamespace", meta["namespace"]),
                "version": len(status.get("history") or []) + 1,
                "chartName": chart.get("chart", "chart"),
                "chartVersion": version,
                "status": "deployed",
                "configDigest": "sha256:0",
                "digest": "sha256:0",
                "firstDeployed": now(),
                "lastDeployed": now(),
            }
        ]
        status["conditions"] = [
            cond(
                "Ready",
                "True",
                "UpgradeSucceeded",
                f"Helm upgrade succeeded for release with chart {chart.get('chart')}@{version}",
                gen,
            )
        ]
        self._status(obj, status)

    # -- Argo CD ----------------------------------------------------------------------------------------------
    def _application(self, obj: Obj) -> None:
        meta, spec = obj["metadata"], obj.get("spec") or {}
        name, ns = meta["name"], meta["namespace"]
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
            sha = (self._git(bare, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}") or "").strip()
        main_patch: Obj = {"metadata": {"annotations": {"argocd.argoproj.io/refresh": None}}}
        if not sha:
            status["conditions"] = [
                {
                    "type": "ComparisonError",
                    "message": f"Failed to load target state: unable to resolve '{rev_name}' in {src.get('repoURL')}",
                }
            ]
            status["sync"] = {"status": "Unknown"}
            self.kube.patch_status(obj["apiVersion"], "Application", ns, name, status)
            self.kube.patch(
                self.kube.resource_for(obj["apiVersion"], "Application"),
                ns,
                name,
                main_patch,
                "application/merge-patch+json",
            )
            return
        status.pop("conditions", None)
        automated = (spec.get("syncPolicy") or {}).get("automated") is not None
        applied_rev = (status.get("sync") or {}).get("revision")
        if automated or operation:
            dest_ns = (spec.get("destination") or {}).get("namespace")
            create_ns = "CreateNamespace=true" in ((spec.get("syncPolicy") or {}).get("syncOptions") or [])
            path = src.get("path", ".")
            files = self._files(bare, sha, path) or {}
            injected = self.failures.pop(("Application", name), None)
            error = injected
            applied: list[Obj] = []
            if not error:
                try:
                    docs = self._build(files, path, recurse=bool((src.get("directory") or {}).get("recurse")))
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
            else:
                status["operationState"] = {
                    **op,
                    "phase": "Succeeded",
                    "message": "successfully synced (all tasks run)",
                }
                status["sync"] = {"status": "Synced", "revision": sha}
                status["health"] = {"status": "Healthy"}
                status["resources"] = [
                    {
                        "group": o["apiVersion"].rsplit("/", 1)[0] if "/" in o["apiVersion"] else "",
                        "version": o["apiVersion"].rsplit("/", 1)[-1],
                        "kind": o["kind"],
                        "namespace": o["metadata"].get("namespace", ""),
                        "name": o["metadata"]["name"],
                        "status": "Synced",
                        "health": {"status": "Healthy"},
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
        self.kube.patch_status(obj["apiVersion"], "Application", ns, name, status)
        self.kube.patch(
            self.kube.resource_for(obj["apiVersion"], "Application"),
            ns,
            name,
            main_patch,
            "application/merge-patch+json",
        )
