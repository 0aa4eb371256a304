"""Which cluster a call uses: a kubeconfig context, checked against ``GITOPS_MCP_CLUSTERS``.

No cluster named: the configured context (``GITOPS_MCP_KUBE_CONTEXT``), else the kubeconfig's
current one, else the pod's own service account (``in-cluster``). A named one must be among
``GITOPS_MCP_CLUSTERS`` when that list is set (any context of the kubeconfig otherwise).
"""

from __future__ import annotations

import os
from pathlib import Path

from gitops_mcp.errors import UserInputError
from gitops_mcp.settings import Settings

IN_CLUSTER = "in-cluster"


def kubeconfig_path(settings: Settings) -> Path | None:
    """The kubeconfig file used (None: none, the in-cluster config applies)."""
    path = settings.kubeconfig or (Path(p) if (p := os.environ.get("KUBECONFIG")) else None)
    default = Path.home() / ".kube" / "config"
    return path or (default if default.exists() else None)


def check_cluster(settings: Settings, name: str | None) -> str | None:
    """``name`` when the server may use it (None stays None: the default).

    Raises:
        UserInputError: ``name`` is not among GITOPS_MCP_CLUSTERS.
    """
    if name is None or not settings.clusters or name in settings.clusters:
        return name
    raise UserInputError(f"cluster {name!r} is not one of GITOPS_MCP_CLUSTERS: {', '.join(settings.clusters)}")


def cluster_name(settings: Settings, name: str | None) -> str:
    """The context a call with ``name`` uses, by name (checked as :func:`check_cluster` does)."""
    name = check_cluster(settings, name) or settings.kube_context
    if name:
        return name
    path = kubeconfig_path(settings)
    if path is None:
        return IN_CLUSTER
    from kubernetes import config

    try:
        _, active = config.list_kube_config_contexts(config_file=str(path))  # type: ignore[no-untyped-call]
    except (config.ConfigException, OSError, ValueError):
        return "current"
    return str((active or {}).get("name") or "current")


def choices(settings: Settings) -> list[str]:
    """The clusters a person may choose among (the wizard asks when there are several)."""
    return list(settings.clusters)
