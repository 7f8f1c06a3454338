"""RS256 tokens from an external identity provider, with keys fetched from its JWKS URL
(served here by a real HTTP server on a free port)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from csms.adapters.jwt_tokens import TokenVerifier, jwks_key_resolver
from csms.domain.access import Role, Unauthenticated

ISSUER, AUDIENCE = "https://idp.example", "csms-tenant-api"


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url(signing_key) -> Iterator[str]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key()))
    body = json.dumps({"keys": [jwk | {"kid": "key-1", "use": "sig", "alg": "RS256"}]}).encode()

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Jwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    server.shutdown()
    server.server_close()


def rs256_token(key, kid: str = "key-1", **overrides) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "bob", "iat": now, "exp": now + 60,
              "role": "viewer", "tenant_id": "tenant-a"} | overrides
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def verifier(jwks_url) -> TokenVerifier:
    return TokenVerifier("RS256", jwks_key_resolver(jwks_url), ISSUER, AUDIENCE)


def test_a_token_signed_by_the_identity_provider_is_accepted(verifier, signing_key):
    caller = verifier.verify(f"Bearer {rs256_token(signing_key)}")

    assert (caller.subject, caller.role, caller.tenant_id) == ("bob", Role.VIEWER, "tenant-a")


def test_a_token_signed_by_another_key_is_refused(verifier):
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    with pytest.raises(Unauthenticated):
        verifier.verify(f"Bearer {rs256_token(stranger)}")


def test_a_token_naming_an_unknown_key_id_is_refused(verifier, signing_key):
    with pytest.raises(Unauthenticated):
        verifier.verify(f"Bearer {rs256_token(signing_key, kid='key-2')}")
