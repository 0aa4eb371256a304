"""Package builds are bounded and never reach the network (issue 17, items 3 and 4).

A "billion laughs" kustomization is refused before any build runs; when one reaches the build
anyway, the build process itself stays within its memory and time limits (measured on it with
``wait4``) and the preview says which limit stopped it. An HTTP listener on 127.0.0.1 counts the
connections made while every remote-reference form is checked: none.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import wizard_to_preview
from doubles.listener import Listener
from gitops_mcp.manifests import build_inputs
from gitops_mcp.manifests.preflight import check_helm, check_kustomize
from gitops_mcp.sandbox import Limits, run_build, which
from gitops_mcp.services import Services

KUBECTL = which("kustomize", "kubectl")
needs_tool = pytest.mark.skipif(KUBECTL is None, reason="no kustomize or kubectl on PATH")
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}\ndata:\n  k: v\n"


def laughs(levels: int, indent: str = "  ") -> str:
    """A YAML mapping whose last key expands to 9**levels strings."""
    out = [f'{indent}a0: &a0 "lollollollollollol"\n']
    out += [f"{indent}a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, levels + 1)]
    out.append(f"{indent}z: *a{levels}\n")
    return "".join(out)


def bomb_resource(levels: int = 9) -> str:
    return CM.format("bomb") + "extra:\n" + laughs(levels)


def make(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def listener() -> Iterator[Listener]:
    with Listener() as ear:
        yield ear


# -- the billion laughs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "files",
    [
        {"app/kustomization.yaml": "resources:\n- cm.yaml\ncommonAnnotations:\n" + laughs(12), "app/cm.yaml": CM},
        {"app/kustomization.yaml": "resources:\n- cm.yaml\n", "app/cm.yaml": bomb_resource(12)},
        {"app/kustomization.yaml": "resources:\n- ../base\n", "base/kustomization.yaml": "resources:\n- cm.yaml\n"}
        | {"base/cm.yaml": bomb_resource(12)},
        {"app/kustomization.yaml": "resources:\n- cm.yaml\npatches:\n- path: p.yaml\n", "app/cm.yaml": CM}
        | {"app/p.yaml": bomb_resource(12)},
        {
            "app/kustomization.yaml": "resources:\n- cm.yaml\npatchesStrategicMerge:\n- |-\n"
            + "\n".join("  " + ln for ln in bomb_resource(12).splitlines())
            + "\n",
            "app/cm.yaml": CM,
        },
    ],
    ids=["kustomization", "resource", "base-resource", "patch-file", "inline-patch"],
)
def test_a_billion_laughs_is_refused_before_any_build(tmp_path: Path, files: dict[str, str]) -> None:
    root = make(tmp_path, files)
    started = time.monotonic()
    c = check_kustomize(root, "app")
    assert time.monotonic() - started < 5
    assert not c.ok and c.checked == ["references"], c
    assert "billion laughs" in c.message and "not built" in c.message, c.message


def test_anchors_in_ordinary_use_still_build(tmp_path: Path) -> None:
    labels = "  labels: &l {app: web, tier: front}\n"
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n" + labels + "data:\n  x: y\n"
    root = make(tmp_path, {"app/kustomization.yaml": "resources:\n- cm.yaml\n", "app/cm.yaml": cm})
    c = check_kustomize(root, "app")
    assert c.ok, c.message


def test_a_self_referring_alias_and_an_oversized_input_are_refused(tmp_path: Path) -> None:
    root = make(tmp_path, {"a/kustomization.yaml": "resources:\n- cm.yaml\n", "a/cm.yaml": "x: &x\n  y: *x\n"})
    c = check_kustomize(root, "a")
    assert not c.ok and "refers to a node that contains it" in c.message, c.message
    big = CM.format("big") + "  blob: " + "x" * (2 << 20) + "\n"
    make(root, {"b/kustomization.yaml": "resources:\n- cm.yaml\n", "b/cm.yaml": big})
    c = check_kustomize(root, "b", max_input_mb=1)
    assert not c.ok and "GITOPS_MCP_BUILD_MAX_INPUT_MB" in c.message, c.message


@needs_tool
def test_a_bomb_that_reaches_the_build_stops_at_the_memory_limit(tmp_path: Path) -> None:
    """The limit holds on the build process itself: peak RSS from wait4, wall time bounded."""
    assert KUBECTL is not None
    root = make(tmp_path, {"app/kustomization.yaml": "resources:\n- cm.yaml\n", "app/cm.yaml": bomb_resource(9)})
    argv = [KUBECTL, "build", "."] if KUBECTL.endswith("kustomize") else [KUBECTL, "kustomize", "."]
    limits = Limits(memory_mb=256, cpu_seconds=30, wall_seconds=30)
    run = run_build(argv, root / "app", limits)
    assert run.limit == "memory", (run.returncode, run.stderr[-500:])
    # RLIMIT_DATA bounds the data mappings, not RSS: a Go build's threads can map past it before the
    # runtime's next allocation fails (kustomize 5.8 peaked at 457 MB once in a full run, under 320 MB alone).
    assert run.peak_rss_kb < 2 * 256 * 1024, run.peak_rss_kb
    assert run.seconds < 30 and run.isolated
    assert "256 MB" in (run.problem(limits) or "")


@needs_tool
def test_a_build_over_its_time_is_killed_with_its_process_group(tmp_path: Path) -> None:
    assert KUBECTL is not None
    root = make(tmp_path, {"app/kustomization.yaml": "resources:\n- cm.yaml\n", "app/cm.yaml": bomb_resource(9)})
    argv = [KUBECTL, "build", "."] if KUBECTL.endswith("kustomize") else [KUBECTL, "kustomize", "."]
    started = time.monotonic()
    run = run_build(argv, root / "app", Limits(memory_mb=8192, cpu_seconds=60, wall_seconds=1.0))
    assert run.limit == "time" and time.monotonic() - started < 5, run
    with pytest.raises(ProcessLookupError):
        os.killpg(run.pid, 0)  # nothing of its group is left


def test_cpu_and_output_limits(tmp_path: Path) -> None:
    python = which("python3")
    assert python is not None
    run = run_build([python, "-c", "while True: pass"], tmp_path, Limits(cpu_seconds=1, wall_seconds=20))
    assert run.limit == "cpu" and run.cpu_seconds < 3, run
    run = run_build(
        [python, "-c", "import sys\nwhile True: sys.stdout.write('x' * 65536)"], tmp_path, Limits(output_mb=1)
    )
    assert run.limit == "output" and len(run.stdout) <= 1 << 20, (run.limit, run.stderr[-300:])


@needs_tool
def test_the_preview_says_which_limit_stopped_the_build(
    app: Services, fixture_repo: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build_inputs, "MAX_ALIAS_GROWTH", 10**15)  # as if the bomb were not seen
    app.settings.build_memory_mb = 256
    repo = fixture_repo("podinfo")
    (repo / "kustomize/bomb.yaml").write_text(bomb_resource(9), encoding="utf-8")
    k = repo / "kustomize/kustomization.yaml"
    k.write_text(k.read_text(encoding="utf-8").replace("resources:\n", "resources:\n  - bomb.yaml\n"), "utf-8")
    assert "bomb.yaml" in k.read_text(encoding="utf-8")
    v = wizard_to_preview(
        app, repo, {"package": "kustomize", "provider": "flux", "namespace": "podinfo", "app_name": "podinfo"}
    )
    check = v.preview.package_check
    assert check is not None and not check.ok
    assert "stopped: it used more than 256 MB of memory (GITOPS_MCP_BUILD_MEMORY_MB)" in check.message, check


# -- no network ----------------------------------------------------------------------------------------


def _remote_forms(url: str) -> dict[str, str]:
    git = url.replace("http://", "https://") + "/org/repo//deploy?ref=main"
    return {
        "resources": f"resources:\n- {url}/cm.yaml\n",
        "resources-git": f"resources:\n- {git}\n",
        "bases-ssh": "bases:\n- git@127.0.0.1:org/repo.git//deploy?ref=v1\n",
        "components": f"resources:\n- cm.yaml\ncomponents:\n- {git}\n",
        "configmap-files": f"configMapGenerator:\n- name: c\n  files:\n  - k={url}/f.txt\n",
        "configmap-envs": f"configMapGenerator:\n- name: c\n  envs:\n  - {url}/f.env\n",
        "secret-env": f"secretGenerator:\n- name: s\n  env: {url}/s.env\n",
        "helmCharts-repo": f"helmCharts:\n- name: podinfo\n  repo: {url}/charts\n  version: 6.0.0\n",
        "helmCharts-values": f"resources:\n- cm.yaml\nhelmCharts:\n- name: local\n  valuesFile: {url}/v.yaml\n",
        "helmChartInflationGenerator": f"helmChartInflationGenerator:\n- chartName: x\n  chartRepoUrl: {url}/c\n",
        "transformers": f"resources:\n- cm.yaml\ntransformers:\n- {url}/t.yaml\n",
        "generators": f"generators:\n- {url}/g.yaml\n",
        "validators": f"resources:\n- cm.yaml\nvalidators:\n- {url}/v.yaml\n",
        "transformers-inline": "resources:\n- cm.yaml\ntransformers:\n- |-\n  apiVersion: builtin\n"
        f"  kind: HelmChartInflationGenerator\n  metadata:\n    name: x\n  repo: {url}/c\n",
        "generators-config-file": "resources:\n- cm.yaml\ngenerators:\n- gen.yaml\n",
        "crds": f"resources:\n- cm.yaml\ncrds:\n- {url}/crd.json\n",
        "configurations": f"resources:\n- cm.yaml\nconfigurations:\n- {url}/c.yaml\n",
        "openapi": f"resources:\n- cm.yaml\nopenapi:\n  path: {url}/schema.json\n",
        "patches": f"resources:\n- cm.yaml\npatches:\n- path: {url}/p.yaml\n",
        "patchesJson6902": f"resources:\n- cm.yaml\npatchesJson6902:\n- target: {{kind: ConfigMap, name: a}}\n"
        f"  path: {url}/p.json\n",
        "replacements": f"resources:\n- cm.yaml\nreplacements:\n- path: {url}/r.yaml\n",
        "github-shorthand": "resources:\n- github.com/org/repo//deploy?ref=v1\n",
    }


def test_remote_references_are_never_fetched(tmp_path: Path, listener: Listener) -> None:
    url = f"http://127.0.0.1:{listener.port}"
    gen = f"apiVersion: builtin\nkind: HelmChartInflationGenerator\nmetadata:\n  name: g\nrepo: {url}/charts\n"
    for name, kustomization in _remote_forms(url).items():
        root = make(
            tmp_path / name,
            {"app/kustomization.yaml": kustomization, "app/cm.yaml": CM.format("a"), "app/gen.yaml": gen},
        )
        c = check_kustomize(root, "app")
        assert c.ok and "not built" in c.message and "is remote" in c.message, (name, c)
        assert c.checked == ["references"], (name, c)
    assert listener.count == 0


def test_a_helm_dependency_from_a_repository_is_not_rendered(tmp_path: Path, listener: Listener) -> None:
    url = f"http://127.0.0.1:{listener.port}"
    chart = "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n"
    chart += f"- name: redis\n  version: 1.0.0\n  repository: {url}/charts\n"
    root = make(tmp_path, {"chart/Chart.yaml": chart, "chart/values.yaml": "a: 1\n", "chart/charts/redis/x": "x"})
    c = check_helm(root, "chart", [])
    assert c.ok and "not rendered" in c.message and "comes from" in c.message, c
    assert listener.count == 0


@needs_tool
def test_the_build_cannot_connect_out_even_when_a_reference_slips_through(tmp_path: Path, listener: Listener) -> None:
    """The control (the same build outside the sandbox) does reach the listener; the sandboxed one
    gets no connection out at all."""
    assert KUBECTL is not None
    url = f"http://127.0.0.1:{listener.port}"
    root = make(tmp_path, {"app/kustomization.yaml": f"resources:\n- {url}/cm.yaml\n"})
    argv = [KUBECTL, "build", "."] if KUBECTL.endswith("kustomize") else [KUBECTL, "kustomize", "."]
    control = subprocess.run(argv, cwd=root / "app", capture_output=True, text=True, timeout=60, check=False)
    assert listener.count >= 1 and "fetched" in control.stdout, control.stderr
    before = listener.count
    run = run_build(argv, root / "app", Limits())  # no static check before it: as if it slipped through
    assert not run.ok and run.isolated, run
    assert listener.count == before


@needs_tool
def test_a_preview_of_an_openapi_path_kustomization_makes_no_request(
    app: Services, fixture_repo: Callable[..., Path], listener: Listener
) -> None:
    repo = fixture_repo("podinfo")
    k = repo / "kustomize/kustomization.yaml"
    k.write_text(
        k.read_text(encoding="utf-8") + f"openapi:\n  path: http://127.0.0.1:{listener.port}/openapi.json\n", "utf-8"
    )
    v = wizard_to_preview(
        app, repo, {"package": "kustomize", "provider": "flux", "namespace": "podinfo", "app_name": "podinfo"}
    )
    check = v.preview.package_check
    assert check is not None and "openapi.path" in check.message and "is remote" in check.message, check
    assert listener.count == 0


def test_a_build_inherits_no_credentials_or_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "gt-build-env-0123456789-SECRET"
    for k in ("GITOPS_MCP_GIT_TOKEN", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "HTTPS_PROXY"):
        monkeypatch.setenv(k, secret)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    python = which("python3")
    assert python is not None
    run = run_build([python, "-c", "import os, json; print(json.dumps(dict(os.environ)))"], tmp_path, Limits())
    assert run.ok, run.stderr
    import json

    env = json.loads(run.stdout)
    assert secret not in run.stdout.decode() and env["KUBECONFIG"] == os.devnull
    assert not env["HOME"].startswith(os.environ["HOME"]) and not Path(env["HOME"]).exists()  # private, gone
    assert {k for k in env if "TOKEN" in k or "SECRET" in k or k.startswith("GITOPS_MCP")} == set()
