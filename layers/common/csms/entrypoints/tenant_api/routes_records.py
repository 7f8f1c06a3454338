"""Records: /v1/transactions, /v1/meter-values, /v1/messages (read), and closing a
transaction its charger never stopped."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from csms import bootstrap
from csms.domain.access import Permission
from csms.entrypoints.tenant_api import views
from csms.entrypoints.tenant_api.models import Limit, Offset, TransactionClose
from csms.services.fleet import NotFound

Json = dict[str, Any]
Since = Annotated[datetime | None, Query(description="from this time on (inclusive)")]
Until = Annotated[datetime | None, Query(description="before this time (exclusive)")]
ChargePointFilter = Annotated[str | None, Query(max_length=48)]
TransactionStatusName = Literal["Active", "Completed"]
MAX_INT32 = 2**31 - 1  # OCPP integers (transactionId) are 32-bit


def install(app: APIGatewayHttpResolver) -> None:
    from csms.entrypoints.tenant_api import principal, tenant_of

    def reader() -> str:
        return tenant_of(app, Permission.READ)

    @app.get("/v1/transactions", tags=["transactions"])
    def list_transactions(
        limit: Limit = 50,
        offset: Offset = 0,
        charge_point_id: ChargePointFilter = None,
        status: Annotated[TransactionStatusName | None, Query()] = None,
        id_tag: Annotated[str | None, Query(max_length=36)] = None,
        since: Since = None,
        until: Until = None,
    ) -> Json:
        """Newest first; the time range applies to the start time. 1.6 transactions have
        the CSMS's integer ids, 2.0.1 ones their charger's string ids (and an evse)."""
        queries = bootstrap.tenant_queries(reader())
        return views.page(
            queries.transactions(limit, offset, charge_point_id, status, id_tag, since, until)
        )

    @app.get("/v1/transactions/statistics", tags=["transactions"])
    def transaction_statistics(
        charge_point_id: ChargePointFilter = None,
        status: Annotated[TransactionStatusName | None, Query()] = None,
        id_tag: Annotated[str | None, Query(max_length=36)] = None,
        since: Since = None,
        until: Until = None,
    ) -> Json:
        """Count, active, completed, total and average energy (Wh) of the selection."""
        queries = bootstrap.tenant_queries(reader())
        return queries.transaction_statistics(charge_point_id, status, id_tag, since, until)

    @app.get("/v1/transactions/<transaction_id>", tags=["transactions"])
    def get_transaction(
        transaction_id: Annotated[str, Path(min_length=1, max_length=36)],
        charge_point_id: ChargePointFilter = None,
    ) -> Json:
        """One transaction with its meter values (the first 1000, oldest first): by the
        CSMS's integer id (1.6) or the charger's own id (2.0.1; name its charge point
        when several chargers may have used the same id)."""
        queries = bootstrap.tenant_queries(reader())
        transaction = _transaction(queries, transaction_id, charge_point_id)
        if transaction is None:
            raise NotFound("no such transaction")
        meter_values = queries.meter_values(
            1000, 0, transaction_id=transaction["transaction_id"],
            charge_point_id=transaction["charge_point_id"],
        )
        return transaction | {"meter_values": meter_values.items}

    @app.post(
        "/v1/transactions/<transaction_id>/close",
        tags=["transactions"],
        description=(
            "Stop a transaction its charger never stopped (power lost, StopTransaction "
            "lost): stop reason `reason` (default ClosedByOperator), the caller recorded "
            "as closed_by, the connector's current transaction cleared, a "
            "transaction_stopped event published. Tenant admins only; 409 when the "
            "transaction is stopped already."
        ),
    )
    def close_transaction(
        transaction_id: Annotated[int, Path(ge=0, le=MAX_INT32)],
        body: TransactionClose | None = None,
    ) -> Json:
        tenant_id = tenant_of(app, Permission.MANAGE_FLEET)
        closed_by = principal(app, Permission.MANAGE_FLEET).subject
        given = body or TransactionClose()
        bootstrap.charging_service().close_transaction(
            tenant_id,
            transaction_id,
            closed_by,
            bootstrap.utc_now(),
            meter_stop=given.meter_stop,
            reason=given.reason,
        )
        transaction = bootstrap.tenant_queries(tenant_id).transaction(transaction_id)
        if transaction is None:
            raise NotFound("no such transaction")
        return transaction

    @app.get("/v1/meter-values", tags=["meter values"])
    def list_meter_values(
        limit: Limit = 50,
        offset: Offset = 0,
        transaction_id: Annotated[str | None, Query(min_length=1, max_length=36)] = None,
        charge_point_id: ChargePointFilter = None,
        since: Since = None,
        until: Until = None,
    ) -> Json:
        """Oldest first; filter by transaction (1.6 integer or 2.0.1 string id) or charge
        point and a time range."""
        queries = bootstrap.tenant_queries(reader())
        wanted = None if transaction_id is None else _transaction_key(transaction_id)
        return views.page(
            queries.meter_values(limit, offset, wanted, charge_point_id, since, until)
        )

    @app.get("/v1/messages", tags=["messages"])
    def list_messages(
        limit: Limit = 50,
        offset: Offset = 0,
        charge_point_id: ChargePointFilter = None,
        direction: Annotated[Literal["in", "out"] | None, Query()] = None,
        message_type: Annotated[
            Literal["Call", "CallResult", "CallError", "Send", "CallResultError"] | None, Query()
        ] = None,
        action: Annotated[str | None, Query(max_length=50)] = None,
        since: Since = None,
        until: Until = None,
    ) -> Json:
        """The OCPP message log, newest first; a Call and its answer share message_id."""
        queries = bootstrap.tenant_queries(reader())
        return views.page(
            queries.messages(
                limit, offset, charge_point_id, direction, message_type, action, since, until
            )
        )


def _transaction_key(transaction_id: str) -> int | str:
    """1.6's ids are 32-bit integers; anything else is a charger's own (2.0.1) id."""
    if transaction_id.isdigit() and int(transaction_id) <= MAX_INT32:
        return int(transaction_id)
    return transaction_id


def _transaction(queries: Any, transaction_id: str, charge_point_id: str | None) -> Json | None:
    key = _transaction_key(transaction_id)
    found: Json | None = None
    if isinstance(key, int):
        found = queries.transaction(key)
        if found is not None and charge_point_id not in (None, found["charge_point_id"]):
            found = None
    # A charger may number its transactions "1", "2", ... too.
    return found or queries.charger_transaction(transaction_id, charge_point_id)
