"""Bearer tokens for the tenant API, validated with PyJWT.

One algorithm is pinned per deployment: HS256 with a shared secret (the default, what
`csms-admin token issue` signs), or RS256 with keys from an identity provider's JWKS URL.
A token naming any other algorithm, `none` included, is refused before its signature is
looked at.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jwt

from csms.domain.access import Principal, Role, Unauthenticated

REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "role"]


class TokenVerifier:
    def __init__(
        self,
        algorithm: str,
        key: str | Callable[[str], Any],
        issuer: str,
        audience: str,
        leeway_seconds: int = 30,
    ) -> None:
        if algorithm not in ("HS256", "RS256"):
            raise ValueError("the tenant API accepts HS256 or RS256 tokens")
        if algorithm == "HS256" and isinstance(key, str) and len(key.encode()) < 32:
            raise ValueError("an HS256 secret must be at least 32 bytes")
        self._algorithm = algorithm
        self._key = key
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway_seconds

    def verify(self, authorization: str | None) -> Principal:
        token = _bearer(authorization)
        try:
            key = self._key(token) if callable(self._key) else self._key
            claims = jwt.decode(
                token,
                key,
                algorithms=[self._algorithm],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"invalid token: {exc}") from None
        return _principal(claims)


def jwks_key_resolver(url: str) -> Callable[[str], Any]:
    """Signing keys by the token's `kid`, fetched from the JWKS URL and cached."""
    client = jwt.PyJWKClient(url, cache_keys=True, lifespan=3600, timeout=5)

    def signing_key(token: str) -> Any:
        return client.get_signing_key_from_jwt(token).key

    return signing_key


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise Unauthenticated("missing bearer token")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
    return token.strip()


def _principal(claims: dict[str, Any]) -> Principal:
    try:
        role = Role(claims["role"])
    except ValueError:
        raise Unauthenticated("unknown role") from None
    tenant_id = claims.get("tenant_id")
    if role is Role.PLATFORM_ADMIN:
        tenant_id = None  # platform administrators act on tenants, never as one
    elif not isinstance(tenant_id, str) or not tenant_id:
        raise Unauthenticated("a tenant role needs a tenant_id claim")
    subject = claims["sub"]
    if not isinstance(subject, str):
        raise Unauthenticated("sub must be a string")
    return Principal(subject=subject, role=role, tenant_id=tenant_id)
