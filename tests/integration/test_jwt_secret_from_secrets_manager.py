"""On AWS the HS256 key comes from Secrets Manager (JWT_SECRET_ARN). moto stands in for
Secrets Manager here: there is no local counterpart of it."""

from __future__ import annotations

import secrets
import time

import boto3
import jwt
from csms import bootstrap


def test_the_token_key_is_read_from_the_secret(monkeypatch, moto_url):
    key = secrets.token_urlsafe(48)
    client = boto3.client("secretsmanager", endpoint_url=moto_url, region_name="us-east-1",
                          aws_access_key_id="local", aws_secret_access_key="local")
    arn = client.create_secret(Name=f"jwt-{secrets.token_hex(4)}", SecretString=key)["ARN"]
    for name, value in {"JWT_SECRET_ARN": arn, "AWS_ENDPOINT_URL": moto_url,
                        "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "local",
                        "AWS_SECRET_ACCESS_KEY": "local"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("JWT_SECRET", raising=False)
    bootstrap.reset()
    now = int(time.time())
    token = jwt.encode({"iss": "csms", "aud": "csms-tenant-api", "sub": "ops", "iat": now,
                        "exp": now + 60, "role": "viewer", "tenant_id": "t1"}, key,
                       algorithm="HS256")

    caller = bootstrap.token_verifier().verify(f"Bearer {token}")

    assert (caller.subject, caller.tenant_id) == ("ops", "t1")
    bootstrap.reset()
