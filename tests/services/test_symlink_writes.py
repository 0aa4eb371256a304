"""A repository's author must never make a writer write outside it: a symlink committed at the
writer's old temporary name, at a predictable temporary name, at the target, or at a parent
directory, for every writer (write_manifests, the wizard's write, remediate, promote,
scaffold_fleet), in a local checkout and from a git URL. The victim lies outside every root."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import wizard_to_preview
from doubles.world import World, git_repository, kustomization
from gitops_mcp import paths
from gitops_mcp.errors import GitOpsError
from gitops_mcp.remediation import SetImage
from gitops_mcp.services import Services

VICTIM_TEXT = "victim: untouched\n"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: web\ndata:\n  a: '1'\n"
DEPLOY = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: web\nspec:\n  replicas: 1\n"
    "  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n"
    "      containers:\n        - name: web\n          image: nginx:1.25\n"
)
BASE_K = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deploy.yaml\n"


def overlay(tag: str) -> str:
    return (
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../../base\n"
        f"images:\n  - name: nginx\n    newTag: '{tag}'\n"
    )


FILES = {
    "apps/web/deploy.yaml": DEPLOY,
    "deploy/base/deploy.yaml": DEPLOY.replace("name: web\n  namespace", "name: front\n  namespace"),
    "deploy/base/kustomization.yaml": BASE_K,
    "deploy/overlays/staging/kustomization.yaml": overlay("1.27"),
    "deploy/overlays/production/kustomization.yaml": overlay("1.25"),
}
FIXED_HEX = "0" * 16  # what a test makes the random part of a temporary name


@dataclass
class Case:
    world: World
    app: Services
    url: str
    local: Path
    victim: Path  # a directory outside every root, holding victim.yaml

    def repo(self, where: str) -> str:
        return self.url if where == "url" else str(self.local)

    def untouched(self) -> None:
        assert sorted(p.name for p in self.victim.iterdir()) == ["victim.yaml"], list(self.victim.iterdir())
        assert (self.victim / "victim.yaml").read_text(encoding="utf-8") == VICTIM_TEXT


@pytest.fixture
def case(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Case]:
    victim = tmp_path_factory.mktemp("victim")
    (victim / "victim.yaml").write_text(VICTIM_TEXT, encoding="utf-8")
    with World(tmp_path / "world") as w:
        url = w.seed("org/apps.git", tmp_path / "world" / "seed", FILES)
        app = Services(w.settings())
        yield Case(w, app, url, tmp_path / "world" / "seed", victim)
        app.close()


def plant(c: Case, links: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Commit and push ``links`` (repository path -> target) as symlinks, as a repository's
    author would; the local checkout has them too. The random part of temporary names is fixed, so
    a link at the predictable name is there to be followed (it must not be)."""
    w = c.world
    for rel, target in links.items():
        p = c.local / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if p.is_dir() and not p.is_symlink():
            for f in p.iterdir():
                f.unlink()
            p.rmdir()
        elif p.exists() or p.is_symlink():
            p.unlink()
        os.symlink(target, p)
    w.git(c.local, "add", "-A")
    w.git(c.local, "-c", "user.name=Mallory", "-c", "user.email=m@example.com", "commit", "-qm", "links")
    w.git(c.local, "push", "-q", "origin", "main")
    monkeypatch.setattr(paths.secrets, "token_hex", lambda n=8: FIXED_HEX)


def temp_names(rel: str) -> dict[str, Path]:
    """Symlinks at the old fixed temporary name and at the (made) predictable one beside ``rel``."""
    folder, name = os.path.split(rel)
    old = os.path.join(folder, f".{name}.gitops-mcp.tmp")
    now = os.path.join(folder, f".{name}.{FIXED_HEX}.gitops-mcp.tmp")
    return {old: Path("VICTIM/victim.yaml"), now: Path("VICTIM/victim.yaml")}


def resolve(links: dict[str, Path], victim: Path) -> dict[str, Path]:
    return {k: Path(str(v).replace("VICTIM", str(victim))) for k, v in links.items()}


WHERE = ["local", "url"]


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("attack", ["temp", "target", "parent"])
def test_write_manifests(case: Case, monkeypatch: pytest.MonkeyPatch, where: str, attack: str) -> None:
    rel = "apps/web/cm.yaml"
    links = {
        "temp": temp_names(rel),
        "target": {rel: Path("VICTIM/victim.yaml")},
        "parent": {"apps/web": Path("VICTIM")},
    }[attack]
    plant(case, resolve(links, case.victim), monkeypatch)
    if attack == "temp":
        with pytest.raises(GitOpsError, match="every name tried exists"):
            case.app.manifests.write("local", case.repo(where), rel, CM)
        monkeypatch.undo()  # random names again: the write goes through, beside the planted links
        w = case.app.manifests.write("local", case.repo(where), rel, CM)
        assert w.created
        if where == "local":
            assert (case.local / rel).read_text(encoding="utf-8") == CM and not (case.local / rel).is_symlink()
            for planted in links:
                assert (case.local / planted).is_symlink()
    else:
        with pytest.raises(GitOpsError, match="symlink"):
            case.app.manifests.write("local", case.repo(where), rel, CM)
    case.untouched()


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("attack", ["temp", "target", "parent"])
def test_the_wizards_write(case: Case, monkeypatch: pytest.MonkeyPatch, where: str, attack: str) -> None:
    rel = "clusters/web.yaml"
    links = {
        "temp": temp_names(rel),
        "target": {rel: Path("VICTIM/victim.yaml")},
        "parent": {"clusters": Path("VICTIM")},
    }[attack]
    plant(case, resolve(links, case.victim), monkeypatch)
    answers: dict[str, Any] = {"package": "apps/web", "provider": "flux", "repo_url": case.url}
    if attack == "temp":
        answers["output_path"] = rel
        v = wizard_to_preview(case.app, case.repo(where), answers)  # type: ignore[arg-type]
        done = case.app.wizard.answer("local", v.session_id, {"delivery": "write"})
        assert done.status == "open" and "every name tried exists" in str(done.errors), done
    else:  # the output path is asked again with the reason
        answers["output_path"] = rel
        v = case.app.wizard.start("local", case.repo(where), provider="flux")
        v = case.app.wizard.answer("local", v.session_id, answers, accept_defaults=True)
        for _ in range(6):
            if "output_path" in v.errors:
                break
            # from a URL the preview diffs against the remote's tip: the write refuses the link
            v = case.app.wizard.answer("local", v.session_id, {"delivery": "write"} if v.step == "preview" else {})
        assert "symlink" in v.errors.get("output_path", ""), (v.step, v.errors)
    case.untouched()


@pytest.mark.parametrize("where", WHERE)
def test_remediate(case: Case, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    w = case.world
    plant(case, resolve(temp_names("apps/web/deploy.yaml"), case.victim), monkeypatch)
    w.kube.ensure_namespace("flux-system")
    w.kube.ensure_namespace("web")
    w.kube.put(git_repository("apps", case.url))
    w.kube.put(kustomization("web", "./apps/web", "apps"))
    with w.controllers():
        assert case.app.cluster.wait("Kustomization", "web", "flux-system", None, 20).outcome == "synced"
        repo = None if where == "url" else str(case.local)
        with pytest.raises(GitOpsError, match="every name tried exists"):
            case.app.remediation.remediate(
                "apps/v1", "Deployment", "web", "web", SetImage(image="nginx:1.27"), mode="push", repo_path=repo
            )
    case.untouched()


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("attack", ["temp", "target"])
def test_promote(case: Case, monkeypatch: pytest.MonkeyPatch, where: str, attack: str) -> None:
    rel = "deploy/overlays/production/kustomization.yaml"
    if attack == "target":  # the file promote edits is a link out; what it names looks like an overlay
        (case.victim / "victim.yaml").write_text(overlay("1.25"), encoding="utf-8")
    links = temp_names(rel) if attack == "temp" else {rel: Path("VICTIM/victim.yaml")}
    plant(case, resolve(links, case.victim), monkeypatch)
    before = (case.victim / "victim.yaml").read_text(encoding="utf-8")
    # a link out is not read as an overlay at all (detection never follows one out)
    refused = "every name tried exists" if attack == "temp" else "symlink|no Kustomize overlay"
    with pytest.raises(GitOpsError, match=refused):
        case.app.promotion.promote(case.repo(where), "front", "staging", "production", mode="push")
    assert (case.victim / "victim.yaml").read_text(encoding="utf-8") == before
    assert sorted(p.name for p in case.victim.iterdir()) == ["victim.yaml"]


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("attack", ["temp", "target", "parent"])
def test_scaffold_fleet(case: Case, monkeypatch: pytest.MonkeyPatch, where: str, attack: str) -> None:
    rel = "clusters/dev/apps.yaml"
    links = {
        "temp": temp_names(rel),
        "target": {rel: Path("VICTIM/victim.yaml")},
        "parent": {"clusters/dev": Path("VICTIM")},
    }[attack]
    plant(case, resolve(links, case.victim), monkeypatch)
    with pytest.raises(GitOpsError, match="every name tried exists" if attack == "temp" else "symlink"):
        case.app.fleet.scaffold(case.repo(where), "flux", ["dev"], repo_url=case.url, overwrite=True, principal="local")
    case.untouched()
    if where == "local":
        assert not (case.local / "clusters/dev/infrastructure.yaml").exists()  # refused before any write


def test_a_parent_swapped_for_a_symlink_between_check_and_write(tmp_path: Path) -> None:
    """The race: the check passed, then a parent became a link out. The write refuses."""
    repo, out = tmp_path / "repo", tmp_path / "out"
    (repo / "a").mkdir(parents=True)
    out.mkdir()
    target = paths.safe_repo_file(repo, "a/x.yaml")
    paths.check_writable(repo, target)
    (repo / "a").rmdir()
    os.symlink(out, repo / "a")
    with pytest.raises(GitOpsError, match="symlink"):
        paths.write_text_atomic(repo, target, CM)
    assert list(out.iterdir()) == []


def test_an_existing_file_keeps_its_mode_and_no_temporary_is_left(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "a").mkdir(parents=True)
    (repo / "a/x.sh").write_text("old\n", encoding="utf-8")
    os.chmod(repo / "a/x.sh", 0o750)
    paths.write_text_atomic(repo, paths.safe_repo_file(repo, "a/x.sh"), "new\n")
    assert (repo / "a/x.sh").read_text(encoding="utf-8") == "new\n"
    assert (repo / "a/x.sh").stat().st_mode & 0o777 == 0o750
    assert sorted(p.name for p in (repo / "a").iterdir()) == ["x.sh"]
