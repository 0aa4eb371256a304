"""Argo CD's part of the fleet layout (``ArgoCDProvider.fleet``)::

    clusters/<env>/
      root.yaml       the environment's app of apps
      applications/   infra-controllers, infra-configs, apps (sync waves -2, -1, 0)

Promoted environments (not in ``auto_sync``) sync manually; with notifications, every child
Application subscribes to on-sync-failed and on-health-degraded. The Applications are built by
:func:`gitops_mcp.providers.argocd.objects.application`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from gitops_mcp.errors import UserInputError
from gitops_mcp.fleet import FleetFile, FleetPlan, FleetSpec, NotifyType
from gitops_mcp.manifests.yaml import dump_documents
from gitops_mcp.providers.argocd.objects import application, git_source, sync_policy

ARGO_NS = "argocd"

# Flux notification Provider type -> Argo CD notifications service of the same kind.
NOTIFY_SERVICES: dict[NotifyType, str] = {
    "slack": "slack",
    "msteams": "teams",
    "googlechat": "googlechat",
    "webex": "webex",
    "telegram": "telegram",
    "opsgenie": "opsgenie",
    "pagerduty": "pagerdutyv2",
    "generic": "webhook",
}


def _app(spec: FleetSpec, name: str, path: str, namespace: str, auto: bool, annotations: dict[str, str]) -> str:
    return dump_documents(
        [
            application(
                name,
                ARGO_NS,
                project="default",
                source=git_source(spec.repo_url, spec.branch, path),
                destination_namespace=namespace,
                sync=sync_policy("auto-prune" if auto else "manual", create_namespace=True),
                annotations=annotations,
            )
        ]
    )


def _subscriptions(spec: FleetSpec) -> dict[str, str]:
    if spec.notifications is None:
        return {}
    service = NOTIFY_SERVICES[spec.notifications.type]
    target = spec.notifications.channel or ""
    return {
        f"notifications.argoproj.io/subscribe.on-sync-failed.{service}": target,
        f"notifications.argoproj.io/subscribe.on-health-degraded.{service}": target,
    }


class ArgoCDFleet:
    """clusters/<env> for Argo CD: an app of apps whose children apply the layers in sync waves."""

    reserved: frozenset[str] = frozenset()
    options: Mapping[str, Any] = MappingProxyType({})
    install_manifests_use: str | None = None

    def parse_options(self, given: Mapping[str, Any]) -> dict[str, Any]:
        return {}

    def kept_dir(self, env: str) -> str | None:
        return None  # the app of apps is applied once by hand; nothing of the engine's is committed

    def wants_install_manifests(self, spec: FleetSpec) -> str | None:
        return None

    def check_install_manifests(self, rel: str, docs: list[Any]) -> None:
        raise UserInputError("Argo CD's layout does not use install manifests")

    def check(self, spec: FleetSpec) -> None:
        n = spec.notifications
        if n is None:
            return
        if n.type == "generic":
            raise ValueError("Argo CD webhooks are named services: use another type, or subscribe by hand")
        if not n.channel:
            raise ValueError(
                "Argo CD subscriptions need a recipient: set notifications.channel (a Slack channel, a Teams "
                "webhook name, ...)"
            )

    def plan(self, spec: FleetSpec, install_manifests: str | None) -> FleetPlan:
        files: list[FleetFile] = []
        subscribe = _subscriptions(spec)
        for env in spec.environments:
            base = f"clusters/{env}"
            auto = spec.is_auto(env)
            files.append(
                FleetFile(
                    path=f"{base}/root.yaml",
                    content=_app(spec, f"{env}-root", f"{base}/applications", ARGO_NS, True, {}),
                    purpose=f"{env}: the app of apps (apply once: kubectl apply -n {ARGO_NS} -f {base}/root.yaml)",
                )
            )
            for name, path, wave, what in (
                ("infra-controllers", "infrastructure/controllers", -2, "infrastructure controllers (first)"),
                ("infra-configs", "infrastructure/configs", -1, "infrastructure configs (second)"),
                ("apps", f"apps/{env}", 0, "the apps overlay (last)"),
            ):
                annotations = {"argocd.argoproj.io/sync-wave": str(wave), **subscribe}
                files.append(
                    FleetFile(
                        path=f"{base}/applications/{name}.yaml",
                        content=_app(spec, f"{env}-{name}", path, "default", auto, annotations),
                        purpose=f"{env}: {what}, {'automatic' if auto else 'manual'} sync",
                    )
                )
        notes = [
            "Sync waves order the child Applications only when Argo CD assesses Application health: add the "
            "argoproj.io/Application health check to argocd-cm "
            "(resource.customizations.health.argoproj.io_Application).",
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
        return FleetPlan(files=files, notes=notes)
