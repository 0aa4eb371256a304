"""A multi-environment GitOps repository layout (``scaffold_fleet``): pure, no I/O.

The layout follows the one Flux's own examples use (flux2-kustomize-helm-example)::

    clusters/<env>/              what the environment's cluster syncs: the provider's own layout
                                 (its ``fleet``, e.g. providers/flux/fleet.py, providers/argocd/fleet.py)
    infrastructure/controllers/  shared cluster add-ons (applied first)
    infrastructure/configs/      their configuration (after the controllers)
    apps/base/                   shared app bases
    apps/<env>/                  one overlay per environment (``promote`` moves versions between them)

Environments in ``auto_sync`` (default: the first) sync on their own; the others change only
through a reviewed pull request to their overlay (``promote``). This module holds what every
engine shares (the spec, the plan, infrastructure/ and apps/); each provider lays out
``clusters/<env>`` and checks what its engine cannot do (:class:`FleetLayout`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal, Protocol

from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator

from gitops_mcp.errors import UnknownProviderError
from gitops_mcp.model import Model
from gitops_mcp.questions import AnswerError, dns_label, ref_name

KUSTOMIZE_CONFIG_API = "kustomize.config.k8s.io/v1beta1"
MAX_ENVIRONMENTS = 10

NotifyType = Literal["slack", "msteams", "googlechat", "webex", "telegram", "opsgenie", "pagerduty", "generic"]


def _parsed(parse: Callable[[Any], str], value: Any) -> str:
    """A question parser inside a pydantic validator (its AnswerError becomes a ValueError)."""
    try:
        return parse(value)
    except AnswerError as exc:
        raise ValueError(str(exc)) from exc


class Layouts(Protocol):
    """What the fleet asks of the provider registry (``ProviderRegistry`` is one): a provider by
    name, and every provider, each with its ``fleet`` layout."""

    def get(self, name: str) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...


def _registry(info: ValidationInfo) -> Layouts:
    """The registry passed as validation context: ``FleetSpec.model_validate(data, context={"registry": r})``."""
    ctx = info.context
    given = ctx.get("registry") if isinstance(ctx, dict) else None
    if given is None:
        raise ValueError("a FleetSpec is validated against the provider registry: pass context={'registry': ...}")
    return given  # type: ignore[no-any-return]


class Notifications(Model):
    """Where sync failures are reported. The webhook address is a secret: it is never an argument;
    it lives in a Kubernetes Secret the user creates (Flux) or in argocd-notifications-secret."""

    type: NotifyType = Field(description="Flux Provider type (Argo CD: the matching service)")
    channel: str | None = Field(None, description="e.g. #deploys, where the type has one")
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


class FleetSpec(Model):
    """Everything the layout depends on, validated; the provider checks its own part.

    ``FleetSpec.model_validate(data, context={"registry": registry})`` validates against that
    registry's providers. The engines' own options (e.g. how the engine itself is installed) are
    extra fields, flat as ``scaffold_fleet`` takes them: each layout declares its own
    (:attr:`FleetLayout.options`) and parses them; a name no registered layout declares is refused.
    """

    model_config = ConfigDict(defer_build=True, extra="allow")

    provider: str = Field(description="The registered provider (GitOps engine) of every cluster")
    environments: list[str] = Field(default_factory=lambda: ["dev", "staging", "production"])
    auto_sync: list[str] | None = Field(None, description="Environments that sync on their own (default: the first)")
    repo_url: str = Field(description="Git URL the controllers fetch (https:// or ssh://)")
    branch: str = "main"
    notifications: Notifications | None = None
    bootstrapped: list[str] = Field(
        default_factory=list, description="Environments whose bootstrap directory (FleetLayout.kept_dir) exists: kept"
    )

    @field_validator("provider")
    @classmethod
    def _provider(cls, v: str, info: ValidationInfo) -> str:
        try:
            _registry(info).get(v)
        except UnknownProviderError as exc:
            raise ValueError(str(exc)) from exc
        return v

    @field_validator("environments")
    @classmethod
    def _envs(cls, v: list[str], info: ValidationInfo) -> list[str]:
        if not v:
            raise ValueError("name at least one environment, e.g. [dev, staging, production]")
        if len(v) > MAX_ENVIRONMENTS:
            raise ValueError(f"at most {MAX_ENVIRONMENTS} environments")
        # Directory names of any engine's layout: the same repository reads the same to every engine.
        reserved = {"base"}.union(*(p.fleet.reserved for p in _registry(info)))
        out: list[str] = []
        for e in v:
            try:
                name = dns_label(e)
            except AnswerError as exc:
                raise ValueError(f"environment {exc}") from exc
            if name in reserved:
                raise ValueError(f"{name!r} cannot be an environment name (it is a directory of the layout)")
            if name in out:
                raise ValueError(f"environment {name!r} is named twice")
            out.append(name)
        return out

    @field_validator("branch")
    @classmethod
    def _branch(cls, v: str) -> str:
        return _parsed(ref_name, v)

    def option(self, name: str) -> Any:
        """An engine option (its layout's default when not given)."""
        return (self.model_extra or {})[name]

    def is_auto(self, env: str) -> bool:
        return env in (self.auto_sync or [])

    @property
    def promoted(self) -> list[str]:
        """Environments that change only through promotion (no automatic sync)."""
        return [e for e in self.environments if not self.is_auto(e)]

    @model_validator(mode="after")
    def _auto(self, info: ValidationInfo) -> FleetSpec:
        if self.auto_sync is None:
            self.auto_sync = self.environments[:1]
        unknown = [e for e in self.auto_sync if e not in self.environments]
        if unknown:
            raise ValueError(f"auto_sync names environments that are not in environments: {', '.join(unknown)}")
        registry = _registry(info)
        given = dict(self.model_extra or {})
        known = set().union(*(p.fleet.options for p in registry))
        if unknown := sorted(set(given) - known):
            raise ValueError(f"unknown option(s) {', '.join(unknown)}; the layouts take {', '.join(sorted(known))}")
        layout = registry.get(self.provider).fleet
        mine = {k: given.get(k, default) for k, default in layout.options.items()}
        self.__pydantic_extra__ = {**given, **layout.parse_options(mine)}
        layout.check(self)
        return self


class FleetFile(Model):
    path: str = Field(description="Relative to the repository root")
    content: str
    purpose: str
    validated: bool = Field(
        True,
        description="False for what is not a cluster object (kustomize's config) or "
        "not ours (the engine's own install manifests)",
    )


class FleetPlan(Model):
    files: list[FleetFile]
    notes: list[str]


class FleetLayout(Protocol):
    """A provider's part of the fleet (``Provider.fleet``): ``clusters/<env>/`` and its checks."""

    reserved: frozenset[str]
    """Directory names of the engine's layout that no environment may take."""

    options: Mapping[str, Any]
    """The engine's own options (``scaffold_fleet``'s flat arguments) and their defaults."""

    install_manifests_use: str | None
    """When the user's install manifests are used (named in the refusal of an unused file), or None."""

    def parse_options(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Its options (every one, defaults filled in) checked; raise ValueError naming a bad one."""
        ...

    def kept_dir(self, env: str) -> str | None:
        """The directory of ``env``'s cluster that the engine's own bootstrap writes: kept as it is
        when it exists (see :attr:`FleetSpec.bootstrapped`); None when there is none."""
        ...

    def wants_install_manifests(self, spec: FleetSpec) -> str | None:
        """When the spec asks for the user's install manifests: what to pass (a refusal when
        ``install_manifests`` is missing); else None."""
        ...

    def check_install_manifests(self, rel: str, docs: list[Any]) -> None:
        """Raise UserInputError when the documents of ``rel`` are not the engine's install manifests."""
        ...

    def check(self, spec: FleetSpec) -> None:
        """Raise ValueError for what the engine cannot lay out (runs while the spec is validated)."""
        ...

    def plan(self, spec: FleetSpec, install_manifests: str | None) -> FleetPlan:
        """Pure: the engine's files and what the user does next (``install_manifests``: the text of
        the user's install manifests, when the spec asks for them)."""
        ...


def kustomize_config(comment: str, resources: list[str]) -> str:
    """A kustomization.yaml (kustomize's own config, not a Flux object) listing ``resources``."""
    listed = "\n".join(f"  - {r}" for r in resources) if resources else ""
    body = f"resources:\n{listed}\n" if resources else "resources: []\n"
    return f"# {comment}\napiVersion: {KUSTOMIZE_CONFIG_API}\nkind: Kustomization\n{body}"


def _shared_files(spec: FleetSpec) -> list[FleetFile]:
    files = [
        FleetFile(
            validated=False,
            path="infrastructure/controllers/kustomization.yaml",
            content=kustomize_config(
                "Cluster add-ons every environment runs (controllers, their CRDs); applied first.", []
            ),
            purpose="shared infrastructure controllers",
        ),
        FleetFile(
            validated=False,
            path="infrastructure/configs/kustomization.yaml",
            content=kustomize_config("Configuration of the add-ons (issuers, gateways); applied after them.", []),
            purpose="shared infrastructure configuration",
        ),
        FleetFile(
            validated=False,
            path="apps/base/kustomization.yaml",
            content=kustomize_config("Shared app bases: one directory per app, listed here.", []),
            purpose="app bases shared by every environment",
        ),
    ]
    files.extend(
        FleetFile(
            validated=False,
            path=f"apps/{env}/kustomization.yaml",
            content=kustomize_config(
                f"The {env} overlay: what {env} runs, and its own versions and values.", ["../base"]
            ),
            purpose=f"{env} overlay of the apps",
        )
        for env in spec.environments
    )
    return files


def plan_fleet(spec: FleetSpec, install_manifests: str | None, registry: Layouts) -> FleetPlan:
    """The files of the layout, in a stable order, and what the user does next.

    ``install_manifests``: the text of the user's install manifests (when the layout wants them).
    ``registry``: where ``spec.provider`` is looked up (the one the spec was validated with).
    """
    own = registry.get(spec.provider).fleet.plan(spec, install_manifests)
    files = sorted([*own.files, *_shared_files(spec)], key=lambda f: f.path)
    return FleetPlan(files=files, notes=own.notes)
