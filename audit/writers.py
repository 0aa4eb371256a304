"""No write outside a root (issue 17, items 1 and 5): hostile symlinks a repository's author
commits (at the writer's temporary name, at the target, at a parent, and a dangling one naming a
``.pth`` file) for every writer, from a local checkout and from a git URL; path escapes in every
path argument; the clone cache as a repo_path. A victim directory outside every root must be
byte-for-byte unchanged after each probe, whatever the answer was."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from audit.harness import Answer, Audit, changed, snapshot
from doubles.world import git_repository, kustomization

PROP = "no write outside a root"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: web\ndata:\n  a: '1'\n"
DEPLOY = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: {ns}\nspec:\n  replicas: 1\n"
    "  selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    spec:\n"
    "      containers:\n        - name: web\n          image: nginx:1.25\n"
)
BASE_K = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deploy.yaml\n"


def overlay(tag: str) -> str:
    return (
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../../base\n"
        f"images:\n  - name: nginx\n    newTag: '{tag}'\n"
    )


def files(ns: str = "web") -> dict[str, str]:
    return {
        "apps/web/deploy.yaml": DEPLOY.format(ns=ns),
        "deploy/base/deploy.yaml": DEPLOY.format(ns="front").replace(
            "name: web\n  namespace", "name: front\n  namespace"
        ),
        "deploy/base/kustomization.yaml": BASE_K,
        "deploy/overlays/staging/kustomization.yaml": overlay("1.27"),
        "deploy/overlays/production/kustomization.yaml": overlay("1.25"),
    }


def temp_links(rel: str, target: str) -> dict[str, str]:
    """Links at the temporary names an outsider can predict: the old fixed one, and guesses at the
    random part (all zeros, all f's)."""
    folder, name = rel.rsplit("/", 1)
    return {
        f"{folder}/.{name}.gitops-mcp.tmp": target,
        f"{folder}/.{name}.{'0' * 16}.gitops-mcp.tmp": target,
        f"{folder}/.{name}.{'f' * 16}.gitops-mcp.tmp": target,
        f"{folder}/{name}.tmp": target,
        f"{folder}/.{name}.tmp": target,
    }


# what each writer writes, and which attacks apply (the link replaces the file or folder named)
TARGETS = {
    "write_manifests": ("apps/new/cm.yaml", "apps/new"),
    "wizard_write": ("clusters/web.yaml", "clusters"),
    "promote": ("deploy/overlays/production/kustomization.yaml", "deploy/overlays/production"),
    "scaffold_fleet": ("clusters/dev/apps.yaml", "clusters/dev"),
    "remediate": ("apps/web/deploy.yaml", None),  # a link at the file or folder hides the object: nothing to edit
}
ATTACKS = ("temp", "target", "dangling-pth", "parent")


async def _wizard_write(a: Audit, c: Any, repo: str, url: str, rel: str) -> Answer:
    answers = {"package": "apps/web", "provider": "flux", "repo_url": url, "output_path": rel, "namespace": "web"}
    v = await a.call(c, "start_deployment", {"repo_path": repo, "provider": "flux", "answers": answers})
    for _ in range(8):
        if not v.ok or "session_id" not in v.data:
            return v
        if v.data.get("step") == "preview" and v.data.get("preview"):
            return await a.call(
                c, "answer_questions", {"session_id": v.data["session_id"], "answers": {"delivery": "write"}}
            )
        v = await a.call(
            c, "answer_questions", {"session_id": v.data["session_id"], "answers": {}, "accept_defaults": True}
        )
    return v


async def _run_writer(a: Audit, c: Any, writer: str, repo: str, url: str, ns: str, where: str) -> Answer:
    rel = TARGETS[writer][0]
    if writer == "write_manifests":
        return await a.call(c, "write_manifests", {"repo_path": repo, "output_path": rel, "yaml": CM})
    if writer == "wizard_write":
        return await _wizard_write(a, c, repo, url, rel)
    if writer == "promote":
        args = {"repo_path": repo, "app": "front", "from_env": "staging", "to_env": "production", "mode": "push"}
        return await a.call(c, "promote", args)
    if writer == "scaffold_fleet":
        args = {"repo_path": repo, "provider": "flux", "environments": ["dev"], "repo_url": url, "overwrite": True}
        return await a.call(c, "scaffold_fleet", args)
    # remediate: Flux applies apps/web of this repository first, then the image is changed through Git
    name = ns
    a.kube.ensure_namespace("flux-system")
    a.kube.ensure_namespace(ns)
    a.kube.put(git_repository(name, url))
    a.kube.put(kustomization(name, "./apps/web", name))
    await a.call(
        c, "wait_for_sync", {"kind": "Kustomization", "name": name, "namespace": "flux-system", "timeout_s": 30}
    )
    change = {"type": "set_image", "image": "nginx:1.27"}
    args = {"api_version": "apps/v1", "kind": "Deployment", "name": "web", "namespace": ns, "change": change}
    args |= {"mode": "push", "wait": False, "repo_path": repo if where == "local" else None}
    return await a.call(c, "remediate", args)


async def hostile_symlinks(a: Audit, c: Any, transport: str, wheres: tuple[str, ...] = ("local", "url")) -> None:
    for writer, (rel, parent) in TARGETS.items():
        for where in wheres:
            for attack in ATTACKS:
                if (attack == "parent" and parent is None) or (writer == "remediate" and attack != "temp"):
                    continue
                ns = a.uid("w")
                victim = a.victim(
                    f"{ns}-{writer}-{attack}", {"victim.yaml": overlay("9.9"), "kustomization.yaml": BASE_K}
                )
                links = {
                    "temp": temp_links(rel, str(victim / "victim.yaml")),
                    "target": {rel: str(victim / "victim.yaml")},
                    "dangling-pth": {rel: str(victim / "planted.pth")},
                    "parent": {parent or "": str(victim)},
                }[attack]
                url, work = a.seed(f"sym/{ns}.git", files(ns), links)
                before, site = snapshot(victim), _pth_files()
                ans = await _run_writer(a, c, writer, str(work) if where == "local" else url, url, ns, where)
                diff = changed(before, snapshot(victim)) + sorted(_pth_files() - site)
                what = "refused" if not ans.ok else "written beside the links"
                a.record(
                    PROP,
                    f"{transport} {writer} {where} symlink at {attack}",
                    not diff and ans.answered,
                    f"victim changed: {diff}" if diff else f"{what}: {ans}",
                )


def _pth_files() -> set[str]:
    import site

    return {str(p) for d in site.getsitepackages() for p in Path(d).glob("*.pth")}


ESCAPES = [
    "../x.yaml",
    "../../x.yaml",
    "apps/../../x.yaml",
    "apps/./../../x.yaml",
    "/tmp/x.yaml",
    "//tmp/x.yaml",
    "~/x.yaml",
    "~root/x.yaml",
    ".git/config",
    ".git/hooks/pre-commit",
    ".git/x.yaml",
    "apps/.git/x.yaml",
    ".GIT/config",
    ".git./config",
    "apps/%2e%2e/%2e%2e/x.yaml",
    "..%2fx.yaml",
    "apps\\..\\..\\x.yaml",
    "x\x00.yaml",
    "apps/\u2024\u2024/x.yaml",
    "\uff0e\uff0e/x.yaml",
    "C:\\x.yaml",
    "file:///tmp/x.yaml",
    "apps/" + "a/" * 200 + "x.yaml",
    "a" * 300 + ".yaml",
    " ../x.yaml",
    "../x.yaml ",
    "./../x.yaml",
    "..",
    ".",
    "",
    "apps/",
    "apps/x.yaml/",
    "$HOME/x.yaml",
    "${HOME}/x.yaml",
    "apps/*/x.yaml",
    ":/x.yaml",
    ".gitmodules",
    ".git\\config",
    "apps/\n../x.yaml",
    "apps/../.git/config",
]


async def path_escapes(a: Audit, c: Any, transport: str) -> None:
    """Every path argument that names a place: outside the roots nothing is written, nothing read
    back (the victim's canary never comes back), and every call is answered."""
    canary = "CANARY-7d1e-outside-every-root"
    victim = a.victim(a.uid("esc-"), {"victim.yaml": f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {canary}\n"})
    url, work = a.seed(f"esc/{a.uid('e')}.git", files())
    before = snapshot(victim)
    git_before = snapshot(work / ".git")
    count = 0
    for rel in [*ESCAPES, str(victim / "victim.yaml"), f"../../outside/{victim.name}/victim.yaml"]:
        for repo in (str(work), url):
            ans = await a.call(c, "write_manifests", {"repo_path": repo, "output_path": rel, "yaml": CM})
            count += 1
            a.record(PROP, f"{transport} write_manifests output_path {rel[:40]!r} {repo[:4]}", ans.answered, str(ans))
    for rel in ["../x.yaml", str(victim / "victim.yaml"), ".git/config", "*", "apps/../../outside"]:
        ans = await a.call(c, "commit_and_push", {"repo_path": str(work), "paths": [rel], "message": "escape"})
        a.record(PROP, f"{transport} commit_and_push path {rel[:40]!r}", ans.answered, str(ans))
    reads = [
        ("validate_manifests", {"path": str(victim / "victim.yaml")}),
        ("validate_manifests", {"path": str(work / ".." / ".." / "outside" / victim.name / "victim.yaml")}),
        ("detect_packages", {"repo_path": str(victim)}),
        ("detect_packages", {"repo_path": str(a.roots / ".." / "outside")}),
        ("start_deployment", {"repo_path": str(victim)}),
        ("list_providers", {"repo_path": str(victim)}),
        (
            "find_owner",
            {"api_version": "v1", "kind": "ConfigMap", "name": "x", "namespace": "d", "repo_path": str(victim)},
        ),
        ("push_artifact", {"path": str(victim), "oci_url": "oci://127.0.0.1:1/x:1"}),
        ("write_manifests", {"repo_path": str(victim), "output_path": "x.yaml", "yaml": CM}),
        ("write_manifests", {"repo_path": "/", "output_path": "tmp/x.yaml", "yaml": CM}),
        ("scaffold_fleet", {"repo_path": str(victim), "provider": "flux", "environments": ["dev"]}),
        ("generate_manifests", {"provider": "flux", "repo_path": str(victim), "package": ".", "output_path": "x.yaml"}),
    ]
    for tool, args in reads:
        ans = await a.call(c, tool, args)
        count += 1
        a.record(PROP, f"{transport} {tool} outside the roots", ans.answered and canary not in ans.text, str(ans))
    diff = changed(before, snapshot(victim))
    a.record(PROP, f"{transport} victim after {count} path escapes", not diff, str(diff))
    git_diff = [p for p in changed(git_before, snapshot(work / ".git")) if p in ("config", "hooks/pre-commit")]
    a.record(PROP, f"{transport} .git/config and hooks after the escapes", not git_diff, str(git_diff))


async def clone_cache(a: Audit, c: Any, cache: Path) -> None:
    """Item 5: the clone cache (inside an allowed root here, as with the default HOME) is never a
    repo_path, and its location is never told."""
    url, _ = a.seed(f"cache/{a.uid('c')}.git", files())
    ans = await a.call(c, "write_manifests", {"repo_path": url, "output_path": "apps/kept.yaml", "yaml": CM})
    a.record("item 5: clone cache", "a kept change by URL (sets the cache up)", ans.ok, str(ans))
    repos = (p for p in cache.rglob("*") if (p.is_dir() and (p / ".git").exists()) or p.name.endswith(".git"))
    places = [cache, *repos]
    places += [p for p in (cache / "work", cache / "repos", cache / "kept") if p.exists()]
    seen = set()
    for place in places[:12]:
        if place in seen:
            continue
        seen.add(place)
        before = snapshot(cache / "repos")
        for tool, args in (
            ("write_manifests", {"repo_path": str(place), "output_path": "apps/poison.yaml", "yaml": CM}),
            ("commit_and_push", {"repo_path": str(place), "paths": ["apps/kept.yaml"], "message": "poison"}),
            ("detect_packages", {"repo_path": str(place)}),
        ):
            ans = await a.call(c, tool, args)
            leaked = str(cache) in ans.text or str(cache.resolve()) in ans.text
            name = f"{tool} in the cache ({place.relative_to(cache.parent)})"
            a.record("item 5: clone cache", name, not ans.ok and not leaked, str(ans))
        a.record(
            "item 5: clone cache",
            f"cache repos unchanged after {place.name}",
            not changed(before, snapshot(cache / "repos")),
        )
