"""Nothing reaches a repository before its preview was returned (issue 20, item 10): a delivery
answered ahead is held and kept, and write_manifests replaces only a GitOps file of the same objects."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES, make_repo, need_shared
from doubles.git_remote import GitHttpServer
from gitops_mcp.errors import GitOpsError
from gitops_mcp.services import Services
from gitops_mcp.settings import Settings

TOKEN = "gt-preview-first-0123456789-SECRET"
REPO = "org/gitops.git"
URL = "https://github.com/example/gitops.git"  # what the controller would fetch
PACKAGES = {  # a package of each fixture
    "argocd-example-apps": ("guestbook", "argocd"),
    "flux2-kustomize-helm-example": ("apps/staging", "flux"),
    "flux2-monitoring-example": ("monitoring/configs", "flux"),
    "flux2-multi-tenancy": ("infrastructure/kyverno-policies", "flux"),
    "gitops-istio": ("apps/frontend", "argocd"),
    "podinfo": ("kustomize", "flux"),
}


def tgit(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[GitHttpServer]:
    with GitHttpServer(tmp_path / "srv", users={"x-access-token": TOKEN}) as srv:
        srv.create_repo(REPO)
        yield srv


def seeded(remote: GitHttpServer, tmp_path: Path, fixture: str) -> tuple[Path, Services]:
    """A clone of ``remote`` holding ``fixture``, and a server that may push to it."""
    seed = make_repo(tmp_path / "seed", need_shared(FIXTURES / fixture))
    tgit(seed, "push", "--quiet", remote.url(REPO), "main", env=remote.client_env())
    work = tmp_path / "work"
    subprocess.run(
        ["git", "clone", "--quiet", remote.url(REPO), str(work)],
        check=True,
        env=remote.client_env(),
        capture_output=True,
    )
    settings = Settings(
        allowed_roots=[tmp_path],
        state_dir=tmp_path / "state",
        cache_dir=tmp_path / "cache",
        git_token=TOKEN,
        allowed_git_hosts=[f"127.0.0.1:{remote.port}"],
        git_allow_http=True,
    )
    return work, Services(settings)


@pytest.mark.parametrize("fixture", sorted(PACKAGES))
def test_push_answered_ahead_waits_for_the_preview(remote: GitHttpServer, tmp_path: Path, fixture: str) -> None:
    work, app = seeded(remote, tmp_path, fixture)
    before = remote.head(REPO)
    try:
        v = app.wizard.start("local", str(work))
        package, provider = PACKAGES[fixture]
        ahead = {"package": package, "provider": provider, "repo_url": URL, "delivery": "push", "wait": False}
        ahead["existing"] = "add"  # a package the repository deploys already: a new file, not its owner updated
        v = app.wizard.answer("local", v.session_id, ahead, accept_defaults=True)
        # the one call stops at the preview: nothing written, committed or pushed
        assert v.status == "open" and v.step == "preview" and v.preview is not None, (v.errors, v.next)
        assert v.result is None and remote.head(REPO) == before
        assert not (work / v.preview.output_path).exists() and tgit(work, "status", "--porcelain") == ""
        assert "held" in v.next and "delivery" not in v.answers
        # the answer was kept: the next call delivers exactly the preview returned
        done = app.wizard.answer("local", v.session_id, {})
        assert done.status == "done" and done.result is not None and done.result.action == "push", done.errors
        assert remote.head(REPO) == done.result.commit_sha != before
        assert remote.show(REPO, "main", v.preview.output_path) == v.preview.yaml
    finally:
        app.close()


def test_a_changed_preview_is_shown_again_before_delivery(remote: GitHttpServer, tmp_path: Path) -> None:
    work, app = seeded(remote, tmp_path, "podinfo")
    before = remote.head(REPO)
    try:
        v = app.wizard.start("local", str(work))
        v = app.wizard.answer(
            "local", v.session_id, {"package": "kustomize", "provider": "argocd", "repo_url": URL}, accept_defaults=True
        )
        assert v.step == "preview" and v.preview is not None
        seen = v.preview.yaml
        # a changed answer together with the delivery: the new preview is returned, not delivered
        change = {"app_name": "other", "delivery": "push", "wait": False}
        v = app.wizard.answer("local", v.session_id, change, accept_defaults=True)
        assert v.step == "preview" and v.preview is not None and v.preview.yaml != seen
        assert remote.head(REPO) == before and "held" in v.next
        # get_session shows the held state too; a call with no change delivers what was returned
        assert app.wizard.get("local", v.session_id).step == "preview"
        done = app.wizard.answer("local", v.session_id, {})
        assert done.result is not None and remote.show(REPO, "main", done.result.file) == v.preview.yaml
        # write is a change to the repository too: held the same way
        w = app.wizard.start("local", str(work))
        w = app.wizard.answer(
            "local",
            w.session_id,
            {"package": "kustomize", "provider": "flux", "repo_url": URL, "delivery": "write"},
            accept_defaults=True,
        )
        assert w.step == "preview" and w.preview is not None and not (work / w.preview.output_path).exists()
    finally:
        app.close()


CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: demo\ndata:\n  a: b\n"


def test_write_manifests_refuses_to_replace_what_it_does_not_own(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "podinfo", need_shared(FIXTURES / "podinfo"))
    app = Services(Settings(allowed_roots=[tmp_path], state_dir=tmp_path / "s", cache_dir=tmp_path / "c"))
    try:
        target = repo / "kustomize/deployment.yaml"
        original = target.read_text(encoding="utf-8")
        with pytest.raises(GitOpsError, match=r"overwrite=true") as err:
            app.manifests.write("local", str(repo), "kustomize/deployment.yaml", CM.format(name="x"))
        assert "Deployment podinfo" in str(err.value)  # says what it would replace
        assert target.read_text(encoding="utf-8") == original
        res = app.manifests.write("local", str(repo), "kustomize/deployment.yaml", CM.format(name="x"), overwrite=True)
        assert res.changed and target.read_text(encoding="utf-8") == CM.format(name="x")
        # a file that is not YAML objects at all (a README) is refused the same way
        with pytest.raises(GitOpsError, match="overwrite=true"):
            app.manifests.write("local", str(repo), "charts/podinfo/values.yaml", CM.format(name="x"))
        # a GitOps file of the same object is replaced; one of another object is not
        flux = _session_preview(app, repo)
        path = flux.preview.output_path
        first = app.manifests.write("local", str(repo), session_id=flux.session_id)
        assert first.created
        again = app.manifests.write("local", str(repo), path, flux.preview.yaml.replace("interval: 5m", "interval: 7m"))
        assert again.changed
        ks = next(o for o in flux.preview.objects if o.kind == "Kustomization")
        other = flux.preview.yaml.replace(f"name: {ks.name}", "name: elsewhere")
        with pytest.raises(GitOpsError, match=f"Kustomization {ks.namespace}/{ks.name}"):
            app.manifests.write("local", str(repo), path, other)
    finally:
        app.close()


def _session_preview(app: Services, repo: Path) -> Any:
    v = app.wizard.start("local", str(repo))
    answers = {"package": "kustomize", "provider": "flux", "repo_url": URL}
    v = app.wizard.answer("local", v.session_id, answers, accept_defaults=True)
    assert v.step == "preview" and v.preview is not None
    return v
