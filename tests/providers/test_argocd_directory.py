"""Argo CD's directory source as its repo-server reads it: the glob patterns of ``include`` /
``exclude`` (github.com/gobwas/glob compiled without separators, matched against the path
relative to the source's path), ``recurse``, the extension filter and the skip marker; then what
an Application renders from a tree (no kustomize build, a nested kustomization read as a file)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from gitops_mcp.manifests.render import render
from gitops_mcp.providers.argocd.directory import compile_glob, glob_match
from gitops_mcp.providers.argocd.render import rendering


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        ("*.yaml", "a.yaml", True),
        ("*.yaml", "sub/deeper/a.yaml", True),  # no separators: * crosses /
        ("*.yaml", "a.yml", False),
        ("**/*.yaml", "sub/a.yaml", True),
        ("**/*.yaml", "a.yaml", False),  # the / is a literal
        ("sub/*", "sub/x/y.json", True),
        ("{config.json,env-usw2/*}", "config.json", True),  # the example of Argo CD's documentation
        ("{config.json,env-usw2/*}", "env-usw2/a.yaml", True),
        ("{config.json,env-usw2/*}", "env-use1/a.yaml", False),
        ("{a,b{c,d}}.yaml", "bd.yaml", True),  # nested alternatives
        ("{a,b{c,d}}.yaml", "b.yaml", False),
        ("{,x}a.yaml", "a.yaml", True),  # an empty alternative
        ("?.yaml", "a.yaml", True),
        ("?.yaml", "ab.yaml", False),
        ("[ab].yaml", "b.yaml", True),
        ("[!ab].yaml", "b.yaml", False),
        ("[!ab].yaml", "c.yaml", True),
        ("[a-c]x.yaml", "bx.yaml", True),
        ("[a-c]x.yaml", "dx.yaml", False),
        ("\\*.yaml", "*.yaml", True),  # escaped
        ("\\*.yaml", "a.yaml", False),
        ("a,b.yaml", "a,b.yaml", True),  # , and } outside braces are text
        ("a}.yaml", "a}.yaml", True),
        ("(a|b).yaml", "(a|b).yaml", True),  # regex characters are text
        ("(a|b).yaml", "a.yaml", False),
        ("a.yaml", "xa.yaml", False),  # the whole path
    ],
)
def test_glob_matches_as_argo_cd_compiles_it(pattern: str, text: str, matches: bool) -> None:
    assert glob_match(pattern, text) is matches


@pytest.mark.parametrize("bad", ["{a,b", "[ab", "[]", "a\\", "[a-z0-9].yaml"])
def test_a_pattern_that_does_not_compile_matches_nothing(bad: str) -> None:
    assert compile_glob(bad) is None
    assert not glob_match(bad, "a.yaml")


def cm(name: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  a: '1'\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A repository whose plain/ directory holds what an engine might or might not read."""
    root = tmp_path / "repo"
    files = {
        "plain/a.yaml": cm("a"),
        "plain/b.yml": cm("b"),
        "plain/c.json": '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}',
        "plain/skip-d.yaml": cm("d"),
        "plain/e.yaml": "# +argocd:skip-file-rendering\n" + cm("e"),
        "plain/README.md": "# not a manifest\n",
        "plain/values.yaml": "replicas: 2\nimage: {tag: x}\n",  # another YAML file: ignored
        "plain/list.yaml": "apiVersion: v1\nkind: List\nitems:\n- " + cm("f").replace("\n", "\n  ").rstrip() + "\n",
        "plain/sub/g.yaml": cm("g"),
        "plain/sub/deeper/h.yaml": cm("h"),
        "plain/sub/kustomization.yaml": "resources: [g.yaml]\n",  # read as a file, never built
        "plain/.hidden/i.yaml": cm("i"),
        "outside/j.yaml": cm("j"),
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    os.symlink("../outside", root / "plain/linked-dir")  # a symlinked directory is never walked
    return root


def app(directory: dict[str, Any] | None) -> dict[str, Any]:
    source: dict[str, Any] = {"repoURL": "https://example.com/apps.git", "path": "plain"}
    if directory is not None:
        source["directory"] = directory
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "web", "namespace": "argocd"},
        "spec": {"source": source, "destination": {"namespace": "prod"}},
    }


class NoCluster:
    def get(self, *_: Any) -> None:
        return None

    def list(self, *_: Any) -> list[Any]:
        return []


def names(root: Path, directory: dict[str, Any] | None) -> list[str]:
    how = rendering(NoCluster(), app(directory))
    assert not isinstance(how, str), how
    out = render(root, how.plan)
    assert out.problem is None, out.problem
    return [o["metadata"]["name"] for o in out.objects]


@pytest.mark.parametrize(
    ("directory", "expected"),
    [
        (None, ["a", "b", "c", "f", "d"]),  # lexical file order; e: the skip marker
        ({"recurse": True}, ["i", "a", "b", "c", "f", "d", "h", "g"]),
        ({"recurse": True, "include": "*.yaml"}, ["i", "a", "f", "d", "h", "g"]),
        ({"recurse": True, "exclude": "{skip-*,sub/deeper/*,.hidden/*}"}, ["a", "b", "c", "f", "g"]),
        ({"recurse": True, "include": "{a.yaml,sub/*}", "exclude": "sub/deeper/*"}, ["a", "g"]),
        ({"recurse": True, "include": "[ab].y*ml"}, ["a", "b"]),
        ({"include": "sub/*"}, []),  # not recursing: nothing under sub/ is read
        ({"recurse": True, "include": "{a.yaml"}, []),  # does not compile: nothing included
        ({"exclude": "{a.yaml"}, ["a", "b", "c", "f", "d"]),  # does not compile: nothing excluded
    ],
)
def test_an_application_renders_the_files_argo_cd_reads(
    tree: Path, directory: dict[str, Any] | None, expected: list[str]
) -> None:
    assert names(tree, directory) == expected


def test_a_nested_kustomization_is_read_as_a_file_not_built(tree: Path) -> None:
    """With its kind, a kustomization file is an object the sync would send (and fail on)."""
    k = tree / "plain/sub/kustomization.yaml"
    k.write_text("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [g.yaml]\n", "utf-8")
    how = rendering(NoCluster(), app({"recurse": True, "include": "sub/*"}))
    assert not isinstance(how, str)
    out = render(tree, how.plan)
    assert [(o["kind"], o.get("metadata", {}).get("name")) for o in out.objects] == [
        ("ConfigMap", "h"),
        ("ConfigMap", "g"),
        ("Kustomization", None),
    ]


@pytest.mark.parametrize(
    ("rel", "text", "problem"),
    [
        ("plain/bad.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [\n", "plain: bad.yaml does not parse"),
        ("plain/k.jsonnet", "{}", "plain: k.jsonnet is Jsonnet: not rendered here"),
    ],
)
def test_what_the_repo_server_fails_on_is_said(tree: Path, rel: str, text: str, problem: str) -> None:
    (tree / rel).write_text(text, encoding="utf-8")
    how = rendering(NoCluster(), app(None))
    assert not isinstance(how, str)
    out = render(tree, how.plan)
    assert out.objects == [] and (out.problem or "").startswith(problem), out.problem


def test_a_symlinked_file_leaving_the_repository_is_refused(tree: Path, tmp_path: Path) -> None:
    (tmp_path / "secret.yaml").write_text(cm("s"), encoding="utf-8")
    os.symlink(tmp_path / "secret.yaml", tree / "plain/s.yaml")
    how = rendering(NoCluster(), app(None))
    assert not isinstance(how, str)
    out = render(tree, how.plan)
    assert out.problem == "plain: illegal filepath in symlink at s.yaml", out.problem
    (tree / "plain/s.yaml").unlink()
    os.symlink("../outside/j.yaml", tree / "plain/s.yaml")  # inside the repository: read
    assert names(tree, None) == ["a", "b", "c", "f", "j", "d"]
