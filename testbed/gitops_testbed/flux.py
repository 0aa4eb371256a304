"""Flux on the testbed: the CRDs of the pinned controllers, and source-, kustomize- and
helm-controller as plain processes (KUBECONFIG = admin, own 127.0.0.1 ports, no leader election)."""

from __future__ import annotations

import time
from pathlib import Path

from . import build
from .plane import Plane
from .procs import free_port, http_ok, wait_until

NAMESPACE = "flux-system"
# (build component, Go module, binary) of each controller.
CONTROLLERS = (
    ("flux", "github.com/fluxcd/source-controller", "source-controller"),
    ("flux", "github.com/fluxcd/kustomize-controller", "kustomize-controller"),
    ("flux-helm", "github.com/fluxcd/helm-controller", "helm-controller"),
)
FLUX_RELEASE = "v2.9.3"  # the flux2 release whose manifests pin these controller versions


def crd_files() -> list[Path]:
    files: list[Path] = []
    for component, module, _ in CONTROLLERS:
        files += sorted((build.module_dir(component, module) / "config" / "crd" / "bases").glob("*.yaml"))
    return files


def start_flux(plane: Plane, timeout: float = 120) -> None:
    """Apply the CRDs, start the three controllers and wait until each reports ready."""
    t0 = time.monotonic()
    plane.apply(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {NAMESPACE}\n")
    files = crd_files()
    plane.apply("\n---\n".join(f.read_text() for f in files), timeout=timeout)
    # <group>_<plural>.yaml holds the CRD <plural>.<group>
    names = [".".join(reversed(f.stem.split("_", 1))) for f in files]
    plane.kubectl("wait", "--for=condition=Established", f"--timeout={int(timeout)}s",
                  *(f"crd/{n}" for n in names), timeout=timeout + 10)  # fmt: skip
    env = {"KUBECONFIG": plane.admin_kubeconfig, "RUNTIME_NAMESPACE": NAMESPACE}
    storage = plane.state / "flux-storage"
    storage.mkdir(exist_ok=True)
    started = []
    for _component, module, binary in CONTROLLERS:
        health = free_port()
        args = [plane.bin(binary), f"--metrics-addr=127.0.0.1:{free_port()}", f"--health-addr=127.0.0.1:{health}",
                "--enable-leader-election=false", "--log-encoding=json", "--concurrent=4"]  # fmt: skip
        if binary == "source-controller":
            addr = f"127.0.0.1:{free_port()}"
            args += [f"--storage-path={storage}", f"--storage-addr={addr}", f"--storage-adv-addr={addr}"]
            plane.info["flux_storage"] = addr
        proc = plane.procs.start(binary, args, env=env, cwd=plane.state)
        started.append((proc, health))
        # The version the binary says it was built from (its embedded Go build info).
        plane.info[binary] = build.module_versions(Path(plane.bin(binary))).get(module, "unknown")
    for proc, health in started:
        wait_until(lambda h=health: http_ok(f"http://127.0.0.1:{h}/readyz"), f"{proc.name} /readyz", timeout, proc)
    plane.info["flux"] = FLUX_RELEASE
    plane.info["flux_start_s"] = f"{time.monotonic() - t0:.1f}"
    plane.layers.append("flux")
    plane.save()
