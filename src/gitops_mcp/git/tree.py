"""Read a commit's tree from the object database, for detection without a checkout."""

from __future__ import annotations

import posixpath
from pathlib import Path

from gitops_mcp.detection.tree import Entry
from gitops_mcp.git.safety import CACHE_CONFIG, git_argv, git_runner

MAX_BLOB = 1 << 20  # detection does not read larger files
MAX_PREFETCH = 256 << 20
_READ_SUFFIXES = (".yaml", ".yml", "Kustomization")


class GitTree:
    """A :class:`~gitops_mcp.detection.tree.TreeSource` over ``rev`` of the repository at ``repo``.

    Handles are repository-relative POSIX paths ('' is the root). Symlinks and submodules are
    reported as skipped, as on the file system. Use as a context manager: it keeps one
    ``git cat-file`` process open while reading.
    """

    def __init__(self, repo: Path, rev: str = "HEAD", subdir: str = "", timeout: float = 300.0) -> None:
        self._git = git_runner(str(repo), CACHE_CONFIG)
        self._start = subdir.strip("/")
        self.name = posixpath.basename(self._start) or repo.name
        listing = self._git.execute(
            git_argv("ls-tree", "-r", "-l", "-z", "--full-tree", rev, extra_config=CACHE_CONFIG),
            kill_after_timeout=timeout,
            strip_newline_in_stdout=False,
        )
        self._dirs: dict[str, list[Entry]] = {"": []}
        self._blobs: dict[str, tuple[str, int]] = {}
        self._blobs_size: dict[str, int] = {}
        for record in str(listing).split("\0"):
            if not record:
                continue
            meta, _, path = record.partition("\t")
            mode, otype, sha, size = meta.split()
            parent, name = posixpath.split(path)
            self._ensure_dir(parent)
            if otype == "blob" and mode == "120000":
                self._dirs[parent].append(Entry(name, "skip", path, "symlink in git, not followed"))
            elif otype == "blob":
                self._dirs[parent].append(Entry(name, "file", path))
                self._blobs[path] = (sha, int(size) if size.isdigit() else 0)
                self._blobs_size[sha] = self._blobs[path][1]
            else:
                self._dirs[parent].append(Entry(name, "skip", path, "git submodule, not read"))
        self._data: dict[str, bytes] = {}
        self._prefetch(timeout)

    def _prefetch(self, timeout: float) -> None:
        """Read every blob detection may look at in one ``cat-file --batch`` (bounded in size)."""
        import tempfile

        wanted = sorted(
            {
                sha
                for path, (sha, size) in self._blobs.items()
                if size <= MAX_BLOB and path.rsplit("/", 1)[-1].endswith(_READ_SUFFIXES)
            }
        )
        if not wanted or sum(self._blobs_size.get(s, 0) for s in wanted) > MAX_PREFETCH:
            return
        with tempfile.TemporaryFile() as fh:
            fh.write(("\n".join(wanted) + "\n").encode())
            fh.seek(0)
            out = self._git.execute(
                git_argv("cat-file", "--batch", extra_config=CACHE_CONFIG),
                istream=fh,
                stdout_as_string=False,
                kill_after_timeout=timeout,
                strip_newline_in_stdout=False,
            )
        data = bytes(out)
        pos = 0
        while pos < len(data):
            end = data.index(b"\n", pos)
            header = data[pos:end].split()
            pos = end + 1
            if len(header) != 3:  # "<sha> missing"
                continue
            size = int(header[2])
            self._data[header[0].decode()] = data[pos : pos + size]
            pos += size + 1

    def _ensure_dir(self, path: str) -> None:
        if path in self._dirs:
            return
        parent, name = posixpath.split(path)
        self._ensure_dir(parent)
        self._dirs[path] = []
        self._dirs[parent].append(Entry(name, "dir", path))

    @property
    def root(self) -> str:
        return self._start

    def list_dir(self, handle: str) -> list[Entry]:
        try:
            return list(self._dirs[handle])
        except KeyError:
            raise FileNotFoundError(handle) from None

    def size(self, handle: str) -> int:
        return self._blobs[handle][1]

    def read(self, handle: str) -> bytes:
        import git

        try:
            cached = self._data.get(self._blobs[handle][0])
            if cached is not None:
                return cached
            _sha, _type, _size, data = self._git.get_object_data(self._blobs[handle][0])
        except (KeyError, ValueError, git.GitCommandError) as exc:
            raise OSError(f"cannot read {handle} from git: {exc}") from None
        return bytes(data)

    def child(self, handle: str, name: str) -> str | None:
        path = f"{handle}/{name}" if handle else name
        return path if path in self._dirs else None

    def close(self) -> None:
        self._git.clear_cache()

    def __enter__(self) -> GitTree:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
