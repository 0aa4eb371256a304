"""Work repeated inside one call: how many times one ``answer_questions`` call builds the wizard's
question lists (``questions_for``) and normalises a git URL (``normalize_git_url``), and how many
times the delivery answer builds the preview. Counted with cProfile on the shared podinfo fixture
(a local repository with an origin), the session carried to the preview by ``start_deployment``
and then answered in one call; and the time of that call, median of several.

Run: ``.venv/bin/python bench/per_call.py``. Target: each list built once per step and call, each
URL normalised once per call, the preview built once.
"""

from __future__ import annotations

import cProfile
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FIXTURE = HERE.parent.parent / "shared" / "fixtures" / "podinfo"
COUNTED = ("_questions_for", "normalize_git_url", "preview")  # the builds of a question list, of a preview


def repo(tmp: Path) -> Path:
    dest = tmp / "podinfo"
    shutil.copytree(FIXTURE, dest)
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["-c", "user.name=b", "-c", "user.email=b@x", "commit", "-qm", "init"],
        ["remote", "add", "origin", "https://github.com/example/podinfo.git"],
    ):
        subprocess.run(["git", *args], cwd=dest, check=True, capture_output=True)
    return dest


def counts(profile: cProfile.Profile, normalised: int) -> dict[str, int]:
    """Calls of the counted functions (a cached normalisation is not one: its misses are counted)."""
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    out = dict.fromkeys(COUNTED, 0)
    for (file, _line, name), (_cc, ncalls, *_rest) in stats.items():
        if name in out and "gitops_mcp" in file:
            out[name] += ncalls
    out["normalize_git_url"] = max(out["normalize_git_url"], normalised)
    return out


def normalisations() -> int:
    from gitops_mcp.syntax import normalize_git_url

    info = getattr(normalize_git_url, "cache_info", None)
    return info().misses if info else 0


def main() -> None:
    if not FIXTURE.is_dir():
        sys.exit(f"{FIXTURE} is absent: the shared/ directory must sit beside the project")
    from gitops_mcp.services import Services
    from gitops_mcp.settings import Settings

    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        root = repo(tmp)
        svc = Services(Settings(allowed_roots=[tmp], state_dir=tmp / "state", cache_dir=tmp / "cache"))
        answers: dict[str, Any] = {"package": "kustomize", "provider": "flux", "namespace": "web"}
        times, deliveries, found = [], [], {}
        for i in range(7):
            view = svc.wizard.start("local", str(root), "deploy podinfo", "flux", {"package": "kustomize"})
            clear = getattr(sys.modules["gitops_mcp.syntax"].normalize_git_url, "cache_clear", None)
            if clear is not None:
                clear()  # a call's own normalisations, not those of earlier calls
            misses = normalisations()
            profile = cProfile.Profile()
            t0 = time.perf_counter()
            profile.enable()
            view = svc.wizard.answer("local", view.session_id, answers, accept_defaults=True)
            profile.disable()
            times.append(time.perf_counter() - t0)
            assert view.step == "preview", view
            if i == 0:
                found["answer_questions (to the preview)"] = counts(profile, normalisations() - misses)
            misses = normalisations()
            profile = cProfile.Profile()
            t0 = time.perf_counter()
            profile.enable()
            done = svc.wizard.answer("local", view.session_id, {"delivery": "write"})
            profile.disable()
            deliveries.append(time.perf_counter() - t0)
            assert done.status == "done", done.next
            if i == 0:
                found["delivery=write"] = counts(profile, normalisations() - misses)
        svc.close()
    for what, n in found.items():
        print(f"{what}: " + ", ".join(f"{k} x{v}" for k, v in n.items()))
    print(f"answer_questions to the preview: median {statistics.median(times) * 1000:.1f} ms of {len(times)}")
    print(f"answer_questions delivery=write: median {statistics.median(deliveries) * 1000:.1f} ms of {len(times)}")


if __name__ == "__main__":
    main()
