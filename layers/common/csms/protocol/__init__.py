"""OCPP-J framing, schema validation and routing; no storage, no AWS."""
