"""testbed/gitops_testbed/build.py with two tiny wrapper modules (no dependencies, so no network):
missing components build side by side, a failure names its component without losing the other's
binaries, and a second build finds everything cached and runs nothing."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "testbed"))

from gitops_testbed import build  # noqa: E402

# The user's Go build cache (read before the tests' own HOME is set), so the standard library is not
# compiled again for every test.
GOCACHE = os.environ.get("GOCACHE") or str(Path.home() / ".cache" / "go-build")
MAIN = 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("%s") }\n'


@pytest.fixture
def wrappers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if shutil.which("go") is None and not Path("/usr/local/go/bin/go").exists():
        pytest.skip("no go command (Go 1.26 builds the testbed)")
    for name in ("alpha", "beta"):
        mod = tmp_path / "testbed" / name
        mod.mkdir(parents=True)
        (mod / "go.mod").write_text(f"module example.com/{name}\n\ngo 1.22\n")
        (mod / "go.sum").write_text("")
        (mod / "main.go").write_text(MAIN % name)
    monkeypatch.setenv("GOCACHE", GOCACHE)
    monkeypatch.setattr(build, "TESTBED", tmp_path / "testbed")
    monkeypatch.setattr(build, "CACHE", tmp_path / "cache")
    monkeypatch.setattr(
        build,
        "COMPONENTS",
        {n: build.Component(n, (".",), (f"example.com/{n}".rsplit("/", 1)[1],)) for n in ("alpha", "beta")},
    )
    return tmp_path


def test_missing_components_build_side_by_side_then_come_from_the_cache(wrappers: Path) -> None:
    lines: list[str] = []
    paths = build.build(["alpha", "beta"], log=lines.append)
    assert sorted(paths) == ["alpha", "beta"]
    for name, path in paths.items():
        assert path.is_file() and path.parent.parent.name.startswith(f"{name}-")
    assert any(line.startswith("built alpha in ") and "CPU" in line for line in lines), lines
    assert lines[-1].startswith("built 2 component(s) in ")
    assert build.missing(["alpha", "beta"]) == []
    again: list[str] = []
    assert build.build(["alpha", "beta"], log=again.append) == paths
    assert again == []  # nothing to do: no go build ran


def test_a_failed_build_names_its_component_and_keeps_the_others(wrappers: Path) -> None:
    (wrappers / "testbed" / "beta" / "main.go").write_text("package main\n\nfunc main() { undefined() }\n")
    with pytest.raises(build.BuildError, match="go build of beta failed") as e:
        build.build(["alpha", "beta"], log=lambda m: None)
    assert "undefined" in str(e.value)
    assert build.missing(["alpha", "beta"]) == ["beta"]
    assert not list((wrappers / "cache").glob("beta-*/bin.tmp*"))  # no half-built directory left


def test_the_number_of_parallel_builds_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITOPS_TESTBED_BUILD_JOBS", "zero")
    with pytest.raises(build.BuildError, match="GITOPS_TESTBED_BUILD_JOBS"):
        build.jobs()
    monkeypatch.setenv("GITOPS_TESTBED_BUILD_JOBS", "2")
    assert build.jobs() == 2
