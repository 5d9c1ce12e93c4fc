"""The event dispatcher: delivers ``app.events`` to registered consumers (webhooks,
notifications, workflows, timeline), at least once, with retries and dead letters.

- :mod:`api.dispatcher.registry`: :class:`Consumer`, :func:`consumer`, :class:`DispatchedEvent`
- :mod:`api.dispatcher.worker`: the ``leadly worker`` loop (:func:`~api.dispatcher.worker.main`)
- :mod:`api.dispatcher.routes`: ``/api/v1/dispatcher`` (dead letters, consumer positions)
"""

from api.dispatcher.registry import Consumer, DispatchedEvent, consumer, register

__all__ = ["Consumer", "DispatchedEvent", "consumer", "register"]
