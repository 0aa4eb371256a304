"""Shared fixtures: real git repositories made from the shared fixtures, settings, and a clean git env."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops_mcp.providers import default_registry
from gitops_mcp.services import Services
from gitops_mcp.settings import Settings

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
SHARED = Path(os.environ.get("GITOPS_MCP_SHARED", PROJECT.parent / "shared")).resolve()
FIXTURES = SHARED / "fixtures"
CRDS = SHARED / "crds"
REGISTRY = default_registry()
RULES = REGISTRY.builtin_rules()  # what the server validates with when no CRD schema is at hand
KINDS = REGISTRY.gitops_kinds()  # what the server counts as GitOps structure
GOLDENS = HERE / "goldens"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true", help="rewrite the expected files in tests/goldens")
    parser.addoption(
        "--slow", action="store_true", help="also run the tests marked slow (or GITOPS_MCP_SLOW=1; scripts/test does)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``slow`` (subprocesses, servers) run only when asked: ``--slow`` or GITOPS_MCP_SLOW=1."""
    if config.getoption("--slow") or os.environ.get("GITOPS_MCP_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: run with --slow or GITOPS_MCP_SLOW=1 (scripts/test and CI do)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


# Lines for the end of the run's report (the real-cluster testbed's versions, the flows' timings).
# Under pytest-xdist each worker hands its own to the controller, which prints them.
SUMMARY: list[str] = []


def pytest_sessionfinish(session: pytest.Session) -> None:
    worker_output = getattr(session.config, "workeroutput", None)  # set in an xdist worker
    if worker_output is not None:
        worker_output["summary"] = list(SUMMARY)


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook, on the controller
def pytest_testnodedown(node: Any, error: object) -> None:
    SUMMARY.extend(f"[{node.gateway.id}] {line}" for line in getattr(node, "workeroutput", {}).get("summary", ()))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in SUMMARY:
        terminalreporter.write_line(line)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens")) or os.environ.get("UPDATE_GOLDENS") == "1"


@dataclass(frozen=True)
class GoldenCase:
    """``tests/goldens/<kind>/<provider>/<name>/``: the inputs in ``case.yaml``, the expected output beside."""

    provider: str
    name: str
    folder: Path

    def __str__(self) -> str:
        return f"{self.provider}/{self.name}"

    def inputs(self) -> dict[str, Any]:
        data = yaml.safe_load((self.folder / "case.yaml").read_text(encoding="utf-8"))
        assert isinstance(data, dict), f"{self.folder / 'case.yaml'} must be a mapping"
        return data


def golden_cases(kind: str) -> list[GoldenCase]:
    """Every case folder under ``tests/goldens/<kind>/<provider>/``, by provider and name: adding a
    provider's goldens is adding its folder. A folder there without a ``case.yaml`` is an error."""
    folders = sorted(p for p in (GOLDENS / kind).glob("*/*") if p.is_dir())
    if missing := [str(p) for p in folders if not (p / "case.yaml").is_file()]:
        raise FileNotFoundError(f"golden case folders without a case.yaml: {', '.join(missing)}")
    return [GoldenCase(p.parent.name, p.name, p) for p in folders]


def need_shared(what: Path) -> Path:
    if not what.exists():
        pytest.skip(f"{what} is absent: the shared/ directory must sit beside the project (or set GITOPS_MCP_SHARED)")
    return what


@pytest.fixture(autouse=True)
def clean_git_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No user/system git config, prompts, credential helpers or kubeconfig in any test."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for k in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")
    monkeypatch.setenv("GIT_ASKPASS", "/bin/false")
    for k, v in {
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
    }.items():
        monkeypatch.setenv(k, v)
    for k in list(os.environ):
        harness = k == "GITOPS_MCP_SHARED" or k.startswith("GITOPS_MCP_REQUIRE_")  # the tests' own switches
        if (k.startswith("GITOPS_MCP_") and not harness) or k in ("GITHUB_TOKEN", "GITLAB_TOKEN"):
            monkeypatch.delenv(k)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def make_repo(dest: Path, source: Path | None = None, origin: str | None = None, branch: str = "main") -> Path:
    """A real git repository with one commit (a copy of ``source`` when given)."""
    if source is not None:
        shutil.copytree(source, dest, symlinks=True)
        for p in [dest, *dest.rglob("*")]:
            if not p.is_symlink():
                p.chmod(p.stat().st_mode | 0o200)
    else:
        dest.mkdir(parents=True, exist_ok=True)
    git(dest, "init", "-q", "-b", branch)
    if not any(dest.iterdir()) or list(dest.iterdir()) == [dest / ".git"]:
        (dest / "README.md").write_text("test\n", encoding="utf-8")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "initial")
    if origin:
        git(dest, "remote", "add", "origin", origin)
    return dest


@pytest.fixture
def fixture_repo(tmp_path: Path) -> Callable[..., Path]:
    """Copy one of shared/fixtures into a fresh git repository under tmp_path."""

    def make(name: str, origin: str | None = "https://github.com/example/repo.git") -> Path:
        src = need_shared(FIXTURES / name)
        return make_repo(tmp_path / "repos" / name, src, origin)

    return make


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One real redis-server for the run (no persistence); skipped, with the reason, when absent.
    Tests keep apart by key prefix or flush; a test that kills Redis starts its own."""
    from doubles.redis_server import RedisServer

    with RedisServer(tmp_path_factory.mktemp("redis")) as srv:
        yield srv


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        allowed_roots=[tmp_path], state_dir=tmp_path / "state", cache_dir=tmp_path / "cache", allowed_git_hosts=[]
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[Services]:
    a = Services(settings)
    yield a
    a.close()


def wizard_to_preview(app: Any, repo: Path | str, answers: dict[str, Any], **start: Any) -> Any:
    """Start the wizard on ``repo`` (a path or URL; ``start``: start_deployment's other arguments) and
    answer (``answers``, then the defaults) up to a valid preview."""
    v = app.wizard.start("local", str(repo), **start)
    for _ in range(8):
        v = app.wizard.answer("local", v.session_id, answers, accept_defaults=True)
        answers = {}
        if v.step == "preview":
            break
    assert v.step == "preview" and v.preview is not None and v.preview.validation.valid, v
    return v
