"""push_artifact: a Flux OCI artifact packed reproducibly and pushed to a strict fake registry with
token auth; credentials only where they belong; the generated OCIRepository + Kustomization."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import CRDS, FIXTURES, git, make_repo, need_shared
from doubles.git_remote import RecordingServer
from doubles.registry import FakeRegistry
from gitops_mcp import oci
from gitops_mcp.errors import GitOpsError, PathNotAllowedError, PolicyViolation, ReadOnlyError, UserInputError
from gitops_mcp.providers.flux.oci import FluxArtifacts
from gitops_mcp.services import Services
from gitops_mcp.settings import Settings

FLUX_OCI = FluxArtifacts()

USER, PASSWORD = "robot", "oci-pass-0123456789-SECRET"
ORIGIN = "https://github.com/stefanprodan/podinfo.git"


@pytest.fixture
def registry() -> Iterator[FakeRegistry]:
    with FakeRegistry({USER: PASSWORD}) as reg:
        yield reg


def oci_settings(tmp_path: Path, reg: FakeRegistry, **kw: Any) -> Settings:
    base: dict[str, Any] = {
        "allowed_roots": [tmp_path],
        "state_dir": tmp_path / "state",
        "cache_dir": tmp_path / "cache",
        "oci_username": USER,
        "oci_password": PASSWORD,
        "allowed_oci_hosts": [reg.host],
        "oci_allow_http": True,
    }
    base.update(kw)
    return Settings(**base)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "podinfo", need_shared(FIXTURES / "podinfo"), origin=ORIGIN)


def layer_files(layer: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(layer), mode="r:gz") as tar:
        out = {}
        for m in tar.getmembers():
            assert m.uid == 0 and m.gid == 0 and m.mtime == 0
            if m.isfile():
                fh = tar.extractfile(m)
                out[m.name] = fh.read() if fh else b""
        return out


# -- packing -----------------------------------------------------------------------------------------------


def test_pack_is_reproducible_and_ignores_what_flux_ignores(tmp_path: Path, repo: Path) -> None:
    d = repo / "kustomize"
    (d / "logo.png").write_bytes(b"\x89PNG")
    (d / "sub").mkdir()
    (d / "sub/extra.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n", encoding="utf-8")
    layer, packed = oci.pack(d)
    again, _ = oci.pack(d)
    assert layer == again and packed.layer_digest == oci.digest_of(layer)
    assert gzip.decompress(layer)  # a real gzip stream
    files = layer_files(layer)
    assert sorted(files) == packed.files and "sub/extra.yaml" in files and "logo.png" not in files
    assert files["kustomization.yaml"] == (d / "kustomization.yaml").read_bytes()
    assert "logo.png" in packed.ignored
    _, extra = oci.pack(d, [*oci.DEFAULT_IGNORE, "sub/"])
    assert "sub/extra.yaml" not in extra.files


def test_pack_refusals(tmp_path: Path) -> None:
    d = tmp_path / "m"
    d.mkdir()
    with pytest.raises(UserInputError, match="nothing to pack"):
        oci.pack(d)
    (d / "secret.yaml").write_text("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n", encoding="utf-8")
    with pytest.raises(PolicyViolation, match="Secret"):
        oci.pack(d)
    (d / "secret.yaml").unlink()
    (tmp_path / "outside.yaml").write_text("a: 1\n", encoding="utf-8")
    (d / "link.yaml").symlink_to(tmp_path / "outside.yaml")
    with pytest.raises(UserInputError, match="leaves"):
        oci.pack(d)


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("https://ghcr.io/x:1", "not an OCI URL"),
        ("oci://ghcr.io/org/app", "no tag"),
        ("oci://user:pw@ghcr.io/org/app:1", "no credentials"),
        ("oci://ghcr.io/Org/App:1", "not a valid repository"),
        ("oci://ghcr.io.evil.example/org/app:1", "GITOPS_MCP_ALLOWED_OCI_HOSTS"),
        ("oci://ghcr.io/org/app:bad tag", "no credentials"),
    ],
)
def test_url_refusals(url: str, match: str) -> None:
    with pytest.raises(UserInputError, match=match):
        oci.parse_oci_url(url, Settings(allowed_roots=[Path("/tmp")]))


def test_url_defaults() -> None:
    ref = oci.parse_oci_url("oci://ghcr.io/org/app:v1", Settings(allowed_roots=[Path("/tmp")]))
    assert (ref.base, ref.url, ref.tag) == ("https://ghcr.io", "oci://ghcr.io/org/app", "v1")
    docker = oci.parse_oci_url("oci://docker.io/org/app:v1", Settings(allowed_roots=[Path("/tmp")]))
    assert docker.base == "https://registry-1.docker.io"


# -- pushing -----------------------------------------------------------------------------------------------


def test_push_artifact_with_token_auth(tmp_path: Path, repo: Path, registry: FakeRegistry) -> None:
    app = Services(oci_settings(tmp_path, registry))
    head = git(repo, "rev-parse", "HEAD")
    r = app.artifacts.push(str(repo / "kustomize"), f"oci://{registry.host}/apps/podinfo:v1")
    digest, manifest = registry.manifest("apps/podinfo", "v1")
    assert r.digest == digest and r.flux_revision == f"v1@{digest}"
    assert manifest["mediaType"] == oci.MANIFEST_TYPE and manifest["config"]["mediaType"] == FLUX_OCI.config_type
    assert [la["mediaType"] for la in manifest["layers"]] == [FLUX_OCI.content_type]
    ann = manifest["annotations"]
    assert ann[oci.ANN_SOURCE] == ORIGIN and ann[oci.ANN_REVISION] == f"main@sha1:{head}"
    assert ann[oci.ANN_CREATED].endswith("Z") and r.annotations == ann
    layer = registry.store.blobs[manifest["layers"][0]["digest"]]
    assert sorted(layer_files(layer)) == r.files and "deployment.yaml" in r.files
    # the credentials went to the token service only; the registry saw only the bearer token
    basic = [s for s in registry.log if (s.authorization or "").startswith("Basic ")]
    assert basic and all(s.path.startswith("/token") for s in basic)
    assert all(PASSWORD not in (s.authorization or "") for s in registry.log if not s.path.startswith("/token"))
    # a second push of the same files uploads no blob again and, reproducible, gives one digest
    uploads = sum(1 for s in registry.log if s.method == "POST")
    a = app.artifacts.push(str(repo / "kustomize"), f"oci://{registry.host}/apps/podinfo:v2", reproducible=True)
    b = app.artifacts.push(str(repo / "kustomize"), f"oci://{registry.host}/apps/podinfo:v3", reproducible=True)
    assert a.digest == b.digest and sum(1 for s in registry.log if s.method == "POST") == uploads  # blobs already there
    assert PASSWORD not in r.model_dump_json() + a.model_dump_json()


def test_push_refusals_change_nothing(tmp_path: Path, repo: Path, registry: FakeRegistry) -> None:
    url = f"oci://{registry.host}/apps/podinfo:v1"
    for settings, match in (
        (oci_settings(tmp_path, registry, oci_password="wrong"), "refused the credentials"),
        (oci_settings(tmp_path, registry, oci_username=None, oci_password=None), "refused the credentials"),
        (oci_settings(tmp_path, registry, allowed_oci_hosts=["ghcr.io"]), "GITOPS_MCP_ALLOWED_OCI_HOSTS"),
    ):
        with pytest.raises(GitOpsError, match=match) as err:
            Services(settings).artifacts.push(str(repo / "kustomize"), url)
        assert PASSWORD not in str(err.value)
    assert registry.store.tags == {}
    app = Services(oci_settings(tmp_path, registry))
    (repo / "kustomize/deployment.yaml").write_text("changed: true\n", encoding="utf-8")
    with pytest.raises(UserInputError, match="uncommitted changes"):
        app.artifacts.push(str(repo / "kustomize"), url)
    r = app.artifacts.push(str(repo / "kustomize"), url, revision="main@sha1:" + "a" * 40)  # the user says so
    assert r.revision == "main@sha1:" + "a" * 40
    git(repo, "checkout", "--", "kustomize/deployment.yaml")
    with pytest.raises(PathNotAllowedError):
        app.artifacts.push("/etc", url)
    ro = Services(oci_settings(tmp_path, registry, read_only=True))
    with pytest.raises(ReadOnlyError):
        ro.artifacts.push(str(repo / "kustomize"), url)


def test_token_service_elsewhere_gets_no_credentials(tmp_path: Path, repo: Path) -> None:
    with RecordingServer() as elsewhere, FakeRegistry({USER: PASSWORD}, realm=f"{elsewhere.base}/token") as reg:
        app = Services(oci_settings(tmp_path, reg))
        with pytest.raises(GitOpsError, match="not in GITOPS_MCP_ALLOWED_OCI_HOSTS; no credentials were sent"):
            app.artifacts.push(str(repo / "kustomize"), f"oci://{reg.host}/apps/podinfo:v1")
        assert elsewhere.log == []
        assert all(s.authorization is None for s in reg.log)


def test_generate_deploys_it(tmp_path: Path, repo: Path, registry: FakeRegistry) -> None:
    app = Services(oci_settings(tmp_path, registry))
    r = app.artifacts.push(
        str(repo / "kustomize"),
        f"oci://{registry.host}/apps/podinfo:v1",
        generate=True,
        target_namespace="podinfo",
        interval="10m",
    )
    assert r.validation is not None and r.validation.valid and r.yaml
    from gitops_mcp.manifests.yaml import load_documents

    src, ks = load_documents(r.yaml)
    assert src["kind"] == "OCIRepository" and src["spec"]["url"] == f"oci://{registry.host}/apps/podinfo"
    assert src["spec"]["ref"] == {"tag": "v1"} and src["spec"]["insecure"] is True  # plain-http test registry
    assert ks["spec"]["sourceRef"] == {"kind": "OCIRepository", "name": "podinfo"}
    assert ks["spec"]["targetNamespace"] == "podinfo" and ks["spec"]["prune"] is True
    out = tmp_path / "artifact.yaml"
    out.write_text(r.yaml, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(need_shared(CRDS / "validate.py")), str(out)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with pytest.raises(UserInputError, match="duration"):
        app.artifacts.push(
            str(repo / "kustomize"), f"oci://{registry.host}/apps/podinfo:v9", generate=True, interval="often"
        )
    assert ("apps/podinfo", "v9") not in registry.store.tags  # refused before anything was pushed


@pytest.mark.anyio
async def test_push_artifact_over_mcp_leaks_nothing(tmp_path: Path, repo: Path, registry: FakeRegistry) -> None:
    from mcp import Client

    from doubles.mcp_server import ServerProcess

    env = {
        "GITOPS_MCP_OCI_USERNAME": USER,
        "GITOPS_MCP_OCI_PASSWORD": PASSWORD,
        "GITOPS_MCP_ALLOWED_OCI_HOSTS": registry.host,
        "GITOPS_MCP_OCI_ALLOW_HTTP": "true",
        "GITOPS_MCP_LOG_LEVEL": "DEBUG",
    }
    outputs = []
    with ServerProcess(tmp_path, env=env) as srv:
        async with Client(srv.url) as c:
            r = await c.call_tool(
                "push_artifact",
                {
                    "path": str(repo / "kustomize"),
                    "oci_url": f"oci://{registry.host}/apps/podinfo:v1",
                    "generate": True,
                },
            )
            outputs.append(r.model_dump_json())
            assert not r.is_error, r.content
            assert (r.structured_content or {})["digest"] == registry.manifest("apps/podinfo", "v1")[0]
            bad = await c.call_tool(
                "push_artifact", {"path": str(repo / "kustomize"), "oci_url": "oci://ghcr.io/x/y:1"}
            )
            outputs.append(bad.model_dump_json())
            assert bad.is_error and "GITOPS_MCP_ALLOWED_OCI_HOSTS" in bad.content[0].text  # type: ignore[union-attr]
    texts = [*outputs, "".join(srv.stderr)]
    texts.extend(p.read_bytes().decode("utf-8", "replace") for p in (tmp_path / "state").rglob("*") if p.is_file())
    texts.extend(json.dumps(m[1].decode()) for m in registry.store.manifests.values())
    for t in texts:
        assert PASSWORD not in t
    tokens = list(registry.tokens)
    assert tokens and not any(tok in t for tok in tokens for t in texts)  # registry tokens are scrubbed too
    assert os.environ.get("GITOPS_MCP_OCI_PASSWORD") is None
