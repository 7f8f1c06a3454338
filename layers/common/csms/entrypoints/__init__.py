"""Translate API Gateway events into service calls and results back into responses."""
