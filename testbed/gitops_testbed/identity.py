"""The identity the server under test uses: the ServiceAccount, ClusterRoles and bindings of
deploy/kubernetes (with registration/), and a kubeconfig holding a token minted for it by the
TokenRequest API, so the project's own RBAC is what the tests run under."""

from __future__ import annotations

from pathlib import Path

from . import pki
from .plane import Plane
from .procs import wait_until

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
FILES = ("namespace.yaml", "serviceaccount.yaml", "rbac.yaml", "registration/rbac.yaml")
NAMESPACE = NAME = "gitops-mcp"


def server_kubeconfig(plane: Plane, duration: str = "24h") -> Path:
    """Apply deploy/kubernetes' identity and RBAC, mint a token, write <state>/gitops-mcp.kubeconfig."""
    plane.apply("\n---\n".join((DEPLOY / f).read_text() for f in FILES))
    token = plane.kubectl("create", "token", NAME, "-n", NAMESPACE, f"--duration={duration}").strip()
    path = pki.kubeconfig(plane.state / "gitops-mcp.kubeconfig", plane.server, plane.state / "pki" / "serving-ca.crt",
                          NAME, token=token)  # fmt: skip
    # RBAC is cached by the authorizer's informers: wait until the binding is effective.
    wait_until(lambda: plane.kubectl("auth", "can-i", "list", "customresourcedefinitions", kubeconfig=str(path))
               .strip() == "yes", "the gitops-mcp ServiceAccount's RBAC to take effect", 30)  # fmt: skip
    plane.info["server_kubeconfig"] = str(path)
    plane.save()
    return path
