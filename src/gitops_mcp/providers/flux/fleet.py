"""Flux's part of the fleet layout (``FluxProvider.fleet``)::

    clusters/<env>/
      flux-system/         gotk-sync.yaml (+ the Flux install), kept as is when bootstrapped
      infrastructure.yaml  Kustomizations infra-controllers -> infra-configs (dependsOn)
      apps.yaml            Kustomization apps (dependsOn infra-configs)
      notifications.yaml   notification Provider + Alert (optional)

Flux applies every environment from the branch; the promoted ones change only when their overlay
under apps/ changes. Every object is built by :mod:`gitops_mcp.providers.flux.objects`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitops_mcp.errors import UserInputError
from gitops_mcp.fleet import FleetFile, FleetPlan, FleetSpec, kustomize_config
from gitops_mcp.manifests.yaml import dump_documents
from gitops_mcp.providers.flux.objects import (
    GitRepositorySpec,
    KustomizationSpec,
    NotificationProviderSpec,
    alert,
    git_repository,
    helm_release,
    helm_repository,
    kustomization,
    notification_provider,
    object_ref,
)
from gitops_mcp.questions import AnswerError, chart_version

FLUX_CHART_REPO = "https://fluxcd-community.github.io/helm-charts"
FLUX_NS = "flux-system"
INSTALLS = ("bootstrap", "chart", "manifests")


def _layer(name: str, path: str, depends_on: str | None, interval: str = "10m") -> dict[str, Any]:
    """A Kustomization of one layer of the layout (infrastructure, apps), on the flux-system source."""
    spec: KustomizationSpec = {
        "interval": interval,
        "retryInterval": "2m",
        "timeout": "5m",
        "path": path,
        "prune": True,
        "wait": True,
        "sourceRef": object_ref("GitRepository", FLUX_NS),
    }
    if depends_on:
        spec = {"dependsOn": [{"name": depends_on}], **spec}  # first, as in Flux's examples
    return kustomization(name, FLUX_NS, spec)


def _sync(spec: FleetSpec, env: str) -> str:
    repo: GitRepositorySpec = {"interval": "1m", "ref": {"branch": spec.branch}, "url": spec.repo_url}
    if spec.repo_url.startswith("ssh://"):
        repo["secretRef"] = {"name": FLUX_NS}
    return dump_documents(
        [
            git_repository(FLUX_NS, FLUX_NS, repo),
            kustomization(
                FLUX_NS,
                FLUX_NS,
                {
                    "interval": "10m",
                    "path": f"./clusters/{env}",
                    "prune": True,
                    "sourceRef": object_ref("GitRepository", FLUX_NS),
                },
            ),
        ]
    )


def _chart(spec: FleetSpec) -> str:
    return dump_documents(
        [
            helm_repository("fluxcd-community", FLUX_NS, {"interval": "1h", "url": FLUX_CHART_REPO}),
            helm_release(
                "flux2",
                FLUX_NS,
                {
                    "interval": "1h",
                    "chart": {
                        "spec": {
                            "chart": "flux2",
                            "version": spec.option("flux_chart_version"),
                            "sourceRef": object_ref("HelmRepository", "fluxcd-community"),
                        }
                    },
                    "releaseName": "flux2",
                    "targetNamespace": FLUX_NS,
                    "storageNamespace": FLUX_NS,
                    "install": {"crds": "Create"},
                    "upgrade": {"crds": "CreateReplace"},
                },
            ),
        ]
    )


def _notifications(spec: FleetSpec, env: str) -> str:
    n = spec.notifications
    assert n is not None
    provider: NotificationProviderSpec = {"type": n.type}
    if n.channel:
        provider["channel"] = n.channel
    provider["secretRef"] = {"name": n.secret_name}
    auto = spec.is_auto(env)
    return dump_documents(
        [
            notification_provider(n.type, FLUX_NS, provider),
            alert(
                env,
                FLUX_NS,
                {
                    "providerRef": {"name": n.type},
                    # Environments that sync on their own report failures only; promoted ones every event.
                    "eventSeverity": "error" if auto else "info",
                    "eventSources": [
                        object_ref("GitRepository", "*"),
                        object_ref("Kustomization", "*"),
                        object_ref("HelmRelease", "*"),
                    ],
                    "eventMetadata": {"env": env},
                },
            ),
        ]
    )


def _install(spec: FleetSpec, env: str, install_manifests: str | None) -> tuple[list[FleetFile], str]:
    """clusters/<env>/flux-system when we write it (chart or the user's manifests), and the first step."""
    base = f"clusters/{env}"
    files: list[FleetFile] = []
    resources = ["gotk-sync.yaml"]
    if spec.option("flux_install") == "manifests":
        assert install_manifests is not None
        resources.insert(0, "gotk-components.yaml")
        files.append(
            FleetFile(
                validated=False,
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
                content=_chart(spec),
                purpose=f"Flux manages its own install in {env} (flux2 chart {spec.option('flux_chart_version')})",
            )
        )
    files.append(
        FleetFile(
            path=f"{base}/flux-system/gotk-sync.yaml",
            content=_sync(spec, env),
            purpose=f"{env} syncs {spec.repo_url} ({spec.branch}) at ./{base}",
        )
    )
    files.append(
        FleetFile(
            validated=False,
            path=f"{base}/flux-system/kustomization.yaml",
            content=kustomize_config("Flux itself, as flux bootstrap lays it out.", resources),
            purpose=f"the flux-system kustomization of {env}",
        )
    )
    first = (
        f"helm install flux2 flux2 --repo {FLUX_CHART_REPO} -n {FLUX_NS} --create-namespace"
        if spec.option("flux_install") == "chart"
        else f"kubectl apply -f {base}/flux-system/gotk-components.yaml"
    )
    ssh = spec.repo_url.startswith("ssh://")
    secret = f" and the deploy-key Secret {FLUX_NS} (flux create secret git)" if ssh else ""
    return files, f"First install on the {env} cluster: {first}, then kubectl apply -k {base}/flux-system{secret}."


class FluxFleet:
    """clusters/<env> for Flux: the sync objects, the install, layered Kustomizations, alerts."""

    reserved = frozenset({FLUX_NS})
    options: Mapping[str, Any] = {"flux_install": "bootstrap", "flux_chart_version": "2.x"}
    install_manifests_use: str | None = "provider=flux and flux_install=manifests"

    def parse_options(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """``flux_install``: bootstrap (leave flux-system to ``flux bootstrap``), chart (a HelmRelease of
        the flux2 chart manages Flux) or manifests (the user's ``flux install --export`` file becomes
        gotk-components.yaml); ``flux_chart_version``: the chart's version (range)."""
        install = given["flux_install"]
        if install not in INSTALLS:
            raise ValueError(f"flux_install must be one of {', '.join(INSTALLS)}, not {install!r}")
        try:
            version = chart_version(given["flux_chart_version"])
        except AnswerError as exc:
            raise ValueError(str(exc)) from exc
        return {"flux_install": install, "flux_chart_version": version}

    def kept_dir(self, env: str) -> str | None:
        return f"clusters/{env}/{FLUX_NS}"

    def wants_install_manifests(self, spec: FleetSpec) -> str | None:
        if spec.option("flux_install") != "manifests":
            return None
        return (
            "flux_install=manifests needs install_manifests: the path (in the repository) of the output "
            "of `flux install --export`"
        )

    def check_install_manifests(self, rel: str, docs: list[Any]) -> None:
        crds = {
            (d.get("metadata") or {}).get("name", "")
            for d in docs
            if isinstance(d, dict) and d.get("kind") == "CustomResourceDefinition"
        }
        controllers = {
            (d.get("metadata") or {}).get("name", "")
            for d in docs
            if isinstance(d, dict) and d.get("kind") == "Deployment"
        }
        if not any(c.endswith(".toolkit.fluxcd.io") for c in crds) or not controllers:
            raise UserInputError(
                f"{rel} does not look like Flux install manifests (no *.toolkit.fluxcd.io CRDs and controller "
                "Deployments); generate them with `flux install --export > FILE`"
            )

    def check(self, spec: FleetSpec) -> None:
        """Flux lays out every valid spec."""

    def plan(self, spec: FleetSpec, install_manifests: str | None) -> FleetPlan:
        if spec.option("flux_install") == "manifests" and install_manifests is None:
            raise ValueError("flux_install=manifests needs the install manifests")
        files: list[FleetFile] = []
        notes: list[str] = []
        for env in spec.environments:
            base = f"clusters/{env}"
            if env in spec.bootstrapped:
                notes.append(f"{base}/flux-system already exists (a bootstrap); it is kept as it is.")
            elif spec.option("flux_install") == "bootstrap":
                notes.append(
                    f"Bootstrap {env}: flux bootstrap git --url={spec.repo_url} --branch={spec.branch} "
                    f"--path={base} (it writes flux-system/ there)."
                )
            else:
                install, first = _install(spec, env, install_manifests)
                files.extend(install)
                notes.append(first)
            files.append(
                FleetFile(
                    path=f"{base}/infrastructure.yaml",
                    content=dump_documents(
                        [
                            _layer("infra-controllers", "./infrastructure/controllers", None, "1h"),
                            _layer("infra-configs", "./infrastructure/configs", "infra-controllers", "1h"),
                        ]
                    ),
                    purpose=f"{env}: infrastructure controllers, then their configs",
                )
            )
            files.append(
                FleetFile(
                    path=f"{base}/apps.yaml",
                    content=dump_documents([_layer("apps", f"./apps/{env}", "infra-configs")]),
                    purpose=f"{env}: the apps overlay, after the infrastructure is ready",
                )
            )
            if spec.notifications is not None:
                files.append(
                    FleetFile(
                        path=f"{base}/notifications.yaml",
                        content=_notifications(spec, env),
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
            secret = spec.notifications.secret_name
            notes.append(
                f"Create the Secret {FLUX_NS}/{secret} with the webhook in its 'address' key on "
                f"each cluster (kubectl create secret generic {secret} -n {FLUX_NS} "
                "--from-literal=address=...); it is not written to Git."
            )
        return FleetPlan(files=files, notes=notes)
