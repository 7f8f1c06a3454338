"""A tenant CA in AWS Private Certificate Authority (ACM PCA): the third CsrSigner.

Unlike the local and Secrets Manager CAs, the key never leaves AWS (PCA keeps it in its
HSMs), so nothing here holds CaMaterial: a checked CSR is sent to IssueCertificate and
the chain read back with GetCertificate. One Private CA signs for every tenant (a CA per
tenant stays the Secrets Manager option's: a Private CA is billed per month).

Failures end the signing with an exception the signing service logs per request, never
with one that stops the event worker: BadCsr when PCA refuses the CSR itself (the same
refusal the CSMS's own check gives), SigningFailed for everything else (throttled, the
certificate not issued in time, the CA disabled or missing, access denied).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from csms.domain.certificates import (
    CHARGER_CERTIFICATE_DAYS,
    MAX_CHAIN_LENGTH,
    BadCsr,
)

# GetCertificate answers RequestInProgressException until PCA has signed (usually within a
# second or two); the event worker's invocation must not wait on it for long.
POLL_ATTEMPTS = 10
POLL_DELAY_SECONDS = 1.0
# IssueCertificate's IdempotencyToken allows at most 36 characters; 32 hex digits of the
# CSR's digest (128 bits) name a request well enough.
TOKEN_LENGTH = 32
# The CA's key algorithm names the signature PCA must use (a mismatch is refused).
_SIGNING_ALGORITHMS = {
    "RSA_2048": "SHA256WITHRSA",
    "RSA_3072": "SHA256WITHRSA",
    "RSA_4096": "SHA256WITHRSA",
    "EC_prime256v1": "SHA256WITHECDSA",
    "EC_secp384r1": "SHA384WITHECDSA",
    "EC_secp521r1": "SHA512WITHECDSA",
}
# PCA's answers to IssueCertificate that are about the CSR, not the CA or the call.
_CSR_REFUSALS = frozenset({"MalformedCSRException"})
_THROTTLED = frozenset({"ThrottlingException", "TooManyRequestsException",
                        "LimitExceededException", "RequestLimitExceeded"})


class SigningFailed(RuntimeError):
    """The CA did not sign; `reason` says why in one word (Throttled, Timeout,
    Unavailable, Unsupported), the message in a sentence."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def idempotency_token(csr: x509.CertificateSigningRequest) -> str:
    """The same for the same CSR: a signing retried (an SQS redelivery, the worker run
    again) within PCA's idempotency window gets the certificate already issued instead
    of a second one."""
    der = csr.public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).hexdigest()[:TOKEN_LENGTH]


class AcmPrivateCertificateAuthority:
    """`client`: a boto3 `acm-pca` client. `ca_arn`: the Private CA's ARN."""

    def __init__(self, client: Any, ca_arn: str,
                 validity_days: int = CHARGER_CERTIFICATE_DAYS,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if not ca_arn.startswith("arn:") or ca_arn.count(":") < 5:
            raise ValueError("the Private CA must be named by its ARN")
        if validity_days < 1:
            raise ValueError("a certificate must be valid for at least a day")
        self._client = client
        self._ca_arn = ca_arn
        self._validity_days = validity_days
        self._sleep = sleep
        self._lock = threading.Lock()
        self._signing_algorithm: str | None = None

    def sign_csr(self, tenant_id: str, csr: x509.CertificateSigningRequest,
                 now: datetime) -> str:
        """The chain for CertificateSigned: the leaf, then the CA chain, PEM. `tenant_id`
        and `now` are the port's: PCA is one CA for all tenants and keeps its own time."""
        certificate_arn = self._issue(csr)
        leaf, chain = self._fetch(certificate_arn)
        pem = "".join(part.strip() + "\n" for part in (leaf, chain) if part.strip())
        if len(pem) > MAX_CHAIN_LENGTH:
            raise BadCsr("InvalidCSR", "the signed chain would not fit CertificateSigned")
        return pem

    def _issue(self, csr: x509.CertificateSigningRequest) -> str:
        partition = self._ca_arn.split(":")[1]  # aws, aws-cn, aws-us-gov: templates follow
        request = {
            "CertificateAuthorityArn": self._ca_arn,
            "Csr": csr.public_bytes(serialization.Encoding.PEM),
            "SigningAlgorithm": self._algorithm(),
            # Client authentication only, as the in-process CAs sign: a charger
            # certificate is never a TLS server's.
            "TemplateArn": f"arn:{partition}:acm-pca:::template/EndEntityClientAuthCertificate/V1",
            "Validity": {"Value": self._validity_days, "Type": "DAYS"},
            "IdempotencyToken": idempotency_token(csr),
        }
        try:
            return str(self._client.issue_certificate(**request)["CertificateArn"])
        except ClientError as error:
            code = _code(error)
            if code in _CSR_REFUSALS:
                raise BadCsr("InvalidCSR", "ACM Private CA refused the CSR") from error
            raise _failure("IssueCertificate", error) from error
        except BotoCoreError as error:
            raise SigningFailed("Unavailable", f"ACM Private CA unreachable: {error}") from error

    def _fetch(self, certificate_arn: str) -> tuple[str, str]:
        """The issued certificate and its chain, polled a bounded number of times."""
        for attempt in range(POLL_ATTEMPTS):
            if attempt:
                self._sleep(POLL_DELAY_SECONDS)
            try:
                answer = self._client.get_certificate(
                    CertificateAuthorityArn=self._ca_arn, CertificateArn=certificate_arn)
            except ClientError as error:
                if _code(error) == "RequestInProgressException":
                    continue
                raise _failure("GetCertificate", error) from error
            except BotoCoreError as error:
                raise SigningFailed("Unavailable",
                                    f"ACM Private CA unreachable: {error}") from error
            return str(answer["Certificate"]), str(answer.get("CertificateChain") or "")
        raise SigningFailed("Timeout", f"ACM Private CA did not issue {certificate_arn} "
                                       f"within {POLL_ATTEMPTS} attempts")

    def _algorithm(self) -> str:
        """The signing algorithm for the CA's key, read once (a CA's key never changes)."""
        with self._lock:
            if self._signing_algorithm is None:
                self._signing_algorithm = self._read_algorithm()
            return self._signing_algorithm

    def _read_algorithm(self) -> str:
        try:
            described = self._client.describe_certificate_authority(
                CertificateAuthorityArn=self._ca_arn)
        except ClientError as error:
            raise _failure("DescribeCertificateAuthority", error) from error
        except BotoCoreError as error:
            raise SigningFailed("Unavailable", f"ACM Private CA unreachable: {error}") from error
        configuration = described["CertificateAuthority"]["CertificateAuthorityConfiguration"]
        key_algorithm = configuration["KeyAlgorithm"]
        algorithm = _SIGNING_ALGORITHMS.get(key_algorithm)
        if algorithm is None:
            # SM2 and ML-DSA keys sign certificates no OCPP charger is required to verify.
            raise SigningFailed("Unsupported", f"a {key_algorithm} CA key is not supported")
        return algorithm


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _failure(operation: str, error: ClientError) -> SigningFailed:
    code = _code(error)
    reason = "Throttled" if code in _THROTTLED else "Unavailable"
    return SigningFailed(reason, f"ACM Private CA {operation} failed: {code or error}")
