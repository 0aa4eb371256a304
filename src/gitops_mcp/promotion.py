"""Promote an app from one environment overlay to the next (plain Python, edits in memory).

What moves: the overlay's kustomization ``images`` entries (newTag / newName / digest); in the
overlay's patches of the app's chart release (an engine's object that installs a chart, as
``Provider.chart_releases`` says), the chart version and the values that differ; image
references in the overlay's patches of the app's workloads. What stays: values that name the
source environment (``podinfo.staging`` is staging's own), which are reported as kept.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import Field

from gitops_mcp.detection import detect_packages
from gitops_mcp.detection.kinds import GitOpsKinds
from gitops_mcp.errors import NotFoundError, UserInputError
from gitops_mcp.manifests.edit import YamlEditor
from gitops_mcp.manifests.yaml import load_documents
from gitops_mcp.model import Model
from gitops_mcp.providers.live import ChartRelease
from gitops_mcp.remediation import FileEdit, collect_edits, kustomization_file, leaves


class Move(Model):
    file: str
    field: str
    value: Any
    previous: Any = None


class Kept(Model):
    field: str
    value: Any
    reason: str


class PromotionPlan(Model):
    app: str
    from_env: str
    to_env: str
    from_dir: str
    to_dir: str
    moves: list[Move] = Field(default_factory=list)
    kept: list[Kept] = Field(default_factory=list)
    edits: list[FileEdit] = Field(default_factory=list)
    description: str = ""


def _mentions(root: Path, directory: str, app: str) -> bool:
    for p in sorted((root / directory).glob("*.y*ml")):
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if f"name: {app}" in text or f"/{app}" in text:
            return True
    return False


def env_dir(root: Path, env: str, app: str, gitops_kinds: Sequence[GitOpsKinds] = ()) -> str:
    """The kustomization directory of ``app`` in environment ``env``.

    Raises:
        NotFoundError: no overlay for that environment.
        UserInputError: several candidates (their paths are listed).
    """

    kustomize = [p.path for p in detect_packages(root, gitops_kinds=gitops_kinds).packages if p.type == "kustomize"]
    candidates = [d for d in kustomize if env in d.split("/")]
    if not candidates:
        raise NotFoundError(f"no Kustomize overlay for the environment {env!r} (a directory named {env})")
    if len(candidates) > 1:
        named = [d for d in candidates if app in d.split("/")] or [d for d in candidates if _mentions(root, d, app)]
        if len(named) == 1:
            return named[0]
        raise UserInputError(f"several overlays for {env!r}: {', '.join(candidates)}; name the app more precisely")
    return candidates[0]


def _patches(root: Path, directory: str) -> list[str]:
    kfile = kustomization_file(root, directory)
    if kfile is None:
        return []
    k = load_documents((root / kfile).read_text(encoding="utf-8"), kfile)[0] or {}
    refs: list[str] = [p for p in k.get("patchesStrategicMerge") or [] if isinstance(p, str)]
    refs += [str(p["path"]) for p in k.get("patches") or [] if isinstance(p, dict) and p.get("path")]
    return [posixpath.normpath(posixpath.join(directory, r)) for r in refs if (root / directory / r).is_file()]


def _docs_by_name(root: Path, files: list[str]) -> dict[tuple[str, str], tuple[str, int, dict[str, Any]]]:
    out: dict[tuple[str, str], tuple[str, int, dict[str, Any]]] = {}
    for f in files:
        for i, d in enumerate(load_documents((root / f).read_text(encoding="utf-8"), f)):
            if isinstance(d, dict) and d.get("kind"):
                out.setdefault((str(d["kind"]), str((d.get("metadata") or {}).get("name"))), (f, i, d))
    return out


def _get(node: Any, path: list[str | int]) -> Any:
    for p in path:
        if isinstance(node, dict) and p in node:  # noqa: SIM114 - separate branches keep the index types checkable
            node = node[p]
        elif isinstance(node, list) and isinstance(p, int) and p < len(node):
            node = node[p]
        else:
            return None
    return node


def _env_specific(value: Any, env: str) -> bool:
    if isinstance(value, str):
        return env in value
    if isinstance(value, list):
        return any(_env_specific(v, env) for v in value)
    return False


def plan_promotion(
    root: Path,
    app: str,
    from_env: str,
    to_env: str,
    gitops_kinds: Sequence[GitOpsKinds],
    releases: Mapping[str, ChartRelease],
) -> PromotionPlan:
    """What moves from ``from_env``'s overlay to ``to_env``'s (``gitops_kinds`` and ``releases``: the
    registry's, ``ProviderRegistry.gitops_kinds()`` and ``.chart_releases()``)."""
    if from_env == to_env:
        raise UserInputError("from_env and to_env are the same")
    fdir, tdir = env_dir(root, from_env, app, gitops_kinds), env_dir(root, to_env, app, gitops_kinds)
    plan = PromotionPlan(app=app, from_env=from_env, to_env=to_env, from_dir=fdir, to_dir=tdir)
    editors: dict[str, YamlEditor] = {}
    roles: dict[str, str] = {}

    def editor(rel: str, role: str) -> YamlEditor:
        if rel not in editors:
            editors[rel] = YamlEditor((root / rel).read_text(encoding="utf-8"))
            roles[rel] = role
        return editors[rel]

    # 1. kustomization images
    fk_rel, tk_rel = kustomization_file(root, fdir), kustomization_file(root, tdir)
    if fk_rel and tk_rel:
        fk = load_documents((root / fk_rel).read_text(encoding="utf-8"), fk_rel)[0] or {}
        tk = load_documents((root / tk_rel).read_text(encoding="utf-8"), tk_rel)[0] or {}
        t_images = [i for i in tk.get("images") or [] if isinstance(i, dict)]
        for img in (i for i in fk.get("images") or [] if isinstance(i, dict)):
            target = next((j for j, t in enumerate(t_images) if t.get("name") == img.get("name")), None)
            moving = {k: img[k] for k in ("newName", "newTag", "digest") if k in img}
            if target is None:
                ed = editor(tk_rel, "kustomization")
                entry = {"name": img["name"], **moving}
                if t_images:
                    ed.append(0, ["images"], entry)
                else:
                    ed.set(0, ["images"], [entry])
                    t_images = [entry]
                plan.moves.append(Move(file=tk_rel, field=f"images[{img['name']}]", value=moving))
                continue
            for k, v in moving.items():
                if t_images[target].get(k) != v:
                    editor(tk_rel, "kustomization").set(0, ["images", target, k], v)
                    plan.moves.append(
                        Move(file=tk_rel, field=f"images[{img['name']}].{k}", value=v, previous=t_images[target].get(k))
                    )
    # 2./3. patches of the app's HelmRelease and workloads
    fdocs, tdocs = _docs_by_name(root, _patches(root, fdir)), _docs_by_name(root, _patches(root, tdir))
    for (kind, name), (_ffile, _fi, fdoc) in sorted(fdocs.items()):
        if name != app and not (kind in releases and len(fdocs) == 1):
            continue
        if (kind, name) not in tdocs:
            plan.kept.append(
                Kept(
                    field=f"{kind} {name}",
                    value=None,
                    reason=f"{to_env} has no patch for it; add one by hand if it needs one",
                )
            )
            continue
        tfile, ti, tdoc = tdocs[(kind, name)]
        found: list[tuple[list[str | int], Any]]
        release = releases.get(kind)
        if release is not None:
            found = [(list(release.version), _get(fdoc, list(release.version)))]
            found += [([*release.values, *p], v) for p, v in leaves(_get(fdoc, list(release.values)) or {})]
        else:
            found = [(p, v) for p, v in leaves(fdoc.get("spec") or {}, ["spec"]) if p[-1] == "image"]
        for path, value in found:
            if value is None:
                continue
            field = ".".join(map(str, path))
            if _env_specific(value, from_env):
                plan.kept.append(Kept(field=field, value=value, reason=f"names {from_env}: environment-specific"))
                continue
            current = _get(tdoc, path)
            if current == value:
                continue
            if isinstance(value, list | dict) and not isinstance(current, type(value)):
                plan.kept.append(Kept(field=field, value=value, reason="structure differs; promote by hand"))
                continue
            editor(tfile, "patch").set(ti, path, value)
            plan.moves.append(Move(file=tfile, field=f"{kind} {name}: {field}", value=value, previous=current))
    plan.edits = collect_edits(root, editors, dict.fromkeys(editors, f"{to_env} overlay of {app}"), roles)
    plan.description = _describe(plan)
    return plan


def _describe(p: PromotionPlan) -> str:
    lines = [f"Promote **{p.app}** from `{p.from_env}` (`{p.from_dir}`) to `{p.to_env}` (`{p.to_dir}`).", ""]
    if p.moves:
        lines.append("What moves:")
        lines += [f"- `{m.field}`: `{m.previous}` -> `{m.value}` ({m.file})" for m in p.moves]
    else:
        lines.append(f"Nothing to move: {p.to_env} already matches {p.from_env}.")
    if p.kept:
        lines += ["", "What stays:"]
        lines += [f"- `{k.field}` (`{k.value}`): {k.reason}" for k in p.kept]
    return "\n".join(lines)
