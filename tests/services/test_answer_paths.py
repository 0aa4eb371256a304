"""Paths and choices answered the way a user types them (issue 20, item 12): an absolute package
path inside the repository, '~' refused as clearly as a relative path, a refused choice says why."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gitops_mcp.errors import GitOpsError
from gitops_mcp.services import Services
from gitops_mcp.settings import Settings

CASES = [  # (fixture, a package in it)
    ("argocd-example-apps", "kustomize-guestbook"),
    ("flux2-kustomize-helm-example", "apps/base/podinfo"),
    ("flux2-monitoring-example", "monitoring/controllers/loki-stack"),
    ("flux2-multi-tenancy", "tenants/base/dev-team"),
    ("gitops-istio", "istio/gateway"),
    ("podinfo", "charts/podinfo"),
]


@pytest.fixture
def app(settings: Settings) -> Iterator[Services]:
    a = Services(settings)
    yield a
    a.close()


@pytest.mark.parametrize(("fixture", "package"), CASES, ids=[c[0] for c in CASES])
def test_absolute_package_path_inside_the_repository(
    app: Services, fixture_repo: Callable[..., Path], fixture: str, package: str
) -> None:
    repo = fixture_repo(fixture)
    v = app.wizard.start("local", str(repo))
    v = app.wizard.answer("local", v.session_id, {"package": str(repo / package)})
    assert not v.errors and v.answers["package"] == package
    # the same answer through a symlinked parent of the repository
    link = repo.parent / "link"
    link.symlink_to(repo)
    v = app.wizard.answer("local", v.session_id, {"package": f"{link}/{package}/"})
    assert not v.errors and v.answers["package"] == package
    # outside the repository: refused, the path shown as given (its leading slash kept)
    outside = str(repo.parent / "elsewhere" / package)
    v = app.wizard.answer("local", v.session_id, {"package": outside})
    assert v.errors["package"].startswith(repr(outside)[:20]) and "is outside the repository" in v.errors["package"]
    # '~' is not expanded: the same rule as a relative path outside the repository root
    v = app.wizard.answer("local", v.session_id, {"package": f"~/{package}"})
    assert "starts with ~" in v.errors["package"] and v.answers["package"] == package
    # the path question takes an absolute path inside the repository too
    v = app.wizard.answer("local", v.session_id, {"provider": "flux", "path": str(repo / package)})
    assert "path" not in v.errors and v.answers.get("path") == package, v.errors


def test_tilde_repo_path_gets_the_relative_path_rule(app: Services, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("podinfo")
    home = Path.home()
    assert repo.exists() and home.exists()
    for given in ("~/repos/podinfo", "repos/podinfo"):
        with pytest.raises(GitOpsError, match="is relative: pass an absolute path"):
            app.wizard.start("local", given)
        with pytest.raises(GitOpsError, match="is relative: pass an absolute path"):
            app.inspect.detect(given)


@pytest.mark.parametrize("choice", ["push", "pull_request"])
def test_push_without_origin_says_why(app: Services, fixture_repo: Callable[..., Path], choice: str) -> None:
    repo = fixture_repo("gitops-istio", origin=None)
    v = app.wizard.start("local", str(repo))
    answers = {"package": "apps/frontend", "provider": "argocd", "repo_url": "https://github.com/x/y.git"}
    v = app.wizard.answer("local", v.session_id, answers, accept_defaults=True)
    assert v.step == "preview" and v.questions[0].options == ["write"]
    v = app.wizard.answer("local", v.session_id, {"delivery": choice})
    assert "origin remote" in v.errors["delivery"] and "write" in v.errors["delivery"], v.errors
    assert v.status == "open" and v.result is None
