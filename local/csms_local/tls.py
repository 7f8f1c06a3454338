"""OCPP security profile 2 locally: a CA of the machine's own and a server certificate.

On first start the local stack makes, under `<data dir>/tls/`:
  ca.pem, ca-key.pem          a self-signed CA (the file a charge point must trust)
  server.pem, server-key.pem  a certificate for 127.0.0.1 and localhost, signed by the CA
Later starts reuse them; the server certificate is made again when it is missing,
expires within RENEW_BEFORE, names other hosts or was signed by another CA. Keys are
ECDSA P-256 (what the OCPP 1.6 security whitepaper's TLS_ECDHE_ECDSA cipher suites need)
and readable by their owner only.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_HOSTS = ("127.0.0.1", "localhost")
CA_VALIDITY = timedelta(days=3650)
SERVER_VALIDITY = timedelta(days=365)
RENEW_BEFORE = timedelta(days=30)

Key = ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class TlsFiles:
    """Where one local CA and its server certificate live."""

    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca-key.pem"

    @property
    def server_cert(self) -> Path:
        return self.directory / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.directory / "server-key.pem"


def ensure_certificates(
    directory: Path, hosts: tuple[str, ...] = DEFAULT_HOSTS, now: datetime | None = None
) -> TlsFiles:
    """The CA and a valid server certificate for `hosts` under `directory`, made if needed."""
    files = TlsFiles(directory)
    now = now or datetime.now(UTC)
    directory.mkdir(parents=True, exist_ok=True)
    ca = _load_ca(files, now)
    if ca is None:
        ca = _new_ca(now)
        _write_key(files.ca_key, ca[0])
        _write_cert(files.ca_cert, ca[1])
        renew = True
    else:
        renew = _server_needs_renewal(files, ca[1], hosts, now)
    if renew:
        key, cert = _new_server_certificate(ca, hosts, now)
        _write_key(files.server_key, key)
        _write_cert(files.server_cert, cert)
    return files


def server_context(files: TlsFiles) -> ssl.SSLContext:
    """What the wss:// listener serves: TLS 1.2 or newer with the server certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(files.server_cert, files.server_key)
    return context


def client_context(ca_file: Path) -> ssl.SSLContext:
    """A charge point's side: trusts the local CA (and only it), checks the host name."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_verify_locations(cafile=ca_file)
    return context


# --- making and checking certificates ---


def _load_ca(files: TlsFiles, now: datetime) -> tuple[Key, x509.Certificate] | None:
    if not (files.ca_cert.exists() and files.ca_key.exists()):
        return None
    try:
        cert = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
        key = serialization.load_pem_private_key(files.ca_key.read_bytes(), password=None)
    except ValueError:
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return None
    if cert.public_key() != key.public_key() or cert.not_valid_after_utc <= now + RENEW_BEFORE:
        return None
    return key, cert


def _server_needs_renewal(
    files: TlsFiles, ca_cert: x509.Certificate, hosts: tuple[str, ...], now: datetime
) -> bool:
    if not (files.server_cert.exists() and files.server_key.exists()):
        return True
    try:
        cert = x509.load_pem_x509_certificate(files.server_cert.read_bytes())
        key = serialization.load_pem_private_key(files.server_key.read_bytes(), password=None)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return True
    if cert.public_key() != key.public_key() or cert.issuer != ca_cert.subject:
        return True
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (InvalidSignature, ValueError, TypeError):
        return True
    if set(names) != set(_alt_names(hosts)):
        return True
    return cert.not_valid_after_utc <= now + RENEW_BEFORE


def _new_ca(now: datetime) -> tuple[Key, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "CSMS local stack"),
            x509.NameAttribute(NameOID.COMMON_NAME, "CSMS local CA"),
        ]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _new_server_certificate(
    ca: tuple[Key, x509.Certificate], hosts: tuple[str, ...], now: datetime
) -> tuple[Key, x509.Certificate]:
    ca_key, ca_cert = ca
    key = ec.generate_private_key(ec.SECP256R1())
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    not_after = min(now + SERVER_VALIDITY, ca_cert.not_valid_after_utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(_alt_names(hosts)), critical=False)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _alt_names(hosts: tuple[str, ...]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _write_key(path: Path, key: Key) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Created 0600 from the start (no moment where another user could read it), then
    # moved into place so a reader never sees half a file.
    partial = path.with_name(path.name + ".tmp")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(partial, path)
    path.chmod(0o600)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    partial = path.with_name(path.name + ".tmp")
    partial.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    os.replace(partial, path)
