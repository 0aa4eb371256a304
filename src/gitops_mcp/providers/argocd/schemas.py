"""Argo CD's built-in schema rule: the fields of the ``Application`` this project generates.

Used to validate manifests when no CRD schema is at hand (no cluster, no ``GITOPS_MCP_CRD_DIR``).
"""

from __future__ import annotations

from gitops_mcp.manifests.validation.schema import BOOL, INT, OBJ_ANY, STR, STR_LIST, BuiltinRules, KindRule, array, obj

_APPLICATION = KindRule(
    obj(
        {
            "project": STR,
            "source": obj(
                {
                    "repoURL": STR,
                    "path": STR,
                    "targetRevision": STR,
                    "chart": STR,
                    "ref": STR,
                    "name": STR,
                    "helm": obj(
                        {
                            "valueFiles": STR_LIST,
                            "valuesObject": OBJ_ANY,
                            "values": STR,
                            "releaseName": STR,
                            "parameters": array(OBJ_ANY),
                            "ignoreMissingValueFiles": BOOL,
                            "skipCrds": BOOL,
                            "namespace": STR,
                            "version": STR,
                            "passCredentials": BOOL,
                        },
                        open=True,
                    ),
                    "directory": obj({"recurse": BOOL, "include": STR, "exclude": STR, "jsonnet": OBJ_ANY}),
                    "kustomize": OBJ_ANY,
                    "plugin": OBJ_ANY,
                },
                ["repoURL"],
            ),
            "sources": array(OBJ_ANY),
            "destination": obj({"server": STR, "name": STR, "namespace": STR}),
            "syncPolicy": obj(
                {
                    "automated": obj({"prune": BOOL, "selfHeal": BOOL, "allowEmpty": BOOL, "enabled": BOOL}),
                    "syncOptions": STR_LIST,
                    "retry": OBJ_ANY,
                    "managedNamespaceMetadata": OBJ_ANY,
                }
            ),
            "ignoreDifferences": array(OBJ_ANY),
            "info": array(OBJ_ANY),
            "revisionHistoryLimit": INT,
            "sourceHydrator": OBJ_ANY,
        },
        ["project", "destination"],
        one_of=[["source", "sources"]],
    ),
)

RULES: BuiltinRules = {("argoproj.io/v1alpha1", "Application"): _APPLICATION}
