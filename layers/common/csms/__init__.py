"""Serverless multi-tenant OCPP Central System: the code shared by every Lambda function."""
