"""Safe defaults for every git command this project runs.

Whatever a repository's own config says, no command may run a transport helper (``ext::``),
an fsmonitor hook, or a protocol other than the ones a remote can legitimately use, and every
path given after ``--`` is a literal path, never a pattern or pathspec magic (``*``, ``:/``,
``:(glob)``). The options go on the command line (``-c``, which outranks every config file) and
into the environment (``GIT_ALLOW_PROTOCOL``, which outranks every ``protocol.*.allow``;
``GIT_LITERAL_PATHSPECS``).
"""

from __future__ import annotations

from typing import Any

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
