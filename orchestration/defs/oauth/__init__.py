"""OAuth area: every hour, purge expired authorization codes and tokens, and request-log rows
older than 30 days."""
