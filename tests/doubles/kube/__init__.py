"""The fake Kubernetes API server: :class:`FakeKube` (HTTP) over :class:`~doubles.kube.store.Store`."""

from doubles.kube.api import FakeKube, Request
from doubles.kube.resources import DEFAULT_RESOURCES, ApiError, Resource

__all__ = ["DEFAULT_RESOURCES", "ApiError", "FakeKube", "Request", "Resource"]
