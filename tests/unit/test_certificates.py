"""Block M: CSRs checked and signed by the tenant's CA, the chain sent as
CertificateSigned from the stored request, the local CA, the installed certificates view
and the forwarding of the ISO 15118 certificate requests."""

from __future__ import annotations

import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from csms.adapters.certificate_authority import LocalCertificateAuthority
from csms.domain.certificates import (
    BadCsr,
    CaMaterial,
    check_csr,
    installed_certificates,
    load_ca,
    new_ca,
    sign,
)
from csms.domain.model import Notified
from csms.protocol.router import CallContext
from csms.services.certificates import (
    SIGNING_REQUEST,
    CertificateRequestForwarding,
    CertificateSigning,
)
from csms.versions.v201 import certificates as v201_certificates
from csms.versions.v201.certificates import installed_by_type

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CP = "CP-1"
TENANT = "tenant-a"


def csr_pem(common_name: str = CP, key: Any = None) -> str:
    key = key or ec.generate_private_key(ec.SECP256R1())
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Operator"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]))
        .sign(key, hashes.SHA256())
    )
    return request.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def ca() -> CaMaterial:
    return new_ca("tenant-a CA", NOW)


# CSR checks


def test_a_csr_for_the_charger_passes():
    csr = check_csr(csr_pem(), CP)
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == CP


@pytest.mark.parametrize("pem", ["", "not a csr", "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"
                                 "-----END CERTIFICATE REQUEST-----\n", "é" * 10])
def test_unparseable_csrs_are_refused(pem):
    with pytest.raises(BadCsr) as refused:
        check_csr(pem, CP)
    assert refused.value.reason == "InvalidCSR"


def test_a_csr_for_another_charger_is_refused():
    with pytest.raises(BadCsr, match="commonName"):
        check_csr(csr_pem("CP-2"), CP)


def test_a_v2g_csr_needs_no_charger_common_name():
    check_csr(csr_pem("SECC-1"), CP, "V2GCertificate")


def test_a_csr_with_a_broken_signature_is_refused():
    pem = csr_pem()
    der = x509.load_pem_x509_csr(pem.encode()).public_bytes(serialization.Encoding.DER)
    # Flip a bit of the signature (the DER's last byte is in it).
    tampered = der[:-1] + bytes([der[-1] ^ 1])
    import base64
    body = base64.encodebytes(tampered).decode()
    bad = f"-----BEGIN CERTIFICATE REQUEST-----\n{body}-----END CERTIFICATE REQUEST-----\n"
    with pytest.raises(BadCsr, match="signature"):
        check_csr(bad, CP)


def test_an_oversized_csr_is_refused():
    with pytest.raises(BadCsr):
        check_csr("A" * 6000, CP)


# Signing and the chain


def test_the_chain_is_the_leaf_signed_by_the_ca_then_the_ca(ca):
    key = ec.generate_private_key(ec.SECP256R1())
    chain = sign(check_csr(csr_pem(key=key), CP), ca, NOW)
    leaf, issuer = x509.load_pem_x509_certificates(chain.encode())
    assert issuer == ca.certificate
    leaf.verify_directly_issued_by(ca.certificate)
    assert leaf.public_key().public_numbers() == key.public_key().public_numbers()
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == CP
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    usage = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CLIENT_AUTH in usage
    assert leaf.not_valid_before_utc < NOW < leaf.not_valid_after_utc
    assert len(chain) <= 10000


def test_an_rsa_csr_is_signed_too(ca):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    chain = sign(check_csr(csr_pem(key=key), CP), ca, NOW)
    x509.load_pem_x509_certificates(chain.encode())[0].verify_directly_issued_by(ca.certificate)


def test_a_leaf_never_outlives_its_ca(ca):
    leaf = x509.load_pem_x509_certificates(
        sign(check_csr(csr_pem(), CP), ca, NOW, days=100_000).encode())[0]
    assert leaf.not_valid_after_utc <= ca.certificate.not_valid_after_utc


def test_a_ca_loads_from_pem_and_its_repr_hides_the_key(ca):
    key = ca.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption()).decode()
    cert = ca.certificate.public_bytes(serialization.Encoding.PEM).decode()
    loaded = load_ca(cert + key)
    assert loaded.certificate == ca.certificate
    assert "PRIVATE" not in repr(loaded) and "key" not in repr(loaded).lower().replace(
        "camaterial", "")
    other = new_ca("other", NOW)
    with pytest.raises(ValueError, match="does not belong"):
        load_ca(key + other.certificate.public_bytes(serialization.Encoding.PEM).decode())
    with pytest.raises(ValueError):
        load_ca(cert)


# The local CA


def test_the_local_ca_is_made_once_per_tenant_and_its_key_kept_encrypted(tmp_path: Path):
    passphrase = b"local-ca-passphrase-0123"
    authority = LocalCertificateAuthority(tmp_path, passphrase, clock=lambda: NOW)
    first = authority.ca_for(TENANT)
    assert authority.ca_for(TENANT) is first
    key_file = tmp_path / f"{TENANT}.ca-key.pem"
    assert b"ENCRYPTED PRIVATE KEY" in key_file.read_bytes()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # Another process (the worker) reads the same CA back.
    again = LocalCertificateAuthority(tmp_path, passphrase).ca_for(TENANT)
    assert again.certificate == first.certificate
    assert LocalCertificateAuthority(tmp_path, passphrase).ca_for("tenant-b").certificate \
        != first.certificate
    with pytest.raises(ValueError):
        LocalCertificateAuthority(tmp_path, b"wrong-passphrase-0123").ca_for(TENANT)


@pytest.mark.parametrize("tenant_id", ["../x", "a/b", "", ".hidden"])
def test_the_local_ca_refuses_tenant_ids_unfit_for_file_names(tmp_path, tenant_id):
    with pytest.raises(ValueError):
        LocalCertificateAuthority(tmp_path, b"0123456789abcdef").ca_for(tenant_id)


def test_the_local_ca_needs_a_real_passphrase(tmp_path):
    with pytest.raises(ValueError):
        LocalCertificateAuthority(tmp_path, b"short")


# CertificateSigned from the stored request


@dataclass
class Submitted:
    command_id: str


@dataclass
class FakeCommands:
    sent: list[tuple[str, str, str, dict[str, Any], bool]] = field(default_factory=list)
    fail: bool = False
    # Charge point id -> the version it speaks (2.0.1 unless named).
    versions: dict[str, str] = field(default_factory=dict)

    def shapes_of(self, charge_point_id):
        from csms.versions import v16, v201

        version = self.versions.get(charge_point_id, v201.SUBPROTOCOL)
        plugin = v16.plugin() if version == v16.SUBPROTOCOL else v201.plugin()
        return version, plugin.commands.requests

    def submit(self, tenant_id, charge_point_id, action, payload, queue_if_offline=False):
        if self.fail:
            raise RuntimeError("gone")
        self.sent.append((tenant_id, charge_point_id, action, payload, queue_if_offline))
        return Submitted(f"cmd-{len(self.sent)}")


@dataclass
class Batch:
    changes: list[Any]


class FixedCa:
    def __init__(self, ca: CaMaterial) -> None:
        self.ca = ca

    def sign_csr(self, tenant_id: str, csr: x509.CertificateSigningRequest,
                 now: datetime) -> str:
        return sign(csr, self.ca, now)


def notified(data: dict[str, Any], cp: str = CP, kind: str = SIGNING_REQUEST) -> Notified:
    return Notified(cp, kind, data, NOW, "rec-1")


SIGNING = {"csr": None, "certificate_type": "ChargingStationCertificate"}


def test_stored_requests_are_signed_and_sent_as_certificate_signed(ca):
    commands = FakeCommands()
    signing = CertificateSigning(FixedCa(ca), commands, lambda: NOW)
    done = signing.react(TENANT, [Batch([
        notified(SIGNING | {"csr": csr_pem()}),
        notified({"csr": csr_pem()}, kind="firmware_status"),
    ])])
    assert [d.command_id for d in done] == ["cmd-1"]
    [(tenant_id, cp, action, payload, queued)] = commands.sent
    assert (tenant_id, cp, action, queued) == (TENANT, CP, "CertificateSigned", True)
    assert payload["certificateType"] == "ChargingStationCertificate"
    leaf = x509.load_pem_x509_certificates(payload["certificateChain"].encode())[0]
    leaf.verify_directly_issued_by(ca.certificate)


def test_a_16_charger_gets_certificate_signed_without_a_type(ca):
    commands = FakeCommands(versions={CP: "ocpp1.6"})
    signing = CertificateSigning(FixedCa(ca), commands, lambda: NOW)
    signing.react(TENANT, [Batch([notified(SIGNING | {"csr": csr_pem()})])])
    [(*_, payload, _)] = commands.sent
    assert list(payload) == ["certificateChain"]


def test_a_bad_stored_request_is_not_signed_and_failures_stop_nothing(ca):
    commands = FakeCommands()
    signing = CertificateSigning(FixedCa(ca), commands, lambda: NOW)
    done = signing.react(TENANT, [Batch([notified({"csr": csr_pem("CP-9")})])])
    assert done[0].command_id is None and commands.sent == []
    commands.fail = True
    assert signing.react(TENANT, [Batch([notified({"csr": csr_pem()})])]) == []


# The 2.0.1 handlers


@dataclass
class FakeCharging:
    notes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def notification(self, tenant_id, charge_point_id, kind, payload, at):
        self.notes.append((kind, payload))


@dataclass
class Parts:
    charging: FakeCharging
    directory: Any = None


@dataclass
class FakeEndpoint:
    reply: dict[str, Any] | Exception
    calls: list[tuple[str, bytes, float]] = field(default_factory=list)

    def post(self, url, body, headers, timeout):
        self.calls.append((url, body, timeout))
        if isinstance(self.reply, Exception):
            raise self.reply
        return self.reply


CTX = CallContext(CP, TENANT, "conn-1", "u-1", NOW)


def handlers_with(url: str | None = None, endpoint: FakeEndpoint | None = None):
    charging = FakeCharging()
    found = v201_certificates.handlers(Parts(charging), lambda tenant: url,  # type: ignore[arg-type]
                                       endpoint)
    return found, charging


def test_sign_certificate_is_accepted_and_stored_for_the_worker():
    handlers, charging = handlers_with()
    pem = csr_pem()
    assert handlers["SignCertificate"](CTX, {"csr": pem}) == {"status": "Accepted"}
    assert charging.notes == [(SIGNING_REQUEST, {
        "csr": pem, "certificate_type": "ChargingStationCertificate"})]


def test_a_bad_csr_is_rejected_with_the_reason():
    handlers, charging = handlers_with()
    answer = handlers["SignCertificate"](CTX, {"csr": csr_pem("CP-2")})
    assert answer["status"] == "Rejected"
    assert answer["statusInfo"]["reasonCode"] == "InvalidCSR"
    assert [kind for kind, _ in charging.notes] == ["certificate_signing_rejected"]


def test_without_an_endpoint_iso15118_requests_fail_with_no_endpoint():
    handlers, charging = handlers_with()
    ev = handlers["Get15118EVCertificate"](
        CTX, {"iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef", "action": "Install",
              "exiRequest": "AAAA"})
    assert ev == {"status": "Failed", "exiResponse": "",
                  "statusInfo": {"reasonCode": "NoEndpoint",
                                 "additionalInfo": "no certificate endpoint is configured"}}
    status = handlers["GetCertificateStatus"](CTX, {"ocspRequestData": {}})
    assert status["status"] == "Failed" and status["statusInfo"]["reasonCode"] == "NoEndpoint"
    # The EV's EXI request is not copied into the notification.
    assert "exiRequest" not in charging.notes[0][1]


def test_the_endpoint_answers_the_charger_within_bounds():
    endpoint = FakeEndpoint({"status": "Accepted", "exiResponse": "BBBB", "extra": 1})
    handlers, _ = handlers_with("https://pki.example/ocpp", endpoint)
    answer = handlers["Get15118EVCertificate"](
        CTX, {"iso15118SchemaVersion": "x", "action": "Update", "exiRequest": "AAAA"})
    assert answer == {"status": "Accepted", "exiResponse": "BBBB"}
    url, body, timeout = endpoint.calls[0]
    assert url == "https://pki.example/ocpp" and timeout <= 10
    assert b'"chargingStationId":"CP-1"' in body and b'"action":"Get15118EVCertificate"' in body


@pytest.mark.parametrize(("reply", "reason"), [
    (OSError("timed out"), "EndpointUnavailable"),
    ({"status": "Maybe"}, "EndpointFailed"),
])
def test_an_endpoint_that_fails_gives_failed(reply, reason):
    handlers, _ = handlers_with("https://pki.example/ocpp", FakeEndpoint(reply))
    answer = handlers["GetCertificateStatus"](CTX, {"ocspRequestData": {}})
    assert answer["status"] == "Failed" and answer["statusInfo"]["reasonCode"] == reason


def test_a_plain_http_endpoint_elsewhere_is_never_called():
    endpoint = FakeEndpoint({"status": "Accepted"})
    handlers, _ = handlers_with("http://pki.example/ocpp", endpoint)
    answer = handlers["GetCertificateStatus"](CTX, {"ocspRequestData": {}})
    assert answer["statusInfo"]["reasonCode"] == "NoEndpoint" and endpoint.calls == []
    forwarding = CertificateRequestForwarding(lambda t: "http://127.0.0.1:9/x",
                                              FakeEndpoint({"status": "Accepted",
                                                            "ocspResult": "R"}))
    assert forwarding.forward(TENANT, CP, "GetCertificateStatus", {}) == {
        "status": "Accepted", "ocspResult": "R"}


# The installed certificates view


HASH = {"hashAlgorithm": "SHA256", "issuerNameHash": "n", "issuerKeyHash": "k",
        "serialNumber": "01"}


VIEW = {"hash_algorithm": "SHA256", "issuer_name_hash": "n", "issuer_key_hash": "k",
        "serial_number": "01", "child_certificates": []}
CHAIN_ANSWER = {"status": "Accepted", "certificateHashDataChain": [
    {"certificateType": "V2GCertificateChain", "certificateHashData": HASH,
     "childCertificateHashData": [dict(HASH, serialNumber="02")]},
    {"certificateType": "CSMSRootCertificate", "certificateHashData": HASH}]}


def test_a_201_answer_is_kept_by_type_with_each_chains_children():
    by_type = installed_by_type({}, CHAIN_ANSWER)
    assert by_type["CSMSRootCertificate"] == [VIEW]
    assert by_type["V2GCertificateChain"][0]["child_certificates"][0]["serial_number"] == "02"


def test_a_201_answer_to_named_types_lists_each_of_them_even_when_none_is_installed():
    by_type = installed_by_type({"certificateType": ["MORootCertificate"]}, {"status": "NotFound"})
    assert by_type == {"MORootCertificate": []}


def test_the_view_lists_certificates_by_type_and_is_empty_before_any_answer():
    state = {"installed_certificates": {"ManufacturerRootCertificate": [VIEW],
                                        "CentralSystemRootCertificate": []}}
    assert installed_certificates(state) == [
        {"certificate_type": "ManufacturerRootCertificate", **VIEW}]
    assert installed_certificates({}) == []


def test_the_view_ignores_an_answer_kept_whole_before_types_were_separated():
    assert installed_certificates({"installed_certificates": {"status": "NotFound"}}) == []


# What goes out validates in each version


def test_certificate_signed_fits_each_versions_schema(ca):
    from csms.versions import v16, v201

    commands = FakeCommands()
    signing = CertificateSigning(FixedCa(ca), commands, lambda: NOW)
    signing.sign_and_send(TENANT, CP, SIGNING | {"csr": csr_pem()})
    commands.versions[CP] = "ocpp1.6"
    signing.sign_and_send(TENANT, CP, SIGNING | {"csr": csr_pem()})
    (*_, payload_201, _), (*_, payload_16, _) = commands.sent
    v201.plugin().schemas.validate_request("CertificateSigned", payload_201)
    v16.plugin().schemas.validate_request("CertificateSigned", payload_16)
    handlers, _ = handlers_with()
    schemas = v201.plugin().schemas
    schemas.validate_response("SignCertificate",
                              handlers["SignCertificate"](CTX, {"csr": csr_pem("CP-2")}))
    schemas.validate_response("Get15118EVCertificate", handlers["Get15118EVCertificate"](
        CTX, {"iso15118SchemaVersion": "x", "action": "Install", "exiRequest": "A"}))
    schemas.validate_response("GetCertificateStatus", handlers["GetCertificateStatus"](
        CTX, {"ocspRequestData": {}}))
