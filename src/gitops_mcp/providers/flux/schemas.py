"""Flux's built-in schema rules: the fields of the Flux kinds this project generates or edits.

Used to validate manifests when no CRD schema is at hand (no cluster, no ``GITOPS_MCP_CRD_DIR``).
"""

from __future__ import annotations

from gitops_mcp.manifests.validation.schema import (
    BOOL,
    DUR,
    INT,
    LABEL,
    NAME,
    OBJ_ANY,
    STR,
    STR_LIST,
    BuiltinRules,
    KindRule,
    Schema,
    array,
    enum,
    obj,
)

_SRC_DUR: Schema = {
    "type": "string",
    "pattern": r"^([0-9]+(\.[0-9]+)?(ms|s|m))+$",
    "description": "a duration in ms, s or m",
}
_NAME_REF = obj({"name": NAME}, ["name"])
_GIT_REF = obj({"branch": STR, "tag": STR, "semver": STR, "commit": STR, "name": STR})
_SOURCE_COMMON = {"interval": DUR, "suspend": BOOL, "timeout": _SRC_DUR, "secretRef": _NAME_REF}


def _ref(*kinds: str) -> Schema:
    """A reference to another object (``sourceRef``, ``chartRef``) of one of ``kinds``."""
    return obj({"kind": enum(*kinds), "name": NAME, "namespace": LABEL, "apiVersion": STR}, ["kind", "name"])


RULES: BuiltinRules = {
    ("source.toolkit.fluxcd.io/v1", "GitRepository"): KindRule(
        obj(
            {
                **_SOURCE_COMMON,
                "url": {"type": "string", "pattern": r"^(http|https|ssh)://.*$"},
                "ref": _GIT_REF,
                "provider": enum("generic", "azure", "github", "aws"),
                "ignore": STR,
                "recurseSubmodules": BOOL,
                "sparseCheckout": STR_LIST,
                "include": array(OBJ_ANY),
                "proxySecretRef": OBJ_ANY,
                "verify": OBJ_ANY,
                "serviceAccountName": STR,
            },
            ["interval", "url"],
        ),
    ),
    ("source.toolkit.fluxcd.io/v1", "HelmRepository"): KindRule(
        obj(
            {
                **_SOURCE_COMMON,
                "url": {"type": "string", "pattern": r"^(http|https|oci)://.*$"},
                "type": enum("default", "oci"),
                "provider": STR,
                "passCredentials": BOOL,
                "insecure": BOOL,
                "certSecretRef": OBJ_ANY,
                "accessFrom": OBJ_ANY,
            },
            ["url"],
        ),
    ),
    ("source.toolkit.fluxcd.io/v1", "OCIRepository"): KindRule(
        obj(
            {
                **_SOURCE_COMMON,
                "url": {"type": "string", "pattern": r"^oci://.*$"},
                "ref": obj({"tag": STR, "semver": STR, "semverFilter": STR, "digest": STR}),
                "layerSelector": obj({"mediaType": STR, "operation": enum("extract", "copy")}),
                "provider": STR,
                "insecure": BOOL,
                "verify": OBJ_ANY,
                "serviceAccountName": STR,
                "certSecretRef": OBJ_ANY,
                "proxySecretRef": OBJ_ANY,
                "ignore": STR,
            },
            ["interval", "url"],
        ),
    ),
    ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"): KindRule(
        obj(
            {
                "interval": DUR,
                "retryInterval": DUR,
                "timeout": DUR,
                "path": STR,
                "prune": BOOL,
                "wait": BOOL,
                "force": BOOL,
                "suspend": BOOL,
                "targetNamespace": LABEL,
                "sourceRef": _ref("OCIRepository", "GitRepository", "Bucket", "ExternalArtifact"),
                "dependsOn": array(obj({"name": NAME, "namespace": LABEL, "readyExpr": STR}, ["name"])),
                "healthChecks": array(OBJ_ANY),
                "patches": array(OBJ_ANY),
                "images": array(OBJ_ANY),
                "postBuild": OBJ_ANY,
                "decryption": OBJ_ANY,
                "components": STR_LIST,
                "commonMetadata": OBJ_ANY,
                "namePrefix": STR,
                "nameSuffix": STR,
                "serviceAccountName": STR,
                "kubeConfig": OBJ_ANY,
                "deletionPolicy": STR,
                "healthCheckExprs": array(OBJ_ANY),
                "ignoreMissingComponents": BOOL,
            },
            ["interval", "prune", "sourceRef"],
        ),
        name_in_label=True,
    ),
    ("helm.toolkit.fluxcd.io/v2", "HelmRelease"): KindRule(
        obj(
            {
                "interval": DUR,
                "timeout": DUR,
                "suspend": BOOL,
                "releaseName": {"type": "string", "maxLength": 53},
                "targetNamespace": LABEL,
                "storageNamespace": LABEL,
                "serviceAccountName": STR,
                "chart": obj(
                    {
                        "spec": obj(
                            {
                                "chart": STR,
                                "version": STR,
                                "interval": DUR,
                                "reconcileStrategy": enum("ChartVersion", "Revision"),
                                "sourceRef": _ref("HelmRepository", "GitRepository", "Bucket"),
                                "valuesFiles": STR_LIST,
                                "ignoreMissingValuesFiles": BOOL,
                                "verify": OBJ_ANY,
                            },
                            ["chart", "sourceRef"],
                        ),
                        "metadata": OBJ_ANY,
                    },
                    ["spec"],
                ),
                "chartRef": _ref("OCIRepository", "HelmChart", "ExternalArtifact"),
                "install": obj(
                    {
                        "createNamespace": BOOL,
                        "crds": STR,
                        "remediation": OBJ_ANY,
                        "strategy": OBJ_ANY,
                        "timeout": DUR,
                        "disableWait": BOOL,
                        "replace": BOOL,
                    },
                    open=True,
                ),
                "upgrade": OBJ_ANY,
                "rollback": OBJ_ANY,
                "uninstall": OBJ_ANY,
                "test": OBJ_ANY,
                "values": OBJ_ANY,
                "valuesFrom": array(OBJ_ANY),
                "dependsOn": array(OBJ_ANY),
                "driftDetection": OBJ_ANY,
                "postRenderers": array(OBJ_ANY),
                "kubeConfig": OBJ_ANY,
                "maxHistory": INT,
                "persistentClient": BOOL,
                "commonMetadata": OBJ_ANY,
            },
            ["interval"],
            one_of=[["chart", "chartRef"]],
        ),
        name_in_label=True,
    ),
    ("notification.toolkit.fluxcd.io/v1beta3", "Provider"): KindRule(
        obj(
            {
                "type": enum(
                    "slack",
                    "discord",
                    "msteams",
                    "rocket",
                    "generic",
                    "generic-hmac",
                    "github",
                    "gitlab",
                    "gitea",
                    "bitbucketserver",
                    "bitbucket",
                    "azuredevops",
                    "googlechat",
                    "googlepubsub",
                    "webex",
                    "sentry",
                    "azureeventhub",
                    "telegram",
                    "lark",
                    "matrix",
                    "opsgenie",
                    "alertmanager",
                    "grafana",
                    "githubdispatch",
                    "pagerduty",
                    "datadog",
                    "nats",
                    "zulip",
                    "otel",
                ),
                "channel": {"type": "string", "maxLength": 2048},
                "username": {"type": "string", "maxLength": 2048},
                "address": {"type": "string", "maxLength": 2048},
                "timeout": DUR,
                "interval": DUR,
                "proxy": STR,
                "secretRef": _NAME_REF,
                "certSecretRef": _NAME_REF,
                "proxySecretRef": _NAME_REF,
                "serviceAccountName": STR,
                "commitStatusExpr": STR,
                "suspend": BOOL,
            },
            ["type"],
        ),
    ),
    ("notification.toolkit.fluxcd.io/v1beta3", "Alert"): KindRule(
        obj(
            {
                "providerRef": _NAME_REF,
                "eventSeverity": enum("info", "error"),
                "eventSources": array(
                    obj(
                        {
                            "kind": enum(
                                "Bucket",
                                "GitRepository",
                                "Kustomization",
                                "HelmRelease",
                                "HelmChart",
                                "HelmRepository",
                                "ImageRepository",
                                "ImagePolicy",
                                "ImageUpdateAutomation",
                                "OCIRepository",
                                "ArtifactGenerator",
                                "ExternalArtifact",
                            ),
                            "name": {"type": "string", "maxLength": 253},
                            "namespace": LABEL,
                            "apiVersion": STR,
                            "matchLabels": OBJ_ANY,
                        },
                        ["kind", "name"],
                    ),
                ),
                "eventMetadata": OBJ_ANY,
                "inclusionList": STR_LIST,
                "exclusionList": STR_LIST,
                "summary": {"type": "string", "maxLength": 255},
                "suspend": BOOL,
            },
            ["eventSources", "providerRef"],
        ),
    ),
}
