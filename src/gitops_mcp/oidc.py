"""Access tokens from an OpenID Connect provider: JWTs checked as an OAuth resource server does.

- Discovery at ``<issuer>/.well-known/openid-configuration``; its ``issuer`` must be the
  configured one exactly and its ``jwks_uri`` https. Keys come from ``jwks_uri`` and are cached:
  fetched again after :data:`KEYS_TTL`, and at once for a key id the cache does not know (key
  rotation), at most :data:`MISS_FETCHES` times a minute (random key ids cannot make the server
  hammer the provider). A provider that cannot be reached keeps the cached keys in use; with
  none yet, it is asked again after :data:`RETRY_SECONDS` (requests meanwhile are refused at once).
- RS256 (RSA keys) and ES256 (EC P-256 keys) only; ``none``, HMAC and the rest are refused. The
  signature, ``iss``, ``aud``, ``exp`` and ``nbf`` (with a small leeway) are checked by PyJWT;
  ``sub`` is required and is the principal.
- Scopes from ``scope`` (space-separated) or ``scp`` (a list or a string); the write scope
  implies the read scope.
- A token verified in the last :data:`RECENT_SECONDS` is not verified again (by its SHA-256;
  its ``exp`` still holds, and so must its key: a key gone from the key set as last fetched takes
  its tokens with it): a client sends the same token with every request.

Plain Python: nothing here knows MCP (see ``server/auth.py`` for the adapter). Blocking HTTP;
:meth:`OidcVerifier.verify` with ``fetch=False`` never touches the network.
"""

from __future__ import annotations

import hashlib
import json
import logging
import ssl
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt

log = logging.getLogger("gitops_mcp.oidc")

ALGORITHMS = ("RS256", "ES256")
KEYS_TTL = 3600.0
MISS_FETCHES = 6  # key fetches a minute for key ids the cache does not know
RETRY_SECONDS = 5.0  # with no keys yet, a provider that failed is asked again only after this long
MAX_DOCUMENT = 1 << 20
MAX_TOKEN = 16 << 10
RECENT = 1024  # tokens verified lately, remembered by their SHA-256 ...
RECENT_SECONDS = 60.0  # ... for at most this long (and never past their exp)


class TokenRejected(Exception):
    """The token is not accepted; the message says why (for the log, never the token)."""


class KeysNeeded(Exception):
    """Verification needs a fetch from the provider (raised only with ``fetch=False``)."""


@dataclass(frozen=True)
class Identity:
    """A verified token's caller."""

    subject: str
    issuer: str
    scopes: tuple[str, ...]
    client_id: str
    expires_at: int | None = None
    name: str | None = None
    email: str | None = None


@dataclass
class _Keys:
    by_kid: dict[str | None, list[jwt.PyJWK]] = field(default_factory=dict)
    fetched_at: float = 0.0


class OidcVerifier:
    def __init__(
        self,
        issuer: str,
        audience: str,
        read_scope: str = "gitops:read",
        write_scope: str = "gitops:write",
        ca_file: Path | None = None,
        leeway: float = 30.0,
        timeout: float = 10.0,
    ) -> None:
        self.issuer, self.audience = issuer, audience
        self.read_scope, self.write_scope = read_scope, write_scope
        self.leeway = leeway
        self._verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(ca_file)) if ca_file else True
        self._timeout = timeout
        self._jwks_uri: str | None = None
        self._keys = _Keys()
        self._misses: deque[float] = deque()
        self._lock = threading.Lock()  # the cached state; never held over the network
        self._fetching = threading.Lock()
        self._failed_at = -RETRY_SECONDS
        self._recent: OrderedDict[bytes, tuple[Identity, float, str | None, str]] = OrderedDict()

    # -- the provider ----------------------------------------------------------------------------------
    def _get(self, url: str) -> dict[str, Any]:
        with httpx.Client(verify=self._verify, timeout=self._timeout, follow_redirects=False) as client:
            r = client.get(url, headers={"Accept": "application/json"})
        if r.status_code != 200:
            raise TokenRejected(f"{url} answered HTTP {r.status_code}")
        if len(r.content) > MAX_DOCUMENT:
            raise TokenRejected(f"{url} answered more than {MAX_DOCUMENT} bytes")
        try:
            data = json.loads(r.content)
        except ValueError:
            raise TokenRejected(f"{url} did not answer JSON") from None
        if not isinstance(data, dict):
            raise TokenRejected(f"{url} did not answer a JSON object")
        return data

    def _discover(self) -> str:
        if self._jwks_uri is None:
            doc = self._get(self.issuer.rstrip("/") + "/.well-known/openid-configuration")
            if doc.get("issuer") != self.issuer:
                raise TokenRejected(f"the discovery document names issuer {doc.get('issuer')!r}, not {self.issuer!r}")
            uri = doc.get("jwks_uri")
            if not isinstance(uri, str) or not uri.startswith("https://"):
                raise TokenRejected("the discovery document has no https jwks_uri")
            self._jwks_uri = uri
        return self._jwks_uri

    def _fetch_keys(self) -> None:
        data = self._get(self._discover())
        by_kid: dict[str | None, list[jwt.PyJWK]] = {}
        for jwk in data.get("keys") or []:
            if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig":
                continue
            alg = {"RSA": "RS256", "EC": "ES256"}.get(str(jwk.get("kty")))
            if alg is None or (jwk.get("kty") == "EC" and jwk.get("crv") != "P-256"):
                continue
            if jwk.get("alg", alg) != alg:
                continue
            try:
                key = jwt.PyJWK(jwk, alg)
            except jwt.PyJWTError:
                continue
            by_kid.setdefault(jwk.get("kid") if isinstance(jwk.get("kid"), str) else None, []).append(key)
        if not by_kid:
            raise TokenRejected("the provider's key set has no RS256 or ES256 signing key")
        with self._lock:
            self._keys = _Keys(by_kid, time.monotonic())
        log.info("fetched %d signing key(s) of %s", sum(map(len, by_kid.values())), self.issuer)

    def _miss_allowed(self, now: float) -> bool:
        while self._misses and now - self._misses[0] > 60:
            self._misses.popleft()
        return len(self._misses) < MISS_FETCHES

    def _lookup(self, kid: str | None, alg: str, now: float) -> tuple[list[jwt.PyJWK], bool, bool]:
        """(keys found, whether the cache is stale, whether a fetch for a missing key id is allowed)."""
        with self._lock:
            found = self._find(kid, alg)
            stale = not self._keys.by_kid or now - self._keys.fetched_at > KEYS_TTL
            return found, stale, not found and self._miss_allowed(now)

    def _candidates(self, kid: str | None, alg: str, fetch: bool) -> list[jwt.PyJWK]:
        found, stale, miss = self._lookup(kid, alg, time.monotonic())
        if stale or miss:
            if not fetch:
                raise KeysNeeded
            with self._fetching:  # one fetch at a time; the others find its keys
                found, stale, miss = self._lookup(kid, alg, time.monotonic())
                if stale and not self._keys.by_kid and time.monotonic() - self._failed_at < RETRY_SECONDS:
                    raise TokenRejected(
                        f"cannot read the keys of {self.issuer} (asked again within {RETRY_SECONDS:.0f} s)"
                    )
                if stale or miss:
                    if miss and not stale:
                        with self._lock:
                            self._misses.append(time.monotonic())
                    try:
                        self._fetch_keys()
                    except (TokenRejected, httpx.HTTPError, ssl.SSLError) as exc:
                        self._failed_at = time.monotonic()
                        if not self._keys.by_kid:
                            raise TokenRejected(f"cannot read the keys of {self.issuer}: {exc}") from None
                        log.warning("keeping the cached keys of %s: %s", self.issuer, exc)
                        with self._lock:  # asked again in a minute, not on every request
                            self._keys.fetched_at = time.monotonic() - KEYS_TTL + 60
                    found = self._lookup(kid, alg, time.monotonic())[0]
        if not found:
            raise TokenRejected(f"no {alg} key with id {kid!r} at {self.issuer}")
        return found

    def _find(self, kid: str | None, alg: str) -> list[jwt.PyJWK]:
        if kid is not None:
            keys = self._keys.by_kid.get(kid, [])
        else:
            keys = [k for ks in self._keys.by_kid.values() for k in ks]
        return [k for k in keys if k.algorithm_name == alg]

    # -- tokens ----------------------------------------------------------------------------------------
    def verify(self, token: str, fetch: bool = True) -> Identity:
        """The caller of ``token``.

        Raises:
            TokenRejected: the token is not valid here (why, in the message).
            KeysNeeded: ``fetch=False`` and the keys must be fetched first.
        """
        if len(token) > MAX_TOKEN or token.count(".") != 2:
            raise TokenRejected("not a JWT")
        digest = hashlib.sha256(token.encode()).digest()
        now = time.time()
        with self._lock:
            hit = self._recent.get(digest)
            if hit is not None and now < hit[1] and self._find(hit[2], hit[3]):
                return hit[0]
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenRejected("malformed JWT header") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALGORITHMS:
            raise TokenRejected(f"algorithm {alg!r} is not accepted (RS256, ES256)")
        if kid is not None and not isinstance(kid, str):
            raise TokenRejected("malformed key id")
        keys = self._candidates(kid, alg, fetch)
        if kid is None and len(keys) > 1:
            raise TokenRejected("the token names no key id and the provider has several keys")
        who = self._identity(self._decode(token, keys[0], alg))
        until = min(now + RECENT_SECONDS, (who.expires_at or now) + self.leeway)
        with self._lock:
            self._recent[digest] = (who, until, kid, alg)
            while len(self._recent) > RECENT:
                self._recent.popitem(last=False)
        return who

    def _decode(self, token: str, key: jwt.PyJWK, alg: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRejected("expired") from None
        except jwt.ImmatureSignatureError:
            raise TokenRejected("not valid yet (nbf)") from None
        except jwt.InvalidAudienceError:
            raise TokenRejected(f"not issued for audience {self.audience}") from None
        except jwt.InvalidIssuerError:
            raise TokenRejected(f"not issued by {self.issuer}") from None
        except jwt.InvalidSignatureError:
            raise TokenRejected("bad signature") from None
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRejected(f"no {exc.claim} claim") from None
        except jwt.PyJWTError as exc:
            raise TokenRejected(f"invalid token ({type(exc).__name__})") from None
        return claims

    def _identity(self, claims: dict[str, Any]) -> Identity:
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub.strip() or len(sub) > 255:
            raise TokenRejected("the sub claim is not a non-empty string")
        scopes: set[str] = set()
        for raw in (claims.get("scope"), claims.get("scp")):  # RFC 9068 / 8693, and the list some providers use
            if isinstance(raw, str):
                scopes.update(raw.split())
            elif isinstance(raw, list):
                scopes.update(s for s in raw if isinstance(s, str))
        if self.write_scope in scopes:
            scopes.add(self.read_scope)
        granted = tuple(s for s in (self.read_scope, self.write_scope) if s in scopes)
        client = claims.get("azp") or claims.get("client_id") or sub
        exp = claims.get("exp")

        def text(name: str) -> str | None:
            value = claims.get(name)
            return value if isinstance(value, str) and value.strip() else None

        return Identity(
            subject=sub,
            issuer=self.issuer,
            scopes=granted,
            client_id=str(client)[:255],
            expires_at=int(exp) if isinstance(exp, int | float) else None,
            name=text("name") or text("preferred_username"),
            email=text("email") if claims.get("email_verified", True) is not False else None,
        )
