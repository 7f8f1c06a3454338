"""Vendor DataTransfer from chargers of either version (OCPP 2.0.1 P01, 1.6 DataTransfer):
answered by the tenant's handler for the vendorId. Every handled message is kept and
published as a `data_transfer` event; forwarded ones carry the endpoint's answer."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from csms.domain.data_transfer import (
    SIGNATURE_HEADER,
    STATUSES,
    HandlerMode,
    VendorHandler,
    signature,
)
from csms.ports import RuntimeRecords, TenantStore, VendorEndpoint
from csms.services.storable import storable

logger = logging.getLogger(__name__)

Payload = dict[str, Any]


@dataclass(frozen=True)
class Answer:
    status: str
    data: Any = None
    # Why a forwarded message was refused (2.0.1 statusInfo.reasonCode).
    reason: str | None = None


class UrllibEndpoint:
    """A VendorEndpoint over the standard library (no redirects followed: the URL the
    tenant configured is the one called)."""

    def post(
        self, url: str, body: bytes, headers: dict[str, str], timeout: float
    ) -> dict[str, Any]:
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        opener = urllib.request.build_opener(_NoRedirects())
        with opener.open(request, timeout=timeout) as response:
            reply = json.loads(response.read(1_000_000))
        if not isinstance(reply, dict):
            raise ValueError("the endpoint's reply is not a JSON object")
        return reply


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class DataTransferService:
    def __init__(
        self, store: TenantStore, records: RuntimeRecords, endpoint: VendorEndpoint | None = None
    ) -> None:
        self._store = store
        self._records = records
        self._endpoint = endpoint or UrllibEndpoint()

    def handle(
        self,
        tenant_id: str,
        charge_point_id: str,
        vendor_id: str,
        message_id: str | None,
        data: Any,
        ocpp_version: str,
        at: datetime,
    ) -> Answer:
        if not _storable_text(vendor_id):
            # A lone surrogate: no handler can have that name (nor can a store look it up).
            return Answer("UnknownVendorId")
        transfers = self._store.for_tenant(tenant_id).data_transfers
        handler = transfers.handler(vendor_id)
        if handler is None:
            return Answer("UnknownVendorId")
        if not handler.knows(message_id):
            return Answer("UnknownMessageId")
        if handler.mode is HandlerMode.STORE:
            answer = Answer("Accepted")
        else:
            answer = self._forward(tenant_id, charge_point_id, handler, message_id, data,
                                   ocpp_version)
        entry = {"vendor_id": vendor_id, "message_id": message_id, "data": data,
                 "mode": handler.mode.value, "status": answer.status,
                 "answer_data": answer.data, "reason": answer.reason}
        # Whatever the charger put in `data` must not keep the entry out of the store.
        transfers.record(charge_point_id, storable(entry)[0], at)
        self._records.event(tenant_id, charge_point_id, "data_transfer", storable({
            "vendor_id": vendor_id, "message_id": message_id, "data": data,
            "mode": handler.mode.value, "status": answer.status,
        })[0], at)
        return answer

    def _forward(
        self,
        tenant_id: str,
        charge_point_id: str,
        handler: VendorHandler,
        message_id: str | None,
        data: Any,
        ocpp_version: str,
    ) -> Answer:
        body = json.dumps({
            "tenant_id": tenant_id, "charge_point_id": charge_point_id,
            "ocpp_version": ocpp_version, "vendorId": handler.vendor_id,
            "messageId": message_id, "data": data,
        }).encode()
        headers = {"Content-Type": "application/json"}
        if handler.secret:
            headers[SIGNATURE_HEADER] = signature(handler.secret, body)
        if handler.url is None:
            return Answer("Rejected", reason="NoEndpoint")
        try:
            reply = self._endpoint.post(handler.url, body, headers, handler.timeout_seconds)
        except (OSError, ValueError, urllib.error.URLError):
            # The charger gets an answer in time all the same: the endpoint failed.
            logger.warning("data transfer endpoint failed",
                           extra={"vendor_id": handler.vendor_id}, exc_info=True)
            return Answer("Rejected", reason="EndpointFailed")
        status = reply.get("status")
        if status not in STATUSES:
            return Answer("Rejected", reason="InvalidEndpointReply")
        return Answer(status, reply.get("data"))


def _storable_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
