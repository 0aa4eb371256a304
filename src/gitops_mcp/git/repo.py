"""The git adapter: every git command this project runs goes through :class:`GitRepo`.

Built on GitPython's command runner (one short-lived ``git`` process per call, reaped when it
returns), not on its object database, which keeps ``cat-file`` processes and file handles
open in long-running servers. Values that come from callers are checked so that nothing
starting with ``-`` reaches git as an option, and paths always follow ``--``.
"""

from __future__ import annotations

import os
import posixpath
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gitops_mcp.errors import GitAuthError, GitError, PushRefused, UserInputError
from gitops_mcp.git.safety import git_argv, git_runner, only_named, untrusted_config
from gitops_mcp.scrub import scrub
from gitops_mcp.syntax import is_ref_name

_SHA = re.compile(r"^[0-9a-f]{40}$")
_AUTH_FAILED = (
    "Authentication failed",
    "could not read Username",
    "could not read Password",
    "Permission denied (publickey",
    "HTTP Basic: Access denied",
    "returned error: 401",
    "returned error: 403",
    "terminal prompts disabled",
    "Invalid username or password",
)
_REJECTED = (
    "[rejected]",
    "non-fast-forward",
    "fetch first",
    "Updates were rejected",
    "(stale info)",
    "cannot lock ref",
    "failed to update ref",
)


def refusal_reason(push_output: str) -> str:
    """What the remote said when it refused a push: its ``remote:`` lines and the bracketed reason."""
    said = [line[len("remote:") :].strip() for line in push_output.splitlines() if line.startswith("remote:")]
    said = [s for s in said if s]
    m = re.search(r"\[remote rejected\] \(([^)\n]*)\)", push_output)
    if m:
        said.append(f"({m.group(1)})")
    return scrub(" ".join(said))[:1000] or "no reason given"


def check_ref(name: str, what: str = "branch") -> str:
    """A branch/ref name as ``git check-ref-format --branch`` accepts, never an option."""
    if not is_ref_name(name):
        raise UserInputError(f"{what} {name!r} is not a valid git ref name")
    return name


def check_sha(value: str) -> str:
    v = value.strip().lower()
    if not re.match(r"^[0-9a-f]{7,40}$", v):
        raise UserInputError(f"{value!r} is not a commit SHA (7 to 40 hex digits)")
    return v


@dataclass(frozen=True)
class Identity:
    name: str
    email: str


class GitRepo:
    """A local working tree. Use as a context manager, or call :meth:`close`."""

    def __init__(
        self,
        path: Path,
        timeout: float = 300.0,
        extra_config: tuple[str, ...] = (),
        scratch: Path | None = None,
        *,
        toplevel: bool = False,
        sparse: bool | None = None,
        trusted: bool = False,
    ) -> None:
        """``toplevel``: ``path`` is known to be the top of a working tree (not asked of git);
        ``sparse``: whether it is a sparse checkout, when known (None: asked when it matters);
        ``trusted``: the repository's own hooks, drivers, signing and credential helpers may run
        (else see :func:`gitops_mcp.git.safety.untrusted_config`)."""
        import git  # GitPython, imported lazily

        self._git_mod = git
        self.timeout = timeout
        self._config = extra_config
        self.scratch = scratch  # where temporary files go (default: the system's temporary directory)
        self._sparse = sparse
        if toplevel:
            self.root = path.resolve()
        else:
            probe = git_runner(str(path), extra_config)
            try:
                top = probe.execute(self._argv("rev-parse", "--show-toplevel"), kill_after_timeout=timeout)
            except git.GitCommandError as exc:
                raise UserInputError(f"{path} is not inside a git working tree") from exc
            self.root = Path(str(top)).resolve()
        if not trusted:
            self._config = (*extra_config, *untrusted_config(str(self.root)))
        self._git = git_runner(str(self.root), self._config)

    def _argv(self, *args: str) -> list[str]:
        return git_argv(*args, extra_config=self._config)

    def close(self) -> None:
        self._git.clear_cache()

    def __enter__(self) -> GitRepo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- running -----------------------------------------------------------------------------------
    def run(self, *args: str, env: Mapping[str, str] | None = None, check: bool = True) -> str:
        code, out, err = self.run_full(*args, env=env)
        if check and code != 0:
            raise self.error(args, err or out)
        return out

    def run_full(self, *args: str, env: Mapping[str, str] | None = None) -> tuple[int, str, str]:
        git = self._git_mod
        try:
            code, out, err = self._git.execute(
                self._argv(*args),
                env=dict(env or {}),
                with_extended_output=True,
                with_exceptions=False,
                kill_after_timeout=self.timeout,
            )
        except git.GitCommandError as exc:  # timeout or failure to start
            raise GitError(f"git {args[0]} failed: {scrub(str(exc.stderr or exc))}") from None
        return int(code), str(out), str(err)

    def error(self, args: Sequence[str], stderr: str) -> GitError:
        text = scrub(stderr.strip())[-2000:]
        if any(s in stderr for s in _AUTH_FAILED):
            last = text.splitlines()[-1] if text else "no detail"
            return GitAuthError(
                f"git {args[0]}: the remote refused the credentials ({last}). "
                "Set GITOPS_MCP_GIT_TOKEN (and GITOPS_MCP_GIT_USERNAME) for HTTPS remotes, or use an ssh:// "
                "remote with your SSH agent"
            )
        return GitError(f"git {args[0]} failed: {text or 'no output'}")

    # -- reading -------------------------------------------------------------------------------------
    def current_branch(self) -> str | None:
        code, out, _ = self.run_full("symbolic-ref", "--quiet", "--short", "HEAD")
        return out.strip() if code == 0 else None

    def rev(self, ref: str) -> str | None:
        code, out, _ = self.run_full("rev-parse", "--verify", "--quiet", "--end-of-options", ref + "^{commit}")
        return out.strip() if code == 0 else None

    def remote_url(self, name: str = "origin") -> str | None:
        code, out, _ = self.run_full("config", "--get", f"remote.{name}.url")
        return out.strip() if code == 0 and out.strip() else None

    def identity(self, configured: Identity | None) -> Identity:
        if configured is not None:
            return configured
        name = self.run_full("config", "user.name")[1].strip()
        email = self.run_full("config", "user.email")[1].strip()
        return Identity(name or "gitops-mcp", email or "gitops-mcp@localhost")

    def changed(self, paths: Sequence[str]) -> list[str]:
        """Paths (of ``paths``) that differ from HEAD in the working tree or index, untracked included
        (both names of a staged rename)."""
        out = self.run("status", "--porcelain=v1", "-z", "--untracked-files=all", "--", *paths)
        found: set[str] = set()
        entries = iter(out.split("\0"))
        for e in entries:
            if len(e) > 3:
                found.add(e[3:])
                if e[0] in "RC":  # the original name follows as an entry of its own
                    found.add(next(entries, ""))
        found.discard("")
        return sorted(found)

    def is_shallow(self) -> bool:
        return self.run("rev-parse", "--is-shallow-repository").strip() == "true"

    def is_sparse(self) -> bool:
        if self._sparse is None:
            self._sparse = self.run_full("config", "--bool", "--get", "core.sparseCheckout")[1].strip() == "true"
        return self._sparse

    def materialize(self, paths: Sequence[str]) -> None:
        """In a sparse checkout (the clone cache), check out the directories of ``paths`` first."""
        if not self.is_sparse():
            return
        dirs = sorted({posixpath.dirname(p) for p in paths if posixpath.dirname(p)})
        if not dirs:
            return
        with tempfile.TemporaryFile() as fh:  # patterns on stdin: nothing reaches git as an argument
            fh.write("".join(d + "\n" for d in dirs).encode())
            fh.seek(0)
            git = self._git_mod
            try:
                self._git.execute(
                    self._argv("sparse-checkout", "add", "--stdin"), istream=fh, kill_after_timeout=self.timeout
                )
            except git.GitCommandError as exc:
                raise GitError(f"git sparse-checkout failed: {scrub(str(exc.stderr))[-1000:]}") from None

    def blob(self, rev: str, rel: str) -> bytes | None:
        """The exact bytes of ``rel`` in ``rev`` (None: not there)."""
        code, out, _ = self._git.execute(
            self._argv("cat-file", "blob", f"{rev}:{rel}"),
            with_extended_output=True,
            with_exceptions=False,
            strip_newline_in_stdout=False,
            stdout_as_string=False,
            kill_after_timeout=self.timeout,
        )
        return bytes(out) if code == 0 else None

    def tree_of(self, rev: str) -> str:
        return self.run("rev-parse", "--verify", "--end-of-options", rev + "^{tree}").strip()

    def log_paths(self, rev: str, paths: Sequence[str], limit: int = 1) -> list[str]:
        out = self.run("log", f"-n{limit}", "--format=%H", rev, "--", *paths)
        return [line for line in out.splitlines() if _SHA.match(line)]

    def subject(self, sha: str) -> str:
        return self.run("log", "-n1", "--format=%s", sha).strip()

    # -- remotes ------------------------------------------------------------------------------------
    def ls_remote(self, url: str, env: Mapping[str, str], *refs: str) -> dict[str, str]:
        out = self.run("ls-remote", "--symref", "--", url, *refs, env=env)
        result: dict[str, str] = {}
        for line in out.splitlines():
            if line.startswith("ref: "):
                target, _, name = line[5:].partition("\t")
                result["symref:" + name] = target
            else:
                sha, _, name = line.partition("\t")
                result[name] = sha
        return result

    def fetch(self, url: str, refspecs: Sequence[str], env: Mapping[str, str], filter_blobs: bool = False) -> None:
        args = ["fetch", "--no-tags", "--quiet"]
        if filter_blobs:
            args.append("--filter=blob:none")
        self.run(*args, "--", url, *refspecs, env=env)

    def push(self, url: str, refspec: str, env: Mapping[str, str]) -> bool:
        """Push; False when the remote rejected it as not a fast-forward (fetch and retry).

        Raises:
            PushRefused: the remote refused the update itself (protected branch, server hook).
            GitAuthError, GitError: anything else.
        """
        code, out, err = self.run_full("push", "--porcelain", "--", url, refspec, env=env)
        if code == 0:
            return True
        text = out + "\n" + err
        if any(s in text for s in _AUTH_FAILED):
            raise self.error(("push",), text)
        if any(s in text for s in _REJECTED):
            return False
        if "[remote rejected]" in text:
            raise PushRefused(f"the remote refused the push: {refusal_reason(text)}", refusal_reason(text))
        raise self.error(("push",), text)

    # -- writing ------------------------------------------------------------------------------------
    def _commit_env(self, who: Identity) -> dict[str, str]:
        return {
            "GIT_AUTHOR_NAME": who.name,
            "GIT_AUTHOR_EMAIL": who.email,
            "GIT_COMMITTER_NAME": who.name,
            "GIT_COMMITTER_EMAIL": who.email,
        }

    def commit_paths(self, paths: Sequence[str], message: str, who: Identity) -> str | None:
        """Commit exactly ``paths`` (other staged changes stay staged); None when nothing changed.
        Paths are literal; what would be committed is checked to be named files before (else
        UserInputError), and the commit after (else it is taken off again)."""
        changed = self.changed(paths)
        if not changed:
            return None
        only_named(changed, paths)
        self.run("add", "--all", "--", *changed)
        only_named(self.changed(changed), changed)
        self.run("commit", "--quiet", "--no-verify", "-m", message, "--only", "--", *changed, env=self._commit_env(who))
        parent = "HEAD~1" if self.rev("HEAD~1") else "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # the empty tree
        out = self.run("diff-tree", "-r", "--no-commit-id", "--name-only", "-z", "--no-renames", parent, "HEAD")
        try:
            only_named([f for f in out.split("\0") if f], changed)
        except UserInputError:
            self.uncommit(changed)
            raise
        return self.run("rev-parse", "HEAD").strip()

    def commit_files_on(
        self, parent: str, files: Mapping[str, bytes | None], message: str, who: Identity
    ) -> str | None:
        """Create a commit on ``parent`` with ``files`` set (None = deleted) without touching the
        working tree, index or HEAD. None when the tree would not change."""
        fd, index = tempfile.mkstemp(prefix="gitops-mcp-index-", dir=self.scratch)
        os.close(fd)
        os.unlink(index)
        env = {"GIT_INDEX_FILE": index}
        try:
            self.run("read-tree", parent, env=env)
            for rel, content in files.items():
                if content is None:
                    self.run("update-index", "--force-remove", "--", rel, env=env)
                    continue
                blob = self._hash_object(content)
                self.run("update-index", "--add", "--cacheinfo", f"100644,{blob},{rel}", env=env)
            tree = self.run("write-tree", env=env).strip()
        finally:
            if os.path.exists(index):
                os.unlink(index)
        if tree == self.tree_of(parent):
            return None
        return self.run("commit-tree", tree, "-p", parent, "-m", message, env=self._commit_env(who)).strip()

    def _hash_object(self, content: bytes) -> str:
        fd, tmp = tempfile.mkstemp(prefix="gitops-mcp-blob-", dir=self.scratch)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(content)
            return self.run("hash-object", "-w", "--no-filters", "--", tmp).strip()
        finally:
            os.unlink(tmp)

    def rebase(self, onto: str) -> bool:
        """Rebase the current branch onto ``onto``; on conflict abort (nothing changed) and return False."""
        code, _, _ = self.run_full("rebase", "--quiet", "--autostash", onto)
        if code == 0:
            return True
        self.run_full("rebase", "--abort")
        return False

    def create_branch(self, name: str, sha: str) -> None:
        self.run("branch", "--force", "--", check_ref(name), sha)

    def uncommit(self, paths: Sequence[str]) -> bool:
        """Take the last commit off the current branch, leaving the working tree as it is and
        ``paths`` unstaged again (as before :meth:`commit_paths`). False for a root commit (kept)."""
        if self.rev("HEAD~1") is None:
            return False
        self.run("reset", "--quiet", "--soft", "HEAD~1")
        self.run("reset", "--quiet", "HEAD", "--", *paths)
        return True

    def revert_on(self, parent: str, shas: Sequence[str], message: str, who: Identity) -> str:
        """Revert ``shas`` (newest first) on top of ``parent`` in a temporary worktree; returns the new commit."""
        with tempfile.TemporaryDirectory(prefix="gitops-mcp-wt-", dir=self.scratch) as tmp:
            wt = Path(tmp) / "wt"
            self.run("worktree", "add", "--quiet", "--detach", str(wt), parent)
            try:
                import git

                w = git_runner(str(wt), self._config)
                env = self._commit_env(who)
                try:
                    for sha in shas:
                        w.execute(
                            self._argv("revert", "--no-edit", "--no-commit", sha),
                            env=env,
                            kill_after_timeout=self.timeout,
                        )
                    w.execute(
                        self._argv("commit", "--quiet", "--no-verify", "-m", message),
                        env=env,
                        kill_after_timeout=self.timeout,
                    )
                except git.GitCommandError as exc:
                    raise GitError(f"git revert failed: {scrub(str(exc.stderr))[-1500:]}") from None
                return str(w.execute(self._argv("rev-parse", "HEAD"))).strip()
            finally:
                self.run_full("worktree", "remove", "--force", str(wt))
                self.run_full("worktree", "prune")
