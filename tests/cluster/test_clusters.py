"""Several clusters (issue 21, item 6): GITOPS_MCP_CLUSTERS names the kubeconfig contexts the server
may use; cluster tools take an optional ``cluster`` (default: the current context); a context not
in the list is refused by name; the wizard asks which when there are several and the session keeps
it; the audit line names the context used. Two fake API servers, two contexts, a session on each."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mcp.server.mcpserver.exceptions import ToolError

from conftest import FIXTURES, make_repo, need_shared, wizard_to_preview
from doubles import world as shared
from doubles.controllers import GitOpsSimulator
from doubles.kube import FakeKube
from gitops_mcp.errors import UserInputError
from gitops_mcp.server import build_server
from gitops_mcp.services import Services

TOKEN = "clusters-token-0123456789"
PODINFO = {"package": "kustomize", "namespace": "podinfo", "app_name": "podinfo"}
KS = ("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system")


def kubeconfig(path: Path, clusters: dict[str, FakeKube], current: str) -> Path:
    """One kubeconfig with a context (its cluster and user of the same name) per fake API server."""
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": current,
        "clusters": [{"name": n, "cluster": {"server": k.base}} for n, k in clusters.items()],
        "users": [{"name": n, "user": {"token": k.token} if k.token else {}} for n, k in clusters.items()],
        "contexts": [{"name": n, "context": {"cluster": n, "user": n}} for n in clusters],
    }
    path.write_text(json.dumps(cfg), encoding="utf-8")
    return path


@dataclass
class Env:
    w: shared.World
    east: FakeKube
    west: FakeKube
    work: Path
    config: Path

    def app(self, **overrides: Any) -> Services:
        return Services(self.settings(**overrides))

    def settings(self, **overrides: Any) -> Any:
        return self.w.settings(kubeconfig=self.config, clusters=["east", "west"], wizard_wait_seconds=30, **overrides)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    with shared.World(tmp_path, TOKEN) as w, FakeKube(token="west-token-0123456789") as west:
        url = w.create_repo("org/podinfo.git")
        seed = make_repo(tmp_path / "seed", need_shared(FIXTURES / "podinfo"))
        w.git(seed, "push", "-q", url, "main")
        work = tmp_path / "work"
        w.git(tmp_path, "clone", "-q", url, str(work))
        for kube in (w.kube, west):
            for ns in ("flux-system", "argocd", "podinfo"):
                kube.ensure_namespace(ns)
        config = kubeconfig(tmp_path / "two-clusters.kubeconfig", {"east": w.kube, "west": west}, current="east")
        yield Env(w, w.kube, west, work, config)


def test_each_call_reaches_the_cluster_it_names_and_no_other(env: Env) -> None:
    env.east.put(shared.kustomization("only-east", "./apps", "apps"))
    env.west.put(shared.kustomization("only-west", "./apps", "apps"))
    app = env.app()
    try:
        assert app.cluster.sync_status("Kustomization", "only-east", "flux-system").state == "progressing"
        assert app.cluster.sync_status("Kustomization", "only-east", "flux-system", "west").state == "not_found"
        assert app.cluster.sync_status("Kustomization", "only-west", "flux-system", "west").state == "progressing"
        with pytest.raises(UserInputError, match="cluster 'north' is not one of GITOPS_MCP_CLUSTERS: east, west"):
            app.cluster.sync_status("Kustomization", "only-east", "flux-system", "north")
        assert app.shared.cluster_name(None) == "east" and app.shared.cluster_name("west") == "west"
        report = app.inspect.provider_report("west")
        assert report.cluster == env.west.base and report.cluster_error is None
        assert report.clusters == ["east", "west"]  # what the assistant may name
    finally:
        app.close()


def test_without_the_list_any_context_and_the_current_one_by_default(env: Env) -> None:
    app = Services(env.w.settings(kubeconfig=env.config))
    try:
        assert app.shared.cluster_name(None) == "east"
        env.west.put(shared.kustomization("w", "./apps", "apps"))
        assert app.cluster.sync_status("Kustomization", "w", "flux-system", "west").state == "progressing"
    finally:
        app.close()


def test_the_wizard_asks_which_cluster_and_each_session_keeps_its_own(env: Env) -> None:
    app = env.app()
    try:
        with GitOpsSimulator(env.east, env.w.repos) as east, GitOpsSimulator(env.west, env.w.repos) as west:
            to_east = wizard_to_preview(app, env.work, {**PODINFO, "provider": "flux"})
            to_west = wizard_to_preview(app, env.work, {**PODINFO, "provider": "argocd"})
            assert to_west.preview.output_path != to_east.preview.output_path
            asked = next(q for q in to_east.questions if q.id == "cluster")
            assert asked.options == ["east", "west"] and asked.required
            refused = app.wizard.answer("local", to_east.session_id, {"cluster": "north"})
            assert "north" in refused.errors["cluster"] and refused.step == "preview"
            # each session is told its cluster; the answers are kept with the session
            app.wizard.answer("local", to_west.session_id, {"cluster": "west"})
            assert app.wizard.get("local", to_west.session_id).answers["cluster"] == "west"
            v1 = app.wizard.answer(
                "local", to_east.session_id, {"cluster": "east", "delivery": "push", "wait": True, "register": True}
            )
            v2 = app.wizard.answer("local", to_west.session_id, {"delivery": "push", "wait": True, "register": True})
            assert east.errors == [] and west.errors == []
        for v in (v1, v2):
            assert v.status == "done" and v.result is not None and v.result.live is True, v.result or v.errors
    finally:
        app.close()
    # Flux's objects on east only, Argo CD's on west only, each workload where its engine runs
    assert env.east.find(*KS, "podinfo") is not None and env.west.find(*KS, "podinfo") is None
    assert env.west.find("argoproj.io/v1alpha1", "Application", "argocd", "podinfo") is not None
    assert env.east.find("argoproj.io/v1alpha1", "Application", "argocd", "podinfo") is None
    for kube in (env.east, env.west):
        assert kube.find("apps/v1", "Deployment", "podinfo", "podinfo") is not None


@pytest.mark.anyio
async def test_tools_take_one_optional_cluster_and_the_audit_names_it(env: Env, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    env.west.put(shared.kustomization("w", "./apps", "apps"))
    mcp = build_server(env.settings(audit_log=str(log)))
    tools = {t.name: t for t in await mcp.list_tools()}
    with_cluster = sorted(n for n, t in tools.items() if "cluster" in t.input_schema.get("properties", {}))
    assert with_cluster == [
        "find_owner",
        "get_sync_status",
        "list_providers",
        "reconcile",
        "register_gitops_objects",
        "wait_for_sync",
    ]
    for name in with_cluster:
        prop = tools[name].input_schema["properties"]["cluster"]
        assert (
            name not in tools[name].input_schema.get("required", [])
            and "context" not in tools[name].input_schema["properties"]
        )
        assert prop["description"] == "Kubeconfig context (default: current)"
    got = await mcp.call_tool(
        "get_sync_status", {"kind": "Kustomization", "name": "w", "namespace": "flux-system", "cluster": "west"}
    )
    assert got.structured_content["state"] == "progressing"
    with pytest.raises(ToolError, match="cluster 'north' is not one of GITOPS_MCP_CLUSTERS"):
        await mcp.call_tool(
            "get_sync_status", {"kind": "Kustomization", "name": "w", "namespace": "flux-system", "cluster": "north"}
        )
    for cluster in (None, "west", "north"):
        args = {"kind": "Kustomization", "name": "nope", "namespace": "flux-system"}
        with pytest.raises(ToolError):  # not there, or a cluster the server may not use
            await mcp.call_tool("reconcile", {**args, **({"cluster": cluster} if cluster else {})})
    lines = [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines()]
    assert [(x["tool"], x["cluster"]) for x in lines] == [
        ("reconcile", "east"),
        ("reconcile", "west"),
        ("reconcile", "north"),
    ]
