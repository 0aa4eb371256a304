"""Helm packages: every chart directory (library charts are not deployable on their own)."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence
from typing import Any

from gitops_mcp.detection.gitops import app_of_apps
from gitops_mcp.detection.kinds import GitOpsKinds, as_str, custom_kind
from gitops_mcp.detection.models import Confidence, Package
from gitops_mcp.detection.reader import CHART_FILE, VALUES_FILE, Scanner, is_yaml


def helm_packages(sc: Scanner, engines: Sequence[GitOpsKinds]) -> tuple[list[Package], list[str]]:
    """The chart packages, and the charts among them whose templates render GitOps objects."""
    packages: list[Package] = []
    apps_of_apps: list[str] = []
    for rel, info in sc.dirs.items():
        if not info.chart or info.kustomization is not None:
            continue
        crel = CHART_FILE if rel == "." else f"{rel}/{CHART_FILE}"
        text = sc.read_text(info.files[CHART_FILE], crel)
        docs = sc.parse(text, crel) if text is not None else None
        chart = docs[0] if docs and isinstance(docs[0], dict) else {}
        evidence = [crel]
        confidence: Confidence = "high"
        chart_name = as_str(chart.get("name"))
        if not chart:
            confidence = "low"
            evidence.append("Chart.yaml could not be parsed")
        if chart.get("type") == "library":
            sc.skip(rel, "Helm library chart (not deployable on its own)")
            continue
        if chart_name:
            evidence.append(
                f"chart {chart_name} version {chart.get('version', '?')} (apiVersion {chart.get('apiVersion', '?')})"
            )
        else:
            confidence = "low"
            evidence.append("Chart.yaml has no name")
        templates = sc.fs.child(info.abs, "templates") if "templates" in info.subdirs else None
        has_templates = templates is not None
        custom = _template_kinds(sc, templates, f"{rel}/templates" if rel != "." else "templates")
        deps = _dependencies(sc, rel, info.files, chart)
        if templates is not None:
            evidence.append("templates/ present")
            note = app_of_apps(sc, templates, f"{rel}/templates" if rel != "." else "templates", engines)
            if note is not None:
                apps_of_apps.append(rel)
                evidence.append(note)
        if deps:
            evidence.append("dependencies: " + ", ".join(d.split(" ", 1)[0] for d in deps))
        if not has_templates and not deps and confidence == "high":
            confidence = "medium"
            evidence.append("no templates/ and no dependencies")
        values = sorted((n for n in info.files if VALUES_FILE.match(n)), key=lambda n: (n != "values.yaml", n))
        version = chart.get("version")
        packages.append(
            Package(
                path=rel,
                type="helm",
                name=chart_name or posixpath.basename(rel) or "chart",
                confidence=confidence,
                evidence=evidence,
                values_files=values,
                chart_version=str(version) if version is not None else None,
                dependencies=deps,
                custom_kinds=custom,
            )
        )
    return packages, apps_of_apps


_KIND = re.compile(r"^apiVersion:\s*[\"']?([\w./-]+)[\"']?\s*$|^kind:\s*[\"']?(\w+)[\"']?\s*$", re.M)


_IF = re.compile(r"\{\{-?\s*(if|with)\b")


def _template_kinds(sc: Scanner, templates: str | None, templates_rel: str) -> list[str]:
    """CRD kinds (``group/Kind``) the templates spell out literally, outside an ``if``/``with`` block
    (a templated kind is not guessed, an optional object not counted)."""
    if templates is None:
        return []
    try:
        entries = sc.fs.list_dir(templates)
    except OSError:
        return []
    found: set[str] = set()
    for e in entries:
        if e.kind != "file" or not is_yaml(e.name):
            continue
        text = sc.read_text(e.handle, f"{templates_rel}/{e.name}") or ""
        for doc in re.split(r"^---", text, flags=re.M):
            if _IF.search(doc.split("\nkind:", 1)[0]):
                continue  # rendered only for some values: not what the defaults deploy
            api = kind = None
            for m in _KIND.finditer(doc):
                api, kind = m.group(1) or api, m.group(2) or kind
            if api and kind and (c := custom_kind(api, kind)):
                found.add(c)
    return sorted(found)


def _dependencies(sc: Scanner, rel: str, files: Mapping[str, str], chart: Mapping[str, Any]) -> list[str]:
    """``name version (repository)`` of each dependency: Chart.yaml's, or a v1 chart's requirements.yaml."""
    found = chart.get("dependencies")
    if not found and "requirements.yaml" in files:
        rrel = "requirements.yaml" if rel == "." else f"{rel}/requirements.yaml"
        text = sc.read_text(files["requirements.yaml"], rrel)
        docs = sc.parse(text, rrel) if text is not None else None
        found = docs[0].get("dependencies") if docs and isinstance(docs[0], dict) else None
    out = []
    for d in found if isinstance(found, list) else []:
        if isinstance(d, dict) and as_str(d.get("name")):
            repo = as_str(d.get("repository"))
            out.append(f"{d['name']} {d.get('version', '*')}" + (f" ({repo})" if repo else ""))
    return out
