"""The live effect of a revision before it is applied: what an applier's controller would create,
change and prune.

The applier's provider says how it renders its path (:meth:`Provider.rendering`); the render runs
in the build sandbox (:mod:`gitops_mcp.manifests.render`), never reaching out. Every rendered
object, as the controller sends it, is then applied as a server-side **dry run** (``dryRun=All``,
the controller's field manager, ownership forced as the controllers do) and compared with the
live object (:mod:`.fielddiff`): created, changed (the changed field paths), unchanged, or
refused (the API server's reason: the controller will fail on it). What the applier applied
before (its inventory, its resource list) and no longer renders is pruned, or orphaned when the
applier would leave it (:meth:`Provider.prunes`). Namespaces and CRDs the render adds come first;
objects in a namespace (or of a kind) that only the same apply creates cannot be dry-run and are
reported created, unchecked. Bounded: at most :data:`MAX_OBJECTS` objects are dry-run and
as many listed as :class:`LiveEffect` keeps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gitops_mcp.cluster.client import FIELD_MANAGER, KubeClient
from gitops_mcp.cluster.fielddiff import applied_diff, no_longer_applied, object_diff
from gitops_mcp.cluster.owner import OwnerFinder
from gitops_mcp.errors import ClusterError, ClusterUnavailable
from gitops_mcp.manifests.render import render
from gitops_mcp.providers.base import Provider
from gitops_mcp.providers.effects import Effect, LiveEffect
from gitops_mcp.providers.live import Obj, ObjectRef, api_group
from gitops_mcp.providers.registry import ProviderRegistry
from gitops_mcp.sandbox import Limits

MAX_OBJECTS = 200
_FIRST = ("Namespace", "CustomResourceDefinition")


def _ref(obj: Obj) -> ObjectRef:
    meta = obj.get("metadata") or {}
    return ObjectRef(
        api_version=str(obj.get("apiVersion")),
        kind=str(obj.get("kind")),
        name=str(meta.get("name") or ""),
        namespace=meta.get("namespace") or None,
    )


def _key(ref: ObjectRef) -> tuple[str, str, str, str]:
    return (api_group(ref.api_version), ref.kind, ref.namespace or "", ref.name)


def _effect(ref: ObjectRef, **kw: Any) -> Effect:
    return Effect(kind=ref.kind, name=ref.name, namespace=ref.namespace, **kw)


def _what(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{obj.get('kind')} {str(ns) + '/' if ns else ''}{meta.get('name')}"


class _Run:
    def __init__(self, kube: KubeClient, manager: str, result: LiveEffect) -> None:
        self.kube, self.manager, self.result = kube, manager, result
        self.new_namespaces: set[str] = set()
        self.new_kinds: dict[tuple[str, str], bool] = {}  # (group, Kind) of CRDs the render adds -> namespaced
        self.compared: set[str] = set()  # kinds the server may not dry-run: compared without the API server

    def namespaced(self, obj: Obj) -> bool | None:
        """Whether the object's kind is namespaced; None when the cluster serves no such kind."""
        group = api_group(str(obj.get("apiVersion")))
        if (group, str(obj.get("kind"))) in self.new_kinds:
            return self.new_kinds[(group, str(obj.get("kind")))]
        try:
            return self.kube.resource(str(obj.get("apiVersion")), str(obj.get("kind"))).namespaced
        except ClusterError as exc:
            if exc.status == 404:
                return None
            raise

    def learn(self, obj: Obj) -> None:
        """A Namespace or a CRD of the render: what the objects after it may rely on."""
        meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
        if obj.get("kind") == "Namespace":
            self.new_namespaces.add(str(meta.get("name")))
        elif obj.get("kind") == "CustomResourceDefinition":
            kind = str((spec.get("names") or {}).get("kind"))
            self.new_kinds[(str(spec.get("group")), kind)] = spec.get("scope") != "Cluster"

    def one(self, obj: Obj) -> None:
        ref, result = _ref(obj), self.result
        try:
            live = self.kube.get(ref.api_version, ref.kind, ref.name, ref.namespace)
        except ClusterUnavailable:
            raise
        except ClusterError as exc:
            result.add(result.unchecked, _effect(ref, note=f"cannot be read: {str(exc)[:200]}"))
            return
        try:
            after = self.kube.apply(obj, dry_run=True, manager=self.manager, force=True)
        except ClusterUnavailable:
            raise
        except ClusterError as exc:
            if exc.status == 403:  # a dry run needs the rights of a write: compare without the API server
                self.compared.add(ref.kind)
                fields = applied_diff(live, obj, self.manager) if live is not None else []
                self._record(ref, live, fields, "not dry-run (RBAC)" if live is None else None)
                return
            if live is None and exc.status == 404 and ref.namespace in self.new_namespaces - {""}:
                result.add(result.created, _effect(ref, note="not dry-run: its namespace is created by the same sync"))
                return
            result.add(result.refused, _effect(ref, note=str(exc)[:300]))
            return
        fields = object_diff(live, after) if live is not None else []
        if live is not None:  # a client-side apply also drops what its last-applied configuration had
            fields += [f for f in no_longer_applied(live, obj, self.manager, server_side=False) if f not in fields]
        self._record(ref, live, fields, None)

    def _record(self, ref: ObjectRef, live: Obj | None, fields: list[str], note: str | None) -> None:
        result = self.result
        if live is None:
            result.add(result.created, _effect(ref, note=note))
        elif fields:
            result.add(result.changed, _effect(ref, fields=fields))
        else:
            result.unchanged += 1


def live_effect(
    kube: KubeClient,
    registry: ProviderRegistry,
    provider: Provider,
    applier: Obj,
    root: Path,
    *,
    revision: str | None = None,
    live_applier: Obj | None = None,
    limits: Limits | None = None,
    max_input_mb: int = 16,
    first: list[Obj] | None = None,
    reader: Any = None,
) -> LiveEffect:
    """What ``applier`` (its provider's object; generated, or ``live_applier`` as the cluster has it)
    would do once it applies the tree at ``root``: a server-side dry run of its render, compared
    with the live objects and with what it applied before (``live_applier``'s inventory). ``first``:
    objects applied before (a new file of GitOps objects, as ``gitops-mcp``); ``reader``: what the
    provider reads (default: the cluster)."""
    where = f"{_what(applier)}" + (f" at {revision[:12]}" if revision else "")
    how = provider.rendering(reader or OwnerFinder(kube, registry), applier)
    if isinstance(how, str):
        return LiveEffect(applier=where, skipped=how)
    rendered = render(root, how.plan, limits, max_input_mb)
    if rendered.problem is not None:
        return LiveEffect(applier=where, skipped=rendered.problem)
    result = LiveEffect(applier=where, notes=list(how.notes))
    run = _Run(kube, FIELD_MANAGER, result)
    for obj in sorted(first or [], key=lambda o: 0 if o.get("kind") in _FIRST else 1):
        _dry_run(run, obj, lambda o, _namespaced: o)
    run.manager = how.field_manager
    objs = sorted(rendered.objects, key=lambda o: 0 if o.get("kind") in _FIRST else 1)
    seen: set[tuple[str, str, str, str]] = set()
    for i, raw in enumerate(objs):
        if i >= MAX_OBJECTS:
            result.notes.append(f"only the first {MAX_OBJECTS} of {len(objs)} rendered objects were dry-run")
            break
        seen.add(_dry_run(run, raw, how.finish))
    if live_applier is not None:
        _pruned(kube, provider, live_applier, seen, result)
    if run.compared:
        result.notes.append(
            f"the server may not dry-run {', '.join(sorted(run.compared))} (a dry run needs patch rights): those "
            "were compared with the live objects, without the API server's defaults and checks"
        )
    return result


def _dry_run(run: _Run, raw: Obj, finish: Any) -> tuple[str, str, str, str]:
    """Dry-run one object as the controller sends it (``finish``); its key."""
    result = run.result
    namespaced = run.namespaced(raw)
    obj = finish(raw, bool(namespaced))
    ref = _ref(obj)
    run.learn(obj)
    if namespaced is not None:
        run.one(obj)
    elif (api_group(ref.api_version), ref.kind) in run.new_kinds:
        result.add(result.created, _effect(ref, note="not dry-run: its CRD is created by the same sync"))
    else:
        result.add(result.refused, _effect(ref, note=f"the cluster does not serve {ref.api_version} {ref.kind}"))
    return _key(ref)


def _pruned(
    kube: KubeClient, provider: Provider, applier: Obj, rendered: set[tuple[str, str, str, str]], result: LiveEffect
) -> None:
    """What ``applier`` applied before and no longer renders: pruned, or left (orphaned)."""
    meta = applier.get("metadata") or {}
    ref = ObjectRef(
        api_version=str(applier.get("apiVersion")), kind=str(applier.get("kind")), name=str(meta.get("name")),
        namespace=meta.get("namespace"),
    )  # fmt: skip
    for m in provider.managed_objects(ref, applier) or []:
        if _key(m.ref) in rendered:
            continue
        try:
            live = kube.get(m.ref.api_version, m.ref.kind, m.ref.name, m.ref.namespace)
        except ClusterError:
            live = None
        if live is None:
            continue  # gone already
        stays = provider.prunes(applier, live)
        if stays:
            result.add(result.orphaned, _effect(m.ref, note=stays))
            continue
        note = None
        found = provider.removal(live) if api_group(m.ref.api_version) else None
        result.will_delete(m.ref.api_version, m.ref.kind, m.ref.namespace, m.ref.name)
        for r in found.managed if found is not None and not found.stays else ():
            result.will_delete(r.api_version, r.kind, r.namespace, r.name)
        if found is not None and found.managed:
            note = f"with the {len(found.managed)} objects it applied"
            if found.stays:
                note = f"its {len(found.managed)} objects stay: {found.stays[0]}"
        result.add(result.pruned, _effect(m.ref, note=note))
