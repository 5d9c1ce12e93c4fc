"""The public event stream: the team's changes as envelopes, in commit order (see docs/webhooks.md)."""
