"""An OpenID Connect provider of the tests' own, over HTTPS on 127.0.0.1 with a private CA.

:class:`PrivateCA` makes a CA and a server certificate for 127.0.0.1 with ``cryptography``;
:class:`OidcIssuer` serves the discovery document and the key set (``/jwks``), signs access
tokens (RS256 or ES256, PyJWT) and rotates its keys. Every request path is recorded, so a test
can count key fetches.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from doubles.http import Exchange, HttpDouble


def _pem_key(key: Any) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class PrivateCA:
    """A CA (``ca.pem``) and a certificate for 127.0.0.1 it signed (``server.pem``, ``server-key.pem``) in ``root``."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        now = dt.datetime.now(dt.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gitops-mcp test CA")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        self.ca_file = root / "ca.pem"
        self.cert_file = root / "server.pem"
        self.key_file = root / "server-key.pem"
        self.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        self.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.key_file.write_bytes(_pem_key(key))


@dataclass
class SigningKey:
    kid: str
    alg: str
    private: Any

    @property
    def jwk(self) -> dict[str, Any]:
        algo = jwt.algorithms.RSAAlgorithm if self.alg == "RS256" else jwt.algorithms.ECAlgorithm
        data: dict[str, Any] = algo.to_jwk(self.private.public_key(), as_dict=True)
        return {**data, "kid": self.kid, "use": "sig", "alg": self.alg}

    @classmethod
    def new(cls, alg: str = "RS256") -> SigningKey:
        private = rsa.generate_private_key(65537, 2048) if alg == "RS256" else ec.generate_private_key(ec.SECP256R1())
        return cls(f"k-{secrets.token_hex(6)}", alg, private)


class OidcIssuer(HttpDouble):
    """Entered: serving HTTPS; ``issuer`` is its URL. Publishes ``keys`` (RS256 and ES256 at first)."""

    def __init__(self, ca: PrivateCA) -> None:
        super().__init__()
        self.serve_tls(ca.cert_file, ca.key_file)
        self.ca_file = ca.ca_file  # what a client needs to trust it
        self.keys = [SigningKey.new("RS256"), SigningKey.new("ES256")]
        self.paths: list[str] = []

    @property
    def issuer(self) -> str:
        return self.base

    def jwks_fetches(self) -> int:
        return self.paths.count("/jwks")

    def rotate(self, alg: str = "RS256") -> SigningKey:
        """A new key of ``alg`` replaces the published ones of that algorithm."""
        new = SigningKey.new(alg)
        self.keys = [k for k in self.keys if k.alg != alg] + [new]
        return new

    def token(
        self,
        sub: str,
        audience: str,
        scope: str = "gitops:read gitops:write",
        alg: str = "RS256",
        key: SigningKey | None = None,
        issuer: str | None = None,
        expires_in: float = 600,
        **claims: Any,
    ) -> str:
        signer = key or next(k for k in self.keys if k.alg == alg)
        now = int(time.time())
        payload = {
            "iss": issuer or self.issuer,
            "sub": sub,
            "aud": audience,
            "iat": now,
            "nbf": now - 5,
            "exp": now + int(expires_in),
            "scope": scope,
            "azp": "assistant",
            **claims,
        }
        return jwt.encode(payload, signer.private, algorithm=signer.alg, headers={"kid": signer.kid})

    def handle(self, h: Exchange) -> None:
        self.paths.append(h.path)
        if h.path == "/.well-known/openid-configuration":
            h.send_json(
                200,
                {
                    "issuer": self.issuer,
                    "jwks_uri": f"{self.issuer}/jwks",
                    "authorization_endpoint": f"{self.issuer}/authorize",
                    "token_endpoint": f"{self.issuer}/token",
                    "id_token_signing_alg_values_supported": ["RS256", "ES256"],
                },
            )
        elif h.path == "/jwks":
            h.send_json(200, {"keys": [k.jwk for k in self.keys]})
        else:
            h.send_json(404, {"error": "not_found"})
