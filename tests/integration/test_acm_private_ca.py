"""On AWS the tenants' CA may be an ACM Private CA, which signs the CSR itself. moto
(`mock_aws`) stands in for ACM PCA here: there is no local counterpart of it (LocalStack
community does not host ACM PCA). moto ignores IssueCertificate's IdempotencyToken,
SigningAlgorithm and Validity, so what is sent is checked on the request; the failures
PCA answers with are botocore stubs of its documented errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from csms.adapters.acm_pca import (
    POLL_ATTEMPTS,
    AcmPrivateCertificateAuthority,
    SigningFailed,
    idempotency_token,
)
from csms.domain.certificates import BadCsr, check_csr
from moto import mock_aws

NOW = datetime.now(UTC)
REGION = "us-east-1"
ROOT_TEMPLATE = "arn:aws:acm-pca:::template/RootCACertificate/V1"
STUB_CA_ARN = ("arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/"
               "11111111-2222-3333-4444-555555555555")


def _csr(cp: str) -> x509.CertificateSigningRequest:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cp)]))
           .sign(key, hashes.SHA256()))
    # Through the CSMS's own check, as the signing service hands it over.
    return check_csr(csr.public_bytes(serialization.Encoding.PEM).decode(), cp)


class Recording:
    """The acm-pca client, with what IssueCertificate was asked kept."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.issued: list[dict[str, Any]] = []

    def issue_certificate(self, **request: Any) -> Any:
        self.issued.append(request)
        return self._client.issue_certificate(**request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@pytest.fixture
def pca() -> Iterator[tuple[Any, str, x509.Certificate]]:
    """An active root Private CA: its client, ARN and certificate."""
    with mock_aws():
        client = boto3.client("acm-pca", region_name=REGION, aws_access_key_id="local",
                              aws_secret_access_key="local")
        arn = client.create_certificate_authority(
            CertificateAuthorityConfiguration={
                "KeyAlgorithm": "RSA_2048", "SigningAlgorithm": "SHA256WITHRSA",
                "Subject": {"Organization": "CSMS", "CommonName": "CSMS tenants CA"},
            },
            CertificateAuthorityType="ROOT",
        )["CertificateAuthorityArn"]
        # A root CA signs its own CSR, then takes the certificate in (PCA's setup steps).
        own_csr = client.get_certificate_authority_csr(CertificateAuthorityArn=arn)["Csr"]
        root_arn = client.issue_certificate(
            CertificateAuthorityArn=arn, Csr=own_csr.encode(), SigningAlgorithm="SHA256WITHRSA",
            TemplateArn=ROOT_TEMPLATE, Validity={"Value": 10, "Type": "YEARS"},
        )["CertificateArn"]
        root_pem = client.get_certificate(CertificateAuthorityArn=arn,
                                          CertificateArn=root_arn)["Certificate"]
        client.import_certificate_authority_certificate(CertificateAuthorityArn=arn,
                                                        Certificate=root_pem.encode())
        yield client, arn, x509.load_pem_x509_certificate(root_pem.encode())


def test_a_chargers_csr_is_signed_by_the_private_ca(pca):
    client, arn, ca_certificate = pca
    recording = Recording(client)
    authority = AcmPrivateCertificateAuthority(recording, arn, validity_days=90)
    chain = authority.sign_csr("t1", _csr("CP-1"), NOW)
    leaf, *rest = x509.load_pem_x509_certificates(chain.encode())
    leaf.verify_directly_issued_by(ca_certificate)
    assert rest == [ca_certificate]
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "CP-1"
    sent = recording.issued[0]
    # The signature for the CA's RSA key; client authentication; the configured days.
    assert sent["SigningAlgorithm"] == "SHA256WITHRSA"
    assert sent["TemplateArn"].endswith("template/EndEntityClientAuthCertificate/V1")
    assert sent["Validity"] == {"Value": 90, "Type": "DAYS"}


def test_the_same_csr_is_issued_with_the_same_idempotency_token(pca):
    client, arn, _ = pca
    recording = Recording(client)
    authority = AcmPrivateCertificateAuthority(recording, arn)
    csr, other = _csr("CP-1"), _csr("CP-1")
    authority.sign_csr("t1", csr, NOW)
    authority.sign_csr("t1", csr, NOW)  # a retried signing
    authority.sign_csr("t1", other, NOW)
    tokens = [sent["IdempotencyToken"] for sent in recording.issued]
    assert tokens[0] == tokens[1] == idempotency_token(csr)
    assert tokens[2] != tokens[0]
    assert 1 <= len(tokens[0]) <= 36  # IssueCertificate's limit


def test_an_unknown_private_ca_fails_the_signing_clearly(pca):
    client, arn, _ = pca
    missing = arn.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
    with pytest.raises(SigningFailed) as failed:
        AcmPrivateCertificateAuthority(client, missing).sign_csr("t1", _csr("CP-1"), NOW)
    assert failed.value.reason == "Unavailable"
    assert "ResourceNotFoundException" in str(failed.value)


# ---- PCA's refusals, stubbed ----

@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("acm-pca", region_name=REGION, aws_access_key_id="local",
                          aws_secret_access_key="local")
    with Stubber(client) as stubber:
        stubber.add_response("describe_certificate_authority", {"CertificateAuthority": {
            "Arn": STUB_CA_ARN,
            "CertificateAuthorityConfiguration": {
                "KeyAlgorithm": "EC_prime256v1", "SigningAlgorithm": "SHA256WITHECDSA",
                "Subject": {"CommonName": "CSMS tenants CA"}},
        }})
        yield client, stubber


def test_a_csr_the_private_ca_refuses_is_a_bad_csr(stubbed):
    client, stubber = stubbed
    stubber.add_client_error("issue_certificate", "MalformedCSRException", "bad CSR")
    with pytest.raises(BadCsr) as refused:
        AcmPrivateCertificateAuthority(client, STUB_CA_ARN).sign_csr("t1", _csr("CP-1"), NOW)
    assert refused.value.reason == "InvalidCSR"


def test_throttling_fails_the_signing_as_throttled(stubbed):
    client, stubber = stubbed
    stubber.add_client_error("issue_certificate", "ThrottlingException", "slow down")
    with pytest.raises(SigningFailed) as failed:
        AcmPrivateCertificateAuthority(client, STUB_CA_ARN).sign_csr("t1", _csr("CP-1"), NOW)
    assert failed.value.reason == "Throttled"


def test_a_certificate_never_issued_is_waited_for_a_bounded_time(stubbed):
    client, stubber = stubbed
    csr = _csr("CP-1")
    cert_arn = STUB_CA_ARN + "/certificate/0123456789abcdef"
    stubber.add_response("issue_certificate", {"CertificateArn": cert_arn}, {
        "CertificateAuthorityArn": STUB_CA_ARN,
        "Csr": csr.public_bytes(serialization.Encoding.PEM),
        # The EC CA's key names the ECDSA signature.
        "SigningAlgorithm": "SHA256WITHECDSA",
        "TemplateArn": "arn:aws:acm-pca:::template/EndEntityClientAuthCertificate/V1",
        "Validity": {"Value": 365, "Type": "DAYS"},
        "IdempotencyToken": idempotency_token(csr),
    })
    for _ in range(POLL_ATTEMPTS):
        stubber.add_client_error("get_certificate", "RequestInProgressException", "pending")
    slept: list[float] = []
    authority = AcmPrivateCertificateAuthority(client, STUB_CA_ARN, sleep=slept.append)
    with pytest.raises(SigningFailed) as failed:
        authority.sign_csr("t1", csr, NOW)
    assert failed.value.reason == "Timeout"
    assert len(slept) == POLL_ATTEMPTS - 1
    stubber.assert_no_pending_responses()


def test_a_ca_key_no_charger_verifies_is_refused_before_issuing():
    client = boto3.client("acm-pca", region_name=REGION, aws_access_key_id="local",
                          aws_secret_access_key="local")
    with Stubber(client) as stubber:
        stubber.add_response("describe_certificate_authority", {"CertificateAuthority": {
            "CertificateAuthorityConfiguration": {
                "KeyAlgorithm": "SM2", "SigningAlgorithm": "SM3WITHSM2",
                "Subject": {"CommonName": "CSMS tenants CA"}},
        }})
        with pytest.raises(SigningFailed) as failed:
            AcmPrivateCertificateAuthority(client, STUB_CA_ARN).sign_csr("t1", _csr("CP-1"), NOW)
    assert failed.value.reason == "Unsupported"
