"""Preflight of a package before anything is committed: will the controller be able to build it?

Kustomize: every local reference (resources, bases, components, patches, generator files, crds,
configurations, replacements, openapi, helm values files) of the kustomization and of the
kustomizations it includes resolves inside the repository; every file the build reads is within
the size budget and every YAML among them (inline patches too) parses with its alias expansion
bounded (:mod:`.build_inputs`); a remote reference anywhere (a URL, a git address, a Helm chart
repository) is named and nothing is built. Then, with ``kustomize`` or ``kubectl`` on PATH, a real
``kustomize build`` in the sandbox (:mod:`gitops_mcp.sandbox`: memory, CPU, time and output
bounded, no network, no credentials). Helm: ``Chart.yaml`` and the chosen values files parse;
then, with ``helm`` on PATH and no chart dependency from a repository, ``helm template`` in the
same sandbox. A failure carries the tool's own message (one line); a limit reached says which.
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path
from typing import Any

from pydantic import Field

from gitops_mcp.manifests.build_inputs import (
    Budget,
    InputError,
    is_remote,
    load_yaml,
    load_yaml_text,
    strings,
    walk_strings,
)
from gitops_mcp.model import Model
from gitops_mcp.sandbox import Limits, run_build, which
from gitops_mcp.scrub import scrub

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
MAX_INPUT_MB = 16
_URL_KEYS = frozenset({"repo", "chartRepoUrl", "repoURL", "url", "path", "valuesFile", "additionalValuesFiles"})
_DIR, _YAML, _FILE = "directory or YAML", "YAML", "file"


class PackageCheck(Model):
    ok: bool
    checked: list[str] = Field(default_factory=list, description="What was checked (references, kustomize build, ...)")
    message: str = Field(description="Why it does not build, in the tool's own words; or what passed")


def _one_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return scrub(lines[-1] if lines else "no output")[:600]


def _inside(root: Path, target: Path) -> bool:
    return target == root or root in target.parents


class _Kustomize:
    def __init__(self, root: Path, budget: Budget) -> None:
        self.root = root.resolve()
        self.remote: str | None = None  # the first remote reference found
        self.seen: set[Path] = set()
        self.budget = budget

    def file_of(self, directory: Path) -> Path | None:
        return next((directory / n for n in KUSTOMIZATION_FILES if (directory / n).is_file()), None)

    def rel(self, path: Path) -> str:
        return posixpath.relpath(path.as_posix(), self.root.as_posix())

    def check(self, directory: Path) -> str | None:
        """The first problem of the kustomization in ``directory`` (and those it includes): a
        reference that does not resolve inside the repository, a file too large or expanding too
        far; or None. Remote references are noted in :attr:`remote`."""
        directory = directory.resolve()
        if directory in self.seen:
            return None
        self.seen.add(directory)
        kfile = self.file_of(directory)
        rel_dir = self.rel(directory)
        if kfile is None:
            return f"{rel_dir} has no kustomization.yaml"
        shown = f"{rel_dir}/{kfile.name}"
        try:
            docs = load_yaml(kfile, shown, self.budget)
        except InputError as exc:
            return str(exc)
        doc = docs[0] if len(docs) == 1 else None
        if not isinstance(doc, dict):
            return f"{shown} is not a mapping"
        for key, ref, kind in _references(doc):
            where = f"{shown}: {key} {ref[:200]!r}"
            problem = self._reference(directory, where, key, ref, kind)
            if problem:
                return problem
        return None

    def _reference(self, directory: Path, where: str, key: str, ref: str, kind: str) -> str | None:
        if kind == "inline":  # YAML the build parses from a string of the kustomization
            try:
                inline = load_yaml_text(ref, where, self.budget)
            except InputError as exc:
                return str(exc)
            self._remote_in(inline, where)
            return None
        if is_remote(ref):
            self.remote = self.remote or f"{where} is remote"
            return None
        if kind == "name":  # not a path (e.g. a chart repository name)
            return None
        target = (directory / ref).resolve()
        if not _inside(self.root, target):
            return f"{where} leaves the repository"
        if not target.exists():
            return f"{where} does not exist"
        if target.is_dir():
            return self.check(target) if kind == _DIR else f"{where} is a directory, not a file"
        shown = self.rel(target)
        try:
            if kind == _FILE:
                self.budget.take(target, shown)
            else:
                docs = load_yaml(target, shown, self.budget)
                if key in ("transformers", "generators", "validators"):
                    self._remote_in(docs, f"{where} ({shown})")
        except InputError as exc:
            return str(exc)
        return None

    def _remote_in(self, docs: list[Any], where: str) -> None:
        """A generator, transformer or validator configuration naming a remote chart or file."""
        for key, value in walk_strings(docs, _URL_KEYS):
            if is_remote(value):
                self.remote = self.remote or f"{where}: {key} {value[:200]!r} is remote"
                return


def _references(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(key, reference, kind) of everything the build reads besides the kustomization itself; kind:
    a directory or YAML file, a YAML file, any file, inline YAML, or a name (not a path)."""
    out: list[tuple[str, str, str]] = []

    def items(key: str) -> list[dict[str, Any]]:
        value = doc.get(key)
        return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []

    for key in ("resources", "bases", "components"):
        out += [(key, v, _DIR) for v in strings(doc.get(key))]
    for key in ("transformers", "generators", "validators"):
        out += [(key, v, "inline" if "\n" in v else _DIR) for v in strings(doc.get(key))]
    for key in ("crds", "configurations"):
        out += [(key, v, _YAML) for v in strings(doc.get(key))]
    out += [
        ("patchesStrategicMerge", v, "inline" if "\n" in v else _YAML)
        for v in strings(doc.get("patchesStrategicMerge"))
    ]
    for key in ("patches", "patchesJson6902", "replacements"):
        for p in items(key):
            if isinstance(p.get("path"), str):
                out.append((f"{key}.path", p["path"], _YAML))
            if isinstance(p.get("patch"), str):
                out.append((f"{key}.patch", p["patch"], "inline"))
    openapi = doc.get("openapi")
    if isinstance(openapi, dict) and isinstance(openapi.get("path"), str):
        out.append(("openapi.path", openapi["path"], _YAML))
    for key in ("configMapGenerator", "secretGenerator"):
        for g in items(key):
            out += [(f"{key}.files", f.split("=", 1)[-1], _FILE) for f in strings(g.get("files"))]
            envs = strings(g.get("envs")) + ([g["env"]] if isinstance(g.get("env"), str) else [])
            out += [(f"{key}.envs", e, _FILE) for e in envs]
    for h in items("helmCharts"):
        out += [("helmCharts.repo", h["repo"], "name")] if isinstance(h.get("repo"), str) else []
        values = ([h["valuesFile"]] if isinstance(h.get("valuesFile"), str) else []) + strings(
            h.get("additionalValuesFiles")
        )
        out += [("helmCharts.valuesFile", v, _YAML) for v in values]
    for h in items("helmChartInflationGenerator"):
        out += (
            [("helmChartInflationGenerator.chartRepoUrl", h["chartRepoUrl"], "name")]
            if isinstance(h.get("chartRepoUrl"), str)
            else []
        )
        out += [("helmChartInflationGenerator.values", h["values"], _YAML)] if isinstance(h.get("values"), str) else []
    return out


def _build(tool: str, argv: list[str], cwd: Path, path: str, checked: list[str], limits: Limits) -> PackageCheck:
    """Run one build in the sandbox and say what came of it."""
    run = run_build(argv, cwd, limits)
    done = list(checked)
    if run.limit == "network":
        return PackageCheck(ok=True, checked=done, message=f"not built: {run.problem(limits)}")
    done.append(tool if run.isolated else f"{tool} (network not isolated)")
    if run.limit is not None:
        return PackageCheck(ok=False, checked=done, message=f"{tool} {path} stopped: {run.problem(limits)}")
    if run.ok:
        return PackageCheck(ok=True, checked=done, message="builds")
    return PackageCheck(ok=False, checked=done, message=f"{tool} {path} failed: {_one_line(run.stderr)}")


def check_kustomize(
    root: Path, path: str, limits: Limits | None = None, max_input_mb: int = MAX_INPUT_MB
) -> PackageCheck:
    directory = root / path
    k = _Kustomize(root, Budget(max_input_mb << 20))
    problem = k.check(directory)
    if problem:
        return PackageCheck(ok=False, checked=["references"], message=problem)
    checked = ["references"]
    if k.remote:
        return PackageCheck(
            ok=True,
            checked=checked,
            message=f"references resolve; not built: {k.remote} (builds never use the network)",
        )
    tool = which("kustomize", "kubectl")
    if tool is None:
        return PackageCheck(ok=True, checked=checked, message="references resolve (no kustomize or kubectl on PATH)")
    name = Path(tool).name
    argv = [tool, "build", "."] if name == "kustomize" else [tool, "kustomize", "."]
    return _build(
        f"{name} {'build' if name == 'kustomize' else 'kustomize'}", argv, directory, path, checked, limits or Limits()
    )


def _chart_files(chart: Path, budget: Budget, shown: str) -> None:
    """Count every file of the chart (what ``helm template`` may read) against the budget."""
    for top, _dirs, files in os.walk(chart):  # symlinks to directories are not followed
        for f in files:
            p = Path(top) / f
            if p.is_file() and not p.is_symlink():
                budget.take(p, f"{shown}/{p.relative_to(chart).as_posix()}")


def _remote_dependency(meta: dict[str, Any]) -> str | None:
    deps = meta.get("dependencies")
    for d in deps if isinstance(deps, list) else []:
        repo = d.get("repository") if isinstance(d, dict) else None
        if isinstance(repo, str) and repo.strip() and not repo.startswith("file://"):
            return f"Chart.yaml dependency {str(d.get('name'))[:100]!r} comes from {repo[:200]!r}"
    return None


def check_helm(
    root: Path, path: str, value_files: list[str], limits: Limits | None = None, max_input_mb: int = MAX_INPUT_MB
) -> PackageCheck:
    chart = root / path
    checked = ["Chart.yaml", "values files"]
    budget = Budget(max_input_mb << 20)
    if not (chart / "Chart.yaml").is_file():
        return PackageCheck(ok=False, checked=checked[:1], message=f"{path}/Chart.yaml is missing")
    try:
        docs = load_yaml(chart / "Chart.yaml", f"{path}/Chart.yaml", budget)
    except InputError as exc:
        return PackageCheck(ok=False, checked=checked[:1], message=str(exc))
    meta = docs[0] if len(docs) == 1 else None
    if not isinstance(meta, dict) or not meta.get("name") or not meta.get("version"):
        return PackageCheck(ok=False, checked=checked[:1], message=f"{path}/Chart.yaml needs a name and a version")
    for vf in ["values.yaml", *value_files] if (chart / "values.yaml").is_file() else value_files:
        target = (chart / vf).resolve()
        if not _inside(root.resolve(), target) or not target.is_file():
            return PackageCheck(ok=False, checked=checked, message=f"values file {vf} is not in {path}")
        try:
            values = load_yaml(target, f"values file {vf}", budget)
        except InputError as exc:
            return PackageCheck(ok=False, checked=checked, message=str(exc))
        if len(values) > 1 or (values and values[0] is not None and not isinstance(values[0], dict)):
            return PackageCheck(ok=False, checked=checked, message=f"values file {vf} is not a mapping")
    remote = _remote_dependency(meta)
    if remote:
        return PackageCheck(
            ok=True, checked=checked, message=f"parses; not rendered: {remote} (builds never use the network)"
        )
    try:
        _chart_files(chart, budget, path)
    except InputError as exc:
        return PackageCheck(ok=False, checked=checked, message=str(exc))
    helm = which("helm")
    if helm is None:
        return PackageCheck(ok=True, checked=checked, message="Chart.yaml and values parse (no helm on PATH)")
    if meta.get("dependencies") and not (chart / "charts").is_dir():
        return PackageCheck(ok=True, checked=checked, message="parses; not rendered: chart dependencies not vendored")
    argv = [helm, "template", str(meta["name"]), "."] + [a for vf in value_files for a in ("-f", vf)]
    result = _build("helm template", argv, chart, path, checked, limits or Limits())
    return result.model_copy(update={"message": "renders"}) if result.ok and result.message == "builds" else result
