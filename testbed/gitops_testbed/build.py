"""Build the testbed's binaries from the pinned wrapper modules in testbed/<module>/.

Each component's binaries go to ~/.cache/gitops-mcp/testbed/<key>/bin, where <key> hashes the
component's go.mod and go.sum, the Go version and the build flags. A component whose binaries are
all there is not built again; only the missing ones are.

The missing components build side by side (GITOPS_TESTBED_BUILD_JOBS, default 3 `go build`s at
once, the longest first): a cold build spends much of its time fetching modules and linking, which
one build alone leaves the other cores idle for. Each build logs its wall and CPU time.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

TESTBED = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("GITOPS_TESTBED_CACHE", Path.home() / ".cache" / "gitops-mcp" / "testbed"))
KUBE_VERSION = "v1.37.2"
_KV = "k8s.io/component-base/version"
_KUBE_LDFLAGS = (
    f"-X {_KV}.gitVersion={KUBE_VERSION} -X {_KV}.gitMajor=1 -X {_KV}.gitMinor=37 "
    f"-X {_KV}.gitTreeState=clean -X {_KV}.buildDate=2026-01-01T00:00:00Z"
)
# Argo CD: argo-cd/v3 v3.6.x says `go 1.27.0`, so its go commands run that toolchain (fetched once through
# the module proxy as golang.org/toolchain); its version ldflags are those of Argo's Makefile, without the
# commit (the module zip does not carry it), so it says v3.6.2+unknown.
ARGOCD_VERSION = "v3.6.2"
ARGOCD_TOOLCHAIN = "go1.27.3"
_AC = "github.com/argoproj/argo-cd/v3/common"
_ARGOCD_LDFLAGS = f"-X {_AC}.version={ARGOCD_VERSION[1:]} -X {_AC}.buildDate=2026-01-01T00:00:00Z"


@dataclass(frozen=True)
class Component:
    """One `go build` in one wrapper module: its packages, and the binaries they make."""

    module: str  # directory under testbed/
    packages: tuple[str, ...]
    binaries: tuple[str, ...]  # the names `go build -o bin/` gives them (last path element)
    ldflags: str = ""
    env: dict[str, str] = field(default_factory=dict)


COMPONENTS: dict[str, Component] = {
    "kube": Component(
        "kube",
        tuple(
            f"k8s.io/kubernetes/cmd/{c}"
            for c in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
        ),
        ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl"),
        _KUBE_LDFLAGS,
    ),
    "etcd": Component("etcd", ("go.etcd.io/etcd/server/v3",), ("server",)),
    "kwok": Component("kwok", ("sigs.k8s.io/kwok/cmd/kwok",), ("kwok",)),
    "flux": Component(
        "flux",
        ("github.com/fluxcd/source-controller", "github.com/fluxcd/kustomize-controller"),
        ("source-controller", "kustomize-controller"),
    ),
    "flux-helm": Component("flux-helm", ("github.com/fluxcd/helm-controller",), ("helm-controller",)),
    "tools": Component(
        "tools", ("helm.sh/helm/v4/cmd/helm", "sigs.k8s.io/kustomize/kustomize/v5"), ("helm", "kustomize")
    ),
    # a trimmed main (testbed/argocd/main.go): application-controller, repo-server, git-ask-pass
    "argocd": Component("argocd", (".",), ("argocd",), _ARGOCD_LDFLAGS, {"GOTOOLCHAIN": ARGOCD_TOOLCHAIN}),
}
# Built names that are not what the testbed calls them (go names etcd's main after its module dir).
RENAME = {("etcd", "server"): "etcd"}
# Which components each testbed layer needs.
LAYERS: dict[str, tuple[str, ...]] = {
    "plane": ("kube", "etcd", "kwok"),
    "flux": ("flux", "flux-helm"),
    "tools": ("tools",),
    "argocd": ("argocd",),
}


def go() -> str:
    found = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if not found:
        raise BuildError("the go command is not on PATH (nor at /usr/local/go/bin/go): install Go 1.26")
    return found


class BuildError(RuntimeError):
    pass


def _flags(c: Component) -> list[str]:
    return ["-trimpath", "-ldflags", f"-s -w {c.ldflags}".strip()]


def go_version() -> str:
    r = subprocess.run([go(), "env", "GOVERSION"], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise BuildError(f"`go env GOVERSION` failed: {r.stderr.strip()}")
    return r.stdout.strip()


def key(name: str, c: Component, gover: str | None = None) -> str:
    h = hashlib.sha256()
    mod = TESTBED / c.module
    for f in ("go.mod", "go.sum"):
        h.update((mod / f).read_bytes())
    h.update("\0".join([gover or go_version(), *_flags(c), *c.packages]).encode())
    h.update(repr(sorted(c.env.items())).encode())
    return f"{name}-{h.hexdigest()[:16]}"


def bin_names(name: str, c: Component) -> dict[str, str]:
    """Build output name -> name in the cache."""
    return {b: RENAME.get((name, b), b) for b in c.binaries}


def binaries(name: str, gover: str | None = None) -> dict[str, Path]:
    c = COMPONENTS[name]
    d = CACHE / key(name, c, gover) / "bin"
    return {final: d / final for final in bin_names(name, c).values()}


def missing(names: list[str]) -> list[str]:
    gover = go_version()
    return [n for n in names if not all(p.exists() for p in binaries(n, gover).values())]


# Longest cold build first, so the short ones fill in beside it (CPU seconds measured on 2 cores).
ORDER = ("argocd", "kube", "flux", "tools", "flux-helm", "kwok", "etcd")


def jobs() -> int:
    raw = os.environ.get("GITOPS_TESTBED_BUILD_JOBS", "3")
    if not raw.isdigit() or int(raw) < 1:
        raise BuildError(f"GITOPS_TESTBED_BUILD_JOBS must be a whole number >= 1, not {raw!r}")
    return int(raw)


def build(names: list[str], log=print) -> dict[str, Path]:
    """Make sure every named component is built; returns binary name -> path for all of them."""
    gover = go_version()
    out: dict[str, Path] = {}
    todo: list[tuple[str, dict[str, Path]]] = []
    for name in names:
        paths = binaries(name, gover)
        if not all(p.exists() for p in paths.values()):
            todo.append((name, paths))
        out.update(paths)
    todo.sort(key=lambda t: ORDER.index(t[0]) if t[0] in ORDER else len(ORDER))
    lock = threading.Lock()

    def say(m: str) -> None:
        with lock:
            log(m)

    if todo:
        t0 = time.monotonic()
        with ThreadPoolExecutor(max_workers=min(jobs(), len(todo))) as pool:
            futures = [pool.submit(_build_one, name, COMPONENTS[name], paths, say) for name, paths in todo]
            errors = [str(e) for f in futures if (e := f.exception()) is not None]
        if errors:
            raise BuildError("\n".join(errors))
        say(f"built {len(todo)} component(s) in {time.monotonic() - t0:.0f} s")
    return out


def _build_one(name: str, c: Component, paths: dict[str, Path], log) -> None:
    final_dir = next(iter(paths.values())).parent
    tmp = final_dir.parent / f"bin.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false", "GOTOOLCHAIN": "local", **c.env}
    cmd = [go(), "build", *_flags(c), "-o", str(tmp) + "/", *c.packages]
    log(f"building {name} ({', '.join(paths)}) in testbed/{c.module} ...")
    t0 = time.monotonic()
    rc, err, cpu, rss = _run(cmd, cwd=TESTBED / c.module, env=env, timeout=3600)
    if rc != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise BuildError(f"go build of {name} failed:\n{err[-4000:]}")
    for built, final in bin_names(name, c).items():
        (tmp / built).rename(tmp / final)
    if final_dir.exists():
        shutil.rmtree(final_dir)
    tmp.rename(final_dir)
    log(f"built {name} in {time.monotonic() - t0:.0f} s (CPU {cpu:.0f} s, max RSS {rss / 2**20:.1f} GiB)")


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, str, float, int]:
    """Run a build; its exit code, stderr, and the CPU seconds and peak RSS (KiB) of its process tree."""
    with subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as p:
        timer = threading.Timer(timeout, p.kill)
        timer.start()
        try:
            assert p.stderr is not None
            err = p.stderr.read()  # until go exits (its children inherit the pipe and end before it)
            _, status, ru = os.wait4(p.pid, 0)
        finally:
            timer.cancel()
        p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode < 0:
        err += f"\n(killed by signal {-p.returncode}: over {timeout:.0f} s?)"
    return p.returncode, err, ru.ru_utime + ru.ru_stime, ru.ru_maxrss


def module_dir(component: str, module: str) -> Path:
    """Where a module the component requires lies in GOMODCACHE (downloaded if it is not there)."""
    cwd = TESTBED / COMPONENTS[component].module
    env = {**os.environ, "GOFLAGS": "-buildvcs=false", "GOTOOLCHAIN": "local", **COMPONENTS[component].env}
    r = subprocess.run([go(), "mod", "download", "-json", module], cwd=cwd, env=env, capture_output=True,
                       text=True, timeout=600)  # fmt: skip
    if r.returncode != 0:
        raise BuildError(
            f"go mod download {module} (testbed/{COMPONENTS[component].module}) failed: {r.stdout}{r.stderr}"
        )
    return Path(json.loads(r.stdout)["Dir"])


def module_version(component: str, module: str) -> str:
    """The version of a module the component's go.mod pins."""
    for line in (TESTBED / COMPONENTS[component].module / "go.mod").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == module and parts[1].startswith("v"):
            return parts[1]
    raise BuildError(f"{module} is not in testbed/{COMPONENTS[component].module}/go.mod")


_DEP = re.compile(rb"\n(?:mod|dep)\t([^\t\n]+)\t(v[^\t\n]+)")


def module_versions(binary: Path) -> dict[str, str]:
    """The module versions a Go binary was built from (its embedded build info)."""
    data = binary.read_bytes()
    return {m.group(1).decode(): m.group(2).decode() for m in _DEP.finditer(data)}


def main(argv: list[str]) -> int:
    names = argv or list(COMPONENTS)
    unknown = [n for n in names if n not in COMPONENTS]
    if unknown:
        print(f"unknown component(s): {', '.join(unknown)}; known: {', '.join(COMPONENTS)}", file=sys.stderr)
        return 2
    for b, p in build(names, log=lambda m: print(m, file=sys.stderr, flush=True)).items():
        print(f"{b}\t{p}")
    return 0
