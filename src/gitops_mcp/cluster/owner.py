"""Which GitOps objects manage a live object, up to the Git location that defines it.

A few API calls per lookup: the object itself, then each owner named by the controllers'
own markers — Flux ``helm.toolkit.fluxcd.io/*`` and ``kustomize.toolkit.fluxcd.io/*`` labels
(checked against the owner's inventory when it has one), Argo CD's
``argocd.argoproj.io/tracking-id`` annotation (ignored when it names another object) or the
instance label, an ApplicationSet owner reference — and finally the source. Only when the
labels are missing are the Kustomizations'/HelmReleases' inventories searched (one list each).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from gitops_mcp.cluster.client import API_VERSIONS, KubeClient, Obj
from gitops_mcp.errors import ClusterError, NotFoundError

KS_LABEL = "kustomize.toolkit.fluxcd.io"
HR_LABEL = "helm.toolkit.fluxcd.io"
TRACKING = "argocd.argoproj.io/tracking-id"
INSTANCE = "app.kubernetes.io/instance"
MAX_DEPTH = 8


class ObjectRef(BaseModel):
    api_version: str
    kind: str
    name: str
    namespace: str | None = None


class OwnerLink(ObjectRef):
    via: str = Field(description="How this owner was found (label, inventory, annotation, sourceRef, ...)")


class GitLocation(BaseModel):
    url: str
    ref: dict[str, str] = Field(default_factory=dict, description="Flux spec.ref, or {'targetRevision': ...}")
    path: str = Field(description="Path in the repository the controller applies")
    applied_revision: str | None = None
    defining_kind: str = Field(description="Kind of the document to look for in that path")
    defining_name: str
    defining_namespace: str | None = None
    value_files: list[str] = Field(default_factory=list)


class SourceFile(BaseModel):
    repo_root: str
    file: str = Field(description="Relative to the repository root")
    document: int
    kind: str
    name: str


class OwnerResult(BaseModel):
    object: ObjectRef
    managed: bool
    manager: Literal["flux", "argocd"] | None = None
    chain: list[OwnerLink] = Field(default_factory=list, description="Nearest owner first, the source last")
    git: GitLocation | None = None
    file: SourceFile | None = None
    repo_root: str | None = Field(None, description="Local clone the file lookup used")
    message: str
    api_calls: int = 0


def _group(api_version: str) -> str:
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def inventory_id(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    name = str(meta.get("name", ""))
    if _group(str(obj.get("apiVersion", ""))) == "rbac.authorization.k8s.io":
        name = name.replace(":", "__")
    return f"{meta.get('namespace') or ''}_{name}_{_group(str(obj.get('apiVersion', '')))}_{obj.get('kind')}"


def _in_inventory(owner: Obj, oid: str) -> bool:
    return any(e.get("id") == oid for e in ((owner.get("status") or {}).get("inventory") or {}).get("entries") or [])


class OwnerFinder:
    def __init__(self, kube: KubeClient, argocd_namespace: str = "argocd") -> None:
        self.kube = kube
        self.argocd_namespace = argocd_namespace
        self.calls = 0

    def _get(self, api_version: str, kind: str, name: str, namespace: str | None) -> Obj | None:
        self.calls += 1
        return self.kube.get(api_version, kind, name, namespace)

    def find(self, api_version: str, kind: str, name: str, namespace: str | None) -> OwnerResult:
        target = ObjectRef(api_version=api_version, kind=kind, name=name, namespace=namespace)
        obj = self._get(api_version, kind, name, namespace)
        if obj is None:
            raise NotFoundError(f"{kind} {namespace + '/' if namespace else ''}{name} does not exist in the cluster")
        chain: list[OwnerLink] = []
        current, seen = obj, set()
        manager: Literal["flux", "argocd"] | None = None
        for _ in range(MAX_DEPTH):
            link, owner = self._owner_of(current)
            if link is None or owner is None:
                break
            key = (link.kind, link.namespace, link.name)
            if key in seen:
                break
            seen.add(key)
            chain.append(link)
            manager = "argocd" if link.kind in ("Application", "ApplicationSet") else "flux"
            current = owner
            if link.kind in ("GitRepository", "OCIRepository", "Bucket", "ApplicationSet"):
                break
        if not chain:
            return OwnerResult(
                object=target,
                managed=False,
                api_calls=self.calls,
                message=f"{kind} {name} is not managed by Flux or Argo CD (no ownership labels, "
                "tracking annotation or inventory entry); change it in the cluster or adopt it "
                "into Git",
            )
        git = self._git_location(obj, chain)
        where = f"{git.url} path {git.path}" if git else "an unknown source"
        return OwnerResult(
            object=target,
            managed=True,
            manager=manager,
            chain=chain,
            git=git,
            api_calls=self.calls,
            message=f"managed by {' -> '.join(f'{c.kind} {c.namespace}/{c.name}' for c in chain)}; defined in {where}",
        )

    # -- one step up ----------------------------------------------------------------------------------------
    def _owner_of(self, obj: Obj) -> tuple[OwnerLink | None, Obj | None]:
        meta = obj.get("metadata") or {}
        labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
        kind = obj.get("kind")
        # a Flux object points at its source
        if kind in ("Kustomization", "HelmRelease") and _group(str(obj.get("apiVersion"))).endswith("fluxcd.io"):
            parent = self._flux_label_owner(obj, labels)
            if parent is not None:
                return parent
            return self._source_of(obj)
        if kind == "Application":
            for ref in meta.get("ownerReferences") or []:
                if ref.get("kind") == "ApplicationSet":
                    appset = self._get(
                        API_VERSIONS["ApplicationSet"], "ApplicationSet", ref["name"], meta.get("namespace")
                    )
                    link = OwnerLink(
                        api_version=API_VERSIONS["ApplicationSet"],
                        kind="ApplicationSet",
                        name=ref["name"],
                        namespace=meta.get("namespace"),
                        via="ownerReference",
                    )
                    return link, appset or {}
            return None, None
        found = self._flux_label_owner(obj, labels)
        if found is not None:
            return found
        found = self._argo_owner(obj, labels, annotations)
        if found is not None:
            return found
        return self._inventory_owner(obj)

    def _flux_label_owner(self, obj: Obj, labels: dict[str, str]) -> tuple[OwnerLink, Obj] | None:
        for prefix, kind in ((HR_LABEL, "HelmRelease"), (KS_LABEL, "Kustomization")):
            name, ns = labels.get(f"{prefix}/name"), labels.get(f"{prefix}/namespace")
            if name and ns:
                owner = self._get(API_VERSIONS[kind], kind, name, ns)
                if owner is None:
                    continue
                via = f"labels {prefix}/name,namespace"
                inv = (owner.get("status") or {}).get("inventory")
                if inv is not None:
                    via += " + inventory" if _in_inventory(owner, inventory_id(obj)) else " (not in its inventory)"
                return OwnerLink(api_version=API_VERSIONS[kind], kind=kind, name=name, namespace=ns, via=via), owner
        return None

    def _argo_owner(
        self, obj: Obj, labels: dict[str, str], annotations: dict[str, str]
    ) -> tuple[OwnerLink, Obj] | None:
        meta = obj.get("metadata") or {}
        tracking = annotations.get(TRACKING)
        app_name, via = None, ""
        if tracking:
            tracked_app, _, rest = tracking.partition(":")
            gk, _, nsname = rest.partition(":")
            group, _, tkind = gk.partition("/")
            tns, _, tname = nsname.partition("/")
            if (
                group == _group(str(obj.get("apiVersion")))
                and tkind == obj.get("kind")
                and tname == meta.get("name")
                and (not meta.get("namespace") or tns == meta.get("namespace"))
            ):
                app_name, via = tracked_app, f"annotation {TRACKING}"
        if app_name is None and labels.get(INSTANCE):
            app_name, via = labels[INSTANCE], f"label {INSTANCE}"
        if app_name is None:
            return None
        ns, name = app_name.split("_", 1) if "_" in app_name else (self.argocd_namespace, app_name)
        app = self._get(API_VERSIONS["Application"], "Application", name, ns)
        if app is None:
            return None
        resources = (app.get("status") or {}).get("resources") or []
        if resources and not any(
            r.get("kind") == obj.get("kind")
            and r.get("name") == meta.get("name")
            and (r.get("namespace") or None) == (meta.get("namespace") or None)
            for r in resources
        ):
            via += " (not in the Application's status.resources)"
        elif resources:
            via += " + status.resources"
        return OwnerLink(
            api_version=API_VERSIONS["Application"], kind="Application", name=name, namespace=ns, via=via
        ), app

    def _inventory_owner(self, obj: Obj) -> tuple[OwnerLink | None, Obj | None]:
        oid = inventory_id(obj)
        for kind in ("Kustomization", "HelmRelease"):
            self.calls += 1
            try:
                items, _ = self.kube.list(API_VERSIONS[kind], kind)
            except ClusterError as exc:
                if exc.status == 404:
                    continue
                raise
            for owner in items:
                if _in_inventory(owner, oid):
                    m = owner["metadata"]
                    return OwnerLink(
                        api_version=API_VERSIONS[kind],
                        kind=kind,
                        name=m["name"],
                        namespace=m.get("namespace"),
                        via="inventory",
                    ), owner
        return None, None

    def _source_of(self, obj: Obj) -> tuple[OwnerLink | None, Obj | None]:
        spec = obj.get("spec") or {}
        ns = (obj.get("metadata") or {}).get("namespace")
        ref = (
            spec.get("sourceRef")
            if obj.get("kind") == "Kustomization"
            else (spec.get("chartRef") or ((spec.get("chart") or {}).get("spec") or {}).get("sourceRef"))
        )
        if not isinstance(ref, dict) or ref.get("kind") not in API_VERSIONS:
            return None, None
        sns = ref.get("namespace") or ns
        src = self._get(API_VERSIONS[ref["kind"]], ref["kind"], ref["name"], sns)
        link = OwnerLink(
            api_version=API_VERSIONS[ref["kind"]],
            kind=ref["kind"],
            name=ref["name"],
            namespace=sns,
            via="spec.sourceRef" if obj.get("kind") == "Kustomization" else "spec.chart sourceRef",
        )
        return link, src or {}

    # -- where in Git ---------------------------------------------------------------------------------------
    def _git_location(self, obj: Obj, chain: list[OwnerLink]) -> GitLocation | None:
        kinds = [c.kind for c in chain]
        if "Application" in kinds:
            app_link = chain[kinds.index("Application")]
            app = self._get(app_link.api_version, "Application", app_link.name, app_link.namespace) or {}
            src: Obj = (app.get("spec") or {}).get("source") or next(
                iter((app.get("spec") or {}).get("sources") or []), {}
            )
            if not src.get("repoURL"):
                return None
            return GitLocation(
                url=src["repoURL"],
                ref={"targetRevision": str(src.get("targetRevision", "HEAD"))},
                path=str(src.get("path") or src.get("chart") or "."),
                applied_revision=((app.get("status") or {}).get("sync") or {}).get("revision"),
                defining_kind=str(obj.get("kind")),
                defining_name=obj["metadata"]["name"],
                defining_namespace=obj["metadata"].get("namespace"),
                value_files=list((src.get("helm") or {}).get("valueFiles") or []),
            )
        ks_index = next((i for i, c in enumerate(chain) if c.kind == "Kustomization"), None)
        if ks_index is None:
            return None
        ks = self._get(chain[ks_index].api_version, "Kustomization", chain[ks_index].name, chain[ks_index].namespace)
        if ks is None:
            return None
        # the source of *this* Kustomization (its parents may use another repository)
        ref = (ks.get("spec") or {}).get("sourceRef") or {}
        if ref.get("kind") not in API_VERSIONS:
            return None
        src = (
            self._get(
                API_VERSIONS[ref["kind"]], ref["kind"], ref["name"], ref.get("namespace") or chain[ks_index].namespace
            )
            or {}
        )
        # the document that defines the object: the object itself, or the HelmRelease that renders it
        defining = chain[ks_index - 1] if ks_index > 0 else None
        d_kind = defining.kind if defining else str(obj.get("kind"))
        d_name = defining.name if defining else obj["metadata"]["name"]
        d_ns = defining.namespace if defining else obj["metadata"].get("namespace")
        return GitLocation(
            url=str((src.get("spec") or {}).get("url", "")),
            ref={str(k): str(v) for k, v in ((src.get("spec") or {}).get("ref") or {}).items()},
            path=str((ks.get("spec") or {}).get("path") or "./"),
            applied_revision=(ks.get("status") or {}).get("lastAppliedRevision"),
            defining_kind=d_kind,
            defining_name=d_name,
            defining_namespace=d_ns,
        )
