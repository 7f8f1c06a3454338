"""On AWS the tenant's CA (key and certificate, PEM) comes from Secrets Manager. moto
stands in for Secrets Manager here: there is no local counterpart of it."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import boto3
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from csms.adapters.certificate_authority import SecretsManagerCertificateAuthority
from csms.domain.certificates import CaMaterial, check_csr, new_ca, sign

NOW = datetime.now(UTC)


def _pem(ca: CaMaterial) -> str:
    key = ca.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())
    return (key + ca.certificate.public_bytes(serialization.Encoding.PEM)).decode()


def _csr(cp: str, key: ec.EllipticCurvePrivateKey | None = None) -> str:
    key = key or ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cp)]))
           .sign(key, hashes.SHA256()))
    return csr.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture
def client(moto_url):
    return boto3.client("secretsmanager", endpoint_url=moto_url, region_name="us-east-1",
                        aws_access_key_id="local", aws_secret_access_key="local")


def test_each_tenant_signs_with_the_ca_in_its_secret(client):
    prefix = f"csms-ca-{secrets.token_hex(4)}"
    cas = {tenant: new_ca(f"{tenant} CA", NOW) for tenant in ("t1", "t2")}
    arns = {tenant: client.create_secret(Name=f"{prefix}-{tenant}",
                                         SecretString=_pem(ca))["ARN"]
            for tenant, ca in cas.items()}
    # The setting names the tenant in the secret's name; moto's ARNs end in a random
    # suffix, so the secret is named by its name here (SecretId takes either).
    authority = SecretsManagerCertificateAuthority(client, prefix + "-{tenant_id}")
    for tenant, ca in cas.items():
        got = authority.ca_for(tenant)
        assert got.certificate == ca.certificate
        chain = sign(check_csr(_csr("CP-1"), "CP-1"), got, NOW)
        x509.load_pem_x509_certificates(chain.encode())[0].verify_directly_issued_by(
            ca.certificate)
    # Read once, then cached: a secret deleted meanwhile is not needed again at once.
    client.delete_secret(SecretId=arns["t1"], ForceDeleteWithoutRecovery=True)
    assert authority.ca_for("t1").certificate == cas["t1"].certificate


def test_one_secret_for_every_tenant_and_a_leaf_is_refused_as_ca(client):
    ca = new_ca("shared CA", NOW)
    arn = client.create_secret(Name=f"csms-ca-{secrets.token_hex(4)}",
                               SecretString=_pem(ca))["ARN"]
    authority = SecretsManagerCertificateAuthority(client, arn)
    assert authority.ca_for("any").certificate == ca.certificate

    leaf_key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.load_pem_x509_csr(_csr("CP-1", leaf_key).encode())
    leaf_pem = sign(csr, ca, NOW).split("-----END CERTIFICATE-----")[0] + \
        "-----END CERTIFICATE-----\n"
    # A charger's certificate with its own key: key and certificate match, but it is no
    # CA.
    bad = client.create_secret(
        Name=f"csms-ca-{secrets.token_hex(4)}",
        SecretString=leaf_key.private_bytes(serialization.Encoding.PEM,
                                            serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()).decode() + leaf_pem,
    )["ARN"]
    with pytest.raises(ValueError, match="not a CA"):
        SecretsManagerCertificateAuthority(client, bad).ca_for("any")
