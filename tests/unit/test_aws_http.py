"""The hot path's SigV4 signing agrees with botocore's, header for header."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from csms.adapters.aws_http import sigv4_headers

NOW = dt.datetime(2026, 11, 22, 12, 34, 56, tzinfo=dt.UTC)
BODY = b'{"QueueUrl":"https://sqs.eu-west-1.amazonaws.com/123456789012/e.fifo","MessageBody":"x"}'


@pytest.mark.parametrize("token", [None, "session-token-from-lambda"])
def test_the_signature_is_the_one_botocore_computes(token):
    ours = sigv4_headers(
        service="sqs", region="eu-west-1", host="sqs.eu-west-1.amazonaws.com",
        target="AmazonSQS.SendMessage", body=BODY, access_key="AKIDEXAMPLE",
        secret_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", session_token=token, now=NOW,
    )
    request = AWSRequest(
        method="POST", url="https://sqs.eu-west-1.amazonaws.com/", data=BODY,
        headers={"Content-Type": "application/x-amz-json-1.0",
                 "X-Amz-Target": "AmazonSQS.SendMessage"},
    )
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    with mock.patch("botocore.auth.get_current_datetime", return_value=NOW.replace(tzinfo=None)):
        SigV4Auth(credentials, "sqs", "eu-west-1").add_auth(request)

    assert ours["x-amz-date"] == request.headers["X-Amz-Date"]
    assert ours["authorization"] == request.headers["Authorization"]
