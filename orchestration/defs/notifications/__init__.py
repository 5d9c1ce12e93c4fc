"""Notifications area: every minute, meeting reminders, held-back deliveries (do-not-disturb,
snooze, retries) and due hourly/daily email digests."""
