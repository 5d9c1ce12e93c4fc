"""Webhooks: signed, retried, ordered deliveries of the public events to endpoints a team registers (docs/webhooks.md)."""
