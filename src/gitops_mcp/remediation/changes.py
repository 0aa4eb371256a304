"""The structured changes ``remediate`` takes (one model each, discriminated by ``type``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from gitops_mcp.errors import UserInputError
from gitops_mcp.model import Model
from gitops_mcp.syntax import parse_image_reference


class Refused(UserInputError):
    """The change is not made; the message says why and what to do instead."""


class SetImage(Model):
    type: Literal["set_image"] = "set_image"
    image: str = Field(min_length=1, description="e.g. ghcr.io/org/app:1.2.3")
    container: str | None = Field(None, description="Default: the only one")

    @field_validator("image")
    @classmethod
    def _reference(cls, v: str) -> str:
        parse_image_reference(v)  # ValueError: not an image reference (distribution/reference grammar)
        return v


class SetReplicas(Model):
    type: Literal["set_replicas"] = "set_replicas"
    replicas: int = Field(ge=0, le=10000)


class SetResources(Model):
    type: Literal["set_resources"] = "set_resources"
    container: str | None = None
    requests: dict[str, str] = Field(default_factory=dict, description="e.g. {cpu: 100m, memory: 128Mi}")
    limits: dict[str, str] = Field(default_factory=dict)


class SetEnv(Model):
    type: Literal["set_env"] = "set_env"
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$")
    value: str
    container: str | None = None


class SetHelmValues(Model):
    type: Literal["set_helm_values"] = "set_helm_values"
    values: dict[str, Any] = Field(description="By dot path, e.g. {'image.tag': '6.7.1'}")


class MergePatch(Model):
    type: Literal["merge_patch"] = "merge_patch"
    patch: dict[str, Any] = Field(description="JSON merge patch (no null deletes)")


class Remove(Model):
    type: Literal["remove"] = "remove"
    orphan: bool = Field(False, description="Even if objects stay (no prune)")
    bootstrap: bool = Field(False, description="Allow the bootstrap's own")


class Suspension(Model):  # suspend: its controller stops applying new commits; resume: applies them again
    type: Literal["suspend", "resume"]


Change = Annotated[
    SetImage | SetReplicas | SetResources | SetEnv | SetHelmValues | MergePatch | Remove | Suspension,
    Field(discriminator="type"),
]
