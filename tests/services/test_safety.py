"""Writes stay inside the repository; bad input changes nothing; secrets never leak."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import make_repo
from doubles.mcp_server import server_env
from gitops_mcp.errors import GitOpsError, PathNotAllowedError, PolicyViolation
from gitops_mcp.paths import check_relative
from gitops_mcp.services import Services
from gitops_mcp.settings import Settings

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"

ESCAPES = [
    "../outside.yaml",
    "a/../../outside.yaml",
    "/tmp/abs.yaml",
    "~/home.yaml",
    ".git/config",
    ".GIT/hooks/pre-commit.yaml",
    ".Git/x.yaml",
    "sub/.git/x.yaml",
    ".git./x.yaml",
    ".git /x.yaml",
    "GIT~1/x.yaml",
    "a\\..\\..\\x.yaml",
    "x\x00.yaml",
    "C:/x.yaml",
]


@pytest.mark.parametrize("rel", ESCAPES, ids=lambda r: repr(r))
def test_write_refuses_escapes(app: Services, tmp_path: Path, rel: str) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / ".git/config").write_text("[core]\n", encoding="utf-8")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    with pytest.raises(GitOpsError):
        app.manifests.write("local", str(repo), rel, CM)
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert before == after


def test_symlinks_that_leave_the_repo_or_enter_git(app: Services, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, repo / "out")  # directory symlink leaving the repo
    os.symlink(repo / ".git", repo / "dotgit")  # into .git under another name
    os.symlink(outside / "target.yaml", repo / "link.yaml")  # file symlink leaving the repo
    for rel in ("out/x.yaml", "dotgit/config.yaml", "link.yaml"):
        with pytest.raises(PathNotAllowedError):
            app.manifests.write("local", str(repo), rel, CM)
    assert list(outside.iterdir()) == []
    assert sorted(p.name for p in (repo / ".git").iterdir()) == []


def test_write_inside_and_diff(app: Services, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    os.symlink(repo / "real", repo / "alias")  # a symlink that stays inside is fine
    (repo / "real").mkdir()
    r = app.manifests.write("local", str(repo), "alias/cm.yaml", CM)
    assert r.created and r.changed and (repo / "real/cm.yaml").read_text(encoding="utf-8") == CM
    r2 = app.manifests.write("local", str(repo), "alias/cm.yaml", CM)
    assert not r2.changed and r2.diff == ""
    r3 = app.manifests.write(
        "local", str(repo), "alias/cm.yaml", CM.replace("name: x", "name: y"), overwrite=True
    )  # a ConfigMap is not a GitOps file: replaced only when told to
    assert "-  name: x" in r3.diff and "+  name: y" in r3.diff


def test_write_refuses_invalid_and_secrets(app: Services, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  password: hunter2\n"
    with pytest.raises(PolicyViolation, match="Secret"):
        app.manifests.write("local", str(repo), "s.yaml", secret)
    with pytest.raises(GitOpsError, match="not valid YAML"):
        app.manifests.write("local", str(repo), "bad.yaml", "a: [unclosed\n")
    suspended = (
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: k\n"
        "spec:\n  interval: 5m\n  prune: true\n  suspend: true\n  sourceRef:\n    kind: GitRepository\n"
        "    name: r\n"
    )
    with pytest.raises(PolicyViolation, match="suspended"):
        app.manifests.write("local", str(repo), "k.yaml", suspended)
    assert list(repo.iterdir()) == []


def test_write_outside_allowed_roots(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    app = Services(Settings(allowed_roots=[tmp_path / "allowed"], state_dir=tmp_path / "s"))
    (tmp_path / "allowed").mkdir()
    os.symlink(other, tmp_path / "allowed" / "sneaky")
    for path in (str(other), str(tmp_path / "allowed" / "sneaky"), str(tmp_path / "allowed/../other")):
        with pytest.raises(PathNotAllowedError):
            app.manifests.write("local", path, "x.yaml", CM)
    assert list(other.iterdir()) == []


def test_check_relative_accepts_plain_paths() -> None:
    assert str(check_relative("./clusters/prod//app.yaml")) == "clusters/prod/app.yaml"
    assert str(check_relative(".github/x.yaml")) == ".github/x.yaml"
    assert str(check_relative(".gitops/x.yaml")) == ".gitops/x.yaml"


def test_origin_credentials_never_reach_output_or_storage(tmp_path: Path, fixture_repo: Callable[..., Path]) -> None:
    """A token in the origin URL, the bearer token and the state: searched in every artifact."""
    secret = "ghp_SECRETTOKEN0123456789abcdef"
    repo = fixture_repo("podinfo", origin=f"https://user:{secret}@github.com/stefanprodan/podinfo.git")
    bearer = "bearer-SECRET-0123456789"
    script = f"""
import anyio, json
from mcp import Client
from gitops_mcp.server import build_server
from gitops_mcp.settings import Settings
async def main():
    out = []
    async with Client(build_server(Settings())) as c:
        for tool, args in [("detect_packages", {{"repo_path": {str(repo)!r}}}),
                           ("start_deployment", {{"repo_path": {str(repo)!r}, "provider": "flux"}})]:
            r = await c.call_tool(tool, args)
            out.append(r.model_dump_json(by_alias=True))
        sid = json.loads(out[-1])["structuredContent"]["session_id"]
        for _ in range(6):
            r = await c.call_tool("answer_questions", {{"session_id": sid, "answers": {{"package": "kustomize"}},
                                                       "accept_defaults": True}})
            out.append(r.model_dump_json(by_alias=True))
        r = await c.call_tool("answer_questions", {{"session_id": sid, "answers": {{"delivery": "write"}}}})
        out.append(r.model_dump_json(by_alias=True))
    print("\\n".join(out))
anyio.run(main)
"""
    env = server_env(tmp_path, {"GITOPS_MCP_AUTH_TOKEN": bearer, "GITOPS_MCP_LOG_LEVEL": "DEBUG"})
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert '"status":"done"' in proc.stdout.replace(" ", "")
    assert "https://github.com/stefanprodan/podinfo.git" in proc.stdout  # the URL, without credentials
    artifacts = {"stdout": proc.stdout, "stderr": proc.stderr}
    for p in (tmp_path / "state").rglob("*"):
        if p.is_file():
            artifacts[str(p)] = p.read_bytes().decode("utf-8", "replace")
    artifacts["written"] = (repo / "gitops/flux/kustomize.yaml").read_text(encoding="utf-8")
    for name, text in artifacts.items():
        assert secret not in text, name
        assert bearer not in text, name


@pytest.mark.parametrize("target", ["outside", "gitdir"])
def test_wizard_output_path_through_a_symlink_is_asked_again(app: Services, tmp_path: Path, target: str) -> None:
    """A symlink escape is the output_path question's error, like '..' and '.git' (asked again)."""
    repo = make_repo(tmp_path / "r", origin="https://github.com/example/r.git")
    (repo / "app").mkdir()
    (repo / "app" / "kustomization.yaml").write_text("resources: []\n", encoding="utf-8")
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside if target == "outside" else repo / ".git", repo / "out")
    view = app.wizard.start("local", str(repo), provider="flux")
    view = app.wizard.answer(
        "local",
        view.session_id,
        {"package": "app", "namespace": "web", "app_name": "web", "output_path": "out/web.yaml"},
        accept_defaults=True,
    )
    for _ in range(6):
        if "output_path" in view.errors:
            break
        view = app.wizard.answer("local", view.session_id, {}, accept_defaults=True)
    assert "symlink" in view.errors["output_path"]
    assert any(q.id == "output_path" for q in view.questions)
    assert not list(outside.iterdir()) and not (repo / ".git" / "web.yaml").exists()
    for bad in ("../web.yaml", ".git/web.yaml"):
        v = app.wizard.answer("local", view.session_id, {"output_path": bad})
        assert "output_path" in v.errors and any(q.id == "output_path" for q in v.questions)
    ok = app.wizard.answer("local", view.session_id, {"output_path": "gitops/web.yaml"}, accept_defaults=True)
    assert not ok.errors and ok.preview is not None


# -- a .git directory is never a package root, nor read through a symlink ----------------------------


def _deploy(name: str) -> str:
    return f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec: {{}}\n"


def test_detect_and_start_refuse_paths_through_symlinks_into_git(app: Services, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / "apps").mkdir()
    (repo / "apps/web.yaml").write_text(_deploy("web"), encoding="utf-8")
    os.symlink(repo / ".git", repo / "dotgit")  # the .git directory under another name
    os.symlink(repo / ".git" / "refs", repo / "refs")  # a directory inside .git
    os.symlink(repo / "dotgit", repo / "chain")  # through another symlink
    refused = [
        repo / "dotgit",
        repo / "refs",
        repo / "chain",
        repo / "dotgit" / "refs",
        repo / "apps" / ".." / "dotgit",
        repo / ".git",  # .git itself, without a symlink
        repo / ".git" / "refs",
    ]
    for path in refused:
        with pytest.raises(PathNotAllowedError, match=r"\.git"):
            app.inspect.detect(str(path))
        with pytest.raises(PathNotAllowedError, match=r"\.git"):
            app.wizard.start("local", str(path))
    with pytest.raises(PathNotAllowedError, match=r"\.git"):  # nor is a file in .git read as YAML
        app.inspect.validate(path=str(repo / "dotgit" / "config"))
    # the repository and plain directories in it are still fine, through an inside symlink too
    os.symlink(repo / "apps", repo / "alias")
    assert [p.path for p in app.inspect.detect(str(repo)).packages] == ["apps"]
    assert app.inspect.detect(str(repo / "alias")).packages[0].path == "apps"


def test_detect_refuses_a_symlink_leaving_the_repository(app: Services, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    other = make_repo(tmp_path / "other")
    (other / "apps").mkdir()
    (other / "apps/web.yaml").write_text(_deploy("web"), encoding="utf-8")
    os.symlink(other / "apps", repo / "borrowed")  # inside the allowed roots, but another repository
    with pytest.raises(PathNotAllowedError, match="leaves the repository"):
        app.inspect.detect(str(repo / "borrowed"))
    with pytest.raises(PathNotAllowedError, match="leaves the repository"):
        app.wizard.start("local", str(repo / "borrowed"))
    assert app.inspect.detect(str(other / "apps")).packages  # the other repository itself is fine


def test_scan_never_reads_git_through_a_symlink(tmp_path: Path) -> None:
    from conftest import KINDS
    from gitops_mcp.detection import detect_packages

    repo = make_repo(tmp_path / "repo")
    (repo / ".git" / "gitops.yaml").write_text(_deploy("leak"), encoding="utf-8")
    (repo / "raw").mkdir()
    os.symlink(repo / ".git" / "gitops.yaml", repo / "raw" / "leak.yaml")  # a file inside .git
    os.symlink(repo / ".git", repo / "dotgit")  # the .git directory
    (repo / "GIT~1").mkdir()  # the 8.3 short name of .git
    (repo / "GIT~1" / "x.yaml").write_text(_deploy("short"), encoding="utf-8")
    report = detect_packages(repo, gitops_kinds=KINDS)
    assert report.packages == []
    reasons = {s.path: s.reason for s in report.skipped}
    assert ".git" in reasons["raw/leak.yaml"] and ".git" in reasons["dotgit"] and ".git" in reasons["GIT~1"]
