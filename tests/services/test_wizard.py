"""The wizard through the plain-Python core: flows, answer validation, defaults, delivery."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import git, make_repo
from gitops_mcp.errors import GitOpsError, UserInputError
from gitops_mcp.manifests.yaml import load_documents
from gitops_mcp.services import Services
from gitops_mcp.settings import PolicySettings, Settings

OWNER = "local"


def run_to_preview(app: Services, repo: Path, answers: dict[str, Any], **start: Any) -> Any:
    view = app.wizard.start(OWNER, str(repo), **start)
    view = app.wizard.answer(OWNER, view.session_id, answers)
    for _ in range(8):
        if view.step == "preview":
            break
        view = app.wizard.answer(OWNER, view.session_id, {}, accept_defaults=True)
    assert view.step == "preview", view
    return view


def test_flux_chart_wizard_writes_valid_file(app: Services, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("podinfo", origin="git@github.com:stefanprodan/podinfo.git")
    view = app.wizard.start(OWNER, str(repo), intent="deploy charts/podinfo with Flux")
    assert view.step == "package" and view.packages
    q = view.questions[0]
    assert q.id == "package" and q.type == "select" and q.default == "charts/podinfo" and "chart" in (q.options or [])
    view = app.wizard.answer(OWNER, view.session_id, {"package": "charts/podinfo"})
    assert view.step == "provider" and view.questions[0].default == "flux"
    view = app.wizard.answer(OWNER, view.session_id, {"provider": "flux"})
    assert view.step == "common"
    defaults = {q.id: q.default for q in view.questions}
    assert defaults == {
        "repo_url": "ssh://git@github.com/stefanprodan/podinfo.git",
        "path": "charts/podinfo",
        "revision": "main",
        "namespace": "podinfo",
        "app_name": "podinfo",
    }
    # step by step: the shown defaults, one changed (accept_defaults would carry on to the preview)
    view = app.wizard.answer(
        OWNER, view.session_id, {**defaults, "repo_url": "https://github.com/stefanprodan/podinfo.git"}
    )
    assert view.step == "provider_options"
    assert {q.id for q in view.questions} == {
        "flux_namespace",
        "interval",
        "source_interval",
        "create_namespace",
        "value_files",
        "values",
    }
    shown = {q.id: q.default for q in view.questions if q.default is not None}
    view = app.wizard.answer(
        OWNER,
        view.session_id,
        {**shown, "interval": "10m", "values": "replicaCount: 2", "value_files": "values-prod.yaml"},
    )
    assert view.step == "output" and view.questions[0].default == "gitops/flux/podinfo.yaml"
    view = app.wizard.answer(OWNER, view.session_id, {"output_path": "clusters/dev/podinfo.yaml"})
    assert view.step == "preview" and view.preview is not None
    assert view.preview.validation.valid and not view.preview.file_exists
    assert view.preview.diff == ""  # a new file: the yaml is the whole change, said once
    assert [q.id for q in view.questions] == ["delivery"]
    assert not (repo / "clusters/dev/podinfo.yaml").exists()  # nothing written before delivery
    view = app.wizard.answer(OWNER, view.session_id, {"delivery": "write"})
    assert view.status == "done" and view.result is not None and view.result.changed
    docs = load_documents((repo / "clusters/dev/podinfo.yaml").read_text(encoding="utf-8"))
    hr = docs[1]
    assert hr["kind"] == "HelmRelease" and hr["spec"]["interval"] == "10m"
    assert hr["spec"]["chart"]["spec"]["reconcileStrategy"] == "Revision"
    assert hr["spec"]["chart"]["spec"]["valuesFiles"] == [
        "./charts/podinfo/values.yaml",
        "./charts/podinfo/values-prod.yaml",
    ]
    assert hr["spec"]["values"] == {"replicaCount": 2}
    # a finished session refuses further answers
    with pytest.raises(UserInputError, match="done"):
        app.wizard.answer(OWNER, view.session_id, {"app_name": "x"})


def test_argocd_answers_ahead_in_one_call(app: Services, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("argocd-example-apps", origin="https://github.com/argoproj/argocd-example-apps.git")
    view = app.wizard.start(OWNER, str(repo), provider="argocd")
    answers = {
        "package": "guestbook",
        "repo_url": "https://github.com/argoproj/argocd-example-apps.git",
        "path": "guestbook",
        "revision": "HEAD",
        "namespace": "guestbook",
        "app_name": "guestbook",
        "argocd_namespace": "argocd",
        "project": "default",
        "sync_policy": "auto-prune",
        "create_namespace": True,
        "output_path": "argocd/guestbook.yaml",
        "delivery": "write",
    }
    view = app.wizard.answer(OWNER, view.session_id, answers)
    # every answer in one call: it stops at the preview (the delivery is kept until it was returned)
    assert view.step == "preview" and view.preview is not None and not (repo / "argocd/guestbook.yaml").exists()
    view = app.wizard.answer(OWNER, view.session_id, {})
    assert view.status == "done", view.errors
    (app_doc,) = load_documents((repo / "argocd/guestbook.yaml").read_text(encoding="utf-8"))
    assert app_doc["spec"]["source"] == {
        "repoURL": "https://github.com/argoproj/argocd-example-apps.git",
        "targetRevision": "HEAD",
        "path": "guestbook",
        "directory": {"recurse": True},
    }
    assert app_doc["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    # the same answers through one-shot generation give byte-identical YAML
    one = app.manifests.generate(
        {k: v for k, v in answers.items() if k != "delivery"} | {"provider": "argocd"}, repo_path=str(repo)
    )
    assert one.yaml == (repo / "argocd/guestbook.yaml").read_text(encoding="utf-8") and one.diff == ""


BAD_ANSWERS: list[tuple[str, Any, str]] = [
    ("package", "nope", "not a detected package"),
    ("provider", "spinnaker", "not one of"),
    ("app_name", "Bad_Name", "not a valid name"),
    ("namespace", "n" * 64, "limit is 63"),
    ("repo_url", "ftp://example.com/x.git", "https:// or ssh://"),
    ("repo_url", "http://example.com/x.git", "https:// or ssh://"),
    ("repo_url", "https://example.com/x?y=1", "query"),
    ("path", "../etc", "'..'"),
    ("path", "does/not/exist", "not a directory"),
    ("revision", "bad..ref", "not a valid branch or tag"),
    ("revision", "commit:abc", "40-character"),
    ("interval", "1d", "not a duration"),
    ("interval", "5s", "outside the allowed range"),
    ("prune", False, "policy requires prune"),
    ("prune", "maybe", "yes/no"),
    ("output_path", "/etc/passwd.yaml", "absolute"),
    ("output_path", ".git/config.yaml", ".git"),
    ("output_path", "notes.txt", ".yaml"),
    ("output_path", "deploy/overlays/production/app.yaml", "inside the package"),
    # every text answer is bounded by what it is, with the limit in the message (and not echoed whole)
    ("package", "p" * 50_000, "at most 1024"),
    ("provider", "f" * 50_000, "at most 4096"),
    ("app_name", "a" * 50_000, "at most 4096"),
    ("repo_url", "https://github.com/" + "x" * 2048, "at most 2048"),
    ("repo_url", "https://a.a.!/x.git", "not a DNS name or an IP address"),
    ("path", "a/" * 600, "at most 1024"),
    ("revision", "r" * 256, "at most 255"),
    ("revision", "r" * 50_000, "at most 255"),
    ("revision", "branch:" + "r" * 255, "at most 255"),
    ("interval", "1m" * 33, "at most 64"),
    ("prune", "y" * 50_000, "at most 4096"),
    ("app_name", "a" * 4000, "limit is 63"),
    ("output_path", "a/" * 600 + "x.yaml", "at most 1024"),
]


@pytest.mark.parametrize(("qid", "value", "reason"), BAD_ANSWERS, ids=[f"{q}={v!r}"[:40] for q, v, _ in BAD_ANSWERS])
def test_bad_answer_is_asked_again_with_reason(
    app: Services, fixture_repo: Callable[..., Path], qid: str, value: Any, reason: str
) -> None:
    repo = fixture_repo("podinfo")
    good = {
        "package": "deploy/overlays/production",
        "provider": "flux",
        "repo_url": "https://github.com/x/y.git",
        "path": "deploy/overlays/production",
        "revision": "main",
        "namespace": "production",
        "app_name": "podinfo",
        "flux_namespace": "flux-system",
        "interval": "5m",
        "source_interval": "1m",
        "prune": True,
        "health_checks": True,
    }
    view = app.wizard.start(OWNER, str(repo))
    order = list(good)
    before = {k: good[k] for k in order[: order.index(qid)]} if qid in good else good
    view = app.wizard.answer(OWNER, view.session_id, before)
    prior = app.wizard.get(OWNER, view.session_id)
    view = app.wizard.answer(OWNER, view.session_id, {qid: value})
    assert qid in view.errors and reason in view.errors[qid], view.errors
    assert len(view.errors[qid]) < 600  # a huge answer is not repeated back
    asked = {q.id: q for q in view.questions}
    assert qid in asked and asked[qid].error == view.errors[qid]
    assert view.answers == prior.answers  # nothing changed
    assert view.step == prior.step


def test_refused_answer_keeps_previous_value(app: Services, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("podinfo")
    view = app.wizard.start(OWNER, str(repo))
    view = app.wizard.answer(OWNER, view.session_id, {"package": "kustomize", "provider": "argocd", "app_name": "good"})
    view = app.wizard.answer(OWNER, view.session_id, {"app_name": "BAD"})
    assert view.answers["app_name"] == "good" and "app_name" in view.errors


def test_unknown_question_id_is_an_error_and_changes_nothing(app: Services, fixture_repo: Callable[..., Path]) -> None:
    view = app.wizard.start(OWNER, str(fixture_repo("podinfo")))
    with pytest.raises(UserInputError, match="unknown question id"):
        app.wizard.answer(OWNER, view.session_id, {"package": "kustomize", "bogus": 1})
    assert app.wizard.get(OWNER, view.session_id).answers == {}


def test_switching_provider_drops_its_old_answers(app: Services, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("podinfo")
    view = run_to_preview(app, repo, {"package": "kustomize", "provider": "argocd", "sync_policy": "manual"})
    assert view.answers["sync_policy"] == "manual"
    view = app.wizard.answer(OWNER, view.session_id, {"provider": "flux"})
    # answers of the old provider are gone; defaults taken after the changed step are asked again
    assert "sync_policy" not in view.answers and "output_path" not in view.answers
    assert view.step == "common"
    for _ in range(3):
        view = app.wizard.answer(OWNER, view.session_id, {}, accept_defaults=True)
    assert view.step == "preview" and view.answers["output_path"] == "gitops/flux/kustomize.yaml"


def test_ignored_answers_are_reported(app: Services, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("podinfo")
    view = run_to_preview(app, repo, {"package": "kustomize", "provider": "flux", "sync_policy": "manual"})
    assert view.ignored == ["sync_policy"]


def test_third_party_chart(app: Services, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("podinfo")
    view = run_to_preview(
        app,
        repo,
        {
            "package": "chart",
            "chart_url": "oci://ghcr.io/stefanprodan/charts",
            "chart": "podinfo",
            "chart_version": "6.7.0",
            "provider": "flux",
        },
    )
    kinds = [o.kind for o in view.preview.objects]
    assert kinds == ["OCIRepository", "HelmRelease"]
    assert "repo_url" not in view.answers


def test_flux_bootstrap_layout_and_source_reuse(app: Services, tmp_path: Path) -> None:
    repo = tmp_path / "fleet"
    sync = (
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: flux-system\n"
        "  namespace: flux-system\nspec:\n  interval: 1m0s\n  ref:\n    branch: main\n"
        "  url: ssh://git@github.com/example/fleet\n"
    )
    (repo / "clusters/prod/flux-system").mkdir(parents=True)
    (repo / "clusters/prod/flux-system/gotk-sync.yaml").write_text(sync, encoding="utf-8")
    (repo / "clusters/prod/flux-system/gotk-components.yaml").write_text("---\n", encoding="utf-8")
    (repo / "clusters/prod/flux-system/kustomization.yaml").write_text(
        "resources: [gotk-components.yaml, gotk-sync.yaml]\n", encoding="utf-8"
    )
    (repo / "apps/web").mkdir(parents=True)
    (repo / "apps/web/deploy.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n", encoding="utf-8"
    )
    make_repo(repo, origin="git@github.com:example/fleet.git")
    view = app.wizard.start(OWNER, str(repo), intent="deploy web")
    assert view.questions[0].default == "apps/web"
    view = run_to_preview(app, repo, {"package": "apps/web"})
    assert view.answers["provider"] == "flux"  # the bootstrap says Flux
    assert view.answers["output_path"] == "clusters/prod/web.yaml"
    # the GitRepository is reused; the namespace the Deployment lacks is created beside (the bootstrap applies it)
    assert [o.kind for o in view.preview.objects] == ["Namespace", "Kustomization"]
    assert any("Uses the bootstrap's GitRepository flux-system/flux-system" in n for n in view.preview.notes)


def test_head_means_default_branch_for_flux(app: Services, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("podinfo")
    git(repo, "checkout", "-q", "-b", "trunk")
    view = run_to_preview(app, repo, {"package": "kustomize", "provider": "flux", "revision": "HEAD"})
    docs = load_documents(view.preview.yaml)
    assert docs[0]["spec"]["ref"] == {"branch": "trunk"}


def test_tag_revision_becomes_tag_ref(app: Services, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("podinfo")
    git(repo, "tag", "v6.7.0")
    view = run_to_preview(app, repo, {"package": "kustomize", "provider": "flux", "revision": "v6.7.0"})
    assert load_documents(view.preview.yaml)[0]["spec"]["ref"] == {"tag": "v6.7.0"}


def test_jsonnet_not_offered_for_flux(app: Services, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("argocd-example-apps")
    view = app.wizard.start(OWNER, str(repo))
    view = app.wizard.answer(OWNER, view.session_id, {"package": "jsonnet-guestbook", "provider": "flux"})
    assert "Jsonnet" in view.errors["provider"]


def test_read_only_stops_at_preview(tmp_path: Path, fixture_repo: Callable[..., Path]) -> None:
    ro = Services(Settings(allowed_roots=[tmp_path], state_dir=tmp_path / "ro", read_only=True))
    repo = fixture_repo("podinfo")
    view = run_to_preview(ro, repo, {"package": "kustomize", "provider": "argocd"})
    assert view.status == "done" and view.questions == [] and "read-only" in view.next
    with pytest.raises(GitOpsError, match="read-only"):
        ro.manifests.write(OWNER, str(repo), "x.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")


def test_invalid_preview_blocks_delivery(tmp_path: Path, fixture_repo: Callable[..., Path]) -> None:
    # policy forbids http URLs; answers are checked, but the policy may also catch what answers allow
    settings = Settings(
        allowed_roots=[tmp_path], state_dir=tmp_path / "s", policy=PolicySettings(secure_git_urls=False)
    )
    relaxed = Services(settings)
    repo = fixture_repo("podinfo")
    view = run_to_preview(
        relaxed, repo, {"package": "kustomize", "provider": "flux", "repo_url": "http://git.local/x.git"}
    )
    assert view.preview.validation.valid  # allowed when the policy is off
    strict = Services(Settings(allowed_roots=[tmp_path], state_dir=tmp_path / "s"))
    v2 = strict.wizard.answer(OWNER, view.session_id, {"delivery": "write"})
    assert v2.status == "open" and "delivery" in v2.errors and "https:// or ssh://" in v2.errors["delivery"]
    assert not (repo / "gitops/flux/podinfo.yaml").exists()


def test_outside_allowed_roots_and_urls(app: Services, tmp_path: Path) -> None:
    with pytest.raises(GitOpsError, match="outside the allowed roots"):
        app.inspect.detect("/etc")
    with pytest.raises(GitOpsError, match="GITOPS_MCP_ALLOWED_GIT_HOSTS"):
        app.wizard.start(OWNER, "https://github.com/x/y.git")  # no host is allowed in these tests: nothing is fetched
    with pytest.raises(GitOpsError, match="relative"):
        app.inspect.detect("relative/path")
    with pytest.raises(GitOpsError, match="does not exist"):
        app.inspect.detect(str(tmp_path / "missing"))


def test_generation_bounds_strings_by_what_they_are(app: Services) -> None:
    """A 50 KB revision, chart or chart_version is refused with its own limit (not just the MCP layer's)."""
    chart = {"provider": "flux", "app_name": "podinfo", "namespace": "podinfo"}
    chart |= {"chart_url": "oci://ghcr.io/stefanprodan/charts", "chart": "podinfo", "chart_version": "6.7.0"}
    git = {"provider": "argocd", "app_name": "podinfo", "namespace": "podinfo", "package": "deploy"}
    git |= {"repo_url": "https://github.com/x/y.git", "revision": "main"}
    big = "x" * 50_000
    for args, key, limit in [
        (git, "revision", 255),
        (chart, "chart", 253),
        (chart, "chart_version", 128),
        (chart, "chart_url", 2048),
        (git, "repo_url", 2048),
        (git, "package", 1024),
        (chart, "values", 64 << 10),
    ]:
        value = "oci://" + big if key == "chart_url" else ("https://" + big if key == "repo_url" else big)
        value = f"a: '{big * 2}'" if key == "values" else value
        with pytest.raises(GitOpsError, match=f"at most {limit}") as err:
            app.manifests.generate({**args, key: value}, package_type="kustomize" if args is git else None)
        assert len(str(err.value)) < 600, key
    # at the limit, accepted
    assert app.manifests.generate({**git, "revision": "r" * 255}, package_type="kustomize").validation.valid
    assert app.manifests.generate({**chart, "chart": "c" * 253, "chart_version": "1" * 128}).yaml


def test_intent_is_bounded_free_text(app: Services, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("podinfo")
    with pytest.raises(UserInputError, match="at most 4096"):
        app.wizard.start(OWNER, str(repo), intent="deploy " + "x" * 4096)
    assert app.wizard.start(OWNER, str(repo), intent="x" * 4096).step == "package"


def test_a_rerun_over_its_own_file_keeps_the_source(app: Services, fixture_repo: Callable[..., Path]) -> None:
    """The GitRepository in the file being replaced is not "reused": it would go with the file."""
    repo = fixture_repo("podinfo")
    first = run_to_preview(app, repo, {"package": "charts/podinfo", "provider": "flux"})
    done = app.wizard.answer(OWNER, first.session_id, {"delivery": "write"})
    written = repo / done.result.file
    assert [d["kind"] for d in load_documents(written.read_text(encoding="utf-8"))] == ["GitRepository", "HelmRelease"]
    again = run_to_preview(app, repo, {"package": "charts/podinfo", "provider": "flux"})
    assert again.answers["output_path"] == done.result.file
    assert [o.kind for o in again.preview.objects] == ["GitRepository", "HelmRelease"]
    assert not any("Reusing" in n for n in again.preview.notes) and not again.preview.diff
    gen = app.manifests.generate({"provider": "flux", "package": "charts/podinfo"}, str(repo), None)
    assert [d["kind"] for d in load_documents(gen.yaml)] == ["GitRepository", "HelmRelease"]
