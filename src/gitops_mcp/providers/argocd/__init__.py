"""Argo CD: one ``Application`` per deployment."""

from gitops_mcp.providers.argocd.provider import ArgoCDProvider

__all__ = ["ArgoCDProvider"]
