"""Pull/merge requests through the GitHub and GitLab REST APIs (httpx).

Calls go only to the configured API base (``GITOPS_MCP_GITHUB_API_URL`` /
``GITOPS_MCP_GITLAB_API_URL``), never to a URL derived from caller input, and redirects are
not followed, so the token cannot be sent anywhere else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from pydantic import Field

from gitops_mcp.errors import ForgeError, UserInputError
from gitops_mcp.git.remote import Remote
from gitops_mcp.model import Model
from gitops_mcp.scrub import scrub
from gitops_mcp.settings import Settings

ForgeKind = Literal["github", "gitlab"]


class PullRequest(Model):
    number: int
    url: str
    head: str
    base: str
    created: bool
    draft: bool = False


@dataclass(frozen=True)
class PullRequestSpec:
    repo_path: str  # org/repo or group/sub/repo
    head: str
    base: str
    title: str
    body: str
    draft: bool = False
    labels: tuple[str, ...] = ()


def forge_kind(remote: Remote, settings: Settings) -> ForgeKind:
    if settings.forge != "auto":
        return settings.forge
    if remote.host == "github.com" or remote.host.endswith(".github.com"):
        return "github"
    if remote.host == "gitlab.com" or "gitlab" in remote.host.split(".")[0]:
        return "gitlab"
    raise UserInputError(
        f"cannot tell which pull request API serves {remote.host}; set GITOPS_MCP_FORGE=github or gitlab "
        "(and GITOPS_MCP_GITHUB_API_URL / GITOPS_MCP_GITLAB_API_URL)"
    )


class PullState(Model):
    """Where a pull/merge request stands."""

    state: Literal["open", "merged", "closed"]
    merge_sha: str | None = Field(None, description="The commit the merge put on the base branch")
    url: str
    body: str = ""


@dataclass(frozen=True)
class PullRef:
    """A pull/merge request named by its URL or ``<repository path>#<number>``."""

    kind: ForgeKind
    repo_path: str
    number: int

    @property
    def label(self) -> str:
        return f"{self.repo_path}{'#' if self.kind == 'github' else '!'}{self.number}"


_GITHUB_PR = re.compile(r"^https?://[^/]+/(?P<repo>[^/]+/[^/]+)/pulls?/(?P<n>[0-9]+)/?(?:[/?#].*)?$")
_GITLAB_MR = re.compile(r"^https?://[^/]+/(?P<repo>[^?#]+?)/-/merge_requests/(?P<n>[0-9]+)/?(?:[/?#].*)?$")
_SHORT = re.compile(r"^(?P<repo>[A-Za-z0-9._~+-]+(?:/[A-Za-z0-9._~+-]+)+)[#!](?P<n>[0-9]+)$")


def parse_pull_ref(text: str, settings: Settings) -> PullRef:
    """``https://host/org/repo/pull/12``, ``https://host/group/repo/-/merge_requests/12`` or
    ``org/repo#12`` (the forge: GITOPS_MCP_FORGE). Only the path and number are taken from the
    text; the API called is always the configured one.

    Raises:
        UserInputError: none of these forms.
    """
    from gitops_mcp.git.remote import check_repo_path

    text = text.strip()
    for kind, pattern in (("gitlab", _GITLAB_MR), ("github", _GITHUB_PR), (None, _SHORT)):
        m = pattern.match(text)
        if m is None:
            continue
        repo = check_repo_path("/" + m["repo"]).strip("/").removesuffix(".git")
        if kind is None:
            if settings.forge == "auto":
                raise UserInputError(
                    f"{text!r} does not say which forge serves it: give the pull request's URL, or set GITOPS_MCP_FORGE"
                )
            kind = settings.forge
        return PullRef(kind=kind, repo_path=repo, number=int(m["n"]))  # type: ignore[arg-type]
    raise UserInputError(
        f"{text!r} is not a pull/merge request: give its URL (…/pull/12, …/-/merge_requests/12) or org/repo#12"
    )


class Forge:
    """Create or find the open pull/merge request for a branch."""

    def __init__(self, kind: ForgeKind, settings: Settings, timeout: float = 30.0) -> None:
        import httpx

        self.kind = kind
        token = settings.github_token if kind == "github" else settings.gitlab_token
        if token is None:
            var = "GITHUB_TOKEN" if kind == "github" else "GITLAB_TOKEN"
            raise ForgeError(
                f"opening a {'pull' if kind == 'github' else 'merge'} request needs {var} in the server's environment"
            )
        self.base = (settings.github_api_url if kind == "github" else settings.gitlab_api_url).rstrip("/")
        headers = (
            {
                "Authorization": f"Bearer {token.get_secret_value()}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
            }
            if kind == "github"
            else {"PRIVATE-TOKEN": token.get_secret_value()}
        )
        self._http = httpx.Client(headers=headers, timeout=timeout, follow_redirects=False)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Forge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        import httpx

        try:
            r = self._http.request(method, self.base + path, **kw)
        except httpx.HTTPError as exc:
            raise ForgeError(f"the {self.kind} API at {self.base} is unreachable: {scrub(str(exc))}") from None
        if r.status_code >= 400:
            detail = scrub(r.text[:500])
            if r.status_code in (401, 403):
                raise ForgeError(f"the {self.kind} API refused the token ({r.status_code}): {detail}")
            raise ForgeError(f"{method} {path} failed with {r.status_code}: {detail}")
        if 300 <= r.status_code < 400:
            raise ForgeError(f"the {self.kind} API answered with a redirect ({r.status_code}); check the API URL")
        return r.json() if r.content else None

    def pull_state(self, ref: PullRef) -> PullState:
        """Whether the pull/merge request is open, merged (and its merge commit) or closed."""
        if self.kind == "github":
            pr = self._call("GET", f"/repos/{quote(ref.repo_path, safe='/')}/pulls/{ref.number}")
            state = "merged" if pr.get("merged") else ("open" if pr.get("state") == "open" else "closed")
            sha = pr.get("merge_commit_sha") if state == "merged" else None
            return PullState(
                state=state, merge_sha=sha, url=str(pr.get("html_url", "")), body=str(pr.get("body") or "")
            )
        mr = self._call("GET", f"/projects/{quote(ref.repo_path, safe='')}/merge_requests/{ref.number}")
        state = {"opened": "open", "locked": "open", "merged": "merged"}.get(str(mr.get("state")), "closed")
        sha = (mr.get("merge_commit_sha") or mr.get("squash_commit_sha")) if state == "merged" else None
        return PullState(
            state=state, merge_sha=sha, url=str(mr.get("web_url", "")), body=str(mr.get("description") or "")
        )

    def open_or_update(self, spec: PullRequestSpec) -> PullRequest:
        return self._github(spec) if self.kind == "github" else self._gitlab(spec)

    def _github(self, spec: PullRequestSpec) -> PullRequest:
        owner = spec.repo_path.split("/", 1)[0]
        repo = f"/repos/{quote(spec.repo_path, safe='/')}"
        existing = self._call(
            "GET", f"{repo}/pulls", params={"head": f"{owner}:{spec.head}", "base": spec.base, "state": "open"}
        )
        if existing:
            pr = existing[0]
            self._call("PATCH", f"{repo}/pulls/{pr['number']}", json={"title": spec.title, "body": spec.body})
            return PullRequest(
                number=pr["number"],
                url=pr["html_url"],
                head=spec.head,
                base=spec.base,
                created=False,
                draft=bool(pr.get("draft")),
            )
        pr = self._call(
            "POST",
            f"{repo}/pulls",
            json={"title": spec.title, "head": spec.head, "base": spec.base, "body": spec.body, "draft": spec.draft},
        )
        if spec.labels:
            self._call("POST", f"{repo}/issues/{pr['number']}/labels", json={"labels": list(spec.labels)})
        return PullRequest(
            number=pr["number"], url=pr["html_url"], head=spec.head, base=spec.base, created=True, draft=spec.draft
        )

    def _gitlab(self, spec: PullRequestSpec) -> PullRequest:
        project = f"/projects/{quote(spec.repo_path, safe='')}"
        existing = self._call(
            "GET",
            f"{project}/merge_requests",
            params={"source_branch": spec.head, "target_branch": spec.base, "state": "opened"},
        )
        title = f"Draft: {spec.title}" if spec.draft else spec.title
        if existing:
            mr = existing[0]
            self._call("PUT", f"{project}/merge_requests/{mr['iid']}", json={"title": title, "description": spec.body})
            return PullRequest(
                number=mr["iid"],
                url=mr["web_url"],
                head=spec.head,
                base=spec.base,
                created=False,
                draft=bool(mr.get("draft")),
            )
        body: dict[str, Any] = {
            "source_branch": spec.head,
            "target_branch": spec.base,
            "title": title,
            "description": spec.body,
            "remove_source_branch": True,
        }
        if spec.labels:
            body["labels"] = ",".join(spec.labels)
        mr = self._call("POST", f"{project}/merge_requests", json=body)
        return PullRequest(
            number=mr["iid"], url=mr["web_url"], head=spec.head, base=spec.base, created=True, draft=spec.draft
        )
