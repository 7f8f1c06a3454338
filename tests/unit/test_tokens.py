"""Tenant API tokens: what a valid one says, and every way a forged one is refused."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from csms.adapters.jwt_tokens import TokenVerifier
from csms.domain.access import Permission, Role, Unauthenticated

# The HS512 forgery is signed with a key shorter than HS512 wants; PyJWT warns, we refuse.
pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

SECRET = "unit-test-secret-with-at-least-32-bytes!"
ISSUER, AUDIENCE = "csms", "csms-tenant-api"


def claims(**overrides):
    now = int(time.time())
    base = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "iat": now,
        "exp": now + 300,
        "role": "operator",
        "tenant_id": "tenant-a",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def token(key=SECRET, algorithm="HS256", **overrides) -> str:
    return jwt.encode(claims(**overrides), key, algorithm=algorithm)


@pytest.fixture
def verifier() -> TokenVerifier:
    return TokenVerifier("HS256", SECRET, ISSUER, AUDIENCE, leeway_seconds=0)


def test_a_valid_token_names_the_caller_its_tenant_and_role(verifier):
    caller = verifier.verify(f"Bearer {token()}")

    assert (caller.subject, caller.tenant_id, caller.role) == ("alice", "tenant-a", Role.OPERATOR)
    assert caller.may(Permission.COMMAND) and not caller.may(Permission.MANAGE_FLEET)


def test_a_platform_admin_token_carries_no_tenant(verifier):
    caller = verifier.verify(f"Bearer {token(role='platform-admin', tenant_id='tenant-a')}")

    assert caller.tenant_id is None
    assert caller.may(Permission.MANAGE_TENANTS) and not caller.may(Permission.READ)


def _unsigned(payload: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


def _tampered() -> str:
    header, _, signature = token().split(".")
    forged = claims(tenant_id="tenant-b", role="admin")
    body = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    return f"{header}.{body}.{signature}"


FORGERIES = {
    "alg none": lambda: _unsigned(claims()),
    "wrong key": lambda: token(key="another-secret-that-is-also-32-bytes-long"),
    "expired": lambda: token(exp=int(time.time()) - 10),
    "wrong audience": lambda: token(aud="someone-else"),
    "wrong issuer": lambda: token(iss="evil"),
    "tampered claims": _tampered,
    "no expiry": lambda: token(exp=None),
    "no subject": lambda: token(sub=None),
    "unknown role": lambda: token(role="root"),
    "tenant role without tenant": lambda: token(tenant_id=None),
    "HS512 instead of the pinned HS256": lambda: token(algorithm="HS512"),
    "not a JWT": lambda: "garbage",
}


@pytest.mark.parametrize("forgery", FORGERIES.values(), ids=FORGERIES.keys())
def test_a_forged_or_invalid_token_is_refused(verifier, forgery):
    with pytest.raises(Unauthenticated):
        verifier.verify(f"Bearer {forgery()}")


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer", "Bearer   "])
def test_a_missing_or_non_bearer_authorization_is_refused(verifier, header):
    with pytest.raises(Unauthenticated):
        verifier.verify(header)


def test_an_hs256_token_signed_with_the_rsa_public_key_is_refused_by_an_rs256_verifier():
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    verifier = TokenVerifier("RS256", lambda _: private.public_key(), ISSUER, AUDIENCE)
    # The classic algorithm confusion: the public key (known to all) used as an HMAC secret.
    forged = _hmac_with(public_pem)

    with pytest.raises(Unauthenticated):
        verifier.verify(f"Bearer {forged}")
    assert verifier.verify(f"Bearer {token(key=private, algorithm='RS256')}").subject == "alice"


def _hmac_with(key: bytes) -> str:
    import hashlib
    import hmac

    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    signing_input = f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims())}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def test_a_short_hs256_secret_is_refused_at_start():
    with pytest.raises(ValueError, match="32 bytes"):
        TokenVerifier("HS256", "short", ISSUER, AUDIENCE)
