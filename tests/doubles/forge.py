"""A stateful fake of the GitHub pulls and GitLab merge-request APIs.

Strict on purpose: it checks the token, the request bodies (required fields and types) and
that the branches exist in the real bare repositories served by :mod:`doubles.git_remote`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from doubles.http import Exchange, HttpDouble


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    auth: str | None


@dataclass
class Store:
    pulls: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


class FakeForge(HttpDouble):
    methods = ("GET", "POST", "PATCH", "PUT")

    def __init__(self, repos_root: Path, token: str) -> None:
        self.repos_root = repos_root
        self.token = token
        self.requests: list[Request] = []
        self.store = Store()
        self.lock = threading.Lock()
        super().__init__()

    @property
    def github_api(self) -> str:
        return f"{self.base}/api/v3"

    @property
    def gitlab_api(self) -> str:
        return f"{self.base}/api/v4"

    def settings(self) -> dict[str, str]:
        """gitops-mcp's settings that make this fake its GitHub (pull requests go here)."""
        return {"forge": "github", "github_api_url": self.github_api, "github_token": self.token}

    def handle(self, h: Exchange) -> None:
        parts = urlsplit(h.path)
        raw = h.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            h.send_json(400, {"message": "Problems parsing JSON"})
            return
        auth = h.headers.get("Authorization") or h.headers.get("PRIVATE-TOKEN")
        req = Request(h.command, parts.path, parse_qs(parts.query), body, auth)
        with self.lock:
            self.requests.append(req)
            status, payload = self.route(req, h.headers)
        h.send_json(status, payload)

    # -- helpers -----------------------------------------------------------------------------------
    def branch_sha(self, repo: str, branch: str) -> str | None:
        path = self.repos_root / f"{repo}.git"
        if not path.exists():
            return None
        p = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
            capture_output=True,
            text=True,
        )
        return p.stdout.strip() or None

    # -- what a reviewer does on the forge ---------------------------------------------------------
    def merge(self, repo: str, number: int) -> str:
        """Merge the open pull/merge request ``number`` into its base in the bare repository (a merge
        commit, as the forge's merge button makes); the merge commit's SHA."""
        with self.lock:
            pr = self._find(repo, number)
            gh = "head" in pr
            head, base = (pr["head"]["ref"], pr["base"]["ref"]) if gh else (pr["source_branch"], pr["target_branch"])
            bare = self.repos_root / f"{repo}.git"
            env = {"GIT_AUTHOR_NAME": "Forge", "GIT_AUTHOR_EMAIL": "forge@example.com"}
            env |= {"GIT_COMMITTER_NAME": "Forge", "GIT_COMMITTER_EMAIL": "forge@example.com"}

            def git(*args: str) -> str:
                return subprocess.run(
                    ["git", "-C", str(bare), *args],
                    capture_output=True,
                    text=True,
                    check=True,
                    env={**os.environ, **env},
                ).stdout.strip()

            base_sha, head_sha = git("rev-parse", f"refs/heads/{base}"), git("rev-parse", f"refs/heads/{head}")
            tree = git("merge-tree", "--write-tree", base_sha, head_sha).splitlines()[0]
            sha = git("commit-tree", tree, "-p", base_sha, "-p", head_sha, "-m", f"Merge {head} into {base}")
            git("update-ref", f"refs/heads/{base}", sha, base_sha)
            if gh:
                pr.update(state="closed", merged=True, merge_commit_sha=sha)
            else:
                pr.update(state="merged", merge_commit_sha=sha)
            return sha

    def close(self, repo: str, number: int) -> None:
        """Close the pull/merge request without merging it."""
        with self.lock:
            pr = self._find(repo, number)
            pr.update(state="closed", merged=False) if "head" in pr else pr.update(state="closed")

    def _find(self, repo: str, number: int) -> dict[str, Any]:
        pulls = self.store.pulls.get(repo, [])
        return next(p for p in pulls if p.get("number", p.get("iid")) == number)

    def route(self, req: Request, headers: Any) -> tuple[int, Any]:
        if req.path.startswith("/api/v3/"):
            if req.auth not in (f"Bearer {self.token}", f"token {self.token}"):
                return 401, {"message": "Bad credentials"}
            return self.github(req)
        if req.path.startswith("/api/v4/"):
            if headers.get("PRIVATE-TOKEN") != self.token and req.auth != f"Bearer {self.token}":
                return 401, {"message": "401 Unauthorized"}
            return self.gitlab(req)
        return 404, {"message": "Not Found"}

    def github(self, req: Request) -> tuple[int, Any]:
        m = re.match(r"^/api/v3/repos/([^/]+)/([^/]+)/(pulls|issues)(?:/(\d+))?(/labels)?$", req.path)
        if not m:
            return 404, {"message": "Not Found"}
        owner, name, what, number, labels = m.groups()
        repo = f"{owner}/{name}"
        if self.branch_sha(repo, "main") is None and not (self.repos_root / f"{repo}.git").exists():
            return 404, {"message": "Not Found"}
        pulls = self.store.pulls.setdefault(repo, [])
        if what == "pulls" and number is None and req.method == "GET":
            head = req.query.get("head", [""])[0]
            state = req.query.get("state", ["open"])[0]
            return 200, [
                p
                for p in pulls
                if (not head or f"{owner}:{p['head']['ref']}" == head) and (state == "all" or p["state"] == state)
            ]
        if what == "pulls" and number is None and req.method == "POST":
            b = req.body
            if (
                not isinstance(b, dict)
                or not isinstance(b.get("head"), str)
                or not isinstance(b.get("base"), str)
                or not isinstance(b.get("title"), str)
                or not b["title"]
            ):
                return 422, {"message": "Validation Failed", "errors": [{"code": "missing_field"}]}
            if not isinstance(b.get("body", ""), str) or not isinstance(b.get("draft", False), bool):
                return 422, {"message": "Validation Failed", "errors": [{"code": "invalid"}]}
            head_sha, base_sha = self.branch_sha(repo, b["head"]), self.branch_sha(repo, b["base"])
            if head_sha is None or base_sha is None:
                return 422, {
                    "message": "Validation Failed",
                    "errors": [{"field": "head" if head_sha is None else "base", "code": "invalid"}],
                }
            if any(p["head"]["ref"] == b["head"] and p["state"] == "open" for p in pulls):
                return 422, {
                    "message": "Validation Failed",
                    "errors": [{"message": f"A pull request already exists for {owner}:{b['head']}."}],
                }
            if head_sha == base_sha:
                return 422, {
                    "message": "Validation Failed",
                    "errors": [{"message": f"No commits between {b['base']} and {b['head']}"}],
                }
            n = len(self.store.pulls.get(repo, [])) + 1
            pr = {
                "number": n,
                "html_url": f"https://github.example/{repo}/pull/{n}",
                "state": "open",
                "title": b["title"],
                "body": b.get("body", ""),
                "draft": b.get("draft", False),
                "head": {"ref": b["head"], "sha": head_sha},
                "base": {"ref": b["base"], "sha": base_sha},
                "labels": [],
                "merged": False,
                "merge_commit_sha": None,
            }
            pulls.append(pr)
            return 201, pr
        pr = next((p for p in pulls if str(p["number"]) == number), None)
        if pr is None:
            return 404, {"message": "Not Found"}
        if what == "pulls" and req.method == "GET" and not labels:
            return 200, pr
        if what == "pulls" and req.method == "PATCH":
            for k in ("title", "body"):
                if k in (req.body or {}):
                    pr[k] = req.body[k]
            pr["head"]["sha"] = self.branch_sha(repo, pr["head"]["ref"])
            return 200, pr
        if what == "issues" and labels and req.method == "POST":
            if not isinstance(req.body, dict) or not isinstance(req.body.get("labels"), list):
                return 422, {"message": "Validation Failed"}
            pr["labels"] += [{"name": n} for n in req.body["labels"]]
            return 200, pr["labels"]
        return 404, {"message": "Not Found"}

    def gitlab(self, req: Request) -> tuple[int, Any]:
        m = re.match(r"^/api/v4/projects/([^/]+)/merge_requests(?:/(\d+))?$", req.path)
        if not m:
            return 404, {"message": "404 Not Found"}
        repo, iid = unquote(m.group(1)), m.group(2)
        if not (self.repos_root / f"{repo}.git").exists():
            return 404, {"message": "404 Project Not Found"}
        mrs = self.store.pulls.setdefault(repo, [])
        if iid is None and req.method == "GET":
            src = req.query.get("source_branch", [None])[0]
            state = req.query.get("state", ["opened"])[0]
            return 200, [x for x in mrs if (src is None or x["source_branch"] == src) and x["state"] == state]
        if iid is None and req.method == "POST":
            b = req.body or {}
            for k in ("source_branch", "target_branch", "title"):
                if not isinstance(b.get(k), str) or not b[k]:
                    return 400, {"message": f"{k} is missing"}
            if self.branch_sha(repo, b["source_branch"]) is None or self.branch_sha(repo, b["target_branch"]) is None:
                return 422, {"message": ["Source branch does not exist"]}
            if any(x["source_branch"] == b["source_branch"] and x["state"] == "opened" for x in mrs):
                return 409, {"message": ["Another open merge request already exists for this source branch"]}
            n = len(mrs) + 1
            mr = {
                "iid": n,
                "web_url": f"https://gitlab.example/{repo}/-/merge_requests/{n}",
                "state": "opened",
                "source_branch": b["source_branch"],
                "target_branch": b["target_branch"],
                "title": b["title"],
                "description": b.get("description", ""),
                "draft": b["title"].startswith("Draft:"),
                "labels": [x for x in str(b.get("labels", "")).split(",") if x],
            }
            mrs.append(mr)
            return 201, mr
        mr = next((x for x in mrs if str(x["iid"]) == iid), None)
        if mr is None:
            return 404, {"message": "404 Not found"}
        if req.method == "GET":
            return 200, mr
        if req.method == "PUT":
            mr.update({k: v for k, v in (req.body or {}).items() if k in ("title", "description")})
            return 200, mr
        return 404, {"message": "404 Not Found"}
