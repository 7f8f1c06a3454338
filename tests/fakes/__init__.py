"""Test doubles: in-memory adapters of the ports, kept beside the tests so they never ship
in the Lambda layer."""
