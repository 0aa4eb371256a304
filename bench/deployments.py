"""Would the wizard's default deployments work? Every package of the six shared fixtures, with both
providers, driven with accept_defaults up to the preview, then judged by rules written here
independently of the generator (what Flux's and Argo CD's controllers would do with the file):

- namespaces: a Flux targetNamespace that rewrites namespaces the package declares; objects left
  without a namespace; a namespace nothing creates (the package, the generated file, CreateNamespace,
  a HelmRelease's createNamespace, the bootstrap's other directories, or a system namespace);
- clashes: a generated object with the kind/name/namespace of one in the output directory (or
  applied from it); a second GitRepository in a Flux bootstrap that serves the repository;
- already deployed: a committed Kustomization or Application applies the package or a parent;
- placement: a Flux file outside every bootstrap of a bootstrapped repository, another bootstrap
  not mentioned; an Argo CD file in an example folder nothing applies;
- conventions: sibling Kustomizations' shared serviceAccountName not followed, their dependsOn
  chain ignored, Flux API versions no longer served;
- engine specifics: Argo CD CRDs over 256 KiB without ServerSideApply, Jsonnet arguments or
  imports unresolved, chart dependencies not vendored; Flux refuses objects with only generateName;
- prerequisites: a kind from a CRD the package does not bring (what it builds, a chart's literal
  templates) must be named in the preview (then the deployment counts as working where it is
  installed), else it is silent.

Each deployment is: works (no problem), said (every problem named in the preview's notes,
validation, or a question asked instead), or silent (a problem the preview does not name).

    .venv/bin/python bench/deployments.py [--verbose] [--repo DIR ...] [--no-fixtures]
    PYTHONPATH=<other checkout>/src .venv/bin/python bench/deployments.py   # e.g. the baseline
"""

from __future__ import annotations

import argparse
import json
import posixpath
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from deployments_repo import Repo, docs_of

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"
FIXTURES = SHARED / "fixtures"
ORIGINS = {
    "argocd-example-apps": "https://github.com/argoproj/argocd-example-apps",
    "flux2-kustomize-helm-example": "https://github.com/fluxcd/flux2-kustomize-helm-example",
    "podinfo": "https://github.com/stefanprodan/podinfo",
    "flux2-multi-tenancy": "https://github.com/fluxcd/flux2-multi-tenancy",
    "flux2-monitoring-example": "https://github.com/fluxcd/flux2-monitoring-example",
    "gitops-istio": "https://github.com/stefanprodan/gitops-istio",
}
SYSTEM = {"default", "kube-system", "kube-public", "kube-node-lease", "flux-system", "argocd"}
SERVED = {"source.toolkit.fluxcd.io": "v1", "kustomize.toolkit.fluxcd.io": "v1", "helm.toolkit.fluxcd.io": "v2"}
CLUSTER_KINDS = {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "ClusterIssuer",
                 "StorageClass", "PersistentVolume", "PriorityClass", "APIService", "IngressClass", "RuntimeClass",
                 "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "PodSecurityPolicy", "CSIDriver",
                 "ClusterPolicy", "GatewayClass"}  # fmt: skip
# Kubernetes API versions the API server no longer serves (the judge's own list)
GONE = {"extensions/v1beta1", "apps/v1beta1", "apps/v1beta2", "networking.k8s.io/v1beta1", "batch/v1beta1",
        "rbac.authorization.k8s.io/v1beta1", "apiextensions.k8s.io/v1beta1", "policy/v1beta1",
        "admissionregistration.k8s.io/v1beta1", "autoscaling/v2beta1", "autoscaling/v2beta2",
        "storage.k8s.io/v1beta1", "scheduling.k8s.io/v1beta1"}  # fmt: skip
EXAMPLES = ("example", "sample", "demo", "test", "doc")


BUILTIN = {"", "apps", "batch", "autoscaling", "policy", "networking.k8s.io", "rbac.authorization.k8s.io",
           "extensions", "apiregistration.k8s.io", "flowcontrol.apiserver.k8s.io",
           "storage.k8s.io", "apiextensions.k8s.io", "admissionregistration.k8s.io", "scheduling.k8s.io",
           "coordination.k8s.io", "discovery.k8s.io", "node.k8s.io", "certificates.k8s.io"}  # fmt: skip
FLUX_GROUPS = set(SERVED) | {"notification.toolkit.fluxcd.io", "image.toolkit.fluxcd.io"}
OWN = {"flux": BUILTIN | FLUX_GROUPS, "argocd": BUILTIN | {"argoproj.io"}}


def custom_group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def chart_kinds(chart: Path, provider: str) -> set[str]:
    """CRD kinds a chart's templates spell out, outside a conditional block (the judge's own reading)."""
    found: set[str] = set()
    for f in sorted((chart / "templates").glob("*.y*ml")) if (chart / "templates").is_dir() else []:
        for doc in f.read_text(encoding="utf-8", errors="replace").split("\n---"):
            head = doc.split("\nkind:", 1)[0]
            if "{{- if" in head or "{{ if" in head or "{{- with" in head:
                continue
            api = next((ln.split(":", 1)[1].strip() for ln in doc.splitlines() if ln.startswith("apiVersion:")), "")
            kind = next((ln.split(":", 1)[1].strip() for ln in doc.splitlines() if ln.startswith("kind:")), "")
            if api and kind and "{{" not in api + kind and custom_group(api) not in OWN[provider]:
                found.add(kind)
    return found


def judge(repo: Repo, origin: str, pkg: dict[str, Any], provider: str, view: Any) -> tuple[str, list[str]]:
    if view.preview is None:
        return ("said" if view.questions else "silent"), [f"stopped at {view.step}: {[q.id for q in view.questions]}"]
    pv = view.preview
    if not pv.validation.valid:
        return "said", ["invalid: " + pv.validation.describe()[:100]]
    check = pv.package_check
    notes = " ".join([*pv.notes, check.message if check is not None and not check.ok else ""]).lower()
    gen = [d for d in yaml.safe_load_all(pv.yaml) if isinstance(d, dict)]
    out, out_dir = pv.output_path, posixpath.dirname(pv.output_path)
    problems: list[tuple[str, list[str]]] = []  # (problem, words the notes must hold to name it)
    path, ptype = pkg["path"], pkg["type"]
    built = repo.build(path) if ptype in ("kustomize", "manifests") else []
    spaces = {n or (x.get("metadata") or {}).get("namespace") for x, n in built if x.get("kind") not in CLUSTER_KINDS}
    unplaced = None in spaces
    declared: set[str] = {n for n in spaces if n is not None}
    creates = {(x.get("metadata") or {}).get("name") for x, _ in built if x.get("kind") == "Namespace"}
    creates |= {(d.get("metadata") or {}).get("name") for d in gen if d.get("kind") == "Namespace"}
    boots = repo.flux_bootstraps()
    in_boot = next((b for b in boots if out_dir == b or out_dir.startswith(b + "/")), None)
    if in_boot:  # what the bootstrap's other directories create
        for f, _, p in repo.appliers(origin):
            if f.startswith(in_boot + "/"):
                creates |= {
                    (x.get("metadata") or {}).get("name") for x, _ in repo.build(p) if x.get("kind") == "Namespace"
                }
    needed: set[str] = set(declared)
    for d in gen:
        spec = d.get("spec") or {}
        if d.get("kind") == "Kustomization":
            target = spec.get("targetNamespace")
            if target and declared - {target}:
                problems.append((f"targetNamespace {target} rewrites {sorted(declared)}", ["targetnamespace"]))
            if target:
                needed = {target}
            elif unplaced:
                problems.append(("objects without a namespace and no targetNamespace", ["namespace"]))
        if d.get("kind") == "HelmRelease" and (spec.get("install") or {}).get("createNamespace"):
            creates.add(spec.get("targetNamespace"))
        if d.get("kind") == "Application":
            dest = str((spec.get("destination") or {}).get("namespace"))  # None reads "None", as before
            needed |= {dest} if (unplaced or ptype not in ("kustomize", "manifests")) else set()
            if "CreateNamespace=true" in ((spec.get("syncPolicy") or {}).get("syncOptions") or []):
                creates.add(dest)
    problems += [(f"namespace {ns} is created by nothing", [ns]) for ns in sorted(needed - creates - SYSTEM)]
    taken: dict[tuple[Any, Any, Any], str] = {}
    for f, docs in repo.files.items():
        if f != out and (posixpath.dirname(f) == out_dir or f.startswith(out_dir + "/")):
            for d in docs:
                m = d.get("metadata") or {}
                taken[(d.get("kind"), m.get("name"), m.get("namespace"))] = f
    for d in gen:
        m = d.get("metadata") or {}
        key = (d.get("kind"), m.get("name"), m.get("namespace"))
        if key in taken:
            problems.append((f"{key} clashes with {taken[key]}", ["already exists", str(m.get("name"))]))
    if provider == "flux" and in_boot and any(d.get("kind") == "GitRepository" for d in gen):
        problems.append(("a second GitRepository for the repository the bootstrap serves", ["__never__"]))
    owners = [(f, n, p) for f, n, p in repo.appliers(origin) if f != out and repo.includes(p, path)]
    if owners:
        f, n, _ = owners[0]
        problems.append((f"already applied by {n} in {f}", [n.lower(), f.lower()]))
    if provider == "flux" and boots and not in_boot:
        problems.append((f"outside the bootstraps {boots}", ["output_path"]))
    other = next((b for b in boots if b != in_boot), None)
    if provider == "flux" and other and in_boot and other.lower() not in notes:  # works for the one chosen if said
        problems.append((f"another bootstrap {other} not mentioned", [other.lower()]))
    if provider == "argocd" and any(w in out_dir.lower() for w in EXAMPLES):
        problems.append((f"{out} in an example folder nothing applies", ["__never__"]))
    sibs = [d for f, docs in repo.files.items() if posixpath.dirname(f) == out_dir and f != out for d in docs]
    ks_sibs = [d for d in sibs if d.get("kind") == "Kustomization" and "interval" in (d.get("spec") or {})]
    sas = {(d.get("spec") or {}).get("serviceAccountName") for d in ks_sibs}
    mine = [d for d in gen if d.get("kind") in ("Kustomization", "HelmRelease")]
    shared_sa = provider == "flux" and ks_sibs and len(sas) == 1 and None not in sas
    if shared_sa and any((d.get("spec") or {}).get("serviceAccountName") != next(iter(sas)) for d in mine):
        problems.append(("sibling serviceAccountName not followed", ["serviceaccountname"]))
    chain = provider == "flux" and any((d.get("spec") or {}).get("dependsOn") for d in ks_sibs)
    if chain and not any((d.get("spec") or {}).get("dependsOn") for d in mine) and not owners:
        problems.append(("siblings' dependsOn chain ignored", ["depend"]))
    if provider == "flux":
        for x, _ in built:
            group, _, version = str(x.get("apiVersion")).rpartition("/")
            if group in SERVED and version != SERVED[group]:
                problems.append((f"{x.get('kind')} {x.get('apiVersion')} no longer served", ["no longer serve"]))
                break
    applied = built
    recurse = next((d for d in gen if d.get("kind") == "Application"), {}).get("spec", {}).get("source", {})
    if provider == "argocd" and ptype == "manifests" and not (recurse.get("directory") or {}).get("recurse"):
        applied = [(x, None) for f, docs in repo.files.items() if posixpath.dirname(f) == path for x in docs]
    custom = {str(x.get("kind")) for x, _ in applied if custom_group(str(x.get("apiVersion"))) not in OWN[provider]}
    custom |= chart_kinds(repo.root / path, provider) if ptype == "helm" else set()
    custom -= {"Namespace", "CustomResourceDefinition"} | {  # the package brings its own CRDs
        str(((x.get("spec") or {}).get("names") or {}).get("kind")) for x, _ in built
    }
    # a kind from a CRD the package does not bring: works where it is installed, which only the
    # preview can tell the user (it is a problem when the preview does not name it)
    problems += [(f"kind {k} from a CRD not named", [k.lower()]) for k in sorted(custom) if k.lower() not in notes]
    gone = sorted({str(x.get("apiVersion")) for x, _ in applied} & GONE)
    problems += [(f"{g} no longer served by Kubernetes", [g]) for g in gone]
    if provider == "flux":
        hooks = [x for x, _ in built if not (x.get("metadata") or {}).get("name")]
        if hooks:
            problems.append((f"{hooks[0].get('kind')} has only generateName: Flux refuses it", ["generatename"]))
    if provider == "argocd":
        app = next((d for d in gen if d.get("kind") == "Application"), {})
        spec = app.get("spec") or {}
        opts = (spec.get("syncPolicy") or {}).get("syncOptions") or []
        big = [x for x, _ in built if x.get("kind") == "CustomResourceDefinition" and len(json.dumps(x)) > 262144]
        if big and "ServerSideApply=true" not in opts:
            problems.append(("CRD over 256 KiB without ServerSideApply", ["serversideapply"]))
        if ptype == "jsonnet":
            for f in sorted((repo.root / path).glob("*.jsonnet")):
                text = f.read_text(encoding="utf-8")
                head = text.lstrip()
                tlas = ((spec.get("source") or {}).get("directory") or {}).get("jsonnet", {}).get("tlas")
                if head.startswith("function") and "=" not in head[: head.find(")")] and not tlas:
                    problems.append((f"{f.name}: top-level arguments without defaults", ["tlas"]))
    if ptype == "helm":
        chart = docs_of(repo.root / path / "Chart.yaml")
        deps = (chart[0].get("dependencies") if chart else None) or docs_of(repo.root / path / "requirements.yaml")
        if deps and not (repo.root / path / "charts").is_dir():
            problems.append(("chart dependencies not vendored", ["dependenc"]))
    if not problems:
        return "works", []
    silent = [p for p, words in problems if not all(w in notes for w in words)]
    return ("silent" if silent else "said"), [("SILENT " if p in silent else "said ") + p for p, _ in problems]


def other(d: Path) -> tuple[str, Path, str]:
    """(name, directory, origin) of a repository given with --repo."""
    d = d.resolve()
    url = subprocess.run(["git", "-C", str(d), "config", "--get", "remote.origin.url"], capture_output=True, text=True)
    named = d.parent.name if d.name == "repo" and "+" in d.parent.name else d.name
    origin = url.stdout.strip().removesuffix(".git") or "https://github.com/" + named.replace("+", "/", 1)
    return named.split("+")[-1], d, origin


def export(git_dir: Path, root: Path) -> None:
    """HEAD's tree of a git directory into ``root`` (a snapshot may lack its largest blobs: skipped)."""
    git = ["git", f"--git-dir={git_dir}"]
    listing = subprocess.run([*git, "ls-tree", "-r", "-z", "HEAD"], capture_output=True, check=True).stdout
    for entry in filter(None, listing.split(b"\0")):
        meta, _, name = entry.partition(b"\t")
        mode, kind, sha = meta.split()
        blob = subprocess.run([*git, "cat-file", "blob", sha.decode()], capture_output=True)
        if kind != b"blob" or mode == b"120000" or blob.returncode != 0:
            continue
        target = root / name.decode()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(blob.stdout)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument(
        "--repo",
        action="append",
        default=[],
        metavar="DIR",
        help="also judge this repository (a work tree or a git directory; its origin from remote.origin.url, "
        "else github.com/<owner>/<name> of a DIR named owner+name/repo)",
    )
    ap.add_argument("--no-fixtures", action="store_true", help="only the --repo repositories")
    args = ap.parse_args()
    sources = [] if args.no_fixtures else [(n, FIXTURES / n, o) for n, o in ORIGINS.items()]
    sources += [other(Path(d)) for d in args.repo]
    if not args.no_fixtures and not FIXTURES.is_dir():
        print(f"{FIXTURES} is absent", file=sys.stderr)
        return 2
    from gitops_mcp.detection import detect_packages
    from gitops_mcp.providers import default_registry
    from gitops_mcp.services import Services
    from gitops_mcp.settings import Settings

    counts: Counter[tuple[str, str]] = Counter()
    per_repo: Counter[tuple[str, str]] = Counter()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        app = Services(Settings(allowed_roots=[base], state_dir=base / "s", cache_dir=base / "c", allowed_git_hosts=[]))
        for name, src, origin in sources:
            root = base / name
            if (src / "HEAD").is_file() and not (src / ".git").exists():  # a git directory: its HEAD's tree
                export(src, root)
            else:
                shutil.copytree(src, root, ignore=shutil.ignore_patterns(".git"))
            for cmd in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "fixture"]):
                subprocess.run(["git", "-c", "user.name=b", "-c", "user.email=b@b", *cmd], cwd=root, check=True)
            subprocess.run(["git", "remote", "add", "origin", origin + ".git"], cwd=root, check=True)
            repo = Repo(root)
            report = detect_packages(root, gitops_kinds=default_registry().gitops_kinds())
            for pkg in report.packages:
                for provider in ("flux", "argocd"):
                    reason = default_registry().get(provider).unsupported_reason(pkg.type, "git")
                    if reason:
                        continue
                    v = app.wizard.start(
                        "local", str(root), provider=provider, answers={"package": pkg.path}, accept_defaults=True
                    )
                    for _ in range(4):
                        if (
                            v.step == "preview"
                            or not v.questions
                            or any(q.default is None and q.required for q in v.questions)
                        ):
                            break
                        v = app.wizard.answer("local", v.session_id, {}, accept_defaults=True)
                    verdict, why = judge(repo, origin, pkg.model_dump(), provider, v)
                    app.wizard.cancel("local", v.session_id)  # the server caps open sessions per caller
                    counts[(provider, verdict)] += 1
                    per_repo[(name, verdict)] += 1
                    if args.verbose or verdict == "silent":
                        print(f"{verdict:6} {provider:6} {name}/{pkg.path}: {'; '.join(why)}")
        app.close()
    for name in dict.fromkeys(n for n, _, _ in sources):
        print(f"{name:32} works {per_repo[(name, 'works')]:3}  said {per_repo[(name, 'said')]:3}"
              f"  silent {per_repo[(name, 'silent')]:3}")  # fmt: skip
    total = sum(counts.values())
    for provider in ("flux", "argocd"):
        n = sum(v for (p, _), v in counts.items() if p == provider)
        print(
            f"{provider:6} {n:3} deployments: works {counts[(provider, 'works')]:3}"
            f"  said {counts[(provider, 'said')]:3}  silent {counts[(provider, 'silent')]:3}"
        )
    works = sum(v for (_, verdict), v in counts.items() if verdict == "works")
    said = sum(v for (_, verdict), v in counts.items() if verdict == "said")
    print(
        f"all    {total:3} deployments: works {works} ({works / total:.0%}), said {said}, silent {total - works - said}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
