"""Settings from the environment, CLI overrides, and start-up staying light."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from gitops_mcp.cli import _parser, load_settings
from gitops_mcp.detection import detect_packages
from gitops_mcp.errors import ConfigError
from gitops_mcp.settings import Settings


def test_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GITOPS_MCP_ALLOWED_ROOTS", f"{tmp_path}/a{os.pathsep}{tmp_path}/b")
    monkeypatch.setenv("GITOPS_MCP_POLICY__REQUIRE_PRUNE", "false")
    monkeypatch.setenv("GITOPS_MCP_POLICY__MAX_INTERVAL_SECONDS", "600")
    monkeypatch.setenv("GITOPS_MCP_READ_ONLY", "true")
    monkeypatch.setenv("GITOPS_MCP_AUTH_TOKENS", '{"alice": "tok-alice-ZZ"}')
    monkeypatch.setenv("GITOPS_MCP_AUTH_TOKEN", "tok-default-ZZ")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    s = Settings()
    assert s.allowed_roots == [tmp_path / "a", tmp_path / "b"]
    assert not s.policy.require_prune and s.policy.max_interval_seconds == 600
    assert s.read_only and s.bearer_tokens() == {"alice": "tok-alice-ZZ", "default": "tok-default-ZZ"}
    assert s.session_db_path == tmp_path / "xdg/gitops-mcp/sessions.db"
    assert "tok-" not in repr(s) and "tok-" not in str(s.model_dump())


def test_cli_flags_override_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITOPS_MCP_TRANSPORT", "sse")
    s = load_settings(_parser().parse_args(["serve", "--transport", "http", "--port", "9001", "--read-only"]))
    assert (s.transport, s.port, s.read_only) == ("http", 9001, True)
    with pytest.raises(ConfigError, match="GITOPS_MCP_AUTH_TOKEN"):
        load_settings(_parser().parse_args(["serve", "--transport", "http", "--host", "0.0.0.0"]))
    monkeypatch.setenv("GITOPS_MCP_AUTH_TOKEN", "x" * 32)
    assert load_settings(_parser().parse_args(["serve", "--transport", "http", "--host", "0.0.0.0"])).host == "0.0.0.0"


def test_heavy_imports_are_lazy() -> None:
    code = (
        "import sys\nfrom gitops_mcp.server import build_server\nfrom gitops_mcp.settings import Settings\n"
        "build_server(Settings())\n"
        "print(sorted(m for m in ('git', 'kubernetes', 'httpx', 'redis', 'ruamel', 'gitops_mcp.services.shared',"
        " 'gitops_mcp.git', 'gitops_mcp.detection', 'gitops_mcp.providers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_namespace_scan_has_no_catastrophic_backtracking(tmp_path: Path) -> None:
    adversarial = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n" + "  \n \t\n" * 4000 + "x: 1\n"
    d = tmp_path / "adv"
    d.mkdir()
    (d / "cm.yaml").write_text(adversarial, encoding="utf-8")
    done = threading.Event()
    threading.Thread(target=lambda: (detect_packages(tmp_path), done.set()), daemon=True).start()
    assert done.wait(20), "detection did not finish: the namespace regex backtracks"
