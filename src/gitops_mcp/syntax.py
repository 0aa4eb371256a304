"""Pure syntax shared by questions, git, detection and manifests: names, durations, refs, URLs, images.

Nothing here imports the rest of the project, so both :mod:`gitops_mcp.questions` (which turns a
failed check into an :class:`~gitops_mcp.questions.AnswerError`) and :mod:`gitops_mcp.git`
(which turns it into a :class:`~gitops_mcp.errors.UserInputError`) can use it without importing
each other.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import SplitResult, urlsplit, urlunsplit

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$")
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_BAD_REF_CHARS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
_SCP = re.compile(r"^(?:(?P<user>[^@/\s]+)@)?(?P<host>[A-Za-z0-9.-]+):(?!//)(?P<path>[^\s]+)$")

# Bounds of what a value can be, by what it is.
MAX_URL = 2048  # a repository or chart repository URL
MAX_REF = 255  # a Git ref or revision (the file systems' NAME_MAX bounds a ref's name)
MAX_CHART_NAME = 253  # a chart name
MAX_CHART_VERSION = 128  # a chart version or semver range
MAX_FREE_TEXT = 4096  # free text such as the intent of a deployment
MAX_IMAGE_NAME = 255  # distribution/reference NameTotalLengthMax


def duration_seconds(value: str) -> float:
    """Seconds in a Go duration (``1h30m`` -> 5400.0); parts that are not durations count 0."""
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(value))


def is_ref_name(value: str) -> bool:
    """True when ``git check-ref-format --branch`` would accept ``value`` (and it is not an option)."""
    return not (
        not value
        or value.startswith(("-", "/", "."))
        or value.endswith(("/", ".", ".lock"))
        or ".." in value
        or "@{" in value
        or "//" in value
        or value == "@"
        or _BAD_REF_CHARS.search(value)
        or any(p.startswith(".") or p.endswith(".lock") for p in value.split("/"))
    )


def shown(value: str, limit: int = 60) -> str:
    """``value`` quoted for a message, cut to ``limit`` characters (a refused value can be huge)."""
    return repr(value) if len(value) <= limit else repr(value[:limit]) + "…"


def bounded(value: str, limit: int, what: str) -> str:
    """``value`` when it has at most ``limit`` characters.

    Raises:
        ValueError: longer, with the limit in the message.
    """
    if len(value) > limit:
        raise ValueError(f"{what} is {len(value)} characters long; at most {limit}")
    return value


@lru_cache(maxsize=256)
def normalize_git_url(url: str) -> str:
    """Return ``url`` in a form Flux and Argo CD accept, with any password removed.

    ``git@github.com:org/repo.git`` becomes ``ssh://git@github.com/org/repo.git``;
    ``https://user:token@host/x`` becomes ``https://host/x``. Pure, so computed once per URL (the
    wizard and the cluster's appliers compare the same few URLs many times in one call).

    Raises:
        ValueError: not a URL a Git remote can have.
    """
    url = url.strip()
    if not url:
        raise ValueError("the repository URL is empty")
    bounded(url, MAX_URL, "the repository URL")
    if _has_space_or_control(url):
        raise ValueError("a repository URL cannot contain spaces or control characters")
    m = _SCP.match(url)
    if m and "://" not in url:
        user = m.group("user")
        url = f"ssh://{user + '@' if user else ''}{m.group('host')}/{m.group('path').lstrip('/')}"
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if not scheme or not parts.hostname:
        raise ValueError(f"{url!r} is not a repository URL such as https://github.com/org/repo.git")
    if parts.query or parts.fragment:
        raise ValueError("a repository URL has no query string or fragment")
    _check_host(parts)
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    if scheme == "ssh" and parts.username:
        netloc = f"{parts.username}@{netloc}"
    return urlunsplit((scheme, netloc, parts.path, "", ""))


def to_dns_label(name: str, fallback: str = "app") -> str:
    """Turn any name into a DNS-1123 label (lowercase, [a-z0-9-], <= 63)."""
    out = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    out = re.sub(r"-{2,}", "-", out)[:63].strip("-")
    return out or fallback


# -- hosts and URLs ------------------------------------------------------------------------------
_HOST_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def _has_space_or_control(value: str) -> bool:
    return any(c.isspace() or ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in value)


def is_host(host: str) -> bool:
    """True for a DNS name (labels of letters, digits and '-', <= 253 characters) or an IP address.

    IPv6 addresses are given without their brackets. A name whose last label is all digits must
    be an IPv4 address (no top-level domain is numeric), so ``999.1.1.1`` is not a host.
    """
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    labels = host.lower().split(".")
    if len(host) > 253 or labels[-1].isdigit():
        return False
    return all(_HOST_LABEL.match(label) for label in labels)


def _check_host(parts: SplitResult) -> None:
    """Raise ValueError unless ``parts`` has a valid host and, when it has one, a port 1..65535."""
    host = parts.hostname or ""
    if not host or not is_host(host):
        raise ValueError(f"the host {shown(host)} is not a DNS name or an IP address")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise ValueError("the port must be a number from 1 to 65535")


@dataclass(frozen=True)
class UrlKind:
    """What a URL field holds: its allowed schemes, whether ``user@host:path`` (scp form) and a
    scheme-less ``host[:port]/path`` are accepted, and an example for messages."""

    what: str  # "Git URL", "Helm repository URL", ...
    schemes: Collection[str]
    example: str
    scp: bool = False
    bare_host_path: bool = False

    def expected(self) -> str:
        forms = [f"{s}://" for s in self.schemes]
        if self.scp:
            forms.append("user@host:path")
        if self.bare_host_path:
            forms.append("host/path")
        return f"{', '.join(forms)} (e.g. {self.example})"


GIT_URL = UrlKind("Git URL", ("https", "ssh", "http"), "https://github.com/org/repo.git")
GIT_URL_OR_SCP = UrlKind("Git URL", ("https", "ssh", "http"), "https://github.com/org/repo.git", scp=True)
HELM_URL = UrlKind("Helm repository URL", ("https", "http", "oci"), "https://charts.example.com")
OCI_URL = UrlKind("OCI repository URL", ("oci",), "oci://ghcr.io/org/manifests")
CHART_REPO_URL = UrlKind(
    "Helm repository URL", ("https", "http", "oci"), "https://charts.example.com", bare_host_path=True
)


def check_url(url: str, kind: UrlKind) -> SplitResult:
    """The parts of ``url`` when it is a URL of ``kind``: a scheme ``kind`` allows, a host that is a
    DNS name or an IP address (with an optional port 1..65535), no spaces or control characters, no
    credentials (a user name alone is allowed for ssh).

    Raises:
        ValueError: why ``url`` is not one, and what is expected, in one line.
    """

    def bad(why: str) -> ValueError:
        return ValueError(f"{shown(url)} is not a {kind.what}: {why}; expected {kind.expected()}")

    if not url:
        raise bad("it is empty")
    if len(url) > MAX_URL:
        raise bad(f"it is {len(url)} characters long; at most {MAX_URL}")
    if _has_space_or_control(url):
        raise bad("it contains spaces or control characters")
    if "://" not in url:
        m = _SCP.match(url)
        if kind.scp and m:
            if not is_host(m.group("host")):
                raise bad(f"the host {shown(m.group('host'))} is not a DNS name or an IP address")
            return urlsplit(f"ssh://{url.split(':', 1)[0]}/{m.group('path').lstrip('/')}")
        if kind.bare_host_path and "/" in url:
            return _checked_parts(f"//{url}", kind, bad, scheme="")
        raise bad("it has no scheme")
    return _checked_parts(url, kind, bad, scheme=url.split("://", 1)[0].lower())


def _checked_parts(url: str, kind: UrlKind, bad: Callable[[str], ValueError], scheme: str) -> SplitResult:
    if scheme and scheme not in kind.schemes:
        raise bad(f"{scheme}:// is not allowed here")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise bad("the host cannot be parsed") from None
    if parts.password is not None or (parts.username is not None and scheme != "ssh"):
        raise bad("it contains credentials; keep them in a Secret")
    try:
        _check_host(parts)
    except ValueError as exc:
        raise bad(str(exc)) from None
    return parts


# -- container image references: the grammar of github.com/distribution/reference ----------------
#   reference := name [":" tag] ["@" digest];  name := [domain "/"] path-component ("/" path-component)*
_ALPHANUMERIC = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALPHANUMERIC}(?:{_SEPARATOR}{_ALPHANUMERIC})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"  # Go's \w is ASCII
_DIGEST_ALGORITHM = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*"
IMAGE_PATH_COMPONENT = re.compile(_PATH_COMPONENT)
IMAGE_DOMAIN = re.compile(_DOMAIN)
IMAGE_NAME = re.compile(rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")
IMAGE_TAG = re.compile(_TAG)
IMAGE_DIGEST = re.compile(rf"({_DIGEST_ALGORITHM}):([0-9a-fA-F]{{32,}})")
_IMAGE_REFERENCE = re.compile(rf"({IMAGE_NAME.pattern})(?::({_TAG}))?(?:@({IMAGE_DIGEST.pattern}))?")
DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}  # the algorithms go-digest registers
_MAX_REFERENCE = MAX_IMAGE_NAME + 1 + 128 + 1 + 7 + 128  # name:tag@sha512:hex
_IMAGE_EXAMPLE = "e.g. ghcr.io/org/app:1.2.3 or ghcr.io/org/app@sha256:<64 hex digits>"
_TAG_RULE = "at most 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'"


@dataclass(frozen=True)
class ImageReference:
    """A parsed image reference: ``name`` (domain and path), and the tag and digest when given."""

    name: str
    tag: str | None = None
    digest: str | None = None


def image_digest(value: str) -> str:
    """``value`` when it is a digest ``algorithm:hex`` (sha256: 64 lowercase hex digits).

    Raises:
        ValueError: why not, in one line.
    """
    m = IMAGE_DIGEST.fullmatch(value)
    if m is None:
        raise ValueError(f"{shown(value)} is not a digest: expected algorithm:hex, e.g. sha256:<64 hex digits>")
    algorithm, hex_ = m.groups()
    want = DIGEST_HEX_LENGTHS.get(algorithm)
    if want is None:
        raise ValueError(f"{shown(value)} uses the digest algorithm {algorithm!r}; use sha256, sha384 or sha512")
    if len(hex_) != want or hex_ != hex_.lower():
        raise ValueError(f"{shown(value)} is not a {algorithm} digest: expected {want} lowercase hex digits")
    return value


def image_tag(value: str) -> str:
    """``value`` when it is an image tag (``[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}``).

    Raises:
        ValueError: why not, in one line.
    """
    if not IMAGE_TAG.fullmatch(value):
        raise ValueError(f"{shown(value)} is not an image tag: {_TAG_RULE}")
    return value


def image_name(value: str) -> str:
    """``value`` when it is an image name without tag or digest (``[domain[:port]/]path``, <= 255).

    Raises:
        ValueError: why not, in one line.
    """
    if len(value) > MAX_IMAGE_NAME:
        raise ValueError(f"the image name is {len(value)} characters long; at most {MAX_IMAGE_NAME}")
    if not IMAGE_NAME.fullmatch(value):
        raise ValueError(f"{shown(value)} is not an image name: {_name_problem(value)}")
    return value


def parse_image_reference(value: str) -> ImageReference:
    """Parse ``[domain[:port]/]path[:tag][@digest]`` as github.com/distribution/reference does.

    Raises:
        ValueError: why ``value`` is not an image reference, and what is expected, in one line.
    """
    if not value:
        raise ValueError(f"the image reference is empty; {_IMAGE_EXAMPLE}")
    if len(value) > _MAX_REFERENCE:
        raise ValueError(f"the image reference is {len(value)} characters long; at most {_MAX_REFERENCE}")
    m = _IMAGE_REFERENCE.fullmatch(value)
    if m is None:
        raise ValueError(f"{shown(value)} is not an image reference: {_reference_problem(value)}; {_IMAGE_EXAMPLE}")
    name, tag, digest = m.group(1), m.group(2), m.group(3)
    if len(name) > MAX_IMAGE_NAME:
        raise ValueError(f"the image name is {len(name)} characters long; at most {MAX_IMAGE_NAME}")
    if digest is not None:
        image_digest(digest)
    return ImageReference(name, tag, digest)


def _reference_problem(value: str) -> str:
    """Which part of a reference the grammar refuses (for the message only)."""
    rest, at, digest = value.partition("@")
    if at and not IMAGE_DIGEST.fullmatch(digest):
        return f"the digest {shown(digest)} is not algorithm:hex (e.g. sha256:<64 hex digits>)"
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
        if not IMAGE_TAG.fullmatch(tag):
            return f"the tag {shown(tag)} must be {_TAG_RULE}"
    return _name_problem(rest)


def _name_problem(name: str) -> str:
    parts = name.split("/")
    if len(parts) > 1 and IMAGE_DOMAIN.fullmatch(parts[0]) and not IMAGE_PATH_COMPONENT.fullmatch(parts[0]):
        parts = parts[1:]
    elif len(parts) > 1 and not IMAGE_PATH_COMPONENT.fullmatch(parts[0]) and (":" in parts[0] or "." in parts[0]):
        return f"the registry {shown(parts[0])} is not a host name with an optional port"
    bad = next((p for p in parts if not IMAGE_PATH_COMPONENT.fullmatch(p)), None)
    if bad is None:
        return "it does not follow [registry[:port]/]path"
    return f"the path component {shown(bad)} must be lowercase letters and digits, separated by '.', '_', '__' or '-'"
