"""The control plane: etcd, kube-apiserver (RBAC on), kube-controller-manager, kube-scheduler, and
kwok with one fake Node so that Pods become Ready and Deployments Available."""

from __future__ import annotations

import json
import ssl
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import build, pki
from .procs import Procs, TestbedError, free_port, http_ok, insecure_loopback, wait_until

NODE = "testbed-node"
# kwok's own stage files (from its module): a Node that turns Ready and keeps its lease, Pods that
# turn Ready, complete and go away when deleted.
KWOK_STAGES = (
    "node/fast/node-initialize.yaml",
    "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "pod/fast/pod-ready.yaml",
    "pod/fast/pod-complete.yaml",
    "pod/fast/pod-delete.yaml",
)


@dataclass
class Plane:
    state: Path
    bins: dict[str, str] = field(default_factory=dict)
    server: str = ""
    admin_kubeconfig: str = ""
    layers: list[str] = field(default_factory=list)
    info: dict[str, str] = field(default_factory=dict)  # versions and addresses, for logs and status

    @property
    def procs(self) -> Procs:
        return Procs(self.state)

    def bin(self, name: str) -> str:
        return self.bins[name]

    def save(self) -> None:
        (self.state / "plane.json").write_text(json.dumps(self.__dict__, default=str, indent=1))

    @classmethod
    def load(cls, state: Path) -> Plane | None:
        f = state / "plane.json"
        if not f.exists():
            return None
        d = json.loads(f.read_text())
        return cls(Path(d["state"]), d["bins"], d["server"], d["admin_kubeconfig"], d["layers"], d["info"])

    def kubectl(self, *args: str, input: str | None = None, timeout: float = 60, kubeconfig: str | None = None) -> str:
        cmd = [self.bin("kubectl"), f"--kubeconfig={kubeconfig or self.admin_kubeconfig}", *args]
        try:
            r = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise TestbedError(f"kubectl {' '.join(args)} timed out after {timeout:.0f} s") from e
        if r.returncode != 0:
            raise TestbedError(f"kubectl {' '.join(args)} failed: {r.stderr.strip()}")
        return r.stdout

    def apply(self, manifest: str, timeout: float = 60) -> str:
        return self.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=manifest, timeout=timeout)

    def ssl_context(self) -> ssl.SSLContext:
        d = self.state / "pki"
        ctx = ssl.create_default_context(cafile=str(d / "serving-ca.crt"))
        ctx.load_cert_chain(str(d / "admin.crt"), str(d / "admin.key"))
        return ctx

    def ready(self) -> bool:
        return http_ok(f"{self.server}/readyz", self.ssl_context())


def start_plane(state: Path, bins: dict[str, Path], timeout: float = 120) -> Plane:
    """Start etcd → kube-apiserver → KCM + scheduler → kwok + one Node; return when the Node is Ready."""
    t0 = time.monotonic()
    state.mkdir(parents=True, exist_ok=True)
    plane = Plane(state, {k: str(v) for k, v in bins.items()})
    procs = plane.procs
    certs = pki.make(state / "pki")
    p = certs.path

    etcd_port, peer_port = free_port(), free_port()
    etcd_url = f"http://127.0.0.1:{etcd_port}"
    etcd = procs.start("etcd", [
        plane.bin("etcd"), "--name=testbed", f"--data-dir={state / 'etcd'}",
        f"--listen-client-urls={etcd_url}", f"--advertise-client-urls={etcd_url}",
        f"--listen-peer-urls=http://127.0.0.1:{peer_port}", f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
        f"--initial-cluster=testbed=http://127.0.0.1:{peer_port}", "--unsafe-no-fsync=true", "--log-level=warn",
    ])  # fmt: skip

    api_port = free_port()
    plane.server = f"https://127.0.0.1:{api_port}"
    admin = pki.kubeconfig(state / "admin.kubeconfig", plane.server, certs.serving_ca, "testbed-admin",
                           cert=p("admin.crt"), key=p("admin.key"))  # fmt: skip
    plane.admin_kubeconfig = str(admin)
    wait_until(lambda: http_ok(f"{etcd_url}/health", expect=b'"health":"true"'), "etcd /health", timeout, etcd)
    api = procs.start("kube-apiserver", [
        plane.bin("kube-apiserver"), f"--etcd-servers={etcd_url}", f"--secure-port={api_port}",
        "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--endpoint-reconciler-type=none",
        f"--tls-cert-file={p('apiserver.crt')}", f"--tls-private-key-file={p('apiserver.key')}",
        f"--client-ca-file={certs.client_ca}", "--authorization-mode=RBAC", "--allow-privileged=true",
        "--service-cluster-ip-range=10.0.0.0/24", f"--service-account-issuer={plane.server}",
        f"--service-account-key-file={p('sa.pub')}", f"--service-account-signing-key-file={p('sa.key')}",
        f"--cert-dir={state / 'apiserver'}",
    ])  # fmt: skip
    ctx = plane.ssl_context()
    wait_until(lambda: http_ok(f"{plane.server}/readyz", ctx), "kube-apiserver /readyz", timeout, api)

    common = [f"--kubeconfig={admin}", f"--authentication-kubeconfig={admin}", f"--authorization-kubeconfig={admin}",
              "--leader-elect=false", "--bind-address=127.0.0.1"]  # fmt: skip
    kcm_port, sched_port = free_port(), free_port()
    kcm = procs.start("kube-controller-manager", [
        plane.bin("kube-controller-manager"), *common, f"--secure-port={kcm_port}",
        f"--cert-dir={state / 'kcm'}", f"--root-ca-file={certs.serving_ca}",
        f"--service-account-private-key-file={p('sa.key')}", "--use-service-account-credentials=true",
        "--controllers=*,-node-ipam-controller",
    ])  # fmt: skip
    sched = procs.start("kube-scheduler", [
        plane.bin("kube-scheduler"), *common, f"--secure-port={sched_port}", f"--cert-dir={state / 'scheduler'}",
    ])  # fmt: skip

    kwok_cfg = state / "kwok.yaml"
    stages_dir = Path(build.module_dir("kwok", "sigs.k8s.io/kwok")) / "kustomize" / "stage"
    kwok_cfg.write_text("\n---\n".join((stages_dir / s).read_text() for s in KWOK_STAGES))
    kwok = procs.start("kwok", [
        plane.bin("kwok"), f"--kubeconfig={admin}", f"--config={kwok_cfg}", "--manage-all-nodes=true",
        f"--server-address=127.0.0.1:{free_port()}", "--node-ip=127.0.0.1", "--node-lease-duration-seconds=40",
        "--cidr=10.0.1.0/24",
    ])  # fmt: skip
    insecure = insecure_loopback()
    wait_until(lambda: http_ok(f"https://127.0.0.1:{kcm_port}/healthz", insecure), "KCM /healthz", timeout, kcm)
    wait_until(
        lambda: http_ok(f"https://127.0.0.1:{sched_port}/healthz", insecure), "scheduler /healthz", timeout, sched
    )
    plane.apply(NODE_MANIFEST)
    wait_until(lambda: _node_ready(plane), f"Node {NODE} Ready (kwok)", timeout, kwok)
    # Pods need the namespace's default ServiceAccount (made by KCM's serviceaccount controller).
    wait_until(lambda: plane.kubectl("get", "serviceaccount", "default", "-n", "default", "-o", "name"),
               "ServiceAccount default/default (KCM)", timeout, kcm)  # fmt: skip
    version = json.loads(plane.kubectl("version", "-o", "json"))["serverVersion"]["gitVersion"]
    plane.info.update(kubernetes=version, server=plane.server, plane_start_s=f"{time.monotonic() - t0:.1f}")
    plane.layers.append("plane")
    plane.save()
    return plane


def _node_ready(plane: Plane) -> bool:
    out = plane.kubectl("get", "node", NODE, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}")
    return out.strip() == "True"


NODE_MANIFEST = f"""
apiVersion: v1
kind: Node
metadata:
  name: {NODE}
  annotations:
    node.alpha.kubernetes.io/ttl: "0"
    kwok.x-k8s.io/node: fake
  labels:
    kubernetes.io/hostname: {NODE}
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
status:
  allocatable: {{cpu: "32", memory: 256Gi, pods: "250"}}
  capacity: {{cpu: "32", memory: 256Gi, pods: "250"}}
"""
