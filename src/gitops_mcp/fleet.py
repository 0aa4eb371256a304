"""A multi-environment GitOps repository layout (``scaffold_fleet``): pure, no I/O.

The layout follows the one Flux's own examples use (flux2-kustomize-helm-example)::

    clusters/<env>/            what the environment's cluster syncs
      flux-system/             Flux: gotk-sync.yaml (+ the Flux install), kept as is when bootstrapped
      infrastructure.yaml      Flux: Kustomizations infra-controllers -> infra-configs (dependsOn)
      apps.yaml                Flux: Kustomization apps (dependsOn infra-configs)
      notifications.yaml       Flux: notification Provider + Alert (optional)
      root.yaml                Argo CD: the environment's app of apps
      applications/            Argo CD: infra-controllers, infra-configs, apps (sync waves -2, -1, 0)
    infrastructure/controllers/  shared cluster add-ons (applied first)
    infrastructure/configs/      their configuration (after the controllers)
    apps/base/                   shared app bases
    apps/<env>/                  one overlay per environment (``promote`` moves versions between them)

Environments in ``auto_sync`` (default: the first) sync on their own; the others change only
through a reviewed pull request to their overlay (``promote``), and with Argo CD also need a
manual sync.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from gitops_mcp.manifests.yaml import dump_documents
from gitops_mcp.providers.argocd.provider import API_VERSION as ARGO_API
from gitops_mcp.providers.argocd.provider import IN_CLUSTER
from gitops_mcp.providers.flux.provider import HELM_API, KUSTOMIZE_API, SOURCE_API
from gitops_mcp.questions import AnswerError, dns_label, ref_name

NOTIFICATION_API = "notification.toolkit.fluxcd.io/v1beta3"
KUSTOMIZE_CONFIG_API = "kustomize.config.k8s.io/v1beta1"
FLUX_CHART_REPO = "https://fluxcd-community.github.io/helm-charts"
FLUX_NS = "flux-system"
ARGO_NS = "argocd"
MAX_ENVIRONMENTS = 10

# Flux notification Provider type -> Argo CD notifications service of the same kind.
NOTIFY_SERVICES = {
    "slack": "slack",
    "msteams": "teams",
    "googlechat": "googlechat",
    "webex": "webex",
    "telegram": "telegram",
    "opsgenie": "opsgenie",
    "pagerduty": "pagerdutyv2",
    "generic": "webhook",
}
NotifyType = Literal["slack", "msteams", "googlechat", "webex", "telegram", "opsgenie", "pagerduty", "generic"]


def _parsed(parse: Callable[[Any], str], value: Any) -> str:
    """A question parser inside a pydantic validator (its AnswerError becomes a ValueError)."""
    try:
        return parse(value)
    except AnswerError as exc:
        raise ValueError(str(exc)) from exc


class Notifications(BaseModel):
    """Where sync failures are reported. The webhook address is a secret: it is never an argument;
    it lives in a Kubernetes Secret the user creates (Flux) or in argocd-notifications-secret."""

    type: NotifyType = Field(description="Flux Provider type; Argo CD gets the matching notifications service")
    channel: str | None = Field(None, description="Channel / room, where the type has one (e.g. #deploys)")
    secret_name: str = Field("notifications", description="Secret (key 'address') with the webhook URL (Flux)")

    @field_validator("secret_name")
    @classmethod
    def _secret(cls, v: str) -> str:
        return _parsed(dns_label, v)

    @field_validator("channel")
    @classmethod
    def _channel(cls, v: str | None) -> str | None:
        if v is not None and (not v.strip() or len(v) > 200 or any(c in v for c in "\n\r\x00")):
            raise ValueError("channel must be one line of at most 200 characters")
        return v.strip() if v else None


class FleetSpec(BaseModel):
    """Everything the layout depends on, validated."""

    provider: Literal["flux", "argocd"]
    environments: list[str] = Field(default_factory=lambda: ["dev", "staging", "production"])
    auto_sync: list[str] | None = Field(None, description="Environments that sync on their own (default: the first)")
    repo_url: str = Field(description="Git URL the controllers fetch (https:// or ssh://)")
    branch: str = "main"
    flux_install: Literal["bootstrap", "chart", "manifests"] = Field(
        "bootstrap",
        description="bootstrap: leave flux-system to `flux bootstrap`; chart: a HelmRelease of the flux2 chart "
        "manages Flux; manifests: the user's `flux install --export` file becomes gotk-components.yaml",
    )
    flux_chart_version: str = "2.x"
    notifications: Notifications | None = None
    bootstrapped: list[str] = Field(
        default_factory=list, description="Environments whose clusters/<env>/flux-system already exists (kept)"
    )

    @field_validator("environments")
    @classmethod
    def _envs(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("name at least one environment, e.g. [dev, staging, production]")
        if len(v) > MAX_ENVIRONMENTS:
            raise ValueError(f"at most {MAX_ENVIRONMENTS} environments")
        out: list[str] = []
        for e in v:
            try:
                name = dns_label(e)
            except AnswerError as exc:
                raise ValueError(f"environment {exc}") from exc
            if name in ("base", "flux-system"):
                raise ValueError(f"{name!r} cannot be an environment name (it is a directory of the layout)")
            if name in out:
                raise ValueError(f"environment {name!r} is named twice")
            out.append(name)
        return out

    @field_validator("branch")
    @classmethod
    def _branch(cls, v: str) -> str:
        return _parsed(ref_name, v)

    def is_auto(self, env: str) -> bool:
        return env in (self.auto_sync or [])

    @property
    def promoted(self) -> list[str]:
        """Environments that change only through promotion (no automatic sync)."""
        return [e for e in self.environments if not self.is_auto(e)]

    @model_validator(mode="after")
    def _auto(self) -> FleetSpec:
        if self.auto_sync is None:
            self.auto_sync = self.environments[:1]
        unknown = [e for e in self.auto_sync if e not in self.environments]
        if unknown:
            raise ValueError(f"auto_sync names environments that are not in environments: {', '.join(unknown)}")
        n = self.notifications
        if self.provider == "argocd" and n is not None:
            if n.type == "generic":
                raise ValueError("Argo CD webhooks are named services: use another type, or subscribe by hand")
            if not n.channel:
                raise ValueError(
                    "Argo CD subscriptions need a recipient: set notifications.channel (a Slack channel, a Teams "
                    "webhook name, ...)"
                )
        return self


class FleetFile(BaseModel):
    path: str = Field(description="Relative to the repository root")
    content: str
    purpose: str


class FleetPlan(BaseModel):
    files: list[FleetFile]
    notes: list[str]


def _kustomize_config(comment: str, resources: list[str]) -> str:
    listed = "\n".join(f"  - {r}" for r in resources) if resources else ""
    body = f"resources:\n{listed}\n" if resources else "resources: []\n"
    return f"# {comment}\napiVersion: {KUSTOMIZE_CONFIG_API}\nkind: Kustomization\n{body}"


def _shared_files(spec: FleetSpec) -> list[FleetFile]:
    files = [
        FleetFile(
            path="infrastructure/controllers/kustomization.yaml",
            content=_kustomize_config(
                "Cluster add-ons every environment runs (controllers, their CRDs); applied first.", []
            ),
            purpose="shared infrastructure controllers",
        ),
        FleetFile(
            path="infrastructure/configs/kustomization.yaml",
            content=_kustomize_config("Configuration of the add-ons (issuers, gateways); applied after them.", []),
            purpose="shared infrastructure configuration",
        ),
        FleetFile(
            path="apps/base/kustomization.yaml",
            content=_kustomize_config("Shared app bases: one directory per app, listed here.", []),
            purpose="app bases shared by every environment",
        ),
    ]
    files.extend(
        FleetFile(
            path=f"apps/{env}/kustomization.yaml",
            content=_kustomize_config(
                f"The {env} overlay: what {env} runs, and its own versions and values.", ["../base"]
            ),
            purpose=f"{env} overlay of the apps",
        )
        for env in spec.environments
    )
    return files


# -- Flux ----------------------------------------------------------------------------------------------


def _flux_ks(name: str, path: str, depends_on: str | None, interval: str = "10m") -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if depends_on:
        spec["dependsOn"] = [{"name": depends_on}]
    spec.update(
        {
            "interval": interval,
            "retryInterval": "2m",
            "timeout": "5m",
            "path": path,
            "prune": True,
            "wait": True,
            "sourceRef": {"kind": "GitRepository", "name": FLUX_NS},
        }
    )
    return {
        "apiVersion": KUSTOMIZE_API,
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": FLUX_NS},
        "spec": spec,
    }


def _flux_sync(spec: FleetSpec, env: str) -> str:
    repo: dict[str, Any] = {"interval": "1m", "ref": {"branch": spec.branch}, "url": spec.repo_url}
    if spec.repo_url.startswith("ssh://"):
        repo["secretRef"] = {"name": FLUX_NS}
    objs = [
        {
            "apiVersion": SOURCE_API,
            "kind": "GitRepository",
            "metadata": {"name": FLUX_NS, "namespace": FLUX_NS},
            "spec": repo,
        },
        {
            "apiVersion": KUSTOMIZE_API,
            "kind": "Kustomization",
            "metadata": {"name": FLUX_NS, "namespace": FLUX_NS},
            "spec": {
                "interval": "10m",
                "path": f"./clusters/{env}",
                "prune": True,
                "sourceRef": {"kind": "GitRepository", "name": FLUX_NS},
            },
        },
    ]
    return dump_documents(objs)


def _flux_chart(spec: FleetSpec) -> str:
    objs = [
        {
            "apiVersion": SOURCE_API,
            "kind": "HelmRepository",
            "metadata": {"name": "fluxcd-community", "namespace": FLUX_NS},
            "spec": {"interval": "1h", "url": FLUX_CHART_REPO},
        },
        {
            "apiVersion": HELM_API,
            "kind": "HelmRelease",
            "metadata": {"name": "flux2", "namespace": FLUX_NS},
            "spec": {
                "interval": "1h",
                "chart": {
                    "spec": {
                        "chart": "flux2",
                        "version": spec.flux_chart_version,
                        "sourceRef": {"kind": "HelmRepository", "name": "fluxcd-community"},
                    }
                },
                "releaseName": "flux2",
                "targetNamespace": FLUX_NS,
                "storageNamespace": FLUX_NS,
                "install": {"crds": "Create"},
                "upgrade": {"crds": "CreateReplace"},
            },
        },
    ]
    return dump_documents(objs)


def _flux_notifications(spec: FleetSpec, env: str) -> str:
    n = spec.notifications
    assert n is not None
    provider: dict[str, Any] = {"type": n.type}
    if n.channel:
        provider["channel"] = n.channel
    provider["secretRef"] = {"name": n.secret_name}
    auto = spec.is_auto(env)
    objs = [
        {
            "apiVersion": NOTIFICATION_API,
            "kind": "Provider",
            "metadata": {"name": n.type, "namespace": FLUX_NS},
            "spec": provider,
        },
        {
            "apiVersion": NOTIFICATION_API,
            "kind": "Alert",
            "metadata": {"name": env, "namespace": FLUX_NS},
            "spec": {
                "providerRef": {"name": n.type},
                # Environments that sync on their own report failures only; promoted ones every event.
                "eventSeverity": "error" if auto else "info",
                "eventSources": [
                    {"kind": "GitRepository", "name": "*"},
                    {"kind": "Kustomization", "name": "*"},
                    {"kind": "HelmRelease", "name": "*"},
                ],
                "eventMetadata": {"env": env},
            },
        },
    ]
    return dump_documents(objs)


def _flux_files(spec: FleetSpec, install_manifests: str | None) -> tuple[list[FleetFile], list[str]]:
    files: list[FleetFile] = []
    notes: list[str] = []
    for env in spec.environments:
        base = f"clusters/{env}"
        if env in spec.bootstrapped:
            notes.append(f"{base}/flux-system already exists (a bootstrap); it is kept as it is.")
        elif spec.flux_install == "bootstrap":
            notes.append(
                f"Bootstrap {env}: flux bootstrap git --url={spec.repo_url} --branch={spec.branch} --path={base} "
                "(it writes flux-system/ there)."
            )
        else:
            resources = ["gotk-sync.yaml"]
            if spec.flux_install == "manifests":
                assert install_manifests is not None
                resources.insert(0, "gotk-components.yaml")
                files.append(
                    FleetFile(
                        path=f"{base}/flux-system/gotk-components.yaml",
                        content=install_manifests,
                        purpose=f"the Flux controllers and CRDs for {env} (your install manifests)",
                    )
                )
            else:
                resources.append("flux.yaml")
                files.append(
                    FleetFile(
                        path=f"{base}/flux-system/flux.yaml",
                        content=_flux_chart(spec),
                        purpose=f"Flux manages its own install in {env} (flux2 chart {spec.flux_chart_version})",
                    )
                )
            files.append(
                FleetFile(
                    path=f"{base}/flux-system/gotk-sync.yaml",
                    content=_flux_sync(spec, env),
                    purpose=f"{env} syncs {spec.repo_url} ({spec.branch}) at ./{base}",
                )
            )
            files.append(
                FleetFile(
                    path=f"{base}/flux-system/kustomization.yaml",
                    content=_kustomize_config("Flux itself, as flux bootstrap lays it out.", resources),
                    purpose=f"the flux-system kustomization of {env}",
                )
            )
            first = (
                f"helm install flux2 flux2 --repo {FLUX_CHART_REPO} -n {FLUX_NS} --create-namespace"
                if spec.flux_install == "chart"
                else f"kubectl apply -f {base}/flux-system/gotk-components.yaml"
            )
            ssh = spec.repo_url.startswith("ssh://")
            secret = f" and the deploy-key Secret {FLUX_NS} (flux create secret git)" if ssh else ""
            notes.append(
                f"First install on the {env} cluster: {first}, then kubectl apply -k {base}/flux-system{secret}."
            )
        files.append(
            FleetFile(
                path=f"{base}/infrastructure.yaml",
                content=dump_documents(
                    [
                        _flux_ks("infra-controllers", "./infrastructure/controllers", None, "1h"),
                        _flux_ks("infra-configs", "./infrastructure/configs", "infra-controllers", "1h"),
                    ]
                ),
                purpose=f"{env}: infrastructure controllers, then their configs",
            )
        )
        files.append(
            FleetFile(
                path=f"{base}/apps.yaml",
                content=dump_documents([_flux_ks("apps", f"./apps/{env}", "infra-configs")]),
                purpose=f"{env}: the apps overlay, after the infrastructure is ready",
            )
        )
        if spec.notifications is not None:
            files.append(
                FleetFile(
                    path=f"{base}/notifications.yaml",
                    content=_flux_notifications(spec, env),
                    purpose=f"{env}: {spec.notifications.type} alerts",
                )
            )
    manual = spec.promoted
    if manual:
        notes.append(
            f"Flux applies every environment from {spec.branch}; {', '.join(manual)} change only when their "
            "overlay under apps/ changes: move versions there with promote (a pull request)."
        )
    if spec.notifications is not None:
        notes.append(
            f"Create the Secret {FLUX_NS}/{spec.notifications.secret_name} with the webhook in its 'address' key on "
            f"each cluster (kubectl create secret generic {spec.notifications.secret_name} -n {FLUX_NS} "
            "--from-literal=address=...); it is not written to Git."
        )
    return files, notes


# -- Argo CD -------------------------------------------------------------------------------------------


def _argo_app(
    spec: FleetSpec, name: str, path: str, namespace: str, wave: int | None, auto: bool, extra: dict[str, str]
) -> dict[str, Any]:
    annotations: dict[str, str] = {}
    if wave is not None:
        annotations["argocd.argoproj.io/sync-wave"] = str(wave)
    annotations.update(extra)
    meta: dict[str, Any] = {"name": name, "namespace": ARGO_NS}
    if annotations:
        meta["annotations"] = annotations
    sync: dict[str, Any] = {}
    if auto:
        sync["automated"] = {"prune": True, "selfHeal": True}
    sync["syncOptions"] = ["CreateNamespace=true"]
    return {
        "apiVersion": ARGO_API,
        "kind": "Application",
        "metadata": meta,
        "spec": {
            "project": "default",
            "source": {"repoURL": spec.repo_url, "targetRevision": spec.branch, "path": path},
            "destination": {"server": IN_CLUSTER, "namespace": namespace},
            "syncPolicy": sync,
        },
    }


def _argo_files(spec: FleetSpec) -> tuple[list[FleetFile], list[str]]:
    files: list[FleetFile] = []
    subscribe: dict[str, str] = {}
    if spec.notifications is not None:
        service = NOTIFY_SERVICES[spec.notifications.type]
        target = spec.notifications.channel or ""
        subscribe = {
            f"notifications.argoproj.io/subscribe.on-sync-failed.{service}": target,
            f"notifications.argoproj.io/subscribe.on-health-degraded.{service}": target,
        }
    for env in spec.environments:
        base = f"clusters/{env}"
        auto = spec.is_auto(env)
        files.append(
            FleetFile(
                path=f"{base}/root.yaml",
                content=dump_documents(
                    [_argo_app(spec, f"{env}-root", f"{base}/applications", ARGO_NS, None, True, {})]
                ),
                purpose=f"{env}: the app of apps (apply once: kubectl apply -n {ARGO_NS} -f {base}/root.yaml)",
            )
        )
        for name, path, wave, what in (
            ("infra-controllers", "infrastructure/controllers", -2, "infrastructure controllers (first)"),
            ("infra-configs", "infrastructure/configs", -1, "infrastructure configs (second)"),
            ("apps", f"apps/{env}", 0, "the apps overlay (last)"),
        ):
            files.append(
                FleetFile(
                    path=f"{base}/applications/{name}.yaml",
                    content=dump_documents([_argo_app(spec, f"{env}-{name}", path, "default", wave, auto, subscribe)]),
                    purpose=f"{env}: {what}, {'automatic' if auto else 'manual'} sync",
                )
            )
    notes = [
        "Sync waves order the child Applications only when Argo CD assesses Application health: add the "
        "argoproj.io/Application health check to argocd-cm (resource.customizations.health.argoproj.io_Application).",
    ]
    manual = spec.promoted
    if manual:
        notes.append(
            f"{', '.join(manual)} sync manually: after a promote pull request is merged, sync "
            "(reconcile with sync=true) the environment's apps Application."
        )
    if spec.notifications is not None:
        service = NOTIFY_SERVICES[spec.notifications.type]
        notes.append(
            f"Configure the {service} service in argocd-notifications-cm and its token in "
            "argocd-notifications-secret (not written to Git); the Applications subscribe to on-sync-failed "
            "and on-health-degraded."
        )
    return files, notes


def plan_fleet(spec: FleetSpec, install_manifests: str | None = None) -> FleetPlan:
    """The files of the layout, in a stable order, and what the user does next.

    ``install_manifests``: the text of the user's Flux install manifests (``flux_install=manifests``).
    """
    if spec.provider == "flux" and spec.flux_install == "manifests" and install_manifests is None:
        raise ValueError("flux_install=manifests needs the install manifests")
    if spec.provider == "flux":
        own, notes = _flux_files(spec, install_manifests)
    else:
        own, notes = _argo_files(spec)
    files = sorted([*own, *_shared_files(spec)], key=lambda f: f.path)
    return FleetPlan(files=files, notes=notes)
