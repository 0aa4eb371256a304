"""The API server's own validation of built-in kinds, the little of it the tests meet (seen on the
testbed's kube-apiserver 1.37): a workload's container names must be lowercase RFC 1123 labels."""

from __future__ import annotations

import re

from doubles.kube.resources import ApiError, Obj, Resource

_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_LABEL_RULE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
_WORKLOADS = {("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "DaemonSet"), ("apps", "ReplicaSet")}


def check(r: Resource, obj: Obj) -> None:
    """Raise the API server's 422 Invalid for what it refuses, e.g. ``Deployment.apps "web" is invalid:
    spec.template.spec.containers[0].name: Invalid value: "Web": a lowercase RFC 1123 label must ...``."""
    if (r.group, r.kind) not in _WORKLOADS:
        return
    pod = (((obj.get("spec") or {}).get("template") or {}).get("spec")) or {}
    errors = []
    for field in ("initContainers", "containers"):
        for i, c in enumerate(pod.get(field) or []):
            name = c.get("name") if isinstance(c, dict) else None
            if isinstance(name, str) and (len(name) > 63 or not _LABEL.fullmatch(name)):
                errors.append(f'spec.template.spec.{field}[{i}].name: Invalid value: "{name}": {_LABEL_RULE}')
    if errors:
        said = errors[0] if len(errors) == 1 else f"[{', '.join(errors)}]"
        raise ApiError(422, "Invalid", f'{r.kind}.{r.group} "{obj["metadata"]["name"]}" is invalid: {said}')
