"""What surrounds a new deployment file: the package's own facts, the objects beside the output
file, the names already taken, and what already applies the package (in the repository or the
cluster). Engine-neutral: the providers say which of their committed objects apply a path
(``Provider.repo_appliers``) and use what is gathered here when they generate."""

from __future__ import annotations

import contextlib
import posixpath
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from gitops_mcp.detection.facts import FileObject, directory_objects, package_facts
from gitops_mcp.detection.tree import LocalTree, TreeSource
from gitops_mcp.providers.base import ExistingOwner, ObjectKey, Surroundings
from gitops_mcp.sessions.models import SessionContext
from gitops_mcp.sessions.owners import covers as _covers
from gitops_mcp.sessions.owners import owners
from gitops_mcp.sessions.spec import package_kind, selected_package

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


@contextlib.contextmanager
def repo_tree(root: Path, cached: bool) -> Iterator[TreeSource]:
    """The repository's files: the working tree, or a cached clone's HEAD commit."""
    if not cached:
        yield LocalTree(str(root))
        return
    from gitops_mcp.git.tree import GitTree

    with GitTree(root) as tree:
        yield tree


def _dir(path: str) -> str:
    d = posixpath.dirname(path)
    return "" if d in ("", ".") else d


def gather(
    answers: Mapping[str, Any],
    ctx: SessionContext,
    tree: TreeSource,
    file_objects: list[FileObject] | None = None,
) -> Surroundings:
    """The :class:`Surroundings` of the answers' output file in the repository ``tree``."""
    from gitops_mcp.git.urls import url_identity

    out = str(answers.get("output_path") or "")
    around = Surroundings(output_path=out or None, cluster_namespaces=ctx.cluster_namespaces)
    pkg = selected_package(answers, ctx)
    kind = package_kind(answers, ctx)
    same_repo = bool(
        ctx.origin_url
        and answers.get("repo_url")
        and url_identity(str(answers["repo_url"])) == url_identity(ctx.origin_url)
    )
    if pkg is not None and kind is not None and kind[1] == "git" and same_repo:
        path = str(answers.get("path") or pkg.path)
        around.package = package_facts(tree, path, pkg.type)
    out_dir = _dir(out)
    beside = file_objects if file_objects is not None else directory_objects(tree, out_dir)
    around.siblings = [o for o in beside if o.file != out and _dir(o.file) == out_dir]
    appliers = [a for found in ctx.repo_appliers.values() for a in found]
    taken = [o for o in beside if o.file != out]
    for a in appliers:
        applied = directory_objects(tree, a.path)
        if _covers(out_dir, _dir(a.file)) and a.file != out and not _covers(out_dir, a.path):
            taken += applied  # what the objects beside the file apply joins the same build
        for o in applied:  # namespaces the repository's deployments create
            if o.doc.get("kind") == "Namespace" and a.file != out:
                around.repo_namespaces.setdefault(o.key()[1], o.file)
    seen: set[tuple[str, str, str | None]] = set()
    for o in taken:
        if o.key() not in seen:
            seen.add(o.key())
            k, n, ns = o.key()
            around.taken.append(ObjectKey(kind=k, name=n, namespace=ns))
    if pkg is not None and same_repo:
        around.owners = [a for _, a in owners(answers, ctx)]
    mine = {o.key() for o in beside if o.file == out}
    for c in ctx.cluster_appliers or []:
        ref = c.ref
        if ctx.origin_url and url_identity(c.repo_url) == url_identity(ctx.origin_url) and pkg is not None:
            target = "" if pkg.path == "." else pkg.path
            known = any(o.name == ref.name and o.kind == ref.kind for o in around.owners)
            if c.path == target and not known and (ref.kind, ref.name, ref.namespace) not in mine:
                around.owners.append(
                    ExistingOwner(
                        kind=ref.kind, name=ref.name, namespace=ref.namespace, file="(the cluster)", path=c.path
                    )
                )
        key = ObjectKey(kind=ref.kind, name=ref.name, namespace=ref.namespace)
        if key not in around.taken and (key.kind, key.name, key.namespace) not in mine:
            around.taken.append(key)
    around.applied = any(_covers(a.path, out_dir) for a in appliers if a.file != out) or any(
        s.serves is not None and _covers("" if s.serves == "." else s.serves, out_dir) for s in ctx.existing_sources
    )
    return around
