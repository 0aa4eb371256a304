"""Flux provider: questions and the pure generator."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, cast

from gitops_mcp.detection import dns_label as to_label
from gitops_mcp.detection.kinds import GitOpsKinds
from gitops_mcp.fleet import FleetLayout
from gitops_mcp.git.urls import repo_name, url_identity
from gitops_mcp.manifests.validation.schema import BuiltinRules
from gitops_mcp.providers.base import (
    DeploymentSpec,
    ExistingSource,
    Generated,
    OciArtifacts,
    PackageType,
    PlainDirs,
    QuestionContext,
    SourceKind,
    summary_of,
)
from gitops_mcp.providers.common import helm_questions, interval_parser
from gitops_mcp.providers.flux import adapt, checks, kinds
from gitops_mcp.providers.flux.cluster import FluxCluster
from gitops_mcp.providers.flux.fleet import FluxFleet
from gitops_mcp.providers.flux.kinds import GITOPS_KINDS
from gitops_mcp.providers.flux.objects import (
    HelmChartTemplate,
    HelmChartTemplateSpec,
    HelmReleaseSpec,
    KustomizationSpec,
    ObjectRef,
    git_repository,
    helm_release,
    helm_repository,
    kustomization,
    object_ref,
    oci_repository,
)
from gitops_mcp.providers.flux.oci import FluxArtifacts
from gitops_mcp.providers.flux.schemas import RULES
from gitops_mcp.questions import Question, QuestionDef, boolean, dns_label

HELM_CHART_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
_SEMVER_CHARS = set("<>=~^*xX| ,")


def _ref_dict(spec: DeploymentSpec) -> dict[str, str]:
    ref = spec.git_ref
    if ref is None:
        return {"branch": "main"}
    return {ref.kind: ref.value}


def _dns(name: str) -> str:

    return to_label(name)


class FluxProvider(FluxCluster):
    name = "flux"
    title = "Flux"
    description = "Flux GitRepository + Kustomization, or HelmRelease from Git, a Helm repository or OCI"
    fleet: FleetLayout = FluxFleet()

    keywords: tuple[str, ...] = ("flux",)
    # kustomize-controller generates a kustomization of every YAML file below the path
    plain_dirs = PlainDirs((".yaml", ".yml"), subdirectories=True, generate_name=False)

    # -- what the rest of the code asks the provider: rules (schemas.py), kinds (kinds.py), layout
    def builtin_rules(self) -> BuiltinRules:
        return RULES

    reference_issues = staticmethod(checks.reference_issues)
    policy_issues = staticmethod(checks.policy_issues)

    def gitops_kinds(self) -> GitOpsKinds:
        return GITOPS_KINDS

    output_dirs = staticmethod(kinds.output_dirs)
    existing_sources = staticmethod(kinds.existing_sources)
    repo_appliers = staticmethod(kinds.repo_appliers)
    current_api = staticmethod(adapt.current_api)
    update_paths: Mapping[str, tuple[tuple[str, ...], ...]] = MappingProxyType(
        {
            "interval": (("spec", "interval"),),
            "prune": (("spec", "prune"),),
            "health_checks": (("spec", "wait"), ("spec", "timeout")),
            "namespace": (("spec", "targetNamespace"),),
        }
    )
    oci: OciArtifacts | None = FluxArtifacts()

    def unsupported_reason(self, package_type: PackageType, source_kind: SourceKind) -> str | None:
        if package_type == "jsonnet":
            return "Flux cannot render Jsonnet; render it to YAML first, or use Argo CD"
        return None

    def questions(self, ctx: QuestionContext) -> list[QuestionDef]:
        interval = interval_parser(ctx.policy)
        qs = [
            QuestionDef(
                Question(
                    id="flux_namespace", prompt="Namespace of the Flux objects", type="text", default="flux-system"
                ),
                dns_label,
            ),
            QuestionDef(
                Question(
                    id="interval",
                    prompt="How often Flux reconciles the deployment (Go duration)",
                    type="text",
                    default="5m",
                ),
                interval,
            ),
            QuestionDef(
                Question(
                    id="source_interval",
                    prompt="How often Flux fetches the source (Go duration)",
                    type="text",
                    default="1m",
                ),
                interval,
            ),
        ]
        if ctx.package_type in ("kustomize", "manifests"):
            qs += [
                QuestionDef(
                    Question(
                        id="prune",
                        prompt="Delete objects that are removed from Git (prune)?",
                        type="boolean",
                        default=True,
                    ),
                    boolean,
                ),
                QuestionDef(
                    Question(
                        id="health_checks",
                        prompt="Wait for every applied object to become ready before reporting success?",
                        type="boolean",
                        default=True,
                    ),
                    boolean,
                ),
            ]
        else:
            qs.append(
                QuestionDef(
                    Question(
                        id="create_namespace",
                        prompt="Create the target namespace if it is missing?",
                        type="boolean",
                        default=True,
                    ),
                    boolean,
                )
            )
        return qs + helm_questions(ctx)

    # -- generation ------------------------------------------------------------------------
    def generate(self, spec: DeploymentSpec, options: Mapping[str, Any]) -> Generated:
        ns = str(options.get("flux_namespace", "flux-system"))
        interval = str(options.get("interval", "5m"))
        source_interval = str(options.get("source_interval", "1m"))
        objects: list[dict[str, Any]] = []
        summaries = []
        notes: list[str] = []
        package_notes: list[str] = []

        if spec.source_kind == "git":
            src_kind = "GitRepository"
            reused = adapt.bootstrap_source(spec, ns) or self._reusable(spec, ns)
            if reused is not None and reused.serves is not None:
                src_name, src_ns = reused.name, reused.namespace or ns
                notes.append(
                    f"Uses the bootstrap's GitRepository {src_ns}/{src_name}: it already serves this repository to "
                    f"{reused.serves}/ (at the branch the cluster follows)."
                )
            elif reused is not None:
                src_name, src_ns = reused.name, reused.namespace or ns
                notes.append(f"Reusing the GitRepository {src_ns}/{src_name} from {reused.file} (same URL and ref).")
            else:
                src_name, src_ns = self._source_name(spec, ns), ns
                free = adapt.free_name("GitRepository", src_name, ns, spec.around.taken)
                notes += adapt.clash_note("GitRepository", src_name, free, ns, spec.around)
                src_name = free
                repo = git_repository(
                    src_name, ns, {"interval": source_interval, "url": spec.repo_url, "ref": _ref_dict(spec)}
                )
                objects.append(repo)
                ref = _ref_dict(spec)
                summaries.append(
                    summary_of(repo, f"fetches {spec.repo_url} ({next(iter(ref))} {next(iter(ref.values()))})")
                )
                if spec.repo_url and spec.repo_url.startswith("ssh://"):
                    notes.append(
                        f"An ssh:// URL needs a Secret with the deploy key: add spec.secretRef to {src_name} "
                        "(flux create secret git ...)."
                    )
            source_ref = object_ref(src_kind, src_name, src_ns if src_ns != ns else None)
            if spec.package_type == "helm":
                hr = self._helm_release_git(spec, options, ns, interval, source_ref)
                objects.append(hr)
                summaries.append(summary_of(hr, f"installs the chart at ./{spec.path} into {spec.namespace}"))
                notes += adapt.owner_notes(spec, "HelmRelease")
            else:
                ks, ks_notes, namespaces = self._kustomization(spec, options, ns, interval, source_ref)
                for n in namespaces:
                    objects.append(adapt.namespace_object(n))
                    summaries.append(summary_of(objects[-1], "creates the namespace the package needs"))
                objects.append(ks)
                if spec.package_type == "manifests" and spec.nested:
                    package_notes.append(
                        f"Flux applies ./{spec.path} with its subdirectories {', '.join(spec.nested[:5])} "
                        "(one with a kustomization.yaml is built by kustomize)."
                    )
                target = ks["spec"].get("targetNamespace")
                own = ", ".join(spec.around.package.namespaces) if spec.around.package else spec.namespace
                where = f"into {target}" if target else f"into its own namespaces ({own})"
                summaries.append(summary_of(ks, f"applies ./{spec.path} {where}"))
                notes += ks_notes
            notes += adapt.stale_notes(spec.around)
            notes += self._chart_notes(spec)
            notes += [n for n in package_notes if n not in notes]
            package_notes += adapt.stale_notes(spec.around, siblings=False) + self._chart_notes(spec)
        elif spec.source_kind == "helm_repository":
            repo_name_ = _dns(repo_name(spec.chart_url or "") or spec.app_name)
            hrepo = helm_repository(repo_name_, ns, {"interval": source_interval, "url": spec.chart_url})
            objects.append(hrepo)
            summaries.append(summary_of(hrepo, f"indexes the Helm repository {spec.chart_url}"))
            chart_spec: HelmChartTemplateSpec = {
                "chart": spec.chart,
                "sourceRef": object_ref("HelmRepository", repo_name_),
            }
            if spec.chart_version:
                chart_spec["version"] = spec.chart_version
            hr = self._helm_release(spec, options, ns, interval, chart={"spec": chart_spec})
            objects.append(hr)
            summaries.append(summary_of(hr, f"installs {spec.chart} {spec.chart_version or '*'} into {spec.namespace}"))
        else:  # oci
            url = (spec.chart_url or "").rstrip("/")
            if spec.chart and not url.endswith("/" + spec.chart):
                url = f"{url}/{spec.chart}"
            version = spec.chart_version or "*"
            ref = {"semver": version} if set(version) & _SEMVER_CHARS else {"tag": version}
            oci = oci_repository(
                spec.app_name,
                ns,
                {
                    "interval": source_interval,
                    "url": url,
                    "ref": ref,
                    "layerSelector": {"mediaType": HELM_CHART_LAYER, "operation": "copy"},
                },
            )
            objects.append(oci)
            summaries.append(summary_of(oci, f"pulls the chart {url} ({next(iter(ref))} {version})"))
            hr = self._helm_release(spec, options, ns, interval, chart_ref=object_ref("OCIRepository", spec.app_name))
            objects.append(hr)
            summaries.append(summary_of(hr, f"installs the OCI chart into {spec.namespace}"))
        return Generated(objects=objects, summary=summaries, notes=notes, package_notes=package_notes)

    def _reusable(self, spec: DeploymentSpec, ns: str) -> ExistingSource | None:
        if not spec.repo_url:
            return None
        want = url_identity(spec.repo_url)
        ref = _ref_dict(spec)
        for src in spec.existing_sources:
            if src.kind == "GitRepository" and url_identity(src.url) == want and (src.ref or {}) == ref:
                return src
        return None

    def _source_name(self, spec: DeploymentSpec, ns: str) -> str:
        base = _dns(repo_name(spec.repo_url or "") or spec.app_name)
        taken = {(s.namespace or ns, s.name) for s in spec.existing_sources if s.kind == "GitRepository"}
        if (ns, base) not in taken:
            return base
        return _dns(f"{base}-{spec.app_name}")

    def _kustomization(
        self, spec: DeploymentSpec, options: Mapping[str, Any], ns: str, interval: str, source_ref: ObjectRef
    ) -> tuple[dict[str, Any], list[str], list[str]]:
        """The Kustomization, its notes, and the namespaces to create beside it."""
        path = "./" if spec.path in (None, ".", "") else f"./{spec.path}"
        name = adapt.free_name("Kustomization", spec.app_name, ns, spec.around.taken)
        notes = adapt.clash_note("Kustomization", spec.app_name, name, ns, spec.around)
        notes += adapt.owner_notes(spec, "Kustomization")
        follow, follow_notes = adapt.conventions(spec.around, ns, name)
        raw: dict[str, Any] = {"dependsOn": follow["dependsOn"]} if "dependsOn" in follow else {}
        raw |= {"interval": interval, "path": path, "prune": bool(options.get("prune", True)), "sourceRef": source_ref}
        raw |= {k: follow[k] for k in adapt.CONVENTION_FIELDS if k in follow}
        ks_spec = cast(KustomizationSpec, raw)
        target, ns_notes = adapt.target_namespace(spec)
        if target:
            ks_spec["targetNamespace"] = target
        if options.get("health_checks", True):
            ks_spec["wait"] = True
            ks_spec["timeout"] = "5m"
        notes += follow_notes + ns_notes
        # unknown without the package's files (one-shot generation from a spec): nothing assumed
        missing = adapt.missing_namespaces(spec, target, ns) if spec.around.package is not None else []
        if missing:
            known = "" if spec.around.cluster_namespaces is not None else " (the cluster could not be asked)"
            how = (
                " (nothing applies this directory yet: register applies it with the Flux objects)"
                if spec.around.applied is False
                else ""
            )
            notes.append(
                f"Namespace {', '.join(missing)} is neither in the package nor in the cluster{known}: "
                f"a Namespace object is added beside the Kustomization{how}."
            )
        return kustomization(name, ns, ks_spec), notes, missing

    @staticmethod
    def _chart_notes(spec: DeploymentSpec) -> list[str]:
        facts = spec.around.package
        if facts is None or not facts.chart_dependencies or facts.chart_dependencies_built:
            return []
        return [
            f"The chart's dependencies ({'; '.join(facts.chart_dependencies)}) are not vendored in charts/: "
            "source-controller builds them on every chart build, from repositories it can reach without "
            "credentials (a private one needs a HelmRepository with a secretRef); run helm dependency build "
            "and commit charts/ to pin them."
        ]

    def _helm_release_git(
        self, spec: DeploymentSpec, options: Mapping[str, Any], ns: str, interval: str, source_ref: ObjectRef
    ) -> dict[str, Any]:
        chart_dir = spec.path or "."
        chart_spec: HelmChartTemplateSpec = {
            "chart": f"./{chart_dir}" if chart_dir != "." else "./",
            "reconcileStrategy": "Revision",
            "sourceRef": source_ref,
        }
        if spec.value_files:
            prefix = "" if chart_dir == "." else f"{chart_dir}/"
            # valuesFiles replace the chart's values.yaml, so it is listed first.
            files = ["values.yaml", *[f for f in spec.value_files if f != "values.yaml"]]
            chart_spec["valuesFiles"] = [f"./{prefix}{f}" for f in files]
        return self._helm_release(spec, options, ns, interval, chart={"spec": chart_spec})

    def _helm_release(
        self,
        spec: DeploymentSpec,
        options: Mapping[str, Any],
        ns: str,
        interval: str,
        *,
        chart: HelmChartTemplate | None = None,
        chart_ref: ObjectRef | None = None,
    ) -> dict[str, Any]:
        """``chart`` (a chart from a source) or ``chart_ref`` (an OCIRepository holding the chart)."""
        hr_spec: HelmReleaseSpec = {"interval": interval}
        follow, _ = adapt.conventions(spec.around, ns, spec.app_name)
        if "serviceAccountName" in follow:
            hr_spec["serviceAccountName"] = follow["serviceAccountName"]
        if chart is not None:
            hr_spec["chart"] = chart
        elif chart_ref is not None:
            hr_spec["chartRef"] = chart_ref
        hr_spec["releaseName"] = spec.app_name
        hr_spec["targetNamespace"] = spec.namespace
        hr_spec["storageNamespace"] = spec.namespace
        if options.get("create_namespace", True):
            hr_spec["install"] = {"createNamespace": True}
        if spec.values:
            hr_spec["values"] = dict(spec.values)
        return helm_release(adapt.free_name("HelmRelease", spec.app_name, ns, spec.around.taken), ns, hr_spec)
