"""Concurrent calls through the one shared service keep what each learned apart.

The wizard's ``Preparation`` is one object for every call. It kept each call's package checks (a
build each) and the cluster's CRDs on itself, and every call's first step cleared them: a call
that started while another was between its build and its preview made that one build again (and
could read the other's half-cleared state). What a call learns now lives in its own ``FlowEnv``.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from conftest import make_repo
from gitops_mcp.services import Services, prepare

WAIT = 60.0  # seconds; a bound on each hand-over between the two calls, never slept
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: web\ndata:\n  a: b\n"


def _repo(tmp_path: Path, name: str, manifests: str) -> Path:
    src = tmp_path / "src" / name
    (src / "apps" / name).mkdir(parents=True)
    (src / "apps" / name / "kustomization.yaml").write_text("resources:\n- cm.yaml\n", encoding="utf-8")
    (src / "apps" / name / "cm.yaml").write_text(manifests, encoding="utf-8")
    return make_repo(tmp_path / "repos" / name, src, f"https://github.com/example/{name}.git")


def test_two_concurrent_previews_each_build_their_own_package_once(
    app: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alpha = _repo(tmp_path, "alpha", CM.format(name="alpha"))
    beta = _repo(tmp_path, "beta", CM.format(name="beta") + "---\n" + CM.format(name="beta"))  # does not build
    builds: Counter[tuple[str, str]] = Counter()
    alpha_previews, beta_built = threading.Event(), threading.Event()
    mine = threading.local()
    real_check, real_validate = prepare.check_kustomize, prepare.validate_documents

    def counted(root: Path, path: str, *args: Any, **kwargs: Any) -> Any:
        builds[(Path(root).name, path)] += 1
        try:
            return real_check(root, path, *args, **kwargs)
        finally:
            if path == "apps/beta":
                beta_built.set()

    def validate(*args: Any, **kwargs: Any) -> Any:
        # alpha's preview, after alpha was built: beta's call starts now, and alpha's goes on once beta is built
        if getattr(mine, "name", None) == "alpha":
            alpha_previews.set()
            assert beta_built.wait(WAIT), "beta's call never built its package"
        return real_validate(*args, **kwargs)

    monkeypatch.setattr(prepare, "check_kustomize", counted)
    monkeypatch.setattr(prepare, "validate_documents", validate)

    def call(name: str, repo: Path) -> Any:
        mine.name = name
        if name == "beta":
            assert alpha_previews.wait(WAIT), "alpha's call never reached its preview"
        answers = {"package": f"apps/{name}", "provider": "flux", "namespace": "web", "app_name": name}
        return app.wizard.start("local", str(repo), provider="flux", answers=answers, accept_defaults=True)

    with ThreadPoolExecutor(2) as pool:
        a, b = pool.submit(call, "alpha", alpha), pool.submit(call, "beta", beta)
        va, vb = a.result(timeout=3 * WAIT), b.result(timeout=3 * WAIT)

    assert builds == {("alpha", "apps/alpha"): 1, ("beta", "apps/beta"): 1}, builds
    assert va.preview is not None and vb.preview is not None, (va, vb)
    ca, cb = va.preview.package_check, vb.preview.package_check
    assert ca is not None and ca.ok and ca.message == "builds", ca
    assert cb is not None and not cb.ok and "apps/beta" in cb.message and "alpha" not in cb.message, cb
    assert "beta" not in va.preview.yaml and "alpha" not in vb.preview.yaml
