"""Webhooks area: every hour, disable the endpoints that have failed for 5 days."""
