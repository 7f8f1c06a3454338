"""`csms-local invoke` on the sample events and `csms-admin`, against real servers."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import uuid
from pathlib import Path

import jwt
import pytest
from csms import bootstrap
from csms_local import admin as admin_cli
from csms_local import aws_local
from csms_local.cli import invoke
from csms_local.services import free_port
from csms_local.sqs_poller import create_queues

from tests.localstack_fixtures import local_aws_url  # noqa: F401 - the fixture

EVENTS = Path(__file__).resolve().parents[2] / "events"


@pytest.fixture
def local_stack_env(tmp_path, monkeypatch, redis_url, mongodb_uri, key_prefix):
    """The environment `make run` gives the handlers, pointed at this run's servers."""
    monkeypatch.setenv("MONGODB_URI", mongodb_uri)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("REDIS_KEY_PREFIX", key_prefix)
    monkeypatch.setenv("LOCAL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("WEBSOCKET_MANAGEMENT_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("JWT_SECRET", "test-secret-" + uuid.uuid4().hex)
    monkeypatch.setenv("MQTT_URL", "")  # no broker here: records are stored inline
    # No local AWS at the stack's AWS port either (a `make run` of the developer's own
    # must not receive this test's records): invoke finds no events queue.
    monkeypatch.setenv("LOCAL_AWS_PORT", str(free_port()))
    for name in ("AWS_ENDPOINT_URL", "EVENTS_QUEUE_URL", "EVENTS_DLQ_URL", "JWT_SECRET_ARN"):
        monkeypatch.delenv(name, raising=False)
    saved = dict(os.environ)
    bootstrap.reset()
    yield tmp_path
    # invoke() sets the rest of the local stack's variables (as the CLI process would);
    # none of them may leak into the tests that run after this one.
    os.environ.clear()
    os.environ.update(saved)
    bootstrap.reset()


@pytest.fixture
def demo(local_stack_env, tenant_id):
    suffix = uuid.uuid4().hex[:8]
    assert admin_cli.main(["tenant", "create", "--id", tenant_id, "--name", "Demo"]) == 0
    cp = admin_cli.run(["charge-point", "add", "--tenant", tenant_id, "--id", f"CP-{suffix}"])
    admin_cli.run(["id-tag", "add", "--tenant", tenant_id, "--id-tag", "TAG-1"])
    record = {"tenant_id": tenant_id, "charge_point_id": cp["charge_point_id"],
              "password": cp["password"], "id_tag": "TAG-1"}
    (local_stack_env / "demo.json").write_text(json.dumps(record))
    return record


def test_sample_events_run_a_session_through_the_handlers(demo):
    assert invoke("ws_connect", EVENTS / "ws_connect/demo-accepted.json") == {
        "statusCode": 200, "headers": {"Sec-WebSocket-Protocol": "ocpp1.6"}}
    booted = json.loads(invoke("ws_message", EVENTS / "ws_message/boot-notification.json")["body"])
    assert booted[:2] == [3, "sample-boot"] and booted[2]["status"] == "Accepted"
    authorized = json.loads(invoke("ws_message", EVENTS / "ws_message/authorize.json")["body"])
    assert authorized == [3, "sample-authorize", {"idTagInfo": {"status": "Accepted"}}]
    started = json.loads(invoke("ws_message", EVENTS / "ws_message/start-transaction.json")["body"])
    assert isinstance(started[2]["transactionId"], int)
    malformed = json.loads(invoke("ws_message", EVENTS / "ws_message/malformed.json")["body"])
    assert malformed[2] == "FormationViolation"
    assert invoke("ws_disconnect", EVENTS / "ws_disconnect/normal.json") == {"statusCode": 200}


@pytest.mark.parametrize(("event", "status"), [("demo-wrong-password", 401),
                                                ("demo-unsupported-subprotocol", 400)])
def test_refused_connect_events(demo, event, status):
    assert invoke("ws_connect", EVENTS / f"ws_connect/{event}.json")["statusCode"] == status


def test_a_message_on_an_unknown_connection_is_refused_politely(local_stack_env):
    reply = json.loads(invoke("ws_message", EVENTS / "ws_message/heartbeat.json")["body"])
    assert reply[:3] == [4, "sample-heartbeat", "SecurityError"]


def test_admin_refuses_a_duplicate_charge_point(demo, capsys):
    code = admin_cli.main(["charge-point", "add", "--tenant", demo["tenant_id"],
                           "--id", demo["charge_point_id"]])
    assert code == 2 and "registered already" in capsys.readouterr().err


def test_admin_refuses_a_short_password(demo, capsys):
    code = admin_cli.main(["charge-point", "set-password", "--id", demo["charge_point_id"],
                           "--password", "short"])
    assert code == 2 and "16 to 40" in capsys.readouterr().err


def test_admin_disables_and_enables_a_charge_point(demo):
    cp = demo["charge_point_id"]
    assert admin_cli.run(["charge-point", "disable", "--id", cp])["enabled"] is False
    assert invoke("ws_connect", EVENTS / "ws_connect/demo-accepted.json")["statusCode"] == 401
    assert admin_cli.run(["charge-point", "enable", "--id", cp])["enabled"] is True
    assert invoke("ws_connect", EVENTS / "ws_connect/demo-accepted.json")["statusCode"] == 200


def test_admin_issues_a_token_with_tenant_role_and_expiry(local_stack_env, monkeypatch):
    token = admin_cli.run(["token", "issue", "--tenant", "acme", "--role", "operator"])["token"]
    secret = __import__("os").environ["JWT_SECRET"]
    claims = jwt.decode(token, secret, algorithms=["HS256"], audience="csms-tenant-api",
                        issuer="csms")
    assert (claims["tenant_id"], claims["role"]) == ("acme", "operator")
    assert claims["exp"] - claims["iat"] == 3600


def test_csms_admin_is_installed_as_a_console_script(local_stack_env, tenant_id):
    script = Path(sys.executable).parent / "csms-admin"
    result = subprocess.run([str(script), "tenant", "create", "--id", tenant_id, "--name", "X"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["tenant_id"] == tenant_id


@pytest.mark.parametrize(
    ("event", "status"),
    [
        ("list-charge-points", 200),
        ("get-demo-charge-point", 200),
        ("reset-demo-charge-point", 409),  # the demo charger is not connected here
        ("no-token", 401),
    ],
)
def test_tenant_api_sample_events_get_their_documented_status(demo, event, status):
    result = invoke("tenant_api", EVENTS / f"tenant_api/{event}.json")

    assert result["statusCode"] == status, result


@pytest.fixture
def own_localstack_account(local_aws_url, monkeypatch):  # noqa: F811
    """The session's LocalStack, in an account of this test's own (LocalStack takes a
    12-digit access key as the account), so no other test's queues are visible."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", local_aws_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", str(secrets.randbelow(10**12)).zfill(12))
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    return local_aws_url


def test_invoke_sends_records_to_the_running_stacks_events_queue(demo, own_localstack_account):
    # The queues `make run` creates on its LocalStack, under their usual name.
    queues = create_queues(own_localstack_account)

    assert invoke("ws_connect", EVENTS / "ws_connect/demo-accepted.json")["statusCode"] == 200
    booted = json.loads(invoke("ws_message", EVENTS / "ws_message/boot-notification.json")["body"])

    assert booted[2]["status"] == "Accepted"
    assert os.environ["EVENTS_QUEUE_URL"] == queues["EVENTS_QUEUE_URL"]
    sqs = aws_local.client("sqs")  # the environment's endpoint, as the tools find it
    bodies = [m["Body"] for m in sqs.receive_message(
        QueueUrl=queues["EVENTS_QUEUE_URL"], MaxNumberOfMessages=10, WaitTimeSeconds=2
    ).get("Messages", [])]
    assert any("BootNotification" in body for body in bodies), bodies


def test_admin_reads_the_token_key_from_secrets_manager(local_stack_env, own_localstack_account,
                                                        monkeypatch):
    key = secrets.token_urlsafe(32)
    client = aws_local.client("secretsmanager", own_localstack_account)
    arn = client.create_secret(Name=f"jwt-{uuid.uuid4().hex[:8]}", SecretString=key)["ARN"]
    monkeypatch.setenv("JWT_SECRET_ARN", arn)
    monkeypatch.delenv("JWT_SECRET")

    token = admin_cli.run(["token", "issue", "--tenant", "acme", "--role", "viewer"])["token"]

    claims = jwt.decode(token, key, algorithms=["HS256"], audience="csms-tenant-api")
    assert claims["tenant_id"] == "acme"
