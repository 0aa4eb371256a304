"""Access tokens of an OpenID Connect provider, checked against the tests' own issuer over HTTPS
with a private CA (:mod:`doubles.oidc`): discovery, the key set and its rotation, RS256 and
ES256, and every way a token can be wrong."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest

from doubles.oidc import OidcIssuer, PrivateCA, SigningKey
from gitops_mcp.oidc import MISS_FETCHES, KeysNeeded, OidcVerifier, TokenRejected

AUD = "https://gitops.example.test/mcp"


@pytest.fixture
def ca(tmp_path: Path) -> PrivateCA:
    return PrivateCA(tmp_path / "pki")


@pytest.fixture
def issuer(ca: PrivateCA) -> Iterator[OidcIssuer]:
    with OidcIssuer(ca) as i:
        yield i


def verifier(issuer: OidcIssuer, ca: PrivateCA, **kw: object) -> OidcVerifier:
    return OidcVerifier(issuer.issuer, AUD, ca_file=ca.ca_file, **kw)  # type: ignore[arg-type]


def test_valid_tokens_of_two_users_rs256_and_es256(issuer: OidcIssuer, ca: PrivateCA) -> None:
    v = verifier(issuer, ca)
    alice = v.verify(issuer.token("alice-sub", AUD, name="Alice Example", email="alice@example.com"))
    bob = v.verify(issuer.token("bob-sub", AUD, scope="gitops:read", alg="ES256", preferred_username="bob"))
    assert (alice.subject, alice.scopes, alice.name, alice.email) == (
        "alice-sub",
        ("gitops:read", "gitops:write"),
        "Alice Example",
        "alice@example.com",
    )
    assert (bob.subject, bob.scopes, bob.name, bob.email, bob.client_id) == (
        "bob-sub",
        ("gitops:read",),
        "bob",
        None,
        "assistant",
    )
    # discovery once, keys once: the second token is checked from the cache
    assert issuer.paths == ["/.well-known/openid-configuration", "/jwks"]


def test_scopes_are_named_by_settings_and_write_implies_read(issuer: OidcIssuer, ca: PrivateCA) -> None:
    v = verifier(issuer, ca, read_scope="gitops.ro", write_scope="gitops.rw")
    assert v.verify(issuer.token("a", AUD, scope="gitops.rw openid")).scopes == ("gitops.ro", "gitops.rw")
    assert v.verify(issuer.token("a", AUD, scope="", scp=["gitops.ro", "x"])).scopes == ("gitops.ro",)
    assert v.verify(issuer.token("a", AUD, scope="gitops:read gitops:write")).scopes == ()


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("wrong audience", "not issued for audience"),
        ("wrong issuer", "not issued by"),
        ("expired", "expired"),
        ("not yet valid", "not valid yet"),
        ("bad signature", "bad signature"),
        ("unknown key", "no RS256 key with id"),
        ("alg none", "algorithm 'none' is not accepted"),
        ("hmac", "algorithm 'HS256' is not accepted"),
        ("no sub", "no sub claim"),
        ("not a jwt", "not a JWT"),
    ],
)
def test_refused_tokens_say_why(issuer: OidcIssuer, ca: PrivateCA, case: str, reason: str) -> None:
    v = verifier(issuer, ca)
    rsa = next(k for k in issuer.keys if k.alg == "RS256")
    now = int(time.time())
    token = {
        "wrong audience": lambda: issuer.token("alice", "https://other.example.test/mcp"),
        "wrong issuer": lambda: issuer.token("alice", AUD, issuer="https://evil.example.test"),
        "expired": lambda: issuer.token("alice", AUD, expires_in=-3600),
        "not yet valid": lambda: issuer.token("alice", AUD, nbf=now + 3600),
        # the published key id, another key's signature
        "bad signature": lambda: issuer.token("alice", AUD, key=SigningKey(rsa.kid, "RS256", SigningKey.new().private)),
        "unknown key": lambda: issuer.token("alice", AUD, key=SigningKey.new()),
        "alg none": lambda: jwt.encode({"sub": "alice", "aud": AUD}, None, algorithm="none"),
        "hmac": lambda: jwt.encode({"sub": "alice", "aud": AUD}, "s" * 32, algorithm="HS256"),
        "no sub": lambda: jwt.encode(
            {"iss": issuer.issuer, "aud": AUD, "exp": now + 60}, rsa.private, "RS256", headers={"kid": rsa.kid}
        ),
        "not a jwt": lambda: "opaque-token-0123456789",
    }[case]()
    with pytest.raises(TokenRejected, match=reason):
        v.verify(token)


def test_key_rotation_fetches_the_new_key_once(issuer: OidcIssuer, ca: PrivateCA) -> None:
    v = verifier(issuer, ca)
    old = issuer.token("alice", AUD)
    v.verify(old)
    assert issuer.jwks_fetches() == 1
    new_key = issuer.rotate("RS256")
    fresh = issuer.token("alice", AUD)
    with pytest.raises(KeysNeeded):  # the event loop's path never touches the network
        v.verify(fresh, fetch=False)
    assert v.verify(fresh).subject == "alice"
    assert issuer.jwks_fetches() == 2
    assert jwt.get_unverified_header(fresh)["kid"] == new_key.kid
    v.verify(issuer.token("bob", AUD), fetch=False)  # cached now
    with pytest.raises(TokenRejected, match="no RS256 key with id"):  # the retired key is gone
        v.verify(old)


def test_unknown_key_ids_cannot_make_it_hammer_the_provider(issuer: OidcIssuer, ca: PrivateCA) -> None:
    v = verifier(issuer, ca)
    v.verify(issuer.token("alice", AUD))
    for _ in range(MISS_FETCHES * 3):
        with pytest.raises(TokenRejected):
            v.verify(issuer.token("mallory", AUD, key=SigningKey.new()))
    assert issuer.jwks_fetches() == 1 + MISS_FETCHES


def test_the_private_ca_is_needed_and_the_issuer_must_match_discovery(issuer: OidcIssuer, ca: PrivateCA) -> None:
    untrusting = OidcVerifier(issuer.issuer, AUD)  # system CAs only
    with pytest.raises(TokenRejected, match=r"cannot read the keys .*CERTIFICATE_VERIFY_FAILED"):
        untrusting.verify(issuer.token("alice", AUD))
    with pytest.raises(TokenRejected, match=r"cannot read the keys of .* \(asked again within 5 s\)"):
        untrusting.verify(issuer.token("bob", AUD))  # refused at once: no queue of requests on a dead provider
    assert issuer.paths == []  # the TLS handshake failed: no request was made
    other = OidcVerifier(issuer.issuer + "/", AUD, ca_file=ca.ca_file)
    with pytest.raises(TokenRejected, match="discovery document names issuer"):
        other.verify(issuer.token("alice", AUD, issuer=issuer.issuer + "/"))


def test_a_token_seen_lately_is_not_verified_again(
    issuer: OidcIssuer, ca: PrivateCA, monkeypatch: pytest.MonkeyPatch
) -> None:
    v = verifier(issuer, ca)
    token = issuer.token("alice", AUD)
    first = v.verify(token)
    checks: list[str] = []
    decode = jwt.decode

    def counted(*args: object, **kw: object) -> object:
        checks.append("decode")
        return decode(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(jwt, "decode", counted)
    assert v.verify(token, fetch=False) == first and checks == []
    v.verify(issuer.token("bob", AUD))
    assert checks == ["decode"]
