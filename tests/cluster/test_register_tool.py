"""register_gitops_objects, the tool (issue 11): only the root GitOps objects of a committed, pushed
file are applied (dry run, then server-side apply); uncommitted or unpushed files, a missing CRD, an
admission rejection and read-only mode are refused in clear words. The wizard's use of it is
tests/cluster/test_register.py's."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_mcp.errors import UserInputError
from test_register import Env, applies, env

__all__ = ["env"]  # the fixture


ROOTS_AND_A_DEPLOYMENT = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: podinfo, namespace: flux-system}}
spec: {{interval: 1m, url: {url}, ref: {{branch: main}}}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: podinfo, namespace: flux-system}}
spec: {{interval: 5m, path: ./kustomize, prune: true, targetNamespace: podinfo,
  sourceRef: {{kind: GitRepository, name: podinfo}}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: sneaky, namespace: podinfo}}
spec: {{replicas: 1}}
"""


def commit_file(env: Env, rel: str, text: str, push: bool = True) -> None:
    (env.work / rel).parent.mkdir(parents=True, exist_ok=True)
    (env.work / rel).write_text(text, encoding="utf-8")
    env.w.git(env.work, "add", rel)
    env.w.git(env.work, "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-qm", f"add {rel}")
    if push:
        env.w.git(env.work, "push", "-q", "origin", "main")


def test_tool_applies_only_the_root_objects_of_a_pushed_file(env: Env) -> None:
    commit_file(env, "deploy/podinfo.yaml", ROOTS_AND_A_DEPLOYMENT.format(url=env.url))
    app = env.app()
    r = app.registrar.register(str(env.work), "deploy/podinfo.yaml")
    assert r.ok, r.message
    assert [(o.kind, o.name) for o in r.applied] == [("GitRepository", "podinfo"), ("Kustomization", "podinfo")]
    assert [(s.kind, s.name) for s in r.skipped] == [("Deployment", "sneaky")] and "not a root" in r.skipped[0].reason
    assert r.commit_sha == env.w.remote.head("org/podinfo.git")
    assert env.kube.find("apps/v1", "Deployment", "podinfo", "sneaky") is None  # no controller runs here
    assert all("deployments" not in p for p, _ in applies(env.kube))
    again = app.registrar.register(str(env.work), "deploy/podinfo.yaml")  # idempotent
    assert again.ok and len(again.applied) == 2


def test_tool_refuses_uncommitted_and_unpushed_files(env: Env) -> None:
    text = ROOTS_AND_A_DEPLOYMENT.format(url=env.url)
    commit_file(env, "deploy/podinfo.yaml", text, push=False)
    app = env.app()
    with pytest.raises(UserInputError, match="not pushed"):
        app.registrar.register(str(env.work), "deploy/podinfo.yaml")
    env.w.git(env.work, "push", "-q", "origin", "main")
    (env.work / "deploy/podinfo.yaml").write_text(text + "# edited\n", encoding="utf-8")
    with pytest.raises(UserInputError, match="uncommitted changes"):
        app.registrar.register(str(env.work), "deploy/podinfo.yaml")
    with pytest.raises(UserInputError, match="not committed"):
        app.registrar.register(str(env.work), "deploy/none.yaml")
    assert applies(env.kube) == []


def test_tool_reports_a_missing_crd_in_the_api_servers_words(env: Env) -> None:
    text = (
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: podinfo, namespace: argocd}\n"
        "spec: {project: default, source: {repoURL: x, path: kustomize}, destination: {namespace: podinfo}}\n"
    )
    commit_file(env, "deploy/app.yaml", text)
    env.kube.resources = [r for r in env.kube.resources if r.group != "argoproj.io"]  # Argo CD not installed
    r = env.app().registrar.register(str(env.work), "deploy/app.yaml")
    assert not r.ok and r.applied == [] and "nothing applied" in r.message and "404" in r.message, r.message


def test_tool_is_refused_in_read_only_mode(env: Env) -> None:
    from gitops_mcp.errors import ReadOnlyError

    with pytest.raises(ReadOnlyError):
        env.app(read_only=True).registrar.register(str(env.work), "kustomize/kustomization.yaml")


@pytest.mark.anyio
async def test_read_only_server_has_no_register_tool(tmp_path: Path) -> None:
    from mcp import Client

    from gitops_mcp.server import build_server
    from gitops_mcp.settings import Settings

    for read_only in (True, False):
        s = Settings(allowed_roots=[tmp_path], state_dir=tmp_path / "s", read_only=read_only)
        async with Client(build_server(s)) as c:
            tools = {t.name: t for t in (await c.list_tools()).tools}
        assert ("register_gitops_objects" in tools) is not read_only
        if not read_only:
            ann = tools["register_gitops_objects"].annotations
            assert ann is not None and ann.destructive_hint is True and not ann.read_only_hint


def test_tool_reports_an_admission_rejection_and_applies_nothing(env: Env) -> None:
    commit_file(env, "deploy/podinfo.yaml", ROOTS_AND_A_DEPLOYMENT.format(url=env.url))
    env.kube.fail_next("PATCH", "kustomizations/podinfo$", 422)  # e.g. a validating webhook on the dry run
    r = env.app().registrar.register(str(env.work), "deploy/podinfo.yaml")
    assert not r.ok and r.applied == [] and "422" in r.message and "\n" not in r.message, r.message
    assert env.kube.find("source.toolkit.fluxcd.io/v1", "GitRepository", "flux-system", "podinfo") is None
