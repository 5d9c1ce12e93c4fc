"""Notifications: producers (dispatcher consumers turning events into notifications), the
notification center API, preferences, and delivery to email, SMS, Web Push, Slack and Teams
through an outbox. See docs/notifications.md."""
