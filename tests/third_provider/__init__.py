"""A third GitOps engine, defined only here: "kapp-gitops" with one kind (``App`` in
``kapp.example.test/v1``) implementing every capability of a provider (questions, generator,
built-in rule, reference and policy checks, repository facts, status, reconcile, owners, the
applier after a repair, fleet layout, OCI artifacts), and a simulated kapp controller. Registering
it needs no change to any module of gitops_mcp (see test_third_provider.py).
"""

from third_provider.controller import KappController
from third_provider.provider import API, GROUP, OWNER_LABEL, KappProvider

__all__ = ["API", "GROUP", "OWNER_LABEL", "KappController", "KappProvider"]
