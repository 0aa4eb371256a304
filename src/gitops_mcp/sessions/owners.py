"""What in the repository already deploys the chosen package: the engines' committed objects that
apply its directory, a kustomization that builds it, or a parent directory applied recursively."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitops_mcp.detection.models import Package
from gitops_mcp.providers.base import ExistingOwner
from gitops_mcp.sessions.models import SessionContext
from gitops_mcp.sessions.spec import selected_package


def _rel(p: str) -> str:
    return "" if p == "." else p


def covers(parent: str, child: str) -> bool:
    return parent == "" or child == parent or child.startswith(parent + "/")


def _users(pkg: Package, packages: list[Package]) -> set[str]:
    """The package's path and every kustomization that builds it (transitively, through used_by)."""
    by_path = {p.path: p for p in packages}
    out, todo = {pkg.path}, list(pkg.used_by)
    while todo:
        p = todo.pop()
        if p not in out:
            out.add(p)
            todo += by_path[p].used_by if p in by_path else []
    return {_rel(u) for u in out}


def includes(applier_path: str, target: str, users: set[str], kustomize_dirs: set[str]) -> bool:
    """Whether a build of ``applier_path`` includes the package at ``target``: it is the package or
    a kustomization that uses it, or a parent directory applied recursively with no other
    kustomization between (a kustomization applies only what it lists)."""
    if applier_path in users:
        return True
    if not covers(applier_path, target):
        return False
    between = [d for d in kustomize_dirs - users if d != applier_path and covers(applier_path, d) and covers(d, target)]
    return applier_path not in kustomize_dirs and not between


def owners(
    answers: Mapping[str, Any], ctx: SessionContext, keep_output: bool = False
) -> list[tuple[str, ExistingOwner]]:
    """(provider, object) of the committed objects that already deploy the chosen package, those in
    the same top directory as the output file first (a bootstrap per cluster); those in the output
    file itself only with ``keep_output`` (a file the new one replaces is no second owner)."""
    pkg = selected_package(answers, ctx)
    if pkg is None:
        return []
    out = str(answers.get("output_path") or "")
    users = _users(pkg, ctx.packages)
    kustomize_dirs = {_rel(p.path) for p in ctx.packages if p.type in ("kustomize", "helm")}
    target = _rel(str(answers.get("path") or pkg.path))
    rev = str(answers.get("revision") or "")
    branches = {b for b in (ctx.branch, ctx.default_branch, rev.split(":")[-1]) if b} or {"main", "master"}
    found = [
        (name, a)
        for name, appliers in ctx.repo_appliers.items()
        for a in appliers
        if (keep_output or a.file != out)
        and (a.revision is None or a.revision in branches)  # another branch is another deployment
        and includes(a.path, target, users, kustomize_dirs)
    ]
    top = out.split("/", 2)[:2]
    return sorted(found, key=lambda f: (f[1].file.split("/", 2)[:2] != top, f[1].file, f[1].name))
