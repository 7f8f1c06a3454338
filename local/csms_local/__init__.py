"""The local stack: real Redis, MongoDB-wire, MQTT and AWS-API servers as child processes,
and a gateway that behaves like API Gateway for the same Lambda handlers."""
