"""The image without a Docker engine (issue 12): scripts/image-check runs the Dockerfile's stages as
a plain script (a fresh venv with the package installed, the server started with the Deployment's
args and env as the image's non-root user, a read-only HOME, /healthz and an authenticated MCP
initialize). The Dockerfile itself is linted by hadolint in scripts/test."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import PROJECT

REAL_HOME = Path.home()  # read before the autouse fixture points HOME at a scratch directory


@pytest.mark.slow
def test_the_image_stages_run_as_a_script() -> None:
    env = {**os.environ, "HOME": str(REAL_HOME)}  # pip's cache there keeps the fresh install to about a minute
    p = subprocess.run([str(PROJECT / "scripts" / "image-check")], capture_output=True, text=True, timeout=600, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "image-check: passed" in p.stderr
    assert "/healthz ok" in p.stdout
    if os.geteuid() == 0:
        assert "uid 10001" in p.stdout
