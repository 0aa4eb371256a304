"""Results sized for a conversation: a one-chart deploy's wizard results under 8 KB each, and big
outputs (many packages, a scaffolded fleet) as a summary with the rest a page or Git away."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from conftest import make_repo
from gitops_mcp.detection.models import PAGE_SIZE
from gitops_mcp.server import build_server
from gitops_mcp.settings import Settings

RESULT_MAX = 8_000


async def sized(c: Client, tool: str, args: dict[str, Any]) -> tuple[dict[str, Any], int]:
    r = await c.call_tool(tool, args)
    assert not r.is_error, r.content
    text = r.content[0].text  # type: ignore[union-attr]
    assert json.loads(text) == r.structured_content  # the text copy says the same, once
    return r.structured_content or {}, len(text.encode())


@pytest.mark.anyio
async def test_a_step_by_step_flux_deploy_of_one_chart_stays_small(
    settings: Settings, fixture_repo: Callable[..., Path]
) -> None:
    repo = fixture_repo("podinfo")
    sizes: dict[str, int] = {}
    async with Client(build_server(settings)) as c:
        v, sizes["start"] = await sized(c, "start_deployment", {"repo_path": str(repo), "provider": "flux"})
        v, sizes["package"] = await sized(
            c, "answer_questions", {"session_id": v["session_id"], "answers": {"package": "charts/podinfo"}}
        )
        for _ in range(8):
            if v["step"] == "preview":
                break
            v, sizes[v["step"]] = await sized(
                c, "answer_questions", {"session_id": v["session_id"], "answers": {}, "accept_defaults": True}
            )
        assert v["step"] == "preview"
        assert json.dumps(v).count("kind: HelmRelease") == 1  # the YAML once (no copy in the diff)
        v, sizes["write"] = await sized(
            c, "answer_questions", {"session_id": v["session_id"], "answers": {"delivery": "write"}}
        )
        assert v["status"] == "done" and json.dumps(v).count("kind: HelmRelease") <= 1
    assert max(sizes.values()) < RESULT_MAX, sizes


def many_packages(root: Path, n: int) -> Path:
    for i in range(n):
        d = root / "apps" / f"app{i:03d}"
        d.mkdir(parents=True)
        (d / "kustomization.yaml").write_text("resources: [cm.yaml]\n", encoding="utf-8")
        (d / "cm.yaml").write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\n", encoding="utf-8")
    return make_repo(root, origin="https://github.com/example/mono.git")


@pytest.mark.anyio
async def test_many_packages_come_in_pages(settings: Settings, tmp_path: Path) -> None:
    repo = many_packages(tmp_path / "mono", 2 * PAGE_SIZE + 5)
    async with Client(build_server(settings)) as c:
        seen: list[str] = []
        for page in (1, 2, 3):
            r, size = await sized(c, "detect_packages", {"repo_path": str(repo), "page": page})
            assert size < RESULT_MAX and r["page"] == page and r["pages"] == 3
            assert r["packages_total"] == 2 * PAGE_SIZE + 5
            seen += [p["path"] for p in r["packages"]]
        assert len(seen) == len(set(seen)) == 2 * PAGE_SIZE + 5
        beyond = await c.call_tool("detect_packages", {"repo_path": str(repo), "page": 4})
        assert beyond.is_error and "3 page(s)" in beyond.content[0].text  # type: ignore[union-attr]
        v, size = await sized(c, "start_deployment", {"repo_path": str(repo), "provider": "flux"})
        assert size < RESULT_MAX and len(v["packages"]) == PAGE_SIZE
        assert f"{PAGE_SIZE} of {2 * PAGE_SIZE + 5} packages shown" in v["next"]


@pytest.mark.anyio
@pytest.mark.parametrize("provider", ["flux", "argocd"])
async def test_a_scaffolded_fleet_is_a_summary_with_the_diff_in_budget(
    settings: Settings, tmp_path: Path, provider: str
) -> None:
    repo = make_repo(tmp_path / "fleet", origin="https://github.com/example/fleet.git")
    async with Client(build_server(settings)) as c:
        r, size = await sized(
            c,
            "scaffold_fleet",
            {"repo_path": str(repo), "provider": provider, "environments": ["dev", "qa", "staging", "production"]},
        )
    assert size < RESULT_MAX + 2_000, size  # the file list grows with environments; the diff does not
    written = [f["path"] for f in r["files"] if f["status"] == "created"]
    assert r["diff_omitted"] and set(r["diff_omitted"]) <= set(written)
    shown = [p for p in written if f"+++ b/{p}\n" in r["diff"]]
    assert sorted(shown + r["diff_omitted"]) == sorted(written)  # each file's diff whole, or named
    assert all((repo / p).is_file() for p in r["diff_omitted"]) and "diff_omitted" in r["message"]
    assert r["validated"] >= len(r["environments"]) and not r["validation"]


@pytest.mark.anyio
async def test_what_is_known_already_is_not_sent_again(settings: Settings, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("podinfo")
    async with Client(build_server(settings)) as c:
        chosen, _ = await sized(
            c,
            "start_deployment",
            {
                "repo_path": str(repo),
                "provider": "flux",
                "answers": {"package": "charts/podinfo"},
                "accept_defaults": True,
            },
        )
        assert chosen["step"] == "preview" and chosen["packages"] is None  # the package is chosen
        bad, _ = await sized(c, "start_deployment", {"repo_path": str(repo), "answers": {"package": "charts/podinf"}})
        error = bad["errors"]["package"]
        assert "did you mean 'charts/podinfo'?" in error and "deploy/bases" not in error  # options list them once
        cancelled, size = await sized(c, "cancel_session", {"session_id": chosen["session_id"]})
        assert cancelled["status"] == "cancelled" and cancelled["preview"] is None and size < 1_000


def test_a_long_diff_is_whole_hunks_then_a_count() -> None:
    from gitops_mcp.manifests.write import DIFF_MAX, bounded_diff, unified_diff

    old = "".join(f"key{i}: {i}\n" for i in range(3000))
    new = "".join(f"key{i}: {i + (i % 50 == 0)}\n" for i in range(3000))
    full = unified_diff(old, new, "big.yaml")
    short = bounded_diff(full)
    assert len(full) > DIFF_MAX >= len(short) - 100
    body, last = short.rstrip("\n").rsplit("\n", 1)
    assert full.startswith(body) and full[len(body) + 1 :].startswith("@@")  # cut before a hunk
    hidden = full[len(body) + 1 :]
    assert last == f"# ... {hidden.count(chr(10))} more diff line(s) in {hidden.count('@@ -')} hunk(s) not shown"
    assert bounded_diff("small\n") == "small\n"
