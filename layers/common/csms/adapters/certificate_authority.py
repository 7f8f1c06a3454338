"""Where a tenant's CA comes from (the CertificateAuthority port).

- LocalCertificateAuthority (local stack): a CA generated per tenant on first use, kept
  in a directory (the local stack's data dir) as the certificate and the private key
  encrypted (PKCS#8, AES-256) with a passphrase from the settings; a key on disk in the
  clear would outlive the stack and be copied with it.
- SecretsManagerCertificateAuthority (AWS): the key and certificate, PEM, in a Secrets
  Manager secret (KMS-encrypted at rest, read through IAM); the secret ARN may name
  `{tenant_id}` for a CA per tenant. Read at most every CACHE_SECONDS per tenant.
- AcmPrivateCertificateAuthority (AWS, adapters/acm_pca.py): the key stays in ACM Private
  CA, which signs the CSR itself.

Signing goes through `sign_csr` (the CsrSigner port), which every CA has: the first two
sign in process with the key `ca_for` gives, ACM Private CA remotely.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from csms.domain.certificates import CaMaterial, load_ca, new_ca, sign

# A rotated secret is used within this long.
CACHE_SECONDS = 300.0
# Tenant ids become file names: only these characters (others are rejected, never
# mapped, so two tenants cannot share a CA).
_SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


class CertificateAuthority(Protocol):
    """The CA that signs a tenant's charger certificates."""

    def ca_for(self, tenant_id: str) -> CaMaterial: ...


class LocalCertificateAuthority:
    def __init__(self, directory: Path, passphrase: bytes,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        if len(passphrase) < 16:
            raise ValueError("the local CA passphrase must have at least 16 bytes")
        self._directory = directory
        self._passphrase = passphrase
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, CaMaterial] = {}

    def ca_for(self, tenant_id: str) -> CaMaterial:
        if not _SAFE_ID.match(tenant_id) or tenant_id.startswith("."):
            raise ValueError("tenant id unfit for a file name")
        with self._lock:
            cached = self._cache.get(tenant_id)
            if cached is None:
                cached = self._load(tenant_id) or self._create(tenant_id)
                self._cache[tenant_id] = cached
            return cached

    def sign_csr(self, tenant_id: str, csr: x509.CertificateSigningRequest,
                 now: datetime) -> str:
        return sign(csr, self.ca_for(tenant_id), now)

    def _paths(self, tenant_id: str) -> tuple[Path, Path]:
        return (self._directory / f"{tenant_id}.ca-key.pem",
                self._directory / f"{tenant_id}.ca-cert.pem")

    def _load(self, tenant_id: str) -> CaMaterial | None:
        key_path, cert_path = self._paths(tenant_id)
        if not (key_path.exists() and cert_path.exists()):
            return None
        text = key_path.read_text() + cert_path.read_text()
        return load_ca(text, self._passphrase)

    def _create(self, tenant_id: str) -> CaMaterial:
        ca = new_ca(f"CSMS tenant {tenant_id} CA", self._clock())
        self._directory.mkdir(parents=True, exist_ok=True)
        key_path, cert_path = self._paths(tenant_id)
        key_pem = ca.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(self._passphrase),
        )
        # Owner-only from creation (no window in which the file is world-readable), and
        # written before the certificate: a certificate alone is never taken for a CA.
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key_pem)
        cert_path.write_bytes(ca.certificate.public_bytes(serialization.Encoding.PEM))
        return ca


class SecretsManagerCertificateAuthority:
    """`client`: a boto3 `secretsmanager` client (or anything with get_secret_value)."""

    def __init__(self, client: Any, secret_arn: str,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._secret_arn = secret_arn
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, CaMaterial]] = {}

    def ca_for(self, tenant_id: str) -> CaMaterial:
        now = self._monotonic()
        with self._lock:
            cached = self._cache.get(tenant_id)
            if cached is not None and now - cached[0] < CACHE_SECONDS:
                return cached[1]
        arn = self._secret_arn.replace("{tenant_id}", tenant_id)
        value = self._client.get_secret_value(SecretId=arn)["SecretString"]
        ca = load_ca(value)
        _check_is_ca(ca.certificate)
        with self._lock:
            self._cache[tenant_id] = (now, ca)
        return ca

    def sign_csr(self, tenant_id: str, csr: x509.CertificateSigningRequest,
                 now: datetime) -> str:
        return sign(csr, self.ca_for(tenant_id), now)


def _check_is_ca(certificate: x509.Certificate) -> None:
    """A secret holding a leaf certificate by mistake would sign certificates no charger
    can verify: refused at once instead."""
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        raise ValueError("the CA certificate has no basicConstraints") from None
    if not constraints.value.ca:
        raise ValueError("the certificate in the CA secret is not a CA certificate")
