"""The one place external builds run (``kustomize build``, ``kubectl kustomize``, ``helm template``).

Every build runs:

- with its memory bounded (``RLIMIT_DATA``: private writable memory, where a Go program's heap
  lives; ``RLIMIT_AS`` only as a backstop, because Go reserves far more address space than it
  uses), its CPU time bounded (``RLIMIT_CPU``; killed one second after), its output bounded
  (``RLIMIT_FSIZE``) and no core files; ``GOMEMLIMIT`` makes Go collect harder before the limit;
- in a process group of its own, killed as a whole when the wall-clock limit passes;
- in a new network namespace (only a loopback that is down: nothing can be reached, not even
  127.0.0.1): as root with ``unshare(CLONE_NEWNET)``, else in a new user namespace too. Where
  the kernel allows neither, the build is not run unless ``require_netns`` is off;
- with a bare environment: no proxies, no credentials, no kubeconfig, no git or helm
  configuration of the server's user, a private empty home and temporary directory.

Limits and the namespace are set by a small Python shim that then ``exec``\\ s the tool (no
``preexec_fn``: the server has threads, and forking Python code between fork and exec can hang).
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Limit = Literal["memory", "cpu", "time", "output", "network"]

NO_NETNS = 125  # the shim's exit code when no network namespace could be made

_SHIM = r"""
import ctypes, os, resource, sys
mem, cpu, out, net = (int(v) for v in sys.argv[1:5])
for what, soft, hard in ((resource.RLIMIT_DATA, mem, mem), (resource.RLIMIT_AS, mem + (4 << 30), mem + (4 << 30)),
                         (resource.RLIMIT_CPU, cpu, cpu + 1), (resource.RLIMIT_FSIZE, out, out),
                         (resource.RLIMIT_CORE, 0, 0)):
    resource.setrlimit(what, (soft, hard))
if net:
    libc = ctypes.CDLL(None, use_errno=True)
    NEWNET, NEWUSER = 0x40000000, 0x10000000
    if libc.unshare(NEWNET) != 0:
        uid, gid = os.getuid(), os.getgid()
        if libc.unshare(NEWUSER | NEWNET) == 0:
            for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
                try:
                    with open(f"/proc/self/{name}", "w") as fh:
                        fh.write(text)
                except OSError:
                    pass
        elif net == 1:
            sys.stderr.write("cannot make a network namespace: " + os.strerror(ctypes.get_errno()) + "\n")
            os._exit(125)
        else:
            sys.stderr.write("gitops-mcp: network not isolated\n")
os.execv(sys.argv[5], sys.argv[5:])
"""


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 1024
    cpu_seconds: int = 60
    wall_seconds: float = 60.0
    output_mb: int = 16
    require_netns: bool = True


@dataclass(frozen=True)
class BuildRun:
    """What one build did. ``limit``: the limit that stopped it, if one did."""

    returncode: int
    stdout: bytes
    stderr: str
    limit: Limit | None
    peak_rss_kb: int
    cpu_seconds: float
    seconds: float
    isolated: bool
    pid: int

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.limit is None

    def problem(self, limits: Limits) -> str | None:
        """Why it stopped, in a sentence naming the limit and its setting; None when it did not stop
        on a limit."""
        return {
            None: None,
            "memory": f"it used more than {limits.memory_mb} MB of memory (GITOPS_MCP_BUILD_MEMORY_MB)",
            "cpu": f"it used more than {limits.cpu_seconds} s of CPU time (GITOPS_MCP_BUILD_CPU_SECONDS)",
            "time": f"it did not finish within {limits.wall_seconds:g} s (GITOPS_MCP_BUILD_TIMEOUT_SECONDS)",
            "output": f"it wrote more than {limits.output_mb} MB (GITOPS_MCP_BUILD_OUTPUT_MB)",
            "network": f"no network namespace can be made here ({self.stderr.strip()[:200]}); builds run only "
            "without network (GITOPS_MCP_BUILD_REQUIRE_NETNS=false runs them with remote references refused "
            "and no proxy or credentials, but not isolated)",
        }[self.limit]


def build_env(home: Path, limits: Limits) -> dict[str, str]:
    """The whole environment of a build: nothing of the server's own but ``PATH``."""
    dead = "http://127.0.0.1:9"  # should a build run without a namespace: no proxy leads out
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(home),
        "TMPDIR": str(home),
        "LANG": "C.UTF-8",
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_DATA_HOME": str(home / "data"),
        "KUBECONFIG": os.devnull,
        "HELM_REGISTRY_CONFIG": os.devnull,
        "HELM_REPOSITORY_CONFIG": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_ALLOW_PROTOCOL": "none",
        "GIT_TERMINAL_PROMPT": "0",
        "HTTP_PROXY": dead,
        "HTTPS_PROXY": dead,
        "ALL_PROXY": dead,
        "http_proxy": dead,
        "https_proxy": dead,
        "all_proxy": dead,
        "NO_PROXY": "",
        "no_proxy": "",
        "GOMEMLIMIT": f"{max(limits.memory_mb * 3 // 4, 16)}MiB",
    }


def run_build(argv: Sequence[str], cwd: Path, limits: Limits) -> BuildRun:
    """Run ``argv`` (its first item an absolute path) in ``cwd`` within ``limits``."""
    tool = str(argv[0])
    net = 1 if limits.require_netns else 2
    with tempfile.TemporaryDirectory(prefix="gitops-mcp-build-") as tmp:
        home = Path(tmp)
        out_path, err_path = home / "stdout", home / "stderr"
        shim = [sys.executable, "-I", "-S", "-c", _SHIM]
        shim += [str(limits.memory_mb << 20), str(limits.cpu_seconds), str(limits.output_mb << 20), str(net)]
        started = time.monotonic()
        with out_path.open("wb") as out, err_path.open("wb") as err:
            proc = subprocess.Popen(
                [*shim, tool, *argv[1:]],
                cwd=cwd,
                env=build_env(home, limits),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
                close_fds=True,
            )
            status, usage, timed_out = _wait(proc, limits.wall_seconds)
            _kill_group(proc.pid)  # anything it left behind in its group
        seconds = time.monotonic() - started
        code = os.waitstatus_to_exitcode(status)
        proc.returncode = code
        stdout = _read(out_path, limits.output_mb << 20)
        stderr = _read(err_path, 64 << 10, tail=True).decode("utf-8", "replace")
    cpu = usage.ru_utime + usage.ru_stime
    isolated = net == 1 or "gitops-mcp: network not isolated" not in stderr
    stderr = stderr.replace("gitops-mcp: network not isolated\n", "")
    limit = _limit(code, timed_out, cpu, stderr, limits)
    return BuildRun(code, stdout, stderr, limit, int(usage.ru_maxrss), cpu, seconds, isolated, proc.pid)


def _wait(proc: subprocess.Popen[bytes], timeout: float) -> tuple[int, resource.struct_rusage, bool]:
    """Reap ``proc``: (wait status, resource usage, whether ``timeout`` passed first and its group
    was killed). A blocking ``wait4`` in a thread: no polling delay."""
    reaped: list[tuple[int, int, resource.struct_rusage]] = []
    waiter = threading.Thread(target=lambda: reaped.append(os.wait4(proc.pid, 0)), daemon=True)
    waiter.start()
    waiter.join(timeout)
    timed_out = waiter.is_alive()
    if timed_out:
        _kill_group(proc.pid)
        waiter.join()
    return reaped[0][1], reaped[0][2], timed_out


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _read(path: Path, most: int, tail: bool = False) -> bytes:
    """At most ``most`` bytes of ``path``; with ``tail``, its start and its end when it is longer."""
    with path.open("rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        fh.seek(0)
        if not tail or size <= most:
            return fh.read(most)
        head = fh.read(most // 8)
        fh.seek(size - (most - most // 8))
        return head + b"\n...\n" + fh.read()


def _limit(code: int, timed_out: bool, cpu: float, stderr: str, limits: Limits) -> Limit | None:
    if timed_out:
        return "time"
    if code == NO_NETNS and stderr.startswith("cannot make a network namespace"):
        return "network"
    if code == -signal.SIGXCPU or (code == -signal.SIGKILL and cpu >= limits.cpu_seconds - 0.5):
        return "cpu"
    if code == -signal.SIGXFSZ or (code != 0 and "file too large" in stderr.lower()):
        return "output"
    low = stderr.lower()
    if code != 0 and any(sign in low for sign in _OUT_OF_MEMORY):
        return "memory"
    return None


# How a build says it ran out of memory. Go has several ways: the allocator's own words, or a new
# thread whose stack cannot be mapped under the limit (cgo: EAGAIN; the runtime: errno=12 or 11),
# followed by a register dump whose last line says nothing.
_OUT_OF_MEMORY = (
    "out of memory",
    "cannot allocate memory",
    "memoryerror",
    "pthread_create failed",
    "failed to create new os thread",
)


def which(*names: str) -> str | None:
    """The first of ``names`` on PATH, as an absolute path."""
    for name in names:
        found = shutil.which(name)
        if found:
            return str(Path(found).absolute())
    return None
