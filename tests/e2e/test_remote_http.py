"""Remote-first over streamable HTTP: the server in its own HOME, the callers holding no clone,
git URLs only (or none: the owner chain's). Remediation of an image and of a Helm value from the
owner chain to a pushed commit and to a pull request, verified live on the simulator; promote and
rollback by URL; the wizard from a URL to a pull request, its preview diffed against the remote
tip; and the issue's done-when: "the podinfo deployment in production needs image 6.14.2"."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES, need_shared
from doubles.remote_world import FLEET, RemoteWorld

pytestmark = [pytest.mark.slow, pytest.mark.anyio]
IMAGE = "ghcr.io/stefanprodan/podinfo"


@pytest.fixture
def rw(tmp_path: Path) -> Iterator[RemoteWorld]:
    with RemoteWorld(tmp_path) as w:
        w.fleet(need_shared(FIXTURES / "podinfo"))
        yield w


async def synced(rw: RemoteWorld, c: Any, name: str, revision: str | None = None) -> None:
    args: dict[str, Any] = {"kind": "Kustomization", "name": name, "namespace": "flux-system", "timeout_s": 20}
    if revision:
        await rw.call(c, "reconcile", {"kind": "Kustomization", "name": name, "namespace": "flux-system"})
        args["revision"] = revision
    w = await rw.call(c, "wait_for_sync", args)
    assert w["outcome"] == "synced", w["message"]


def frontend_image(rw: RemoteWorld) -> str:
    dep = rw.kube.find("apps/v1", "Deployment", "production", "frontend")
    assert dep is not None
    return str(dep["spec"]["template"]["spec"]["containers"][0]["image"])


async def test_production_needs_image_6_14_2_becomes_a_pull_request_then_live(rw: RemoteWorld) -> None:
    """The done-when: no clone anywhere on the caller's side, no repo_path: the owner chain names
    the repository; a pull request opens on the branch Flux follows; once merged it is live."""
    srv = rw.server()
    head = rw.remote.head(FLEET)
    async with rw.client(srv) as c:
        await synced(rw, c, "production")
        assert frontend_image(rw) == f"{IMAGE}:6.14.1"
        r = await rw.call(
            c,
            "remediate",
            {
                "api_version": "apps/v1",
                "kind": "Deployment",
                "name": "frontend",
                "namespace": "production",
                "change": {"type": "set_image", "image": f"{IMAGE}:6.14.2"},
            },
        )
        assert [e["file"] for e in r["plan"]["edits"]] == ["deploy/overlays/production/kustomization.yaml"]
        pr = r["commit"]
        assert pr["status"] == "pull_request" and pr["pr_url"] and pr["base"] == "main"
        assert r["owner"]["repo_root"] == rw.remote.url(FLEET)  # the URL, never a path on the server
        assert rw.remote.head(FLEET) == head and frontend_image(rw) == f"{IMAGE}:6.14.1"  # nothing live yet
        assert "newTag: 6.14.2" in rw.remote.show(FLEET, pr["branch"], "deploy/overlays/production/kustomization.yaml")
        rw.remote.merge(FLEET, pr["commit_sha"])  # the reviewer merges
        await synced(rw, c, "production", pr["commit_sha"])
    assert frontend_image(rw) == f"{IMAGE}:6.14.2"
    assert rw.work_left() == []
    rw.assert_no_secrets()


async def test_remediate_image_and_helm_value_pushed_and_proposed_live(rw: RemoteWorld) -> None:
    srv = rw.server()
    async with rw.client(srv) as c:
        await synced(rw, c, "production")
        await synced(rw, c, "helm-apps")
        base = {"api_version": "apps/v1", "kind": "Deployment", "mode": "push"}
        r = await rw.call(
            c,
            "remediate",
            {
                **base,
                "name": "frontend",
                "namespace": "production",
                "change": {"type": "set_image", "image": f"{IMAGE}:6.14.3"},
            },
        )
        assert r["commit"]["status"] == "pushed" and r["live_ok"] is True, r["message"]
        assert r["commit"]["commit_sha"] == rw.remote.head(FLEET) and r["verification"]["outcome"] == "synced"
        assert frontend_image(rw) == f"{IMAGE}:6.14.3"
        # a Helm value of the Deployment helm-controller rendered: the HelmRelease's values, pushed, live
        helm = {**base, "name": "podinfo", "namespace": "podinfo"}
        r = await rw.call(
            c, "remediate", {**helm, "change": {"type": "set_helm_values", "values": {"ui.message": "fixed"}}}
        )
        assert [e["file"] for e in r["plan"]["edits"]] == ["apps/helm/release.yaml"]
        assert r["live_ok"] is True and "HelmRelease carries the new values" in r["live_detail"], r["message"]
        hr = rw.kube.find("helm.toolkit.fluxcd.io/v2", "HelmRelease", "podinfo", "podinfo")
        assert hr is not None and hr["spec"]["values"]["ui"]["message"] == "fixed"
        # and as a pull request: proposed on main, live once merged
        r = await rw.call(
            c,
            "remediate",
            {**helm, "mode": "pull_request", "change": {"type": "set_helm_values", "values": {"replicaCount": 3}}},
        )
        pr = r["commit"]
        assert pr["status"] == "pull_request" and pr["base"] == "main" and r["live_ok"] is None
        rw.remote.merge(FLEET, pr["commit_sha"])
        await synced(rw, c, "helm-apps", pr["commit_sha"])
        hr = rw.kube.find("helm.toolkit.fluxcd.io/v2", "HelmRelease", "podinfo", "podinfo")
        assert hr is not None and hr["spec"]["values"]["replicaCount"] == 3
        assert hr["spec"]["values"]["ui"]["message"] == "fixed"  # the earlier change is still there
        # main protected: the push is refused, nothing is lost; commit_and_push with the URL proposes it
        rw.remote.protect(FLEET, "main")
        values = {"type": "set_helm_values", "values": {"ui.message": "kept"}}
        text = await rw.call(c, "remediate", {**helm, "change": values}, ok=False)
        assert "GH006" in text and "Nothing is lost" in text and "gitops-mcp/kept/" in text and "7 days" in text
        release = "apps/helm/release.yaml"
        args = {"repo_path": rw.remote.url(FLEET), "paths": [release], "message": "UI message", "mode": "pull_request"}
        pr = await rw.call(c, "commit_and_push", args)
        assert pr["status"] == "pull_request" and "message: kept" in rw.remote.show(FLEET, pr["branch"], release)
        cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n  namespace: podinfo\n"
        w = await rw.call(
            c, "write_manifests", {"repo_path": rw.remote.url(FLEET), "output_path": "apps/x.yaml", "yaml": cm}
        )
        assert w["kept"] and "gitops-mcp/kept/" in w["kept"]  # stays kept: searched for the token below
        # an object nobody manages: refused, clearly, nothing changed
        rw.kube.put(
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "hand", "namespace": "podinfo"}}
        )
        before = rw.remote.head(FLEET)
        text = await rw.call(
            c, "remediate", {**helm, "name": "hand", "change": {"type": "set_replicas", "replicas": 2}}, ok=False
        )
        assert "not managed" in text and rw.remote.head(FLEET) == before
    assert rw.work_left() == []
    rw.assert_no_secrets()


async def test_promote_and_rollback_by_url(rw: RemoteWorld) -> None:
    url = rw.remote.url(FLEET)
    staging = "deploy/overlays/staging/kustomization.yaml"
    text = rw.remote.show(FLEET, "main", staging)
    rw.commit(FLEET, {staging: text + f"images:\n  - name: {IMAGE}\n    newTag: 6.14.5\n"}, "staging runs 6.14.5")
    srv = rw.server()
    async with rw.client(srv) as c:
        r = await rw.call(
            c, "promote", {"repo_path": url, "app": "frontend", "from_env": "staging", "to_env": "production"}
        )
        pr = r["commit"]
        assert pr["status"] == "pull_request" and pr["pr_url"]
        production = "deploy/overlays/production/kustomization.yaml"
        assert "newTag: 6.14.5" in rw.remote.show(FLEET, pr["branch"], production)
        assert "newTag" not in rw.remote.show(FLEET, "main", production)
        r = await rw.call(
            c,
            "promote",
            {"repo_path": url, "app": "frontend", "from_env": "staging", "to_env": "production", "mode": "push"},
        )
        promoted = r["commit"]["commit_sha"]
        assert r["commit"]["status"] == "pushed" and "newTag: 6.14.5" in rw.remote.show(FLEET, "main", production)
        # roll the promotion back: the last commit that changed production's overlay, reverted on main
        r = await rw.call(c, "rollback", {"repo_path": url, "paths": [production], "mode": "push"})
        assert r["status"] == "pushed" and r["reverted"] == [promoted] and r["commit_sha"] == rw.remote.head(FLEET)
        assert "newTag" not in rw.remote.show(FLEET, "main", production)
        text = await rw.call(c, "rollback", {"repo_path": url[:-4] + "-nope.git", "paths": [production]}, ok=False)
        assert "not found" in text.lower(), text
    assert rw.work_left() == []
    rw.assert_no_secrets()


async def test_wizard_from_a_url_to_a_pull_request(rw: RemoteWorld) -> None:
    url = rw.remote.url(FLEET)
    srv = rw.server()

    async def to_preview(c: Any, answers: dict[str, Any]) -> dict[str, Any]:
        v = await rw.call(c, "start_deployment", {"repo_path": url, "provider": "flux", "answers": answers})
        for _ in range(8):
            if v["step"] == "preview":
                return dict(v)
            v = await rw.call(
                c, "answer_questions", {"session_id": v["session_id"], "answers": {}, "accept_defaults": True}
            )
        raise AssertionError(v)

    answers = {
        "package": "kustomize",
        "namespace": "podinfo",
        "app_name": "podinfo",
        "output_path": "clusters/podinfo.yaml",
    }
    async with rw.client(srv) as c:
        v = await to_preview(c, answers)
        assert v["preview"]["file_exists"] is False
        v = await rw.call(
            c, "answer_questions", {"session_id": v["session_id"], "answers": {"delivery": "pull_request"}}
        )
        res = v["result"]
        assert v["status"] == "done" and res["pr_url"] and res["branch"].startswith("gitops-mcp/")
        assert "kind: Kustomization" in rw.remote.show(FLEET, res["branch"], "clusters/podinfo.yaml")
        assert len(rw.forge.store.pulls["org/fleet"]) == 1
        rw.remote.merge(FLEET, res["commit_sha"])
        # the file is on main now: a second run's preview is diffed against the remote tip
        v = await to_preview(c, {**answers, "interval": "15m"})
        assert v["preview"]["file_exists"] is True
        diff = v["preview"]["diff"]
        assert "+  interval: 15m" in diff and diff.startswith("--- a/clusters/podinfo.yaml")
    assert rw.work_left() == [] and all(
        not (r / "clusters").exists() for r in rw.cached_repos()
    )  # nothing was written into the cached clone
    rw.assert_no_secrets()
