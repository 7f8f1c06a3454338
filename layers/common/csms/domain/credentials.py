"""Charge point passwords (OCPP security profiles 1 and 2: HTTP Basic authentication).

Stored as salted scrypt hashes; verification runs in constant time and takes as long for
an unknown charge point as for a known one, so timing tells an attacker nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# scrypt cost: ~30-60 ms on these machines; paid once per WebSocket connection.
_N, _R, _P = 2**14, 8, 1
_SALT_BYTES = 16
_KEY_BYTES = 32

# OCPP 1.6 security whitepaper: the AuthorizationKey is 16 to 40 bytes.
MIN_PASSWORD_LENGTH = 16
MAX_PASSWORD_LENGTH = 40


class WeakPassword(ValueError):
    pass


def check_password_policy(password: str) -> None:
    if not MIN_PASSWORD_LENGTH <= len(password.encode()) <= MAX_PASSWORD_LENGTH:
        raise WeakPassword(
            f"charge point passwords are {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} bytes"
        )


def hash_password(password: str) -> str:
    check_password_policy(password)
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _derive(password, salt, _N, _R, _P)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str | None) -> bool:
    """True when `password` matches `stored`; with no stored hash, burns the same time."""
    if stored is None:
        _derive(password, b"\0" * _SALT_BYTES, _N, _R, _P)
        return False
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        candidate = _derive(password, _unb64(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(candidate, _unb64(key))


def generate_password() -> str:
    """A random password within the OCPP length limits (32 URL-safe characters)."""
    return secrets.token_urlsafe(24)


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, dklen=_KEY_BYTES, maxmem=64 * 1024 * 1024
    )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode(), validate=True)


def credential_tag(key: bytes, charge_point_id: str, password: str, stored_hash: str) -> str:
    """A keyed hash of a verified login, for a short-lived cache that spares the scrypt
    check on reconnects. It covers the stored hash, so a new password invalidates it;
    without the key (kept out of Redis) it is no help in guessing a password."""
    message = "\0".join((charge_point_id, password, stored_hash)).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
