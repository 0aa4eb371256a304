"""gitops-mcp: deploy and repair Kubernetes workloads through Git with Argo CD or Flux.

The MCP layer lives in :mod:`gitops_mcp.server`; everything else (detection, providers,
manifests, sessions, git) is plain Python that knows nothing of MCP.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
