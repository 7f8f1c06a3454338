"""Charge points, id tags, transactions: plain Python, no infrastructure imports."""
