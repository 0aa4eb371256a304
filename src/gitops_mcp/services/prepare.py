"""What the wizard and one-shot generation share: the session context of a directory, the
flow environment, and the preview (generated YAML, validation, diff)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gitops_mcp.cluster.owner import OwnerFinder
from gitops_mcp.detection.facts import PackageFacts, package_facts
from gitops_mcp.detection.models import Package
from gitops_mcp.errors import ClusterError
from gitops_mcp.git.urls import url_identity
from gitops_mcp.manifests.plain import check_plain, nested_manifest_dirs
from gitops_mcp.manifests.preflight import PackageCheck, check_helm, check_kustomize
from gitops_mcp.manifests.removed_apis import removed_api_notes
from gitops_mcp.manifests.validation import validate_documents
from gitops_mcp.manifests.write import diff_against, unified_diff
from gitops_mcp.manifests.yaml import dump_documents
from gitops_mcp.paths import check_relative, safe_repo_file
from gitops_mcp.providers.base import Provider, Surroundings
from gitops_mcp.providers.effects import LiveEffect
from gitops_mcp.services.around import gather, repo_tree
from gitops_mcp.services.shared import Shared
from gitops_mcp.services.update_owner import updated_file
from gitops_mcp.sessions import flow
from gitops_mcp.sessions.defaults import choice_help
from gitops_mcp.sessions.delivery_steps import updatable_owner
from gitops_mcp.sessions.env import CallMemo
from gitops_mcp.sessions.models import ClusterApplier, Preview, SessionContext, SessionState

MAX_TAGS = 500


def _same(url: str, ctx: SessionContext) -> bool:
    from gitops_mcp.git.urls import url_identity

    return bool(ctx.origin_url) and url_identity(url) == url_identity(str(ctx.origin_url))


class Preparation:
    def __init__(self, shared: Shared) -> None:
        self.shared = shared  # shared by concurrent calls: what one call learns is kept in its FlowEnv's memo

    def context(
        self, directory: Path | None, intent: str | None, provider: str | None, packages: list[Package] | None = None
    ) -> SessionContext:
        ctx = SessionContext(intent=intent, provider_hint=provider)
        if directory is None:
            ctx.packages = packages or []
            return ctx
        root, prefix, info = self.shared.repo(directory)
        report = self.shared.scan(directory, root, prefix)
        ctx.repo_root = str(root)
        ctx.scan_path = str(directory)
        ctx.packages = packages or report.packages
        for p in self.shared.registry:  # what each engine reads in the repository's GitOps structure
            ctx.existing_sources += p.existing_sources(report.gitops)
            if dirs := p.output_dirs(report.gitops):
                ctx.output_dirs[p.name] = dirs
        if info is not None:
            ctx.origin_url = info.origin_url
            ctx.branch = info.branch
            ctx.default_branch = info.default_branch
            ctx.tags = sorted(info.tags)[:MAX_TAGS]
        for p in self.shared.registry:
            mine = [a for a in p.repo_appliers(report.gitops) if a.repo_url is None or _same(a.repo_url, ctx)]
            if mine:
                ctx.repo_appliers[p.name] = mine
            applied = [a.path for a in mine] + [s.serves for s in p.existing_sources(report.gitops) if s.serves]
            if applied:
                ctx.applied_dirs[p.name] = sorted(set(applied))
        if not self.shared.settings.read_only:
            ctx.delivery_options = ["write", "push", "pull_request"] if ctx.origin_url else ["write"]
            if self.shared.settings.proposes_only and "push" in ctx.delivery_options:  # no push, no registration
                ctx.delivery_options.remove("push")
            ctx.can_wait = bool(ctx.origin_url) and self.shared.cluster_configured()
            if ctx.can_wait and len(self.shared.settings.clusters) > 1:
                ctx.clusters = list(self.shared.settings.clusters)
        if ctx.can_wait:
            ctx.cluster_appliers = self.cluster_appliers()
            ctx.cluster_namespaces = self.cluster_namespaces() if ctx.cluster_appliers is not None else None
        return ctx

    def cluster_namespaces(self) -> list[str] | None:
        """The cluster's namespaces; None when they cannot be listed."""
        from gitops_mcp.errors import ClusterError

        try:
            with self.shared.kube(timeout=5.0) as kube:
                items, _ = kube.list("v1", "Namespace")
        except ClusterError:
            return None
        return sorted(str((i.get("metadata") or {}).get("name")) for i in items)

    def surroundings(self, answers: Mapping[str, Any], ctx: SessionContext, provider: Provider) -> Surroundings:
        """What the repository (and the cluster) around the output file say (empty without a repository)."""
        if not ctx.repo_root:
            return Surroundings(output_path=str(answers.get("output_path") or "") or None)
        root = Path(ctx.repo_root)
        with repo_tree(root, self.shared.delivery.is_cached(root)) as tree:
            return gather(answers, ctx, tree)

    def cluster_appliers(self) -> list[ClusterApplier] | None:
        """What in the cluster applies a directory of a Git repository (every provider's
        :meth:`~gitops_mcp.providers.base.Provider.appliers`); None when the cluster cannot be read."""

        try:
            with self.shared.kube(timeout=5.0) as kube:
                reader = OwnerFinder(kube, self.shared.registry)
                found = [a for p in self.shared.registry for a in p.appliers(reader)]
        except ClusterError:
            return None
        return [ClusterApplier(ref=a.ref, repo_url=a.repo_url, path=a.path) for a in found]

    def crd_notes(self, kinds: list[str], apis: Sequence[tuple[str, str, str]], memo: CallMemo) -> list[str]:
        """What the preview says of the package's kinds from CRDs (``group/Kind``): which, and with
        a cluster to ask, which of them it lacks and which apiVersions of ``apis`` ((apiVersion,
        kind, file) the package uses) its CRDs do not serve. The CRDs are read once per call (``memo``)."""

        if not kinds:
            return []
        notes = [f"The package uses kinds from CRDs: {', '.join(kinds)}; they must be installed before it syncs."]
        if not self.shared.cluster_configured():
            return notes
        if memo.served is None:
            try:
                with self.shared.kube(timeout=5.0) as kube:
                    items, _ = kube.list("apiextensions.k8s.io/v1", "CustomResourceDefinition")
            except ClusterError as exc:
                return [*notes, f"Could not ask the cluster which are installed: {exc}"]
            served: dict[str, set[str]] = {}
            for s in (i.get("spec") or {} for i in items):
                versions = {str(v.get("name")) for v in s.get("versions") or [] if v.get("served", True)}
                served[f"{s.get('group')}/{(s.get('names') or {}).get('kind')}"] = versions
            memo.served = served
        missing = [k for k in kinds if k not in memo.served]
        stale = []
        for api, kind, f in apis:
            group, _, version = api.rpartition("/")
            serves = memo.served.get(f"{group}/{kind}")
            if serves and version not in serves:
                stale.append(f"{kind} {api} ({f}; served: {', '.join(sorted(serves))})")
        if missing:
            notes.append(
                f"Missing in the cluster: {', '.join(missing)}: install their CRDs (or the operator that "
                "brings them) first, or the sync fails with 'no matches for kind'."
            )
        if stale:
            notes.append(
                f"The cluster does not serve {'; '.join(stale[:5])}: change the apiVersion in the package, or "
                "the sync fails ('could not find the requested resource')."
            )
        if not missing and not stale:
            notes.append("The cluster has all of them.")
        return notes

    def env(self, ctx: SessionContext) -> flow.FlowEnv:
        """The flow's view of the repository and cluster for one call. Its memo keeps the package
        checks and CRDs that call saw (the preview, the view answered reuse them: a package is built
        once per call); a new call makes a new env (the files may have changed since)."""
        root = Path(ctx.repo_root) if ctx.repo_root else None
        delivery = self.shared.delivery
        memo = CallMemo()

        def exists(rel: str) -> bool:
            return root is not None and delivery.dir_exists(root, rel)

        def problem(answers: Mapping[str, Any]) -> str | None:
            check = self.package_check(answers, ctx, memo)
            return None if check is None or check.ok else check.message

        facts_seen: dict[tuple[str, str], PackageFacts | None] = {}

        def facts(answers: Mapping[str, Any]) -> PackageFacts | None:
            pkg = flow.selected_package(answers, ctx)
            if root is None or pkg is None:
                return None
            path = str(answers.get("path") or pkg.path)
            if (path, pkg.type) not in facts_seen:
                with repo_tree(root, delivery.is_cached(root)) as tree:
                    facts_seen[(path, pkg.type)] = package_facts(tree, path, pkg.type)
            return facts_seen[(path, pkg.type)]

        return flow.FlowEnv(
            self.shared.registry,
            self.shared.settings.policy,
            exists if root is not None else None,
            problem if root is not None else None,
            facts if root is not None else None,
            memo=memo,
        )

    def package_check(self, answers: Mapping[str, Any], ctx: SessionContext, memo: CallMemo) -> PackageCheck | None:
        """Preflight of the chosen package in the working tree (None: not checkable here: no local
        repository, a cached clone, a chart from a Helm/OCI repository, or another repository),
        built once per call: kept in ``memo``."""
        from gitops_mcp.sandbox import Limits

        kind = flow.package_kind(answers, ctx)
        path, repo_url = answers.get("path"), answers.get("repo_url")
        if kind is None or kind[1] != "git" or not ctx.repo_root or not path or not ctx.origin_url or not repo_url:
            return None
        root = Path(ctx.repo_root)
        if self.shared.delivery.is_cached(root) or url_identity(str(repo_url)) != url_identity(ctx.origin_url):
            return None
        files = tuple(str(f) for f in answers.get("value_files") or [])
        key = (str(root), str(path), f"{kind[0]}:{answers.get('provider')}", files)
        checks = memo.package_checks
        if key not in checks:
            s = self.shared.settings
            limits = Limits(
                s.build_memory_mb,
                s.build_cpu_seconds,
                s.build_timeout_seconds,
                s.build_output_mb,
                s.build_require_netns,
            )
            if kind[0] == "kustomize":
                checks[key] = check_kustomize(root, str(path), limits, s.build_max_input_mb)
            elif kind[0] == "helm":
                checks[key] = check_helm(root, str(path), list(files), limits, s.build_max_input_mb)
            elif kind[0] == "manifests" and answers.get("provider") in self.shared.registry:
                how = self.shared.registry.get(str(answers["provider"])).plain_dirs
                checks[key] = check_plain(
                    root, str(path), how.suffixes, how.subdirectories, generate_name=how.generate_name
                )
            else:
                checks[key] = None
        return checks[key]

    def _current(self, ctx: SessionContext, rel: str) -> str | None:
        """The file's text where the session delivers (the remote's tip, or the working tree)."""
        if ctx.source_url:
            return self.shared.delivery.tip_file(ctx.source_url, ctx.branch, rel)[0]
        root = Path(ctx.repo_root or ".")
        self.shared.delivery.prepare_write(root, [rel])
        target = safe_repo_file(root, rel)
        return target.read_text(encoding="utf-8") if target.is_file() else None

    def preview(self, state: SessionState, env: flow.FlowEnv | None = None) -> Preview:
        """The preview of the answered session; ``env``: the call's own (its package checks are reused)."""
        a, ctx = state.answers, state.context
        env = env or self.env(ctx)
        provider = self.shared.registry.get(str(a["provider"]))
        spec = flow.build_spec(a, ctx)
        spec.around = self.surroundings(a, ctx, provider)
        if spec.package_type == "manifests" and spec.source_kind == "git" and ctx.repo_root and spec.path:
            spec.nested = nested_manifest_dirs(Path(ctx.repo_root), spec.path)
        options = {q.id: a[q.id] for q in flow.questions_for("provider_options", a, ctx, env) if q.id in a}
        gen = provider.generate(spec, options)
        pkg = flow.selected_package(a, ctx)
        used = built_kinds(pkg, ctx.packages, provider.plain_dirs.subdirectories) if pkg else []
        own = {f"{k.group}/{k.kind}" for k in provider.kinds}  # (Argo Rollouts' argoproj.io/Rollout is not Argo CD's)
        needs = [k for k in used if k not in own]
        apis = [(u.api_version, u.kind, u.file) for u in (spec.around.package.apis if spec.around.package else [])]
        every, apis = apis, [u for u in apis if f"{u[0].rpartition('/')[0]}/{u[1]}" in needs]
        objects, text = gen.objects, dump_documents(gen.objects)
        owner = updatable_owner(a, ctx) if a.get("existing") == "update" else None
        if owner is not None:
            answered = {k for k in a if k not in state.defaulted}
            text, doc, summary, updated = updated_file(
                self._current(ctx, owner.file),
                owner,
                gen.objects,
                provider.update_paths,
                answered,
                provider.current_api,
            )
            others = [
                o.text() for o in spec.around.owners if (o.kind, o.name, o.file) != (owner.kind, owner.name, owner.file)
            ]
            updated += [f"Also deployed by {'; '.join(others[:3])}: update those too if needed."] if others else []
            gen = gen.model_copy(update={"summary": [summary], "notes": updated + gen.package_notes})
            objects = [doc]
        if choice := choice_help(str(a["output_path"]), provider.name, ctx, self.shared.registry):
            gen.notes.insert(0, f"Output: {choice}.")
        notes = [*gen.notes, *self.crd_notes(needs, apis, env.memo), *removed_api_notes(every)]
        validation = validate_documents(
            objects, self.shared.settings.policy, self.shared.crds(), rules=self.shared.rules
        )
        out = str(a["output_path"])
        exists, diff = (False, "")
        if ctx.source_url:  # against the remote's current tip of the branch, where it will be delivered
            check_relative(out, "output_path")
            old, _, _ = self.shared.delivery.tip_file(ctx.source_url, ctx.branch, out)
            exists, diff = old is not None, unified_diff(old, text, out)
        elif ctx.repo_root:
            self.shared.delivery.prepare_write(Path(ctx.repo_root), [out])
            exists, diff = diff_against(Path(ctx.repo_root), out, text)
        diff = diff if exists else ""  # a new file: its diff would be the whole yaml again
        effect = None
        if ctx.can_wait and (ctx.repo_root or ctx.source_url):  # dry-run what the file would apply
            from gitops_mcp.services.effect import wizard_effect

            effect = wizard_effect(self.shared, objects, ctx, state.principal, a.get("cluster"))
        elif ctx.origin_url and not self.shared.cluster_configured():
            effect = LiveEffect(skipped="no cluster configured")
        return Preview(
            provider=provider.name,
            output_path=out,
            yaml=text,
            objects=gen.summary,
            notes=notes,
            diff=diff,
            file_exists=exists,
            validation=validation,
            package_check=self.package_check(a, ctx, env.memo),
            live_effect=effect,
        )


def built_kinds(pkg: Package, packages: list[Package], subdirectories: bool) -> list[str]:
    """The CRD kinds of what the engine builds from ``pkg``: its own, its bases' (the packages it
    uses, at any depth) and, for an engine that descends into a plain directory, its subdirectories'."""
    found, todo, seen = set(pkg.custom_kinds), [pkg], {pkg.path}
    while todo:
        here = todo.pop()
        for q in packages:
            nested = subdirectories and here.type == "manifests" and q.path.startswith(here.path.rstrip("/") + "/")
            if q.path not in seen and (here.path in q.used_by or nested):
                seen.add(q.path)
                found.update(q.custom_kinds)
                todo.append(q)
    return sorted(found)
