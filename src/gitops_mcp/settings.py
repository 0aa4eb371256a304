"""Settings: the only place that reads the environment.

Every setting has an environment variable ``GITOPS_MCP_<NAME>`` (policy toggles:
``GITOPS_MCP_POLICY__<NAME>``); the CLI overrides a few of them.  Objects below
receive a :class:`Settings` instance and never look at ``os.environ`` themselves.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from gitops_mcp.model import Model

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def _xdg_dir(env_name: str, fallback: str) -> Path:
    base = os.environ.get(env_name)
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / fallback
    return root / "gitops-mcp"


def _default_roots() -> list[Path]:
    roots = [Path.home()]
    cwd = Path.cwd()
    if cwd not in roots:
        roots.append(cwd)
    return roots


REDIS_URL_FORM = "redis://[:password@]host[:port][/db] or rediss://... (TLS)"


@dataclass(frozen=True)
class RedisTarget:
    """Where the Redis session store is. The password never shows in a repr, a log or an error."""

    host: str
    port: int
    db: int
    tls: bool
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def describe(self) -> str:
        return f"{'rediss' if self.tls else 'redis'}://{self.host}:{self.port}/{self.db}"


def parse_redis_url(url: str, password: str | None = None) -> RedisTarget:
    """Parse a ``redis://`` / ``rediss://`` URL; ``password`` is used when the URL has none.
    Errors name what is wrong, never the URL (it may hold a password)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port or 6379
    except ValueError:
        raise ValueError(f"GITOPS_MCP_SESSION_STORE is not a valid URL; expected {REDIS_URL_FORM}") from None
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError(f"GITOPS_MCP_SESSION_STORE must be 'sqlite' or {REDIS_URL_FORM}")
    if not parts.hostname:
        raise ValueError(f"GITOPS_MCP_SESSION_STORE names no host; expected {REDIS_URL_FORM}")
    path = parts.path.strip("/")
    if path and not (path.isdigit() and int(path) < 16384):
        raise ValueError(f"GITOPS_MCP_SESSION_STORE: the database after the host must be a number; {REDIS_URL_FORM}")
    if parts.query or parts.fragment:
        raise ValueError(f"GITOPS_MCP_SESSION_STORE takes no query or fragment; expected {REDIS_URL_FORM}")
    return RedisTarget(
        host=parts.hostname,
        port=port,
        db=int(path or 0),
        tls=parts.scheme == "rediss",
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else (password or None),
    )


class PolicySettings(Model):
    """Policy rules applied to generated and edited manifests (SPEC §5). Each can be turned off."""

    secure_git_urls: bool = Field(True, description="Git URLs must use https:// or ssh://")
    min_interval_seconds: int = Field(30, ge=0, description="Smallest interval allowed")
    max_interval_seconds: int = Field(86400, ge=1, description="Largest interval allowed")
    check_intervals: bool = Field(True, description="Enforce the interval bounds")
    require_prune: bool = Field(True, description="Flux Kustomizations must prune")
    require_source_ref: bool = Field(True, description="Flux Kustomizations must reference a source")
    forbid_suspend: bool = Field(True, description="No object may be suspended")
    relative_paths: bool = Field(True, description="Repository paths must be relative, without '..'")
    refuse_secrets: bool = Field(True, description="Plain Kubernetes Secret manifests are refused")


class Settings(BaseSettings):
    """Runtime configuration of the server."""

    model_config = SettingsConfigDict(
        env_prefix="GITOPS_MCP_",
        env_nested_delimiter="__",
        extra="ignore",
        validate_default=True,
        populate_by_name=True,
        hide_input_in_errors=True,  # a refused value may be a token or a URL with a password
    )

    allowed_roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=_default_roots,
        description="Local directories the tools may read and write below (os.pathsep-separated).",
    )
    state_dir: Path = Field(default_factory=lambda: _xdg_dir("XDG_STATE_HOME", ".local/state"))
    cache_dir: Path = Field(default_factory=lambda: _xdg_dir("XDG_CACHE_HOME", ".cache"))
    session_db: Path | None = Field(None, description="SQLite file for sessions (default: <state_dir>/sessions.db)")
    session_ttl_seconds: int = Field(7 * 24 * 3600, ge=60, description="Idle sessions expire after this long")
    max_open_sessions: int = Field(
        50,
        ge=1,
        le=100_000,
        description="Open wizard sessions one caller may have at once (start_deployment past it is refused)",
    )
    session_store: SecretStr | None = Field(
        None,
        description="Where sessions live: unset or 'sqlite' = the SQLite file (session_db); "
        "redis://[:password@]host:port/db or rediss:// = Redis, shared by replicas",
    )
    redis_password: SecretStr | None = Field(None, description="Password of the Redis session store, if not in the URL")
    redis_timeout_seconds: float = Field(5.0, gt=0, le=60, description="Connect and reply timeout of Redis")
    stateless_http: bool | None = Field(
        None,
        description="Streamable HTTP without MCP sessions (replicas behind a load balancer, no sticky sessions); "
        "default: on when the session store is Redis",
    )
    read_only: bool = False
    mode: Literal["read-only", "propose", "full"] | None = Field(
        None,
        description="read-only (no write tool), propose (every change to a repository is a pull request; no "
        "push, no registration, no artifact push) or full; default: read-only with GITOPS_MCP_READ_ONLY, else full",
    )
    tools: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Tool allow-list (comma-separated names); empty = every tool of the mode"
    )
    audit_log: str | None = Field(
        None, description="Audit trail of write tools and wizard deliveries: a file (JSON lines) or 'stderr'"
    )
    crd_dir: Path | None = Field(None, description="Directory of CRD YAML files used for schema validation")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    transport: Literal["stdio", "sse", "http"] = "stdio"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    auth_token: SecretStr | None = Field(None, description="Bearer token required on HTTP transports")
    auth_tokens: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Several callers: JSON object principal -> bearer token. Sessions are per principal.",
    )
    # -- sign-in with an OpenID Connect provider (this server is the OAuth resource server) --------------
    oidc_issuer: str | None = Field(None, description="Issuer URL (https); discovery at <issuer>/.well-known/...")
    oidc_audience: str | None = Field(None, description="Audience tokens must carry (default: resource_url)")
    oidc_ca_file: Path | None = Field(None, description="CA bundle for the issuer (a private CA)")
    oidc_read_scope: str = Field("gitops:read", min_length=1, description="Scope that allows the read tools")
    oidc_write_scope: str = Field("gitops:write", min_length=1, description="Scope that allows the write tools")
    oidc_leeway_seconds: int = Field(30, ge=0, le=300, description="Clock skew allowed for exp and nbf")
    resource_url: str | None = Field(
        None, description="Public URL of the MCP endpoint (RFC 9728 resource; default http://host:port/mcp)"
    )
    allowed_http_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Host headers accepted when bound beyond loopback (comma-separated); empty = any",
    )

    policy: PolicySettings = Field(default_factory=PolicySettings)

    # -- git delivery ------------------------------------------------------------------------------
    git_token: SecretStr | None = Field(None, description="Token for HTTPS git remotes (sent as Basic auth)")
    git_username: str = Field("x-access-token", description="User name sent with GITOPS_MCP_GIT_TOKEN")
    github_token: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("GITHUB_TOKEN", "GITOPS_MCP_GITHUB_TOKEN"),
        description="Token for the GitHub REST API (pull requests)",
    )
    gitlab_token: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("GITLAB_TOKEN", "GITOPS_MCP_GITLAB_TOKEN"),
        description="Token for the GitLab REST API (merge requests)",
    )
    allowed_git_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["github.com", "gitlab.com", "bitbucket.org"],
        description="Hosts git remotes may live on, exact match, optionally host:port (comma-separated)",
    )
    git_allow_http: bool = Field(False, description="Allow plain http:// remotes (mirrors, tests)")
    git_allow_file: bool = Field(False, description="Allow file:// remotes (tests)")
    forge: Literal["auto", "github", "gitlab"] = Field("auto", description="Pull request API; auto = by host")
    github_api_url: str = Field("https://api.github.com", description="GitHub API base (GHE: https://HOST/api/v3)")
    gitlab_api_url: str = Field("https://gitlab.com/api/v4", description="GitLab API base")
    git_author_name: str | None = None
    git_author_email: str | None = None
    push_attempts: int = Field(3, ge=1, le=10, description="Fetch-rebase-retry rounds on a rejected push")

    # -- remote-first: the clone cache's working trees and kept changes ---------------------------------
    cache_max_mb: int = Field(
        2048, ge=1, description="Size bound of the clone cache; least recently used repositories go first"
    )
    kept_hours: float = Field(
        168.0, gt=0, le=24 * 366, description="How long a change whose push was refused stays on its kept branch"
    )

    trust_repo_git_config: bool | None = Field(
        None,
        description="Run the hooks, filter and merge drivers, commit signing and credential helpers of local "
        "repositories' own git configuration (default: yes over stdio, no over HTTP/SSE)",
    )

    # -- package builds (preflight: kustomize build, helm template) ---------------------------------------
    build_memory_mb: int = Field(1024, ge=64, description="Memory one package build may use")
    build_cpu_seconds: int = Field(60, ge=1, description="CPU time one package build may use")
    build_timeout_seconds: float = Field(60.0, gt=0, description="Wall-clock time one package build may take")
    build_output_mb: int = Field(16, ge=1, description="Output one package build may write")
    build_max_input_mb: int = Field(16, ge=1, description="Size of all files one package build may read")
    build_require_netns: bool = Field(
        True, description="Build only where a network namespace can be made (false: remote references refused only)"
    )

    # -- OCI artifacts -------------------------------------------------------------------------------
    oci_username: str | None = Field(None, description="User for the OCI registry (push_artifact)")
    oci_password: SecretStr | None = Field(None, description="Password or token for the OCI registry")
    allowed_oci_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["ghcr.io", "quay.io", "docker.io", "registry-1.docker.io", "auth.docker.io"],
        description="Registries (and their token services) artifacts may be pushed to, exact host[:port]",
    )
    oci_allow_http: bool = Field(False, description="Allow plain http to loopback registries (tests)")
    oci_timeout_seconds: float = Field(60.0, gt=0, description="Timeout of one registry request")

    # -- cluster --------------------------------------------------------------------------------------
    kubeconfig: Path | None = Field(None, description="Kubeconfig file (default: KUBECONFIG, ~/.kube/config)")
    kube_context: str | None = Field(None, description="Kubeconfig context (default: the current context)")
    clusters: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Kubeconfig contexts the cluster tools may use (comma-separated; empty: any)",
    )
    kube_timeout_seconds: float = Field(30.0, gt=0, description="Timeout of one Kubernetes API request")
    wizard_wait_seconds: float = Field(180.0, gt=0, le=3600, description="How long the wizard waits for a sync")
    git_timeout_seconds: int = Field(300, ge=5, description="Longest any git command may run")

    @field_validator("allowed_roots", mode="before")
    @classmethod
    def _split_roots(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [p for p in value.split(os.pathsep) if p.strip()]
        return value

    @field_validator("allowed_http_hosts", "allowed_git_hosts", "allowed_oci_hosts", "tools", "clusters", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [h.strip() for h in value.split(",") if h.strip()]
        return value

    @field_validator("allowed_roots")
    @classmethod
    def _resolve_roots(cls, value: list[Path]) -> list[Path]:
        resolved: list[Path] = []
        for p in value:
            r = p.expanduser().resolve()
            if r not in resolved:
                resolved.append(r)
        return resolved

    @field_validator("session_store")
    @classmethod
    def _check_store(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or value.get_secret_value().strip().lower() in ("", "sqlite"):
            return None
        parse_redis_url(value.get_secret_value())
        return value

    @field_validator("oidc_issuer", "resource_url")
    @classmethod
    def _check_https(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError("must be an absolute http(s) URL without query or fragment")
        return value

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.policy.min_interval_seconds > self.policy.max_interval_seconds:
            raise ValueError("policy.min_interval_seconds must not exceed policy.max_interval_seconds")
        if self.mode is None:
            self.mode = "read-only" if self.read_only else "full"
        elif self.read_only and self.mode != "read-only":
            raise ValueError(f"GITOPS_MCP_READ_ONLY contradicts GITOPS_MCP_MODE={self.mode}; set one of them")
        self.read_only = self.mode == "read-only"
        if self.oidc_issuer and not self.oidc_issuer.startswith("https://"):
            raise ValueError("GITOPS_MCP_OIDC_ISSUER must be an https:// URL")
        if self.oidc_read_scope == self.oidc_write_scope:
            raise ValueError("the read and the write scope must differ")
        return self

    @property
    def proposes_only(self) -> bool:
        """Propose mode: every change to a repository is a pull request."""
        return self.mode == "propose"

    @property
    def mcp_url(self) -> str:
        """The public URL of the MCP endpoint (the protected resource)."""
        if self.resource_url:
            return self.resource_url
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{'/sse' if self.transport == 'sse' else '/mcp'}"

    @property
    def redis_target(self) -> RedisTarget | None:
        """The Redis session store, or None for the embedded SQLite one."""
        if self.session_store is None:
            return None
        password = self.redis_password.get_secret_value() if self.redis_password else None
        return parse_redis_url(self.session_store.get_secret_value(), password)

    @property
    def http_stateless(self) -> bool:
        """Whether streamable HTTP runs without MCP sessions (any replica answers any request)."""
        if self.stateless_http is not None:
            return self.stateless_http
        return self.session_store is not None

    @property
    def session_db_path(self) -> Path:
        return self.session_db or (self.state_dir / "sessions.db")

    def secret_values(self) -> list[str]:
        """Every configured secret, for the scrubber."""
        values = [
            t for t in (self.git_token, self.github_token, self.gitlab_token, self.auth_token, self.oci_password) if t
        ]
        values += list(self.auth_tokens.values())
        out = [v.get_secret_value() for v in values]
        redis = self.redis_target
        if redis is not None and redis.password:
            out.append(redis.password)
        if self.redis_password is not None:
            out.append(self.redis_password.get_secret_value())
        return out

    def bearer_tokens(self) -> dict[str, str]:
        """Principal -> token for every configured bearer token."""
        tokens = {name: tok.get_secret_value() for name, tok in self.auth_tokens.items()}
        if self.auth_token is not None:
            tokens.setdefault("default", self.auth_token.get_secret_value())
        return {k: v for k, v in tokens.items() if v}

    @property
    def repo_git_config_trusted(self) -> bool:
        """Whether local repositories' own hooks, drivers, signing and credential helpers run."""
        if self.trust_repo_git_config is not None:
            return self.trust_repo_git_config
        return self.transport == "stdio"

    @property
    def is_loopback(self) -> bool:
        return self.host in LOOPBACK_HOSTS or self.host.startswith("127.")
