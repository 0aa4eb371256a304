"""The fleet asks the spec's provider for its part of the layout (``Provider.fleet``): any registered
provider, not only Flux and Argo CD; the built-in layouts are covered by the golden trees (test_fleet.py)."""

from __future__ import annotations

from typing import Any, get_args

import pytest
from pydantic import ValidationError

from gitops_mcp.fleet import FleetFile, FleetPlan, FleetSpec, Notifications, NotifyType, plan_fleet
from gitops_mcp.providers import Provider, ProviderRegistry, default_registry
from gitops_mcp.providers.argocd.fleet import NOTIFY_SERVICES
from gitops_mcp.providers.defaults import LayoutDefaults, ProviderDefaults

URL = "https://github.com/example/fleet.git"


class OneFileFleet(LayoutDefaults):
    reserved = frozenset({"one-system"})

    def check(self, spec: FleetSpec) -> None:
        if spec.notifications is not None:
            raise ValueError("this engine sends no notifications")

    def plan(self, spec: FleetSpec, install_manifests: str | None) -> FleetPlan:
        files = [FleetFile(path=f"clusters/{e}/sync.yaml", content="{}\n", purpose=e) for e in spec.environments]
        return FleetPlan(files=files, notes=[f"one engine, {len(files)} clusters"])


class OneFileProvider(ProviderDefaults):
    name = "one"
    title = "One"
    description = "An engine with a one-file layout per cluster"
    fleet = OneFileFleet()

    def unsupported_reason(self, package_type: Any, source_kind: Any) -> str | None:
        return None

    def questions(self, ctx: Any) -> list[Any]:
        return []

    def generate(self, spec: Any, options: Any) -> Any:
        raise AssertionError("the fleet does not use the wizard's generator entry")


def test_the_fleet_asks_the_registered_provider() -> None:
    provider = OneFileProvider()
    assert isinstance(provider, Provider)
    registry = ProviderRegistry([*default_registry(), provider])

    def spec(**kw: Any) -> FleetSpec:
        data = {"provider": "one", "repo_url": URL, "environments": ["dev", "prod"], **kw}
        return FleetSpec.model_validate(data, context={"registry": registry})

    plan = plan_fleet(spec(), None, registry)
    assert [f.path for f in plan.files] == [
        "apps/base/kustomization.yaml",
        "apps/dev/kustomization.yaml",
        "apps/prod/kustomization.yaml",
        "clusters/dev/sync.yaml",
        "clusters/prod/sync.yaml",
        "infrastructure/configs/kustomization.yaml",
        "infrastructure/controllers/kustomization.yaml",
    ]
    assert plan.notes == ["one engine, 2 clusters"]
    with pytest.raises(ValidationError, match="sends no notifications"):
        spec(notifications=Notifications(type="slack", channel="#x"))
    for reserved in ("one-system", "flux-system", "base"):  # every registered engine's directories
        with pytest.raises(ValidationError, match="cannot be an environment"):
            spec(environments=[reserved])
    with pytest.raises(ValidationError, match="unknown provider 'one'"):  # not in the default registry
        FleetSpec.model_validate({"provider": "one", "repo_url": URL}, context={"registry": default_registry()})
    with pytest.raises(ValidationError, match="validated against the provider registry"):
        FleetSpec(provider="flux", repo_url=URL)


def test_every_notification_type_has_an_argocd_service() -> None:
    assert sorted(NOTIFY_SERVICES) == sorted(get_args(NotifyType))
