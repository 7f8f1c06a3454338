"""Certificates (OCPP 2.0.1 block M, 1.6 security extension): a charger's certificate
signing request checked and signed by its tenant's CA, and the view of the certificates a
charger reported installed (GetInstalledCertificateIds answers).

Version-neutral: the plug-ins hand in the CSR's PEM text and the certificate type; the
answers they build from these values are theirs.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# OCPP 2.0.1 CertificateSigningUseEnumType (1.6 security extension: only the first).
CHARGING_STATION_CERTIFICATE = "ChargingStationCertificate"
V2G_CERTIFICATE = "V2GCertificate"
CERTIFICATE_TYPES = frozenset({CHARGING_STATION_CERTIFICATE, V2G_CERTIFICATE})

# A charger certificate lasts this long; the charger asks for a new one before it ends
# (its own renewal logic, A02).
CHARGER_CERTIFICATE_DAYS = 365
# A generated (local) CA lasts far longer than what it signs.
CA_CERTIFICATE_DAYS = 3650
# Signed certificates start a little in the past: chargers' clocks drift.
CLOCK_SKEW = timedelta(minutes=5)
# CertificateSignedRequest.certificateChain and SignCertificateRequest.csr: maxLength.
MAX_PEM_LENGTH = 5500
MAX_CHAIN_LENGTH = 10000

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class BadCsr(ValueError):
    """A CSR the CSMS will not sign; `reason` is the statusInfo reasonCode."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True)
class CaMaterial:
    """A CA's key and certificate. The key never leaves the process: nothing logs or
    returns it (repr hides it)."""

    key: PrivateKey
    certificate: x509.Certificate

    def __repr__(self) -> str:
        return f"CaMaterial(subject={self.certificate.subject.rfc4514_string()!r})"


def check_csr(
    pem: str, charge_point_id: str, certificate_type: str = CHARGING_STATION_CERTIFICATE
) -> x509.CertificateSigningRequest:
    """The CSR if the CSMS signs it: PEM that parses, signed by the key it carries (the
    charger holds that key), and, for a ChargingStationCertificate, a subject
    commonName equal to the charge point id (OCPP security whitepaper; A02/A03: the
    CSMS identifies the charger by it at TLS client authentication)."""
    if certificate_type not in CERTIFICATE_TYPES:
        raise BadCsr("UnknownCertType", f"unknown certificate type {certificate_type!r}")
    if len(pem) > MAX_PEM_LENGTH:
        raise BadCsr("InvalidCSR", "the CSR is longer than 5500 characters")
    try:
        csr = x509.load_pem_x509_csr(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise BadCsr("InvalidCSR", "the CSR is not a PEM encoded PKCS#10 request") from None
    try:
        signed = csr.is_signature_valid
    except Exception:  # an unsupported key or signature algorithm
        signed = False
    if not signed:
        raise BadCsr("InvalidCSR", "the CSR's signature does not verify")
    if not isinstance(csr.public_key(), ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise BadCsr("InvalidCSR", "the CSR's key is neither EC nor RSA")
    if certificate_type == CHARGING_STATION_CERTIFICATE:
        names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if len(names) != 1 or names[0].value != charge_point_id:
            raise BadCsr("InvalidCSR", "the CSR's commonName is not the charging station's id")
    return csr


def sign(csr: x509.CertificateSigningRequest, ca: CaMaterial, now: datetime,
         days: int = CHARGER_CERTIFICATE_DAYS) -> str:
    """The certificate chain for CertificateSigned: the new leaf, then the CA's
    certificate (PEM, concatenated), so the charger can present the whole chain."""
    leaf = (
        x509.CertificateBuilder()
        # Only the subject is taken from the CSR; extensions it asks for are not: the CA
        # decides what a charger certificate may do.
        .subject_name(csr.subject)
        .issuer_name(ca.certificate.subject)
        .public_key(csr.public_key())
        .serial_number(int.from_bytes(secrets.token_bytes(16), "big") >> 1)
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(min(now + timedelta(days=days), ca.certificate.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, key_encipherment=False,
                          content_commitment=False, data_encipherment=False,
                          key_agreement=True, key_cert_sign=False, crl_sign=False,
                          encipher_only=False, decipher_only=False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(csr.public_key()),
                       critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
        .sign(ca.key, hashes.SHA256())
    )
    chain = b"".join(c.public_bytes(serialization.Encoding.PEM)
                     for c in (leaf, ca.certificate)).decode("ascii")
    if len(chain) > MAX_CHAIN_LENGTH:
        raise BadCsr("InvalidCSR", "the signed chain would not fit CertificateSigned")
    return chain


def new_ca(common_name: str, now: datetime) -> CaMaterial:
    """A self-signed CA (EC P-256): the local stack's per-tenant CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "CSMS local CA"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + timedelta(days=CA_CERTIFICATE_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=False, key_encipherment=False,
                          content_commitment=False, data_encipherment=False,
                          key_agreement=False, key_cert_sign=True, crl_sign=True,
                          encipher_only=False, decipher_only=False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    return CaMaterial(key, certificate)


def load_ca(pem: str, password: bytes | None = None) -> CaMaterial:
    """A CA from PEM text holding its private key and its certificate (any order)."""
    data = pem.encode("ascii")
    try:
        key = serialization.load_pem_private_key(_block(data, b"PRIVATE KEY"), password)
        certificate = x509.load_pem_x509_certificate(_block(data, b"CERTIFICATE"))
    except (ValueError, TypeError):
        raise ValueError("the CA needs a PEM private key and a PEM certificate") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError("the CA key must be EC or RSA")
    if _spki(key.public_key()) != _spki(certificate.public_key()):
        raise ValueError("the CA key does not belong to the CA certificate")
    return CaMaterial(key, certificate)


def _spki(public_key: Any) -> bytes:
    return bytes(public_key.public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo))


def _block(data: bytes, label: bytes) -> bytes:
    """The first PEM block whose label ends with `label` (PRIVATE KEY covers the EC,
    RSA and PKCS#8 ones, encrypted or not)."""
    for match in _PEM_BLOCK.finditer(data):
        if match.group(1).endswith(label):
            return match.group(0)
    raise ValueError(f"no {label.decode()} block")


_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----.*?-----END \1-----", re.DOTALL)


def installed_certificates(state: dict[str, Any]) -> list[dict[str, Any]]:
    """The certificates a charger last reported installed, from what its version's
    GetInstalledCertificateIds effect kept: certificate type -> the certificates' hash
    data (hash_algorithm, issuer_name_hash, issuer_key_hash, serial_number,
    child_certificates), each type as last reported."""
    reported = state.get("installed_certificates") or {}
    return [
        {"certificate_type": certificate_type, **certificate}
        for certificate_type, of_type in sorted(reported.items())
        if isinstance(of_type, list)  # a shape kept before types were separated: unread
        for certificate in of_type
    ]
