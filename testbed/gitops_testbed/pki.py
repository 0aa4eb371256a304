"""Certificates and kubeconfigs the way controller-runtime's envtest makes them, with the openssl CLI.

A serving CA and a serving certificate for 127.0.0.1/localhost; a client CA and an admin client
certificate in group system:masters; an RSA key pair that signs and verifies service-account tokens.
(The `cryptography` package is not among the project's dependencies, so the openssl CLI does it.)
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


class PkiError(RuntimeError):
    pass


def _openssl(*args: str, cwd: Path) -> None:
    exe = shutil.which("openssl")
    if not exe:
        raise PkiError("the openssl command is needed to make the testbed's certificates (apt-get install openssl)")
    r = subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise PkiError(f"openssl {args[0]} failed: {r.stderr.strip()}")


def _ca(d: Path, name: str, cn: str) -> None:
    _openssl("genrsa", "-out", f"{name}.key", "2048", cwd=d)
    _openssl(
        "req", "-x509", "-new", "-key", f"{name}.key", "-days", "3650", "-subj", f"/CN={cn}",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-out", f"{name}.crt", cwd=d,
    )  # fmt: skip


def _leaf(d: Path, name: str, ca: str, subj: str, ext: str) -> None:
    _openssl("genrsa", "-out", f"{name}.key", "2048", cwd=d)
    _openssl("req", "-new", "-key", f"{name}.key", "-subj", subj, "-out", f"{name}.csr", cwd=d)
    (d / f"{name}.ext").write_text(ext)
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key", "-CAcreateserial",
        "-days", "3650", "-extfile", f"{name}.ext", "-out", f"{name}.crt", cwd=d,
    )  # fmt: skip


@dataclass(frozen=True)
class Pki:
    dir: Path

    def path(self, name: str) -> Path:
        return self.dir / name

    @property
    def serving_ca(self) -> Path:
        return self.dir / "serving-ca.crt"

    @property
    def client_ca(self) -> Path:
        return self.dir / "client-ca.crt"


def make(d: Path) -> Pki:
    """Write every certificate and key the control plane needs into d (once; kept if present)."""
    d.mkdir(parents=True, exist_ok=True)
    if (d / "done").exists():
        return Pki(d)
    _ca(d, "serving-ca", "gitops-testbed-serving-ca")
    _leaf(
        d, "apiserver", "serving-ca", "/CN=kube-apiserver",
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,DNS:kubernetes,DNS:kubernetes.default,"
        "DNS:kubernetes.default.svc\n",
    )  # fmt: skip
    _ca(d, "client-ca", "gitops-testbed-client-ca")
    client_ext = (
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n"
    )
    _leaf(d, "admin", "client-ca", "/O=system:masters/CN=testbed-admin", client_ext)
    _openssl("genrsa", "-out", "sa.key", "2048", cwd=d)
    _openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=d)
    for p in d.iterdir():
        p.chmod(0o600)
    (d / "done").write_text("")
    return Pki(d)


def _b64(p: Path) -> str:
    return base64.b64encode(p.read_bytes()).decode()


def kubeconfig(path: Path, server: str, ca: Path, user: str, *, cert: Path | None = None,
               key: Path | None = None, token: str | None = None) -> Path:  # fmt: skip
    """A one-context kubeconfig (JSON is valid YAML) with the credentials inlined, mode 0600."""
    creds: dict[str, str] = {"token": token} if token else {
        "client-certificate-data": _b64(cert),  # type: ignore[arg-type]
        "client-key-data": _b64(key),  # type: ignore[arg-type]
    }  # fmt: skip
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "testbed", "cluster": {"server": server, "certificate-authority-data": _b64(ca)}}],
        "users": [{"name": user, "user": creds}],
        "contexts": [{"name": user, "context": {"cluster": "testbed", "user": user}}],
        "current-context": user,
        "preferences": {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(cfg, indent=1))
    tmp.chmod(0o600)
    tmp.rename(path)
    return path
