"""The kapp provider: every capability of :class:`~gitops_mcp.providers.base.Provider`, none inherited.

One kind, ``App`` in ``kapp.example.test/v1``, applies a Git path (``spec.git``): it is the source,
the applier and the owner of what it applies (its objects carry the label ``kapp.example.test/app``).
A reconcile request is the annotation ``kapp.example.test/requested-at``, handled when
``status.handledAt`` says the token. Its fleet layout is one App per environment; its OCI artifacts
are an ``App`` whose ``spec.oci`` names the artifact.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from gitops_mcp.detection.kinds import GitOpsKinds, as_map, as_str
from gitops_mcp.detection.models import GitOpsObject, GitOpsStructure
from gitops_mcp.errors import UserInputError
from gitops_mcp.fleet import FleetFile, FleetPlan, FleetSpec
from gitops_mcp.manifests.validation.references import url_issue
from gitops_mcp.manifests.validation.schema import BuiltinRules, Found, KindRule, enum, obj
from gitops_mcp.manifests.yaml import dump_documents
from gitops_mcp.providers.base import (
    DeploymentSpec,
    ExistingOwner,
    ExistingSource,
    Generated,
    OciArtifacts,
    PackageType,
    PlainDirs,
    QuestionContext,
    SourceKind,
    summary_of,
)
from gitops_mcp.providers.live import (
    Applier,
    ChartRelease,
    ClusterReader,
    FieldEdit,
    GitLocation,
    KindInfo,
    Managed,
    Obj,
    ObjectRef,
    OwnerLink,
    OwnerStage,
    OwnerStep,
    ReconcilePlan,
    ReconcileStep,
    RemediationRoute,
    Removal,
    Rendering,
    SyncStatus,
    repo_dir,
)
from gitops_mcp.questions import Question, QuestionDef, dns_label, select
from gitops_mcp.settings import PolicySettings
from gitops_mcp.syntax import GIT_URL

GROUP = "kapp.example.test"
API = f"{GROUP}/v1"
MODES = ("deploy", "dry-run")
OWNER_LABEL = f"{GROUP}/app"  # "<namespace>.<name>" of the App that applied the object
REQUESTED_AT = f"{GROUP}/requested-at"


class KappFleet:
    """clusters/<env>/app.yaml: one App per environment applying apps/<env>."""

    reserved = frozenset({"kapp-system"})
    options: Mapping[str, Any] = {"kapp_mode": "deploy"}
    install_manifests_use: str | None = None

    def parse_options(self, given: Mapping[str, Any]) -> dict[str, Any]:
        if given["kapp_mode"] not in MODES:
            raise ValueError(f"kapp_mode must be one of {', '.join(MODES)}")
        return {"kapp_mode": given["kapp_mode"]}

    def kept_dir(self, env: str) -> str | None:
        return f"clusters/{env}/kapp-system"

    def wants_install_manifests(self, spec: FleetSpec) -> str | None:
        return None

    def check_install_manifests(self, rel: str, docs: list[Any]) -> None:
        raise UserInputError("kapp takes no install manifests")

    def check(self, spec: FleetSpec) -> None:
        if spec.notifications is not None:
            raise ValueError("kapp sends no notifications")

    def plan(self, spec: FleetSpec, install_manifests: str | None) -> FleetPlan:
        files = []
        for env in spec.environments:
            if env in spec.bootstrapped:
                continue
            app = _app(f"{env}-apps", "kapp", spec.repo_url, spec.branch, f"apps/{env}", env, spec.option("kapp_mode"))
            files.append(FleetFile(path=f"clusters/{env}/app.yaml", content=dump_documents([app]), purpose=env))
        return FleetPlan(files=files, notes=[f"kapp applies {len(files)} environment(s)"])


class KappArtifacts:
    config_type = "application/vnd.kapp.config.v1+json"
    content_type = "application/vnd.kapp.content.v1.tar+gzip"
    namespace = "kapp"

    def objects(
        self, name: str, namespace: str, url: str, tag: str, interval: str, target_namespace: str | None, insecure: bool
    ) -> list[dict[str, Any]]:
        spec = {"oci": {"url": url, "tag": tag}, "targetNamespace": target_namespace or namespace, "mode": "deploy"}
        return [{"apiVersion": API, "kind": "App", "metadata": {"name": name, "namespace": namespace}, "spec": spec}]

    def revision(self, tag: str, digest: str) -> str:
        return f"{tag}/{digest}"


def _app(name: str, ns: str, url: str | None, ref: str, path: str | None, target: str, mode: str) -> Obj:
    git = {"url": url, "ref": ref, "path": path}
    spec = {"git": git, "targetNamespace": target, "mode": mode}
    return {"apiVersion": API, "kind": "App", "metadata": {"name": name, "namespace": ns}, "spec": spec}


def _read_app(found: GitOpsObject, spec: Mapping[str, Any]) -> None:
    git = as_map(spec.get("git"))
    found.url, found.path = as_str(git.get("url")), as_str(git.get("path"))


class KappProvider:
    name = "kapp"
    title = "Kapp GitOps"
    description = "A test-only engine: one App object that deploys a Kustomize path"
    keywords: tuple[str, ...] = ("kapp",)
    kinds: tuple[KindInfo, ...] = (KindInfo("App", API, "apps", owner_root=True),)
    verify_kinds: tuple[str, ...] = ("App",)
    root_kinds: tuple[str, ...] = ("App",)
    fleet = KappFleet()
    oci: OciArtifacts | None = KappArtifacts()
    chart_releases: Mapping[str, ChartRelease] = {}  # kapp renders no charts
    plain_dirs = PlainDirs((".yaml", ".yml"), subdirectories=True)  # deploys Kustomize paths only

    # -- the wizard -------------------------------------------------------------------------------------
    def unsupported_reason(self, package_type: PackageType, source_kind: SourceKind) -> str | None:
        return None if package_type == "kustomize" and source_kind == "git" else "kapp deploys Kustomize paths only"

    def questions(self, ctx: QuestionContext) -> list[QuestionDef]:
        return [
            QuestionDef(
                Question(id="kapp_namespace", prompt="Namespace of the kapp controller", type="text", default="kapp"),
                dns_label,
            ),
            QuestionDef(
                Question(id="kapp_mode", prompt="Mode", type="select", options=list(MODES), default="deploy"),
                select(MODES),
            ),
        ]

    def generate(self, spec: DeploymentSpec, options: Mapping[str, Any]) -> Generated:
        ns = options.get("kapp_namespace", "kapp")
        app = _app(spec.app_name, ns, spec.repo_url, spec.revision or "HEAD", spec.path, spec.namespace, "deploy")
        app["spec"]["mode"] = options.get("kapp_mode", "deploy")
        return Generated(objects=[app], summary=[summary_of(app, f"deploys ./{spec.path} into {spec.namespace}")])

    # -- validation and detection ----------------------------------------------------------------------------
    def builtin_rules(self) -> BuiltinRules:
        git = obj({"url": {"type": "string"}, "ref": {"type": "string"}, "path": {"type": "string"}}, ["url", "path"])
        oci = obj({"url": {"type": "string"}, "tag": {"type": "string"}}, ["url", "tag"])
        spec = obj({"git": git, "oci": oci, "targetNamespace": {"type": "string"}, "mode": enum(*MODES)}, ["mode"])
        return {(API, "App"): KindRule(spec)}

    def reference_issues(self, doc: Mapping[str, Any]) -> Found:
        out: Found = []
        if doc.get("apiVersion") == API and doc.get("kind") == "App":
            url_issue(as_map(as_map(doc.get("spec")).get("git")).get("url"), "spec.git.url", GIT_URL, out)
        return out

    def policy_issues(self, doc: Mapping[str, Any], policy: PolicySettings) -> list[tuple[str, str, str]]:
        git = as_map(as_map(doc.get("spec")).get("git"))
        path = git.get("path")
        if doc.get("apiVersion") == API and policy.relative_paths and isinstance(path, str) and ".." in path:
            return [("relative_paths", "spec.git.path", f"{path!r} must stay inside the repository")]
        return []

    def gitops_kinds(self) -> GitOpsKinds:
        return GitOpsKinds(kinds={GROUP: frozenset({"App"})}, readers={"App": _read_app})

    def output_dirs(self, found: GitOpsStructure) -> list[str]:
        return sorted({posixpath.dirname(o.file) or "." for o in found.objects if o.api_version == API})

    def existing_sources(self, found: GitOpsStructure) -> list[ExistingSource]:
        return []  # an App names its repository itself

    update_paths: Mapping[str, tuple[tuple[str, ...], ...]] = MappingProxyType({})

    def current_api(self, doc: Mapping[str, Any]) -> str | None:
        return None

    def repo_appliers(self, found: GitOpsStructure) -> list[ExistingOwner]:
        return []  # a committed App is not read for the path it applies

    # -- the live side -------------------------------------------------------------------------------------
    def manages_api_group(self, group: str) -> bool:
        return group == GROUP

    def normalize_status(self, ref: ObjectRef, live: Obj) -> SyncStatus:
        status = live.get("status") or {}
        state = {"Reconciled": "ready", "Failed": "failed"}.get(str(status.get("phase")), "progressing")
        return SyncStatus(
            **ref.model_dump(),
            state=state,  # type: ignore[arg-type]
            message=str(status.get("message") or f"phase {status.get('phase') or 'pending'}"),
            revision=status.get("deployedRevision"),
        )

    def reconcile_plan(self, ref: ObjectRef, live: Obj, token: str, *, with_source: bool, sync: bool) -> ReconcilePlan:
        def handled(o: Obj) -> bool:
            return (o.get("status") or {}).get("handledAt") == token

        patch = {"metadata": {"annotations": {REQUESTED_AT: token}}}
        return ReconcilePlan(steps=(ReconcileStep(target=ref, patch=patch, handled=handled),), controller="kapp")

    def managed_objects(self, ref: ObjectRef, live: Obj) -> list[Managed] | None:
        """What an App applied: ``status.applied`` ([{apiVersion, kind, name, namespace}]); kapp keeps no health."""
        return [
            Managed(
                ObjectRef(api_version=a["apiVersion"], kind=a["kind"], name=a["name"], namespace=a.get("namespace"))
            )
            for a in (live.get("status") or {}).get("applied") or []
        ]

    def owner_of(self, cluster: ClusterReader, live: Obj, stage: OwnerStage) -> OwnerStep | None:
        owner = ((live.get("metadata") or {}).get("labels") or {}).get(OWNER_LABEL)
        if stage != "markers" or not owner or "." not in owner:
            return None
        ns, name = owner.split(".", 1)
        app = cluster.get(API, "App", name, ns) or {}
        return OwnerLink(api_version=API, kind="App", name=name, namespace=ns, via=f"label {OWNER_LABEL}"), app

    def git_location(self, cluster: ClusterReader, live: Obj, chain: Sequence[OwnerLink]) -> GitLocation | None:
        app = next((c for c in chain if c.kind == "App"), None)
        found = cluster.get(API, "App", app.name, app.namespace) if app else None
        git = as_map(as_map((found or {}).get("spec")).get("git"))
        if not git.get("url") or app is None:
            return None
        meta = live.get("metadata") or {}
        return GitLocation(
            url=str(git["url"]),
            ref={"branch": str(git.get("ref") or "main")},
            path=repo_dir(git.get("path")),
            defining_kind=str(live.get("kind")),
            defining_name=str(meta.get("name")),
            defining_namespace=None,  # the App sets it (targetNamespace)
        )

    def appliers(self, cluster: ClusterReader) -> list[Applier]:
        out = []
        for app in cluster.list(API, "App") or []:
            git, meta = as_map(as_map(app.get("spec")).get("git")), app.get("metadata") or {}
            if git.get("url"):
                ref = ObjectRef(api_version=API, kind="App", name=meta["name"], namespace=meta.get("namespace"))
                out.append(Applier(ref=ref, repo_url=str(git["url"]), path=repo_dir(git.get("path"))))
        return out

    def applier_in(self, chain: Sequence[OwnerLink]) -> OwnerLink | None:
        return next((c for c in chain if c.kind == "App"), None)

    def remediation_route(self, chain: Sequence[OwnerLink], git: GitLocation | None) -> RemediationRoute:
        if any(c.kind == "App" and c.name.endswith("-generated") for c in chain):
            return RemediationRoute(refusal="the App is generated; change its generator")
        return RemediationRoute()

    # -- removal and suspension: an App prunes unless ``spec.prune: false``; ``spec.paused`` stops it --------
    def prunes(self, applier: Obj, removed: Obj) -> str | None:
        if applier.get("kind") == "App" and as_map(applier.get("spec")).get("prune") is False:
            return f"the App {applier['metadata']['name']} has prune: false; set it to true first"
        return None

    def removal(self, live: Obj) -> Removal:
        if live.get("kind") != "App":
            return Removal()
        name = as_str(as_map(live.get("metadata")).get("name"))
        return Removal(bootstrap=f"the App {name} is kapp's own" if name == "kapp-system" else None)

    def rendering(self, cluster: ClusterReader, applier: Obj) -> Rendering | str:
        """kapp deploys the App's Git path as a plain directory, into its targetNamespace."""
        from gitops_mcp.manifests.render import RenderPlan

        if applier.get("kind") != "App":
            return f"a kapp {applier.get('kind')} applies nothing"
        spec = as_map(applier.get("spec"))
        git, target = as_map(spec.get("git")), spec.get("targetNamespace")

        def finish(obj: Obj, namespaced: bool) -> Obj:
            meta = obj.setdefault("metadata", {})
            if namespaced and target and not meta.get("namespace"):
                meta["namespace"] = target
            return obj

        plan = RenderPlan(path=repo_dir(git.get("path")))
        return Rendering(plan=plan, field_manager="kapp", finish=finish, repo_url=str(git.get("url") or "") or None)

    def suspension(self, doc: Mapping[str, Any], suspend: bool) -> tuple[FieldEdit, ...]:
        if doc.get("kind") != "App":
            raise UserInputError(f"a kapp {doc.get('kind')} cannot be paused")
        if bool(as_map(doc.get("spec")).get("paused")) is suspend:
            return ()
        return ((("spec", "paused"), suspend),)
