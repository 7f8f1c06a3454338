"""Certificates (OCPP 2.0.1 block M) end to end: a raw-frame 2.0.1 station behind the local
gateway, records going through SQS to the event worker as under `make run`, and the
local stack's per-tenant CA (generated in a data dir, its key encrypted).

SignCertificate with a CSR for the station is Accepted and followed by CertificateSigned
(sent by the event worker once the request is stored) whose chain the tenant's CA
signed; a CSR naming another station is Rejected and nothing follows. The ISO 15118
certificate requests fail with NoEndpoint when the tenant has no endpoint. The
GetInstalledCertificateIds answer is what GET /v1/charge-points/{id}/certificates shows.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import secrets
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from csms import bootstrap
from csms_local.gateway import GatewayLimits
from csms_local.lambdas import load_handler
from csms_local.sqs_poller import SqsPoller, create_queues

from .conftest import GatewayThread, api_for, start_gateway
from .test_commands_201 import Station, command, station

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def ca_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tenant-ca")


@pytest.fixture(scope="module")
def gateway(csms_env, local_aws_url, mqtt_url, ca_dir) -> Iterator[GatewayThread]:
    """Records to SQS and a poller feeding event_worker (which sends CertificateSigned);
    the local CA in `ca_dir`."""
    patch = pytest.MonkeyPatch()
    queues = create_queues(local_aws_url, name=f"e2e-certs-{uuid.uuid4().hex[:8]}", visibility=1)
    settings = {**queues, "AWS_ENDPOINT_URL": local_aws_url, "MQTT_URL": mqtt_url,
                "LOCAL_CA_DIR": str(ca_dir), "LOCAL_CA_PASSPHRASE": secrets.token_urlsafe(24)}
    for name, value in settings.items():
        patch.setenv(name, value)
    running = start_gateway(GatewayLimits(), patch)
    poller = SqsPoller(local_aws_url, queues["EVENTS_QUEUE_URL"], load_handler("event_worker"))
    poller.start()
    yield running
    poller.stop()
    running.stop()
    patch.undo()
    bootstrap.reset()


def csr_for(common_name: str) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
           .sign(key, hashes.SHA256()))
    return csr.public_bytes(serialization.Encoding.PEM).decode()


async def asked_for(cs: Station, action: str, timeout: float = 20) -> list:
    for _ in range(int(timeout * 10)):
        if cs.asked(action):
            return cs.asked(action)
        await asyncio.sleep(0.1)
    return []


async def test_a_signed_certificate_follows_an_accepted_csr(gateway, fleet, ca_dir):
    cp_id = fleet.add_charge_point("SIGN201")
    async with station(gateway, cp_id) as cs:
        answer = await cs.call("SignCertificate", {"csr": csr_for(cp_id),
                                                   "certificateType": "ChargingStationCertificate"})
        assert answer == {"status": "Accepted"}
        [signed] = await asked_for(cs, "CertificateSigned")

    assert signed["certificateType"] == "ChargingStationCertificate"
    leaf, issuer = x509.load_pem_x509_certificates(signed["certificateChain"].encode())
    ca = x509.load_pem_x509_certificate((ca_dir / f"{fleet.tenant_id}.ca-cert.pem").read_bytes())
    assert issuer == ca
    leaf.verify_directly_issued_by(ca)
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == cp_id
    # The CA's key is kept encrypted.
    assert b"ENCRYPTED PRIVATE KEY" in (ca_dir / f"{fleet.tenant_id}.ca-key.pem").read_bytes()


async def test_a_csr_for_another_station_is_rejected_and_nothing_follows(gateway, fleet):
    cp_id = fleet.add_charge_point("BADCSR201")
    async with station(gateway, cp_id) as cs:
        answer = await cs.call("SignCertificate", {"csr": csr_for("someone-else")})
        garbage = await cs.call("SignCertificate", {"csr": "-----BEGIN CERTIFICATE REQUEST-----"})
        assert await asked_for(cs, "CertificateSigned", timeout=3) == []

    assert answer["status"] == "Rejected"
    assert answer["statusInfo"]["reasonCode"] == "InvalidCSR"
    assert garbage["status"] == "Rejected"


async def test_iso15118_certificate_requests_fail_without_an_endpoint(gateway, fleet):
    cp_id = fleet.add_charge_point("PNC201")
    async with station(gateway, cp_id) as cs:
        ev = await cs.call("Get15118EVCertificate", {
            "iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef", "action": "Install",
            "exiRequest": "AAAA"})
        status = await cs.call("GetCertificateStatus", {"ocspRequestData": {
            "hashAlgorithm": "SHA256", "issuerNameHash": "aa", "issuerKeyHash": "bb",
            "serialNumber": "01", "responderURL": "http://ocsp.example"}})

    assert (ev["status"], ev["exiResponse"], ev["statusInfo"]["reasonCode"]) == (
        "Failed", "", "NoEndpoint")
    assert (status["status"], status["statusInfo"]["reasonCode"]) == ("Failed", "NoEndpoint")


async def test_installed_certificates_are_shown_from_the_stations_answer(gateway, fleet):
    cp_id = fleet.add_charge_point("CERTS201")
    operator = api_for(gateway, fleet.tenant_id, "operator")
    viewer = api_for(gateway, fleet.tenant_id, "viewer")
    root = {"hashAlgorithm": "SHA256", "issuerNameHash": "aa", "issuerKeyHash": "bb",
            "serialNumber": "01"}
    async with station(gateway, cp_id) as cs:
        cs.answers["GetInstalledCertificateIds"] = lambda _: {
            "status": "Accepted", "certificateHashDataChain": [
                {"certificateType": "CSMSRootCertificate", "certificateHashData": root},
                {"certificateType": "V2GCertificateChain", "certificateHashData": root,
                 "childCertificateHashData": [dict(root, serialNumber="02")]}]}
        assert (await asyncio.to_thread(viewer.get, f"/v1/charge-points/{cp_id}/certificates")
                ).json["certificates"] == []
        reply = await command(operator, cp_id, "GetInstalledCertificateIds", {}, wait=10)
        assert reply.json["status"] == "completed", reply.text

    view = viewer.get(f"/v1/charge-points/{cp_id}/certificates")
    assert view.status == 200, view.text
    certificates = view.json["certificates"]
    assert [c["certificate_type"] for c in certificates] == [
        "CSMSRootCertificate", "V2GCertificateChain"]
    assert certificates[1]["child_certificates"][0]["serial_number"] == "02"
    other_tenant = viewer.get("/v1/charge-points/no-such-charger/certificates")
    assert other_tenant.status == 404


class _EvCertificateService(http.server.BaseHTTPRequestHandler):
    """The tenant's ISO 15118 certificate service: answers every request Accepted."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps({"status": "Accepted", "exiResponse": "QkJCQg=="}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


async def test_iso15118_certificate_requests_go_to_the_tenants_endpoint(gateway, fleet):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _EvCertificateService)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/certificates"
        fleet.admin.directory.update_tenant(fleet.tenant_id, {"certificate_endpoint": url})
        cp_id = fleet.add_charge_point("PNCFWD201")
        async with station(gateway, cp_id) as cs:
            ev = await cs.call("Get15118EVCertificate", {
                "iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef", "action": "Install",
                "exiRequest": "AAAA"})
    finally:
        fleet.admin.directory.update_tenant(fleet.tenant_id, {"certificate_endpoint": None})
        server.shutdown()
        server.server_close()

    assert (ev["status"], ev["exiResponse"]) == ("Accepted", "QkJCQg==")
