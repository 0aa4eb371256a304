"""The git clone cache stays per replica: a wizard session started on a git URL by one replica is
answered and delivered by another whose cache is cold (its own clone is made then), even after
the first replica's cache is gone."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES, make_repo, need_shared
from doubles.git_remote import GitHttpServer
from doubles.redis_server import RedisServer
from gitops_mcp.services import Services
from gitops_mcp.settings import PolicySettings, Settings

TOKEN = "gt-replica-cache-0123456789"
REPO = "org/podinfo.git"


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[GitHttpServer]:
    with GitHttpServer(tmp_path / "srv", users={"x-access-token": TOKEN}) as srv:
        srv.create_repo(REPO)
        seed = make_repo(tmp_path / "seed", need_shared(FIXTURES / "podinfo"))
        subprocess.run(
            ["git", "push", "--quiet", srv.url(REPO), "main"], cwd=seed, env=srv.client_env(), check=True, timeout=60
        )
        yield srv


def replica(tmp_path: Path, remote: GitHttpServer, redis: RedisServer, name: str) -> Services:
    settings: dict[str, Any] = {
        "allowed_roots": [tmp_path / "none"],
        "state_dir": tmp_path / f"state-{name}",
        "cache_dir": tmp_path / f"cache-{name}",
        "git_token": TOKEN,
        "allowed_git_hosts": [f"127.0.0.1:{remote.port}"],
        "git_allow_http": True,
        "session_store": redis.url,
        "policy": PolicySettings(secure_git_urls=False),  # the remote is plain http on loopback
    }
    return Services(Settings(**settings))


def test_a_session_on_a_git_url_moves_to_a_replica_with_a_cold_cache(
    tmp_path: Path, remote: GitHttpServer, redis_server: RedisServer
) -> None:
    a, b = replica(tmp_path, remote, redis_server, "a"), replica(tmp_path, remote, redis_server, "b")
    try:
        url = remote.url(REPO)
        v = a.wizard.start("me", url, provider="flux", answers={"package": "charts/podinfo"})
        assert v.step == "common"
        shutil.rmtree(tmp_path / "cache-a")  # replica a and its cache are gone
        answers: dict[str, Any] = {"output_path": "clusters/dev/podinfo.yaml"}
        for _ in range(6):
            v = b.wizard.answer("me", v.session_id, answers, accept_defaults=True)
            answers = {}
            if v.step == "preview":
                break
        assert v.step == "preview" and v.preview is not None and v.preview.validation.valid, v
        v = b.wizard.answer("me", v.session_id, {"delivery": "push"})
        assert v.status == "done" and v.result is not None and v.result.commit_sha, v
        assert not (tmp_path / "cache-a").exists()  # b worked in its own clone ...
        assert list((tmp_path / "cache-b" / "repos").glob("*/.git"))  # ... made here when its cache was cold
        assert not list(
            (tmp_path / "cache-b" / "repos").glob("*/clusters/dev/podinfo.yaml")
        )  # delivered from a worktree
        check = tmp_path / "check"
        subprocess.run(["git", "clone", "-q", url, str(check)], env=remote.client_env(), check=True, timeout=60)
        assert (check / "clusters/dev/podinfo.yaml").read_text(encoding="utf-8").startswith("apiVersion: source")
        r: Any = redis_server.client(decode_responses=True)
        stored = [json.dumps(r.hgetall(k)) for k in r.scan_iter("gitops-mcp:*:s:*")]
        assert any(v.session_id in text and url in text for text in stored)  # the session, with its URL ...
        assert not any(TOKEN in text for text in stored)  # ... and never the git token
    finally:
        a.close()
        b.close()
