"""Prompt texts (data in .md files next to this module)."""

from __future__ import annotations

from importlib.resources import files


def _load(name: str) -> str:
    return files(__package__).joinpath(name).read_text(encoding="utf-8")


def deploy_with_gitops_text(path: str, intent: str = "", provider: str = "", read_only: bool = False) -> str:
    text = _load("deploy_with_gitops.md")
    extra = "\nThe server is read-only: stop at the preview and give the user the YAML." if read_only else ""
    return (
        text.format(
            path=path or "<absolute path of the repository>",
            intent=intent or "deploy an application from this repository",
            provider=provider or "the one the user prefers (ask if unclear)",
        )
        + extra
    )


def prompt_text(template: str, /, **fields: str) -> str:
    return _load(template).format(**fields)
