"""Small limits with clear errors: invalid UTF-8 in a file given to ``validate_manifests`` (the
file and the byte named), and the cap on one caller's open sessions (a setting, default 50),
with SQLite and with Redis."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from gitops_mcp.errors import UserInputError
from gitops_mcp.server import build_server
from gitops_mcp.services import Services
from gitops_mcp.settings import Settings


@pytest.mark.anyio
async def test_validate_names_the_file_and_byte_that_is_not_utf8(settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {a: "\xff\xfe"}\n')
    async with Client(build_server(settings)) as c:
        r = await c.call_tool("validate_manifests", {"path": str(bad)})
    assert r.is_error
    text = getattr(r.content[0], "text", "")
    assert str(bad) in text and "not UTF-8" in text and "byte 62 (line 4) is 0xff" in text, text
    assert "unexpected" not in text and "codec" not in text


def test_settings_default_cap_is_sensible() -> None:
    assert Settings().max_open_sessions == 50
    with pytest.raises(ValueError, match="max_open_sessions"):
        Settings(max_open_sessions=0)


@pytest.mark.parametrize("store", ["sqlite", "redis"])
def test_open_sessions_per_caller_are_capped(
    tmp_path: Path, fixture_repo: Callable[..., Path], request: pytest.FixtureRequest, store: str
) -> None:
    repo = fixture_repo("podinfo")
    extra: dict[str, Any] = {}
    if store == "redis":
        extra["session_store"] = request.getfixturevalue("redis_server").url
    settings = Settings(
        allowed_roots=[tmp_path],
        state_dir=tmp_path / "state",
        cache_dir=tmp_path / "cache",
        allowed_git_hosts=[],
        max_open_sessions=3,
        **extra,
    )
    app = Services(settings)
    me, other = f"token:cap-{store}-{tmp_path.name}", f"token:other-{store}-{tmp_path.name}"
    try:
        opened = [app.wizard.start(me, str(repo)).session_id for _ in range(3)]
        with pytest.raises(UserInputError, match=r"3 open sessions.*GITOPS_MCP_MAX_OPEN_SESSIONS.*cancel_session"):
            app.wizard.start(me, str(repo))
        assert len(app.wizard.list_sessions(me, 100)) == 3  # the refused start stored nothing
        app.wizard.start(other, str(repo))  # another caller has a cap of its own
        app.wizard.cancel(me, opened[0])  # a cancelled session no longer counts
        app.wizard.start(me, str(repo))
        with pytest.raises(UserInputError, match="3 open sessions"):
            app.wizard.start(me, str(repo))
    finally:
        app.close()
