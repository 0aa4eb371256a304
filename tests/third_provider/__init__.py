"""A third GitOps engine, defined only here: "kapp-gitops" with one kind (``App`` in
``kapp.example.test/v1``), its own questions, generator, built-in schema rule and status
normaliser. Registering it needs no change to any module of gitops_mcp (see test_third_provider.py).
"""

from gitops_mcp.providers.defaults import ProviderDefaults
from third_provider.provider import API, GROUP, KappProvider

__all__ = ["API", "GROUP", "KappProvider", "ProviderDefaults"]
