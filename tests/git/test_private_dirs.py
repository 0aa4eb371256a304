"""The clone cache is never a caller's local path (issue 17, item 5).

The cache lies inside an allowed root here (as ``~/.cache/gitops-mcp`` lies in the default root,
the home directory). By its local path a caller could write, commit and push in a cached clone
and poison it for every other caller of that URL. Every form is refused — the cache itself, its
repositories, a live working tree, one already gone, kept changes, a symlink into it, a
repository whose ``.git`` file leads into it — and no error says where the cache is.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from doubles.git_remote import GitHttpServer
from gitops_mcp.errors import GitOpsError, PathNotAllowedError
from gitops_mcp.services import Services
from test_git_delivery import REPO, remote, settings_for

__all__ = ["remote"]  # the fixture

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: default\ndata:\n  a: b\n"


def test_no_directory_of_the_cache_is_a_local_path(tmp_path: Path, remote: GitHttpServer) -> None:
    settings = settings_for(tmp_path, remote)
    assert settings.cache_dir.is_relative_to(tmp_path) and tmp_path in settings.allowed_roots
    app = Services(settings)
    url = remote.url(f"{REPO}.git")
    head = remote.head(f"{REPO}.git")
    try:
        app.inspect.detect(url)  # the cached clone
        written = app.manifests.write("alice", url, "apps/kept.yaml", yaml_text=CM)  # a kept change
        assert written.kept
        cache = settings.cache_dir
        (clone,) = [p for p in (cache / "repos").iterdir() if p.is_dir() and not p.name.endswith(".lock")]
        kept = clone / ".git" / "gitops-mcp-kept"
        assert kept.is_dir()
        (tmp_path / "link").symlink_to(clone)
        evil = tmp_path / "evil"
        evil.mkdir()
        (evil / ".git").write_text(f"gitdir: {clone / '.git'}\n", encoding="utf-8")
        with app.shared.delivery.workspace(url) as ws:
            forms = [cache, cache / "repos", clone, clone / "deploy", kept, ws.root, ws.root / "kustomize"]
            forms += [cache / "work", cache / "work" / "gone-op", tmp_path / "link", evil]
            for form in forms:
                calls: list[Callable[[], Any]] = [
                    lambda f=form: app.git.commit(str(f), ["apps/x.yaml"], "poison"),
                    lambda f=form: app.manifests.write("local", str(f), "apps/x.yaml", yaml_text=CM),
                    lambda f=form: app.inspect.detect(str(f)),
                    lambda f=form: app.inspect.validate(path=str(f / "kustomization.yaml")),
                    lambda f=form: app.git.rollback(str(f), paths=["apps/x.yaml"], mode="push"),
                ]
                for call in calls if form != evil else calls[:3] + calls[4:]:  # evil/ holds no file to read
                    with pytest.raises(PathNotAllowedError) as exc:
                        call()
                    text = str(exc.value)
                    assert "private to this server" in text, (form, text)
                    for where in {str(cache), str(cache.resolve()), str(form), "/repos/", "/work/"}:
                        assert where not in text, (form, text)
            assert not (ws.root / "apps/x.yaml").exists()
        assert not (clone / "apps/x.yaml").exists()
        assert remote.head(f"{REPO}.git") == head
    finally:
        app.close()


def test_errors_from_inside_the_cache_do_not_say_where_it_is(tmp_path: Path, remote: GitHttpServer) -> None:
    from gitops_mcp.scrub import scrub

    settings = settings_for(tmp_path, remote)
    app = Services(settings)
    try:
        app.inspect.detect(remote.url(f"{REPO}.git"))
        text = f"fatal: could not lock {settings.cache_dir.resolve()}/repos/x/.git/index"
        assert str(settings.cache_dir.resolve()) not in scrub(text) and "<clone cache>" in scrub(text)
        with pytest.raises(GitOpsError) as exc:
            app.shared.delivery.keep_written(settings.cache_dir / "repos", ["a.yaml"], "m")
        assert str(settings.cache_dir) not in str(exc.value)
    finally:
        app.close()
