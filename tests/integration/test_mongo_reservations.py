"""Reservations of both versions in one collection, against a real MongoDB-wire server:
1.6 ones expire through the same check as 2.0.1 ones, an end happens once."""

from datetime import UTC, datetime, timedelta

import pytest
from csms.domain.model import Reservation
from csms.domain.reservations import EvseReservation, ReservationState

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


@pytest.fixture
def tenant(data):
    return data


def test_due_reservations_of_both_versions_end_once(tenant):
    tenant.reservations.put(Reservation(1, "CP16", 1, "TAG", T0 - timedelta(minutes=1)))
    tenant.evse_reservations.put(EvseReservation(2, "CP201", None, "TOK", T0, "ISO14443"))
    tenant.evse_reservations.put(EvseReservation(3, "CP201", 1, "TOK", T0 + timedelta(hours=1)))

    due = tenant.evse_reservations.due(T0, 10)
    assert [(r.charge_point_id, r.reservation_id, r.ocpp_version) for r in due] == [
        ("CP16", 1, "ocpp1.6"), ("CP201", 2, "ocpp2.0.1")]
    ended = tenant.evse_reservations.end("CP201", 2, ReservationState.EXPIRED, T0)
    assert ended is not None and ended.status is ReservationState.EXPIRED
    assert tenant.evse_reservations.end("CP201", 2, ReservationState.USED, T0) is None
    assert [r.reservation_id for r in tenant.evse_reservations.active("CP201")] == [3]


def test_a_used_reservation_keeps_its_transaction_and_ids_are_per_charger(tenant):
    tenant.evse_reservations.put(EvseReservation(5, "CP", 2, "TOK", T0))
    used = tenant.evse_reservations.end("CP", 5, ReservationState.USED, T0, "tx-1")
    assert used is not None and (used.transaction_id, used.evse_id) == ("tx-1", 2)
    assert [tenant.evse_reservations.next_id("CP") for _ in range(2)] == [1, 2]
    assert tenant.evse_reservations.next_id("OTHER") == 1
