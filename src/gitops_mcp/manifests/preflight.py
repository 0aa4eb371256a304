"""Preflight of a package before anything is committed: will the controller be able to build it?

Kustomize: every local reference (resources, bases, components, patches, generator files) of
the kustomization and of the kustomizations it includes resolves inside the repository; then,
with ``kustomize`` or ``kubectl`` on PATH, a real ``kustomize build``. Helm: ``Chart.yaml`` and
the chosen values files parse; then, with ``helm`` on PATH and no chart dependency left to fetch,
``helm template``. A failure carries the tool's own message (one line).
"""

from __future__ import annotations

import posixpath
import shutil
import subprocess
from pathlib import Path
from typing import Any

from pydantic import Field

from gitops_mcp.model import Model
from gitops_mcp.scrub import scrub

TIMEOUT = 60.0
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_REMOTE = ("://", "git@", "github.com/", "gitlab.com/", "bitbucket.org/")


class PackageCheck(Model):
    ok: bool
    checked: list[str] = Field(default_factory=list, description="What was checked (references, kustomize build, ...)")
    message: str = Field(description="Why it does not build, in the tool's own words; or what passed")


def _yaml(path: Path) -> Any:
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _one_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return scrub(lines[-1] if lines else "no output")[:600]


def _inside(root: Path, target: Path) -> bool:
    return target == root or root in target.parents


class _Kustomize:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.remote = False
        self.seen: set[Path] = set()

    def file_of(self, directory: Path) -> Path | None:
        return next((directory / n for n in KUSTOMIZATION_FILES if (directory / n).is_file()), None)

    def check(self, directory: Path) -> str | None:
        """The first reference of the kustomization in ``directory`` (and those it includes) that does
        not resolve inside the repository, or None."""
        directory = directory.resolve()
        if directory in self.seen:
            return None
        self.seen.add(directory)
        kfile = self.file_of(directory)
        rel_dir = posixpath.relpath(directory.as_posix(), self.root.as_posix())
        if kfile is None:
            return f"{rel_dir} has no kustomization.yaml"
        try:
            doc = _yaml(kfile)
        except Exception as exc:  # yaml.YAMLError, UnicodeDecodeError
            return f"{rel_dir}/{kfile.name} does not parse: {_one_line(str(exc))}"
        if not isinstance(doc, dict):
            return f"{rel_dir}/{kfile.name} is not a mapping"
        for key, ref, directory_ok in self._references(doc):
            if any(m in ref for m in _REMOTE) or "?ref=" in ref:
                self.remote = True
                continue
            target = (directory / ref).resolve()
            where = f"{rel_dir}/{kfile.name}: {key} {ref!r}"
            if not _inside(self.root, target):
                return f"{where} leaves the repository"
            if not target.exists():
                return f"{where} does not exist"
            if target.is_dir():
                if not directory_ok:
                    return f"{where} is a directory, not a file"
                problem = self.check(target)
                if problem:
                    return problem
        return None

    @staticmethod
    def _references(doc: dict[str, Any]) -> list[tuple[str, str, bool]]:
        """(key, reference, may be a directory) of every local file reference."""
        out: list[tuple[str, str, bool]] = []

        def strs(value: Any) -> list[str]:
            return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

        for key in ("resources", "bases", "components"):
            out += [(key, v, True) for v in strs(doc.get(key))]
        for key in ("transformers", "generators", "validators", "crds", "configurations"):
            out += [(key, v, key in ("transformers", "generators", "validators")) for v in strs(doc.get(key))]
        out += [("patchesStrategicMerge", v, False) for v in strs(doc.get("patchesStrategicMerge")) if "\n" not in v]
        for key in ("patches", "patchesJson6902"):
            for p in doc.get(key) or []:
                if isinstance(p, dict) and isinstance(p.get("path"), str):
                    out.append((key, p["path"], False))
        for key in ("configMapGenerator", "secretGenerator"):
            for g in doc.get(key) or []:
                if not isinstance(g, dict):
                    continue
                for f in strs(g.get("files")):
                    out.append((key, f.split("=", 1)[-1], False))
                out += [
                    (key, e, False) for e in strs(g.get("envs")) + ([g["env"]] if isinstance(g.get("env"), str) else [])
                ]
        return out


def _run(argv: list[str], cwd: Path) -> tuple[bool, str]:
    try:
        proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return False, f"{argv[0]} did not finish within {TIMEOUT:.0f} s"
    except OSError as exc:
        return False, f"{argv[0]} could not run: {exc}"
    return proc.returncode == 0, _one_line(proc.stderr or proc.stdout)


def check_kustomize(root: Path, path: str) -> PackageCheck:
    directory = root / path
    k = _Kustomize(root)
    problem = k.check(directory)
    if problem:
        return PackageCheck(ok=False, checked=["references"], message=problem)
    checked = ["references"]
    if k.remote:
        return PackageCheck(ok=True, checked=checked, message="references resolve; not built: it has remote references")
    tool = shutil.which("kustomize") or shutil.which("kubectl")
    if tool is None:
        return PackageCheck(ok=True, checked=checked, message="references resolve (no kustomize or kubectl on PATH)")
    name = Path(tool).name
    argv = [tool, "build", "."] if name == "kustomize" else [tool, "kustomize", "."]
    ok, msg = _run(argv, directory)
    checked.append(f"{name} {'build' if name == 'kustomize' else 'kustomize'}")
    return PackageCheck(
        ok=ok, checked=checked, message="builds" if ok else f"{' '.join(checked[-1:])} {path} failed: {msg}"
    )


def check_helm(root: Path, path: str, value_files: list[str]) -> PackageCheck:
    chart = root / path
    checked = ["Chart.yaml", "values files"]
    try:
        meta = _yaml(chart / "Chart.yaml")
    except FileNotFoundError:
        return PackageCheck(ok=False, checked=checked[:1], message=f"{path}/Chart.yaml is missing")
    except Exception as exc:
        return PackageCheck(
            ok=False, checked=checked[:1], message=f"{path}/Chart.yaml does not parse: {_one_line(str(exc))}"
        )
    if not isinstance(meta, dict) or not meta.get("name") or not meta.get("version"):
        return PackageCheck(ok=False, checked=checked[:1], message=f"{path}/Chart.yaml needs a name and a version")
    for vf in value_files:
        target = (chart / vf).resolve()
        if not _inside(root.resolve(), target) or not target.is_file():
            return PackageCheck(ok=False, checked=checked, message=f"values file {vf} is not in {path}")
        try:
            doc = _yaml(target)
        except Exception as exc:
            return PackageCheck(
                ok=False, checked=checked, message=f"values file {vf} does not parse: {_one_line(str(exc))}"
            )
        if doc is not None and not isinstance(doc, dict):
            return PackageCheck(ok=False, checked=checked, message=f"values file {vf} is not a mapping")
    helm = shutil.which("helm")
    if helm is None:
        return PackageCheck(ok=True, checked=checked, message="Chart.yaml and values parse (no helm on PATH)")
    deps = meta.get("dependencies") or []
    if deps and not (chart / "charts").is_dir():
        return PackageCheck(ok=True, checked=checked, message="parses; not rendered: chart dependencies not vendored")
    argv = [helm, "template", str(meta["name"]), "."] + [a for vf in value_files for a in ("-f", vf)]
    ok, msg = _run(argv, chart)
    checked.append("helm template")
    return PackageCheck(ok=ok, checked=checked, message="renders" if ok else f"helm template {path} failed: {msg}")
