"""Flux: sources (GitRepository, HelmRepository, OCIRepository) plus Kustomization or HelmRelease."""

from gitops_mcp.providers.flux.provider import FluxProvider

__all__ = ["FluxProvider"]
