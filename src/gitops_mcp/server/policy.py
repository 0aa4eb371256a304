"""What may be called here: the mode, the tool allow-list, and the caller's scopes.

- ``read-only``: no write tool. ``propose``: every change to a repository is a pull request:
  ``push`` is gone from the tools' ``mode``/``delivery`` choices (an omitted ``mode`` means
  ``pull_request``), and the tools that change a cluster or a registry directly
  (:data:`PROPOSE_OFF`) are gone. ``full``: everything.
- ``GITOPS_MCP_TOOLS`` narrows any mode to the tools it names.
- A token without the write scope sees no write tool and delivers nothing from the wizard.

What is off is absent from ``tools/list``, and refused by name (saying why) if called anyway.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from gitops_mcp.errors import ConfigError
from gitops_mcp.settings import Settings

PROPOSE_OFF = {
    "register_gitops_objects": "it applies objects to the cluster directly",
    "push_artifact": "it pushes straight to a registry a cluster deploys from",
}
CHOICE = {  # the argument choosing push or a pull request, per tool
    "commit_and_push": "mode",
    "remediate": "mode",
    "promote": "mode",
    "rollback": "mode",
    "scaffold_fleet": "delivery",
}
WIZARD_DELIVERY = "answer_questions"


def delivers(arguments: Mapping[str, Any]) -> bool:
    """Whether answer_questions ``arguments`` answer the wizard's delivery."""
    answers = arguments.get("answers")
    return isinstance(answers, Mapping) and "delivery" in answers


class ToolPolicy:
    def __init__(self, settings: Settings, tools: Iterable[str], write_tools: Iterable[str]) -> None:
        self.settings = settings
        self.tools = sorted(tools)
        self.write_tools = frozenset(write_tools)
        unknown = sorted(set(settings.tools) - set(self.tools))
        if unknown:
            raise ConfigError(f"GITOPS_MCP_TOOLS names unknown tools {unknown}; known: {', '.join(self.tools)}")
        self.off: dict[str, str] = {}
        for name in self.tools:
            if settings.read_only and name in self.write_tools:
                self.off[name] = "the server is read-only (GITOPS_MCP_MODE=read-only)"
            elif settings.proposes_only and name in PROPOSE_OFF:
                self.off[name] = f"the server only proposes changes (GITOPS_MCP_MODE=propose): {PROPOSE_OFF[name]}"
            elif settings.tools and name not in settings.tools:
                self.off[name] = "it is not in this server's tool list (GITOPS_MCP_TOOLS)"

    @property
    def write_scope(self) -> str:
        return self.settings.oidc_write_scope

    def visible(self, name: str, scopes: list[str] | None) -> bool:
        """Whether ``tools/list`` shows ``name`` to a caller with ``scopes`` (None: not authenticated)."""
        return name not in self.off and not (
            scopes is not None and name in self.write_tools and not self.may_write(scopes)
        )

    def may_write(self, scopes: list[str] | None) -> bool:
        return scopes is None or self.write_scope in scopes

    def refusal(self, name: str, arguments: Mapping[str, Any], scopes: list[str] | None) -> str | None:
        """Why this call is refused here, or None."""
        if name in self.off:
            return f"{name} is off: {self.off[name]}"
        if name in self.write_tools and not self.may_write(scopes):
            return f"{name} needs the {self.write_scope} scope; this token does not have it"
        if name == WIZARD_DELIVERY and delivers(arguments) and not self.may_write(scopes):
            return f"delivery needs the {self.write_scope} scope; this token can go as far as the preview"
        arg = CHOICE.get(name)
        if arg and self.settings.proposes_only and arguments.get(arg) == "push":
            return (
                f"{arg}=push is off: the server only proposes changes (GITOPS_MCP_MODE=propose); use {arg}=pull_request"
            )
        return None

    def adjust(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """Propose mode: an omitted ``mode`` means a pull request (the tool's own default may be push)."""
        if self.settings.proposes_only and CHOICE.get(name) == "mode" and "mode" not in arguments:
            return {**arguments, "mode": "pull_request"}
        return arguments

    def narrow(self, name: str, parameters: dict[str, Any]) -> None:
        """Propose mode: ``push`` out of the tool's published choices (in place)."""
        arg = CHOICE.get(name)
        prop = (parameters.get("properties") or {}).get(arg) if arg and self.settings.proposes_only else None
        if not isinstance(prop, dict) or "push" not in (prop.get("enum") or []):
            return
        prop["enum"] = [v for v in prop["enum"] if v != "push"]
        if prop.get("default") == "push":
            prop["default"] = "pull_request"
