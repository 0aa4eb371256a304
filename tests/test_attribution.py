"""Who asked (commit trailer, pull request note) and the audit record, as plain functions."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import anyio
import pytest

from gitops_mcp import audit
from gitops_mcp.caller import Caller, acting, because, current, pr_note, sign
from gitops_mcp.errors import ConfigError
from gitops_mcp.git.publish import title_body
from gitops_mcp.scrub import register_secret

ALICE = Caller("alice-sub", "remediate", name="Alice Example", email="alice@example.com")


def test_nobody_known_changes_nothing() -> None:
    assert sign("Fix it\n") == "Fix it\n" and pr_note("Fix it") == ""
    with acting(Caller("default", "commit_and_push", name="default", person=False)):  # the one shared token
        assert sign("Fix it\n") == "Fix it\n" and pr_note("Fix it") == ""


def test_the_trailer_joins_the_last_paragraph_once() -> None:
    with acting(ALICE):
        assert sign("Fix it\n") == "Fix it\n\nRequested-by: Alice Example <alice@example.com>\n"
        assert sign("Fix it\n\nThe old image crashes.\n") == (
            "Fix it\n\nThe old image crashes.\n\nRequested-by: Alice Example <alice@example.com>\n"
        )
        # an existing trailer paragraph (e.g. Signed-off-by) gets one more line, not a new paragraph
        assert sign("Fix it\n\nSigned-off-by: A <a@example.com>\n") == (
            "Fix it\n\nSigned-off-by: A <a@example.com>\nRequested-by: Alice Example <alice@example.com>\n"
        )
        once = sign("Fix it\n")
        assert sign(once) == once
        # a revert's own lines stay above the trailer
        revert = 'Revert "x"\n\nThis reverts commit 0123456789abcdef0123456789abcdef01234567.\n'
        assert sign(revert).endswith(".\n\nRequested-by: Alice Example <alice@example.com>\n")


def test_names_from_tokens_are_one_clean_line() -> None:
    evil = Caller("s", "t", name="Eve\nRequested-by: Mallory <m@x>", email="eve@example.com>\nX: y")
    with acting(evil):
        line = sign("m\n").splitlines()[-1]
    assert line == "Requested-by: Eve Requested-by: Mallory m@x <eve@example.com X: y>"
    assert Caller("sub-only").signature() == "sub-only"
    assert Caller("s", email="not-an-email").signature() == "s"


def test_the_pull_request_says_who_through_which_tool_and_why() -> None:
    with acting(ALICE):
        _, body = title_body("Set the image of frontend\n\nThe old one crashes.\n", ["deploy/frontend.yaml"])
        assert "Requested by Alice Example <alice@example.com> through `remediate`: Set the image of frontend" in body
        with because("  production needs\nimage 6.14.2 "):
            assert current() is not None and current().reason == "production needs image 6.14.2"  # type: ignore[union-attr]
            _, body = title_body("Deploy podinfo with flux", ["clusters/podinfo.yaml"])
        assert "through `remediate`: production needs image 6.14.2\n" in body
        assert current() == ALICE
    assert body.index("Files:") < body.index("Requested by") < body.index("Opened by gitops-mcp.")


@pytest.mark.anyio
async def test_worker_threads_see_the_caller() -> None:
    with acting(ALICE):
        seen = await anyio.to_thread.run_sync(current)
    assert seen == ALICE and current() is None


def test_audit_records_hold_no_secret_and_no_manifest(tmp_path: Path) -> None:
    register_secret("tok-audit-0123456789")
    record = audit.from_call(
        "commit_and_push",
        "alice-sub",
        {
            "repo_path": "https://x-access-token:tok-audit-0123456789@git.example.com/org/fleet.git",
            "paths": ["a.yaml"],
            "message": "m",
            "yaml": "kind: ConfigMap",
        },
        None,
        error="the remote refused the push: tok-audit-0123456789 denied\nsecond line with kind: Secret",
    )
    assert record["repository"] == "https://git.example.com/org/fleet.git"
    assert record["error"] == "the remote refused the push: *** denied" and record["outcome"] == "failed"
    assert "yaml" not in record and "message" not in record
    nested = audit.from_call(
        "remediate",
        "bob",
        {"api_version": "apps/v1", "kind": "Deployment", "name": "frontend"},
        {
            "commit": {
                "status": "pull_request",
                "commit_sha": "a" * 40,
                "pr_url": "https://github.com/org/fleet/pull/7",
                "remote": "https://github.com/org/fleet.git",
                "files": ["deploy/overlays/production/kustomization.yaml"],
            },
            "diff": "- image: old\n+ image: new",
        },
        cluster="prod",
    )
    assert (nested["repository"], nested["paths"], nested["commit_sha"], nested["cluster"], nested["outcome"]) == (
        "https://github.com/org/fleet.git",
        ["deploy/overlays/production/kustomization.yaml"],
        "a" * 40,
        "prod",
        "ok",
    )
    log = audit.AuditLog(str(tmp_path / "logs" / "audit.jsonl"))
    workers = [threading.Thread(target=log.write, args=(nested,)) for _ in range(20)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(10)
    lines = (tmp_path / "logs" / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 20 and all(json.loads(x) == nested for x in lines)
    assert (tmp_path / "logs" / "audit.jsonl").stat().st_mode & 0o777 == 0o600
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match="GITOPS_MCP_AUDIT_LOG: cannot append to"):
        audit.AuditLog(str(tmp_path / "a-file" / "audit.jsonl"))
