"""The MCP layer: tools, resources and prompts over :class:`gitops_mcp.services.Services`.

Thin on purpose: each registration module (read tools, wizard tools, write tools, resources
and prompts) checks nothing itself, calls a use case in a worker thread and returns its
pydantic result. Domain errors become ``is_error`` results whose text says what to do.
"""

from __future__ import annotations

from mcp.server import MCPServer

from gitops_mcp import __version__
from gitops_mcp.scrub import install_log_scrubbing, register_secrets
from gitops_mcp.server import resources, tools_read, tools_wizard, tools_write
from gitops_mcp.server.auth import make_auth
from gitops_mcp.services import Services
from gitops_mcp.settings import Settings

INSTRUCTIONS = """\
gitops-mcp deploys and repairs Kubernetes workloads the GitOps way (Argo CD or Flux): every change \
goes through Git, and nothing is applied to the cluster directly. Deploy: detect_packages(path); \
start_deployment(path, intent, provider); answer_questions(session_id, answers) until the preview \
(YAML, target file, diff, validation); show it to the user; then answer delivery (write, push or \
pull_request) and wait. Question ids are stable and can be answered ahead; generate_manifests does \
the same in one call without writing. Verify: get_sync_status, reconcile, wait_for_sync(revision=SHA). \
Repair: find_owner names the GitOps objects and the Git file behind a live object; remediate changes \
that file (pull request by default) and verifies it live; promote and rollback move versions \
between environments and back. Paths are absolute local paths (or git URLs for detect_packages and \
start_deployment)."""


def build_server(settings: Settings, services: Services | None = None) -> MCPServer:
    """Build the MCP server. Write tools are not registered when ``settings.read_only``."""
    svc = services or Services(settings)
    token_verifier, auth = make_auth(settings)
    register_secrets(settings.secret_values())
    mcp = MCPServer(
        "gitops-mcp",
        version=__version__,
        title="GitOps MCP",
        instructions=INSTRUCTIONS,
        log_level=settings.log_level,
        token_verifier=token_verifier,
        auth=auth,
    )
    install_log_scrubbing()
    tools_read.register(mcp, svc, settings)
    tools_wizard.register(mcp, svc, settings)
    if not settings.read_only:
        tools_write.register(mcp, svc, settings)
    resources.register(mcp, svc, settings)
    return mcp
