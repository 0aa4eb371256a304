"""Changes kept in the clone cache: nothing is lost when a push from a private working tree is
refused, or when files are written for a git URL (there is no working tree of the caller's own).

A kept change is a commit on the branch ``gitops-mcp/kept/<id>`` of the cached repository, made
on the remote tip the operation started from, and a record of it in
``.git/gitops-mcp-kept/<id>.json`` (the caller, the files, the branch it is meant for, until when
it is kept). ``commit_and_push`` with the git URL and the same paths delivers it; a later delivery
of the same files with the same contents by the same caller drops it. Expired ones go when the
repository is next used; a repository holding one is never evicted.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from gitops_mcp.git.repo import GitRepo, Identity

RECORDS = "gitops-mcp-kept"
BRANCH_PREFIX = "gitops-mcp/kept/"
Reason = Literal["refused", "written"]


class Kept(BaseModel):
    id: str
    url: str
    target: str
    base: str
    sha: str
    files: list[str]
    message: str
    owner: str
    reason: Reason
    created: float
    expires: float

    @property
    def branch(self) -> str:
        return BRANCH_PREFIX + self.id

    def sentence(self) -> str:
        """What the caller reads: where the change is, until when, and how to deliver it."""
        hours = (self.expires - self.created) / 3600
        span = f"{hours / 24:g} days" if hours >= 48 and hours % 24 == 0 else f"{hours:g} hours"
        until = datetime.fromtimestamp(self.expires, UTC).strftime("%Y-%m-%d %H:%M UTC")
        paths = json.dumps(self.files)
        return (
            f"the change is kept on the branch {self.branch} of the server's clone cache for {span} (until "
            f"{until}): commit_and_push(repo_path={self.url}, paths={paths}) delivers it "
            f"(mode=pull_request proposes it)"
        )


class KeptStore:
    """The kept changes of the cached repositories (call the writing methods under the repository's lock)."""

    def __init__(self, hours: float) -> None:
        self.hours = hours

    @staticmethod
    def _dir(dest: Path) -> Path:
        return dest / ".git" / RECORDS

    def entries(self, dest: Path) -> list[Kept]:
        folder = self._dir(dest)
        if not folder.is_dir():
            return []
        out = []
        for p in sorted(folder.glob("*.json")):
            with contextlib.suppress(OSError, ValueError):
                out.append(Kept.model_validate_json(p.read_text(encoding="utf-8")))
        return out

    def holds_live(self, dest: Path) -> bool:
        now = time.time()
        return any(k.expires > now for k in self.entries(dest))

    def find(self, dest: Path, owner: str, files: Sequence[str]) -> Kept | None:
        """The newest unexpired change ``owner`` kept for exactly ``files``."""
        now, wanted = time.time(), set(files)
        mine = [k for k in self.entries(dest) if k.owner == owner and k.expires > now and set(k.files) == wanted]
        return max(mine, key=lambda k: k.created) if mine else None

    def listed(self, dest: Path, owner: str) -> list[Kept]:
        now = time.time()
        return [k for k in self.entries(dest) if k.owner == owner and k.expires > now]

    def keep(
        self,
        repo: GitRepo,
        dest: Path,
        *,
        url: str,
        target: str,
        base: str,
        contents: Mapping[str, bytes | None],
        message: str,
        who: Identity,
        owner: str,
        reason: Reason,
    ) -> Kept | None:
        """Commit ``contents`` on ``base`` and keep it (None: ``base`` already has them). The same
        change kept before by the same caller is kept again (its period starts anew), not twice."""
        sha = repo.commit_files_on(base, contents, message, who)
        if sha is None:
            return None
        tree = repo.tree_of(sha)
        now = time.time()
        files = sorted(contents)
        for k in self.entries(dest):
            if k.owner == owner and k.files == files and repo.rev(k.sha) and repo.tree_of(k.sha) == tree:
                self._drop(repo, dest, k)
        kept = Kept(
            id=secrets.token_hex(6),
            url=url,
            target=target,
            base=base,
            sha=sha,
            files=files,
            message=message,
            owner=owner,
            reason=reason,
            created=now,
            expires=now + self.hours * 3600,
        )
        repo.run("update-ref", f"refs/heads/{kept.branch}", sha)
        folder = self._dir(dest)
        folder.mkdir(exist_ok=True)
        tmp = folder / f".{kept.id}.tmp"
        tmp.write_text(kept.model_dump_json(), encoding="utf-8")
        os.replace(tmp, folder / f"{kept.id}.json")
        return kept

    def drop_delivered(self, repo: GitRepo, dest: Path, owner: str, files: Sequence[str]) -> list[Kept]:
        """Drop what ``owner`` kept for ``files`` with the contents the working tree now has (it was
        just delivered); the ones dropped."""
        wanted = sorted(set(files))
        candidates = [k for k in self.entries(dest) if k.owner == owner and k.files == wanted]
        if not candidates:
            return []
        blobs: dict[str, str] = {}
        for rel in wanted:
            p = repo.root / rel
            blobs[rel] = repo.run("hash-object", "--no-filters", "--", str(p)).strip() if p.is_file() else ""
        dropped = []
        for k in candidates:
            if not repo.rev(k.sha):
                continue
            if all(_blob(repo, k.sha, rel) == blobs[rel] for rel in wanted):
                self._drop(repo, dest, k)
                dropped.append(k)
        return dropped

    def drop(self, repo: GitRepo, dest: Path, kept: Kept) -> None:
        self._drop(repo, dest, kept)

    def expire(self, repo: GitRepo, dest: Path) -> None:
        now = time.time()
        for k in self.entries(dest):
            if k.expires <= now:
                self._drop(repo, dest, k)

    def _drop(self, repo: GitRepo, dest: Path, kept: Kept) -> None:
        repo.run_full("update-ref", "-d", f"refs/heads/{kept.branch}")
        with contextlib.suppress(OSError):
            (self._dir(dest) / f"{kept.id}.json").unlink()


def _blob(repo: GitRepo, sha: str, rel: str) -> str:
    code, out, _ = repo.run_full("rev-parse", "--verify", "--quiet", "--end-of-options", f"{sha}:{rel}")
    return out.strip() if code == 0 else ""
