"""Safe defaults for every git command this project runs.

Whatever a repository's own config says, no command may run a transport helper (``ext::``),
an fsmonitor hook, or a protocol other than the ones a remote can legitimately use, and every
path given after ``--`` is a literal path, never a pattern or pathspec magic (``*``, ``:/``,
``:(glob)``). The options go on the command line (``-c``, which outranks every config file) and
into the environment (``GIT_ALLOW_PROTOCOL``, which outranks every ``protocol.*.allow``;
``GIT_LITERAL_PATHSPECS``).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from typing import Any

from gitops_mcp.errors import GitError, UserInputError

SAFE_CONFIG: tuple[str, ...] = (
    "protocol.ext.allow=never",
    "core.fsmonitor=false",
    "core.untrackedCache=false",
)
SAFE_ENV: dict[str, str] = {
    "GIT_ALLOW_PROTOCOL": "https:http:ssh:file",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_LITERAL_PATHSPECS": "1",
}
# Also for the clone cache only: a cached repository never runs hooks.
CACHE_CONFIG: tuple[str, ...] = ("core.hooksPath=/dev/null",)
# For every repository whose own configuration is not trusted (the clone cache's always; a local
# one unless GITOPS_MCP_TRUST_REPO_GIT_CONFIG, default: only over stdio): no hook, no signing
# (so no gpg.program), no credential helper or askpass program, no external diff; and
# :func:`untrusted_config` empties every filter, merge and diff driver's command.
UNTRUSTED_CONFIG: tuple[str, ...] = (
    "core.hooksPath=/dev/null",
    "commit.gpgSign=false",
    "tag.gpgSign=false",
    "push.gpgSign=false",
    "credential.helper=",
    "core.askPass=",
    "diff.external=",
)
_DRIVER = re.compile(r"^(filter|merge|diff)\.(.+)\.(clean|smudge|process|driver|textconv|command)$", re.IGNORECASE)


def git_argv(*args: str, extra_config: tuple[str, ...] = ()) -> list[str]:
    """``["git", "-c", ..., *args]`` with the safe options first."""
    opts: list[str] = []
    for item in (*SAFE_CONFIG, *extra_config):
        opts += ["-c", item]
    return ["git", *opts, *args]


def git_runner(path: str, extra_config: tuple[str, ...] = ()) -> Any:
    """A GitPython ``Git`` command runner for ``path`` whose persistent commands (``cat-file``)
    also run with the safe options and environment."""
    import git

    runner = git.cmd.Git(path)
    runner.set_persistent_git_options(c=[*SAFE_CONFIG, *extra_config])
    runner.update_environment(**SAFE_ENV)
    return runner


def untrusted_config(cwd: str) -> tuple[str, ...]:
    """:data:`UNTRUSTED_CONFIG` and, for each filter/merge/diff driver configured in any file git
    reads in ``cwd`` (attributes in the tree, which a caller can write, choose the driver), its
    commands set empty, which git takes as "no command" (filters also not ``required``).

    Raises:
        GitError: a driver's name cannot be overridden on the command line.
    """
    proc = subprocess.run(
        git_argv("config", "-z", "--name-only", "--get-regexp", r"^(filter|merge|diff)\."),
        cwd=cwd,
        env={**os.environ, **SAFE_ENV},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    out = list(UNTRUSTED_CONFIG)
    for key in (k.strip() for k in proc.stdout.split("\0")):
        m = _DRIVER.match(key)
        if not m:
            continue
        if "=" in key:
            raise GitError(f"the git driver {key[:200]!r} cannot be turned off (its name holds '='); rename it")
        out.append(f"{key}=")
        if m.group(1).lower() == "filter":
            out.append(f"filter.{m.group(2)}.required=false")
    return tuple(dict.fromkeys(out))


def only_named(changed: Sequence[str], paths: Sequence[str]) -> None:
    """Refuse when a changed file is not one of ``paths`` (a path naming a tracked directory)."""
    named = set(paths)
    extra = [c for c in changed if c not in named]
    if extra:
        shown = ", ".join(extra[:5]) + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
        raise UserInputError(
            f"paths name more than the files given: {shown} would be committed too; name each file. "
            "Nothing was committed"
        )
