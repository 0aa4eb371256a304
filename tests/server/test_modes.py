"""Modes (read-only, propose, full), the tool allow-list, and the audit trail, on the MCP server
in-process against a real ``git http-backend`` remote and the fake forge.

What a mode forbids is absent from tools/list and refused by name when called anyway; propose
mode makes every change a pull request at every layer (tool arguments, the wizard, git
delivery); each write tool call leaves one audit line with no secret and no manifest in it.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import ValidationError

from conftest import FIXTURES, make_repo, need_shared
from doubles.forge import FakeForge
from doubles.git_remote import GitHttpServer
from gitops_mcp.cli import _parser, load_settings
from gitops_mcp.errors import ConfigError, PolicyViolation
from gitops_mcp.git.delivery import GitDelivery
from gitops_mcp.server import build_server
from gitops_mcp.services import Services
from gitops_mcp.settings import Settings

TOKEN = "gt-modes-0123456789-SECRET"
FORGE_TOKEN = "ghp_" + "M" * 36
REPO = "org/gitops.git"
WRITE_TOOLS = {
    "write_manifests",
    "commit_and_push",
    "reconcile",
    "remediate",
    "promote",
    "scaffold_fleet",
    "push_artifact",
    "rollback",
    "register_gitops_objects",
}
MANIFEST = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: audit-probe\ndata:\n  marker: manifest-body-7f3a\n"


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[GitHttpServer]:
    with GitHttpServer(tmp_path / "srv", users={"x-access-token": TOKEN}) as srv:
        srv.create_repo(REPO)
        seed = make_repo(tmp_path / "seed", need_shared(FIXTURES / "podinfo"))
        subprocess.run(["git", "-C", str(seed), "push", "-q", srv.url(REPO), "main"], check=True, env=srv.client_env())
        yield srv


@pytest.fixture
def forge(remote: GitHttpServer) -> Iterator[FakeForge]:
    with FakeForge(remote.root, FORGE_TOKEN) as f:
        yield f


def settings_for(
    tmp_path: Path, remote: GitHttpServer | None = None, forge: FakeForge | None = None, **kw: Any
) -> Settings:
    base: dict[str, Any] = {
        "allowed_roots": [tmp_path],
        "state_dir": tmp_path / "state",
        "cache_dir": tmp_path / "cache",
    }
    if remote is not None and forge is not None:
        base.update(
            git_token=TOKEN,
            allowed_git_hosts=[f"127.0.0.1:{remote.port}"],
            git_allow_http=True,
            **forge.settings(),
        )
    return Settings(**{**base, **kw})


def clone(remote: GitHttpServer, dest: Path) -> Path:
    subprocess.run(["git", "clone", "-q", remote.url(REPO), str(dest)], check=True, env=remote.client_env())
    return dest


async def listed(mcp: Any) -> dict[str, dict[str, Any]]:
    return {t.name: t.input_schema for t in await mcp.list_tools()}


@pytest.mark.anyio
async def test_each_mode_lists_what_it_allows_and_refuses_the_rest_by_name(tmp_path: Path) -> None:
    full = await listed(build_server(settings_for(tmp_path)))
    assert len(full) == 21 and set(full) >= WRITE_TOOLS
    assert full["commit_and_push"]["properties"]["mode"]["enum"] == ["push", "pull_request"]

    read_only = build_server(settings_for(tmp_path, mode="read-only"))
    assert set(await listed(read_only)) == set(full) - WRITE_TOOLS
    with pytest.raises(ToolError, match="commit_and_push is off: the server is read-only"):
        await read_only.call_tool("commit_and_push", {"repo_path": str(tmp_path), "paths": ["a"], "message": "m"})

    propose = build_server(settings_for(tmp_path, mode="propose"))
    tools = await listed(propose)
    assert set(tools) == set(full) - {"register_gitops_objects", "push_artifact"}
    for name in ("commit_and_push", "remediate", "promote", "rollback"):
        assert tools[name]["properties"]["mode"]["enum"] == ["pull_request"], name
        assert tools[name]["properties"]["mode"]["default"] == "pull_request", name
    assert tools["scaffold_fleet"]["properties"]["delivery"]["enum"] == ["write", "pull_request"]
    with pytest.raises(ToolError, match="register_gitops_objects is off: the server only proposes changes"):
        await propose.call_tool("register_gitops_objects", {"repo_path": str(tmp_path), "file": "a.yaml"})
    for name, args in (
        ("commit_and_push", {"repo_path": str(tmp_path), "paths": ["a"], "message": "m", "mode": "push"}),
        ("scaffold_fleet", {"repo_path": str(tmp_path), "provider": "flux", "delivery": "push"}),
        ("rollback", {"repo_path": str(tmp_path), "paths": ["a"], "mode": "push"}),
    ):
        with pytest.raises(ToolError, match=r"(mode|delivery)=push is off: the server only proposes changes"):
            await propose.call_tool(name, args)
    # the full server's definitions were not touched by the propose server's narrowing
    assert (await listed(build_server(settings_for(tmp_path))))["commit_and_push"]["properties"]["mode"]["enum"] == [
        "push",
        "pull_request",
    ]


@pytest.mark.anyio
async def test_tool_allow_list(tmp_path: Path) -> None:
    mcp = build_server(settings_for(tmp_path, tools=["detect_packages", "commit_and_push"]))
    assert set(await listed(mcp)) == {"detect_packages", "commit_and_push"}
    with pytest.raises(ToolError, match=r"validate_manifests is off: it is not in this server's tool list"):
        await mcp.call_tool("validate_manifests", {"yaml": "a: 1"})
    with pytest.raises(ToolError, match="Unknown tool"):  # not a tool at all: the SDK's answer
        await mcp.call_tool("no_such_tool", {})
    with pytest.raises(ConfigError, match=r"GITOPS_MCP_TOOLS names unknown tools \['comit_and_push'\]"):
        build_server(settings_for(tmp_path, tools=["comit_and_push"]))
    # read-only with a write tool on the list: the mode wins
    ro = build_server(settings_for(tmp_path, mode="read-only", tools=["detect_packages", "commit_and_push"]))
    assert set(await listed(ro)) == {"detect_packages"}


def test_mode_settings_and_flags(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert settings_for(tmp_path).mode == "full"
    assert settings_for(tmp_path, read_only=True).mode == "read-only"
    assert settings_for(tmp_path, mode="read-only").read_only
    with pytest.raises(ValidationError, match="GITOPS_MCP_READ_ONLY contradicts GITOPS_MCP_MODE=propose"):
        settings_for(tmp_path, read_only=True, mode="propose")
    monkeypatch.setenv("GITOPS_MCP_MODE", "full")
    monkeypatch.setenv("GITOPS_MCP_TOOLS", "detect_packages, commit_and_push")
    s = load_settings(_parser().parse_args(["serve", "--mode", "propose"]))
    assert (s.mode, s.proposes_only, s.read_only, s.tools) == (
        "propose",
        True,
        False,
        ["detect_packages", "commit_and_push"],
    )
    assert load_settings(_parser().parse_args(["serve", "--read-only"])).mode == "read-only"  # the flag wins
    monkeypatch.setenv("GITOPS_MCP_READ_ONLY", "true")
    monkeypatch.delenv("GITOPS_MCP_MODE")
    assert load_settings(_parser().parse_args(["serve", "--mode", "full"])).mode == "full"


@pytest.mark.anyio
async def test_propose_mode_makes_every_change_a_pull_request(
    tmp_path: Path, remote: GitHttpServer, forge: FakeForge
) -> None:
    audit_file = tmp_path / "audit" / "gitops.jsonl"
    settings = settings_for(tmp_path, remote, forge, mode="propose", audit_log=str(audit_file))
    mcp = build_server(settings)
    work = clone(remote, tmp_path / "work")
    (work / "deploy").mkdir(exist_ok=True)
    (work / "deploy" / "probe.yaml").write_text(MANIFEST, encoding="utf-8")
    main = remote.head(REPO)

    # mode omitted: a pull request, not the tool's own default (push)
    r = await mcp.call_tool(
        "commit_and_push", {"repo_path": str(work), "paths": ["deploy/probe.yaml"], "message": "Add the probe"}
    )
    done = r.structured_content
    assert done["status"] == "pull_request" and done["pr_url"], done
    with pytest.raises(ToolError, match="mode=push is off"):
        await mcp.call_tool(
            "commit_and_push",
            {"repo_path": str(work), "paths": ["deploy/probe.yaml"], "message": "Add the probe", "mode": "push"},
        )
    assert remote.head(REPO) == main  # nothing reached main

    # git delivery refuses a push in propose mode whoever asks (the layer under the tools)
    with pytest.raises(PolicyViolation, match="only proposes changes"):
        GitDelivery(settings).commit_and_push(work, ["deploy/probe.yaml"], "Add the probe", mode="push")

    # the wizard offers no push
    app = Services(settings)
    v = app.wizard.start("local", str(work), intent="deploy podinfo with flux")
    answers: dict[str, Any] = {
        "package": "charts/podinfo",
        "provider": "flux",
        "repo_url": "https://github.com/stefanprodan/podinfo.git",
    }
    for _ in range(6):
        v = app.wizard.answer("local", v.session_id, answers, accept_defaults=True)
        answers = {}
        if v.step == "preview":
            break
    assert v.step == "preview" and v.questions[0].id == "delivery"
    assert v.questions[0].options == ["write", "pull_request"]
    assert [q.id for q in v.questions] == ["delivery"]  # no register (push only), no wait
    v = app.wizard.answer("local", v.session_id, {"delivery": "push"})
    assert v.status == "open" and "delivery" in v.errors
    app.close()

    lines = [json.loads(x) for x in audit_file.read_text(encoding="utf-8").splitlines()]
    assert [(x["tool"], x["outcome"]) for x in lines] == [("commit_and_push", "ok"), ("commit_and_push", "refused")]
    pr, refused = lines
    assert pr["pr_url"] == done["pr_url"] and pr["commit_sha"] == done["commit_sha"]
    assert pr["paths"] == ["deploy/probe.yaml"] and pr["repository"] == str(work) and pr["principal"] == "local"
    assert refused["commit_sha"] is None and "mode=push is off" in refused["error"]


@pytest.mark.anyio
async def test_audit_lines_of_a_write_a_refused_push_and_a_pull_request(
    tmp_path: Path, remote: GitHttpServer, forge: FakeForge
) -> None:
    audit_file = tmp_path / "audit.jsonl"
    mcp = build_server(settings_for(tmp_path, remote, forge, audit_log=str(audit_file)))
    work = clone(remote, tmp_path / "work")
    remote.protect(REPO)

    await mcp.call_tool(
        "write_manifests", {"repo_path": str(work), "output_path": "deploy/probe.yaml", "yaml": MANIFEST}
    )
    with pytest.raises(ToolError, match="Protected branch update failed"):
        await mcp.call_tool(
            "commit_and_push",
            {"repo_path": str(work), "paths": ["deploy/probe.yaml"], "message": "Add the probe", "mode": "push"},
        )
    r = await mcp.call_tool(
        "commit_and_push",
        {
            "repo_path": str(work),
            "paths": ["deploy/probe.yaml"],
            "message": "Add the probe",
            "mode": "pull_request",
        },
    )
    pr = r.structured_content
    await mcp.call_tool("validate_manifests", {"yaml": MANIFEST})  # a read tool: no audit line

    text = audit_file.read_text(encoding="utf-8")
    lines = [json.loads(x) for x in text.splitlines()]
    assert [(x["tool"], x["outcome"]) for x in lines] == [
        ("write_manifests", "ok"),
        ("commit_and_push", "failed"),
        ("commit_and_push", "ok"),
    ]
    write, push, proposed = lines
    assert write["paths"] == ["deploy/probe.yaml"] and write["commit_sha"] is None
    assert push["error"].startswith("the remote refused the push to main") and "\n" not in push["error"]
    assert proposed["pr_url"] == pr["pr_url"] and proposed["commit_sha"] == pr["commit_sha"]
    assert set(write) == {
        "time",
        "principal",
        "tool",
        "repository",
        "paths",
        "commit_sha",
        "pr_url",
        "cluster",
        "outcome",
        "error",
    }
    for secret in (TOKEN, FORGE_TOKEN, "manifest-body-7f3a", "audit-probe"):
        assert secret not in text


def test_the_command_refuses_an_unknown_tool_name_and_an_unusable_audit_file(tmp_path: Path) -> None:
    import sys

    from doubles.mcp_server import server_env

    (tmp_path / "a-file").write_text("", encoding="utf-8")
    for extra, says in (
        ({"GITOPS_MCP_TOOLS": "detect_packages,comit_and_push"}, "GITOPS_MCP_TOOLS names unknown tools"),
        ({"GITOPS_MCP_AUDIT_LOG": str(tmp_path / "a-file" / "x.jsonl")}, "GITOPS_MCP_AUDIT_LOG: cannot append"),
        (
            {"GITOPS_MCP_READ_ONLY": "true", "GITOPS_MCP_MODE": "propose"},
            "GITOPS_MCP_READ_ONLY contradicts GITOPS_MCP_MODE=propose",
        ),
    ):
        flags = [] if "GITOPS_MCP_MODE" in extra else ["--mode", "propose"]
        proc = subprocess.run(
            [sys.executable, "-m", "gitops_mcp", "serve", *flags],
            env=server_env(tmp_path, extra),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 2 and says in proc.stderr, proc.stderr
