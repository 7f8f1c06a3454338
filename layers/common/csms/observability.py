"""Powertools logging, set up once. Tracer is left out on purpose: it pulls in
aws-xray-sdk (~180 ms of cold start) and API Gateway already traces the edges."""

from __future__ import annotations

from aws_lambda_powertools import Logger

logger = Logger(service="csms", log_uncaught_exceptions=True)
