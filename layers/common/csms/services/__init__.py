"""Use cases: what happens on connect, on each message, on disconnect."""
