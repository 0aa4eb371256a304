"""Render what a controller will apply from a repository's tree: ``kustomize build`` (a
kustomization, or a plain directory listed as one) with the controller's own overlay options,
or ``helm template`` of a chart in the tree with its values. Always in the build sandbox
(:mod:`gitops_mcp.sandbox`: bounded, no network), after the same reference checks as the
preflight (:mod:`.preflight`): a remote reference anywhere is named and nothing is built.

The overlay is a kustomization written in a private temporary directory that lists the
package's directory (or its manifest files) by a relative path, the way Flux adds
``targetNamespace``, ``images``, ``patches`` ... to what it builds and Argo CD adds its
``kustomize`` options.
"""

from __future__ import annotations

import json
import os
import posixpath
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops_mcp.manifests.build_inputs import Budget, InputError, load_yaml, load_yaml_text
from gitops_mcp.manifests.directory import DirectoryError, FileSelection, read_directory
from gitops_mcp.manifests.plain import _included
from gitops_mcp.manifests.preflight import KUSTOMIZATION_FILES, MAX_INPUT_MB, _Kustomize, _one_line, _remote_dependency
from gitops_mcp.sandbox import Limits, run_build, which

Obj = dict[str, Any]
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class Overlay:
    """Kustomization fields a controller adds on top of the package (all optional)."""

    namespace: str | None = None
    name_prefix: str | None = None
    name_suffix: str | None = None
    images: Sequence[Mapping[str, Any]] = ()
    patches: Sequence[Mapping[str, Any]] = ()
    components: Sequence[str] = ()
    """Relative to the package directory."""
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    replicas: Sequence[Mapping[str, Any]] = ()

    def fields(self, rel: str) -> Obj:
        """The kustomization fields, with paths made relative to a directory ``rel`` away."""
        out: Obj = {}
        if self.namespace:
            out["namespace"] = self.namespace
        if self.name_prefix:
            out["namePrefix"] = self.name_prefix
        if self.name_suffix:
            out["nameSuffix"] = self.name_suffix
        if self.images:
            out["images"] = [dict(i) for i in self.images]
        if self.patches:
            out["patches"] = [dict(p) for p in self.patches]
        if self.components:
            out["components"] = [posixpath.join(rel, c) for c in self.components]
        if self.labels:
            out["labels"] = [{"pairs": dict(self.labels), "includeSelectors": False}]
        if self.annotations:
            out["commonAnnotations"] = dict(self.annotations)
        if self.replicas:
            out["replicas"] = [dict(r) for r in self.replicas]
        return out


@dataclass(frozen=True)
class HelmChart:
    """``helm template`` of the chart at the plan's path."""

    release: str
    namespace: str
    values: Mapping[str, Any] = field(default_factory=dict)
    """Merged over the chart's values and ``value_files`` (as ``--values`` of a file)."""
    value_files: Sequence[str] = ()
    """Relative to the chart directory."""


@dataclass(frozen=True)
class RenderPlan:
    """What to build: ``path`` (repository-relative directory) with an overlay, or a chart."""

    path: str
    overlay: Overlay = field(default_factory=Overlay)
    helm: HelmChart | None = None
    recurse: bool = True
    """A plain directory: its subdirectories too."""
    chart: HelmChart | None = None
    """Rendered with helm when the path holds a ``Chart.yaml`` (an engine that tells by the files)."""
    files: FileSelection | None = None
    """A plain directory the engine reads file by file (nothing built), these files of it."""


@dataclass(frozen=True)
class Rendered:
    objects: list[Obj] = field(default_factory=list)
    problem: str | None = None
    """Why nothing was rendered (a remote reference, a failed build, a limit), else None."""


def _norm(path: str) -> str:
    p = posixpath.normpath(path.strip().lstrip("/")) if path.strip() not in ("", ".", "./") else "."
    return "." if p in ("", ".") else p


def _docs(out: bytes, what: str) -> list[Obj]:
    try:
        docs = load_yaml_text(out.decode("utf-8", "replace"), what)
    except InputError as exc:
        raise _Stop(str(exc)) from None
    return [d for d in docs if isinstance(d, dict) and d.get("kind")]


class _Stop(Exception):
    pass


def render(root: Path, plan: RenderPlan, limits: Limits | None = None, max_input_mb: int = MAX_INPUT_MB) -> Rendered:
    """The objects ``plan`` renders from the tree at ``root``, or why it cannot."""
    limits = limits or Limits()
    path = _norm(plan.path)
    directory = (root / path).resolve() if path != "." else root.resolve()
    if not (directory == root.resolve() or root.resolve() in directory.parents):
        return Rendered(problem=f"{plan.path} leaves the repository")
    if not directory.is_dir():
        return Rendered(problem=f"{path} does not exist at this revision")
    try:
        chart = plan.helm or (plan.chart if (directory / "Chart.yaml").is_file() else None)
        if chart is not None:
            return Rendered(objects=_helm(root, path, chart, limits, max_input_mb))
        return Rendered(objects=_kustomize(root, path, plan, limits, max_input_mb))
    except _Stop as exc:
        return Rendered(problem=str(exc))


def _run(argv: list[str], cwd: Path, what: str, limits: Limits) -> bytes:
    run = run_build(argv, cwd, limits)
    if run.limit is not None:
        raise _Stop(f"{what} stopped: {run.problem(limits)}")
    if not run.ok:
        raise _Stop(f"{what} failed: {_one_line(run.stderr)}")
    return run.stdout


def _kustomize(root: Path, path: str, plan: RenderPlan, limits: Limits, max_input_mb: int) -> list[Obj]:
    k = _Kustomize(root, Budget(max_input_mb << 20))
    directory = root / path
    has_kustomization = any((directory / n).is_file() for n in KUSTOMIZATION_FILES)
    resources: list[Path] = []
    if has_kustomization:
        problem = k.check(directory)
        if problem:
            raise _Stop(problem)
        resources = [directory]
    elif plan.files is not None:
        try:
            return read_directory(root, path, plan.files, plan.recurse, k.budget)[0]
        except DirectoryError as exc:
            raise _Stop(f"{path}: {exc}") from None
    else:
        files, built = _included(directory, MANIFEST_SUFFIXES, plan.recurse, True)
        for b in built:
            problem = k.check(b)
            if problem:
                raise _Stop(problem)
        for f in files:
            try:
                load_yaml(f, f.relative_to(root).as_posix(), k.budget)
            except InputError as exc:
                raise _Stop(str(exc)) from None
        resources = files + built
    if k.remote:
        raise _Stop(f"not rendered: {k.remote} (builds never use the network)")
    for c in plan.overlay.components:
        problem = k.check(directory / c)
        if problem:
            raise _Stop(problem)
    if any(not isinstance(p.get("patch"), str) for p in plan.overlay.patches):
        raise _Stop("not rendered: a patch of the controller's own is not inline")
    tool = which("kustomize", "kubectl")
    if tool is None:
        raise _Stop("not rendered: no kustomize or kubectl on PATH")
    if not resources:
        return []
    with tempfile.TemporaryDirectory(prefix="gitops-mcp-render-") as tmp:
        wrap = Path(tmp) / "overlay"
        wrap.mkdir()
        rel = os.path.relpath(directory.resolve(), wrap)
        doc: Obj = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": [os.path.relpath(r.resolve(), wrap) for r in resources],
            **plan.overlay.fields(rel),
        }
        (wrap / "kustomization.yaml").write_text(json.dumps(doc), encoding="utf-8")
        name = Path(tool).name
        argv = [tool, "build"] if name == "kustomize" else [tool, "kustomize"]
        argv += [str(wrap), "--load-restrictor", "LoadRestrictionsNone"]
        return _docs(_run(argv, wrap, f"kustomize build {path}", limits), f"kustomize build {path}")


def _helm(root: Path, path: str, chart: HelmChart, limits: Limits, max_input_mb: int) -> list[Obj]:
    directory = root / path
    budget = Budget(max_input_mb << 20)
    if not (directory / "Chart.yaml").is_file():
        raise _Stop(f"{path}/Chart.yaml is missing at this revision")
    try:
        docs = load_yaml(directory / "Chart.yaml", f"{path}/Chart.yaml", budget)
        meta = docs[0] if len(docs) == 1 and isinstance(docs[0], dict) else {}
        for vf in chart.value_files:
            target = (directory / vf).resolve()
            if root.resolve() not in target.parents or not target.is_file():
                raise _Stop(f"values file {vf} is not in the repository at this revision")
            load_yaml(target, f"values file {vf}", budget)
    except InputError as exc:
        raise _Stop(str(exc)) from None
    remote = _remote_dependency(meta)
    if remote:
        raise _Stop(f"not rendered: {remote} (builds never use the network)")
    if meta.get("dependencies") and not (directory / "charts").is_dir():
        raise _Stop("not rendered: chart dependencies not vendored")
    helm = which("helm")
    if helm is None:
        raise _Stop("not rendered: no helm on PATH")
    with tempfile.TemporaryDirectory(prefix="gitops-mcp-render-") as tmp:
        values = Path(tmp) / "values.json"
        values.write_text(json.dumps(dict(chart.values)), encoding="utf-8")
        argv = [helm, "template", chart.release, ".", "--namespace", chart.namespace, "--include-crds"]
        argv += [a for vf in chart.value_files for a in ("-f", vf)] + ["-f", str(values)]
        out = _docs(_run(argv, directory, f"helm template {path}", limits), f"helm template {path}")
    # hooks are run around an install, not kept applied (nor listed in an inventory)
    return [o for o in out if "helm.sh/hook" not in ((o.get("metadata") or {}).get("annotations") or {})]
