"""Real-time layer: the pub/sub broker (Redis or PostgreSQL LISTEN/NOTIFY through Litestar
channels), the WebSocket gateway ``/api/v1/ws`` and its single-use tickets.

Any feature can use it: publish with :func:`api.realtime.broker.publish` after committing, and
register the channels a member's socket joins with :func:`api.realtime.gateway.add_channels`
(plus first messages with :func:`~api.realtime.gateway.add_greeting`).
"""
