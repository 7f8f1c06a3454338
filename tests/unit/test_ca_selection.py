"""Which CA the composition root gives certificate signing, from the settings."""

from __future__ import annotations

from pathlib import Path

from csms.adapters.acm_pca import AcmPrivateCertificateAuthority
from csms.adapters.certificate_authority import (
    LocalCertificateAuthority,
    SecretsManagerCertificateAuthority,
)
from csms.config import Settings

from tests.fakes.wiring import memory_wiring

PRIVATE_CA = ("arn:aws:acm-pca:eu-west-1:123456789012:certificate-authority/"
              "11111111-2222-3333-4444-555555555555")
SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:csms-ca"


def test_a_private_ca_arn_picks_acm_private_ca():
    wiring = memory_wiring(Settings(aws_region="eu-west-1", tenant_ca_private_ca_arn=PRIVATE_CA))
    assert isinstance(wiring.certificate_authority, AcmPrivateCertificateAuthority)
    assert wiring.certificate_signing is not None


def test_the_private_ca_wins_over_a_secret():
    wiring = memory_wiring(Settings(aws_region="eu-west-1", tenant_ca_private_ca_arn=PRIVATE_CA,
                                    tenant_ca_secret_arn=SECRET))
    assert isinstance(wiring.certificate_authority, AcmPrivateCertificateAuthority)


def test_without_a_private_ca_the_secret_then_the_local_ca_are_used(tmp_path: Path):
    secret = memory_wiring(Settings(aws_region="eu-west-1", tenant_ca_secret_arn=SECRET))
    assert isinstance(secret.certificate_authority, SecretsManagerCertificateAuthority)
    local = memory_wiring(Settings(local_ca_dir=str(tmp_path),
                                   local_ca_passphrase="a passphrase of 16+ bytes"))
    assert isinstance(local.certificate_authority, LocalCertificateAuthority)


def test_no_ca_configured_signs_nothing():
    wiring = memory_wiring(Settings())
    assert wiring.certificate_authority is None
    assert wiring.certificate_signing is None


def test_the_private_ca_is_read_from_the_environment():
    settings = Settings.from_env({"TENANT_CA_PRIVATE_CA_ARN": PRIVATE_CA,
                                  "TENANT_CA_PRIVATE_CA_VALIDITY_DAYS": "90"})
    assert settings.tenant_ca_private_ca_arn == PRIVATE_CA
    assert settings.tenant_ca_private_ca_validity_days == 90
    assert Settings.from_env({}).tenant_ca_private_ca_validity_days == 365
