"""No build over its limits (item 3) and no outbound request from a preview (item 4), through the
wizard's preview as an assistant reaches it. Builds are watched from /proc: the peak resident
memory of every process the server starts (kubectl, helm) and of the server itself."""

from __future__ import annotations

import time
from typing import Any

from audit.harness import Answer, Audit, TreeWatch
from doubles.listener import Listener

LIMITS = "no build over its limits"
OUTBOUND = "no outbound request from a preview"
MEMORY_MB = 256  # GITOPS_MCP_BUILD_MEMORY_MB in the audit's servers
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}\ndata:\n  k: v\n"


def laughs(levels: int, indent: str = "  ") -> str:
    out = [f'{indent}a0: &a0 "lollollollollollol"\n']
    out += [f"{indent}a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, levels + 1)]
    return "".join(out) + f"{indent}z: *a{levels}\n"


def doubling(levels: int, blob_kb: int) -> dict[str, str]:
    """A kustomization with no alias and small files whose build is 2**levels ConfigMaps of
    ``blob_kb`` KB each: every level includes the one below twice, under two name prefixes."""
    files = {
        "l0/kustomization.yaml": "resources:\n- cm.yaml\n",
        "l0/cm.yaml": CM.format("c") + "  blob: " + "x" * (blob_kb << 10) + "\n",
    }
    for i in range(1, levels + 1):
        for side in "ab":
            files[f"l{i}{side}/kustomization.yaml"] = f"namePrefix: {side}-\nresources:\n- ../l{i - 1}\n"
        files[f"l{i}/kustomization.yaml"] = f"resources:\n- ../l{i}a\n- ../l{i}b\n"
    return files


HELM_CHART = "apiVersion: v2\nname: {}\nversion: 0.1.0\n"
BOMBS: dict[str, dict[str, str]] = {
    "alias bomb in the kustomization": {
        "kustomization.yaml": "resources:\n- cm.yaml\ncommonAnnotations:\n" + laughs(12),
        "cm.yaml": CM.format("a"),
    },
    "alias bomb in a resource": {
        "kustomization.yaml": "resources:\n- cm.yaml\n",
        "cm.yaml": CM.format("b") + "extra:\n" + laughs(12),
    },
    "alias bomb in an inline patch": {
        "kustomization.yaml": "resources:\n- cm.yaml\npatchesStrategicMerge:\n- |-\n"
        + "\n".join("  " + ln for ln in (CM.format("c") + "extra:\n" + laughs(12)).splitlines())
        + "\n",
        "cm.yaml": CM.format("c"),
    },
    "self-referring alias": {"kustomization.yaml": "resources:\n- cm.yaml\n", "cm.yaml": "x: &x\n  y: *x\n"},
    "oversized input (5 MB, limit 4)": {
        "kustomization.yaml": "resources:\n- cm.yaml\n",
        "cm.yaml": CM.format("d") + "  blob: " + "x" * (5 << 20) + "\n",
    },
    "doubling bases, 2**14 x 64 KB": {f"{k}": v for k, v in doubling(14, 64).items()}
    | {"kustomization.yaml": "resources:\n- l14\n"},
    "doubling bases, 2**22 x 1 KB": {f"{k}": v for k, v in doubling(22, 1).items()}
    | {"kustomization.yaml": "resources:\n- l22\n"},
    "helm: a template looping 10**9 times": {
        "Chart.yaml": HELM_CHART.format("loop"),
        "values.yaml": "a: 1\n",
        "templates/cm.yaml": "{{- range $i := until 1000000000 }}\n---\napiVersion: v1\nkind: ConfigMap\n"
        "metadata:\n  name: c{{ $i }}\n{{- end }}\n",
    },
    "helm: values alias bomb": {
        "Chart.yaml": HELM_CHART.format("vals"),
        "values.yaml": "x:\n" + laughs(12),
        "templates/cm.yaml": CM.format("v"),
    },
    "helm: a template doubling a string": {
        "Chart.yaml": HELM_CHART.format("dbl"),
        "values.yaml": "a: 1\n",
        "templates/cm.yaml": '{{- $s := "xxxxxxxxxxxxxxxx" }}{{- range until 40 }}{{- $s = print $s $s }}{{- end }}\n'
        + CM.format("d")
        + "  big: {{ $s | quote }}\n",
    },
}
LIMIT_WORDS = (
    "memory",
    "time",
    "cpu",
    "output",
    "billion laughs",
    "alias",
    "refers to a node",
    "MB",
    "seconds",
    "too large",
)


async def preview(a: Audit, c: Any, repo: str, package: str) -> tuple[Answer, dict[str, Any] | None]:
    """The wizard up to its preview; (the last answer, the preview's package check)."""
    answers = {
        "package": package,
        "provider": "flux",
        "namespace": "audit",
        "app_name": package.replace("/", "-")[-40:].strip("-") or "app",
    }
    v = await a.call(
        c, "start_deployment", {"repo_path": repo, "provider": "flux", "answers": answers, "accept_defaults": True}
    )
    for _ in range(6):
        if not v.ok or "session_id" not in v.data:
            break
        p = v.data.get("preview")
        if v.data.get("step") == "preview" and p:
            await a.call(c, "cancel_session", {"session_id": v.data["session_id"]})
            return v, p.get("package_check")
        v = await a.call(
            c, "answer_questions", {"session_id": v.data["session_id"], "answers": {}, "accept_defaults": True}
        )
    if "session_id" in v.data:
        await a.call(c, "cancel_session", {"session_id": v.data["session_id"]})
    return v, None


async def bombs(a: Audit, c: Any, server_pid: int) -> None:
    files: dict[str, str] = {}
    for i, (_, pkg) in enumerate(BOMBS.items()):
        files |= {f"b{i}/{k}": v for k, v in pkg.items()}
    _, work = a.seed(f"bomb/{a.uid('b')}.git", files)
    for i, name in enumerate(BOMBS):
        with TreeWatch(server_pid) as watch:
            started = time.monotonic()
            ans, check = await preview(a, c, str(work), f"b{i}")
            took = time.monotonic() - started
        msg = str((check or {}).get("message", "")) or str(ans)
        bounded = watch.peak_kb < (MEMORY_MB + 64) << 10 and took < 90
        said = check is not None and not check.get("ok") and any(w.lower() in msg.lower() for w in LIMIT_WORDS)
        peak = f"build peak {watch.peak_kb >> 10} MB ({watch.peak_cmd[:40]})"
        detail = f"{took:.1f} s, {peak}, server {watch.server_peak_kb >> 10} MB: {msg[:200]}"
        a.record(LIMITS, f"{name}: bounded (<{MEMORY_MB + 64} MB, <90 s)", bounded and ans.answered, detail)
        a.record(LIMITS, f"{name}: a clear error in the preview", said, detail)
        a.record(LIMITS, f"{name}: the server itself stays under 1 GB", watch.server_peak_kb < 1 << 20, detail)
        a.figures.setdefault("builds", []).append(f"{name}: {detail}")


def remote_forms(url: str) -> dict[str, str]:
    git = url.replace("http://", "https://") + "/org/repo//deploy?ref=main"
    forms = {
        "resources": f"resources:\n- {url}/cm.yaml\n",
        "resources-git": f"resources:\n- {git}\n",
        "resources-upper-scheme": f"resources:\n- {url.upper()}/cm.yaml\n",
        "resources-scheme-relative": f"resources:\n- {url.removeprefix('http:')}/cm.yaml\n",
        "resources-flow": f"{{resources: [cm.yaml, '{url}/x.yaml']}}\n",
        "resources-alias": f"x: &u {url}/cm.yaml\nresources:\n- cm.yaml\n- *u\n",
        "resources-tagged": f"resources:\n- cm.yaml\n- !!str {url}/cm.yaml\n",
        "resources-git-scp": "resources:\n- cm.yaml\n- git@127.0.0.1:org/repo.git//deploy?ref=v1\n",
        "components": f"resources:\n- cm.yaml\ncomponents:\n- {git}\n",
        "configmap-files": f"configMapGenerator:\n- name: c\n  files:\n  - k={url}/f.txt\n",
        "configmap-envs": f"configMapGenerator:\n- name: c\n  envs:\n  - {url}/f.env\n",
        "secret-env": f"secretGenerator:\n- name: s\n  env: {url}/s.env\n",
        "helmCharts-repo": f"helmCharts:\n- name: podinfo\n  repo: {url}/charts\n  version: 6.0.0\n",
        "helmCharts-values": f"resources:\n- cm.yaml\nhelmCharts:\n- name: local\n  valuesFile: {url}/v.yaml\n",
        "helmGlobals-chartHome": f"resources:\n- cm.yaml\nhelmGlobals:\n  chartHome: {url}/charts\n",
        "transformers": f"resources:\n- cm.yaml\ntransformers:\n- {url}/t.yaml\n",
        "generators": f"generators:\n- {url}/g.yaml\n",
        "validators": f"resources:\n- cm.yaml\nvalidators:\n- {url}/v.yaml\n",
        "crds": f"resources:\n- cm.yaml\ncrds:\n- {url}/crd.json\n",
        "configurations": f"resources:\n- cm.yaml\nconfigurations:\n- {url}/c.yaml\n",
        "openapi": f"resources:\n- cm.yaml\nopenapi:\n  path: {url}/schema.json\n",
        "openapi-version-and-path": f"resources:\n- cm.yaml\nopenapi:\n  version: v1.20.4\n  path: {url}/o.json\n",
        "patches": f"resources:\n- cm.yaml\npatches:\n- path: {url}/p.yaml\n",
        "patchesStrategicMerge": f"resources:\n- cm.yaml\npatchesStrategicMerge:\n- {url}/p.yaml\n",
        "patchesJson6902": "resources:\n- cm.yaml\npatchesJson6902:\n- target: {kind: ConfigMap, name: a}\n"
        f"  path: {url}/p.json\n",
        "replacements": f"resources:\n- cm.yaml\nreplacements:\n- path: {url}/r.yaml\n",
        "base-with-remote": "resources:\n- ../remote-base\n",
        "github-shorthand": "resources:\n- github.com/org/repo//deploy?ref=v1\n",
    }
    return forms


async def no_outbound(a: Audit, c: Any) -> None:
    """Every remote-reference form, in a kustomization and in Helm dependencies, from a local
    checkout and by URL: a listener on 127.0.0.1 the references point at counts 0 connections."""
    with Listener() as ear:
        url = f"http://127.0.0.1:{ear.port}"
        forms = remote_forms(url)
        files = {"remote-base/kustomization.yaml": f"resources:\n- {url}/base.yaml\n"}
        for name, k in forms.items():
            files |= {f"r/{name}/kustomization.yaml": k, f"r/{name}/cm.yaml": CM.format(name.lower()[:50])}
        files |= {
            "r/helm-dep/Chart.yaml": HELM_CHART.format("dep")
            + f"dependencies:\n- name: redis\n  version: 1.0.0\n  repository: {url}/charts\n",
            "r/helm-dep/values.yaml": "a: 1\n",
            "r/helm-dep/templates/cm.yaml": CM.format("h"),
            "r/helm-dep-oci/Chart.yaml": HELM_CHART.format("oci")
            + f"dependencies:\n- name: redis\n  version: 1.0.0\n  repository: oci://127.0.0.1:{ear.port}/charts\n",
            "r/helm-dep-oci/values.yaml": "a: 1\n",
            "r/helm-dep-oci/templates/cm.yaml": CM.format("o"),
            "r/helm-values-url/Chart.yaml": HELM_CHART.format("vu"),
            "r/helm-values-url/values.yaml": f"schema: {url}/s.json\n",
            "r/helm-values-url/values.schema.json": f'{{"$ref": "{url}/schema.json"}}\n',
            "r/helm-values-url/templates/cm.yaml": CM.format("s"),
        }
        repo_url, work = a.seed(f"out/{a.uid('o')}.git", files)
        packages = [f"r/{n}" for n in forms] + ["r/helm-dep", "r/helm-dep-oci", "r/helm-values-url"]
        for pkg in packages:
            for where, repo in (("local", str(work)), ("url", repo_url)):
                if where == "url" and pkg not in ("r/openapi", "r/resources", "r/helm-dep", "r/resources-alias"):
                    continue
                before = ear.count
                ans, check = await preview(a, c, repo, pkg)
                msg = str((check or {}).get("message", "")) or str(ans)
                a.record(
                    OUTBOUND,
                    f"{where} preview of {pkg}",
                    ear.count == before and ans.answered,
                    f"connections {ear.count - before}: {msg[:200]}",
                )
        for tool, args in (("detect_packages", {"repo_path": str(work)}), ("detect_packages", {"repo_path": repo_url})):
            before = ear.count
            ans = await a.call(c, tool, args)
            a.record(
                OUTBOUND,
                f"{tool} of the repository ({'url' if args['repo_path'] == repo_url else 'local'})",
                ear.count == before,
                str(ans)[:160],
            )
        a.record(OUTBOUND, f"listener total over {len(packages)} packages", ear.count == 0, f"{ear.count} connections")
